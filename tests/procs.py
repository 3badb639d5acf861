"""Finding live processes through /proc, for the no-orphans checks of the tests."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


def _live(field: int, value: int) -> list[int]:
    """Pids of non-zombie processes whose /proc stat ``field`` equals ``value``
    (after the command name: 0 state, 1 parent pid, 2 process group)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[field]) == value:
            found.append(int(entry))
    return found


def live_children(parent: int | None = None) -> list[int]:
    """Pids of non-zombie processes whose parent is ``parent`` (default: us)."""
    return _live(1, os.getpid() if parent is None else parent)


def group_members(pgid: int) -> list[int]:
    """Pids of live (non-zombie) processes in process group ``pgid``."""
    return _live(2, pgid)


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@asynccontextmanager
async def embedded_tree(runtime_dir: str, **config: Any) -> AsyncIterator[Any]:
    """An embedded arbiter (``arbiter.Config(**config)``) whose every actor must
    be gone when the block ends: a leak fails the test."""
    import arbiter

    before = set(live_children())
    arb = await arbiter.start_embedded(arbiter.Config(runtime_dir=runtime_dir, **config))
    try:
        yield arb
    finally:
        try:
            await arb.shutdown()
        finally:
            arb._stop_now()
        leaked = set(live_children()) - before
        assert not leaked, f"actor processes left behind: {leaked}"
