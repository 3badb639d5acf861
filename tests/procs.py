"""Finding live processes through /proc, for the no-orphans checks of the tests."""

from __future__ import annotations

import os


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
