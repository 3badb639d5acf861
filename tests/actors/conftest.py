"""Fixtures for runtime tests: an embedded arbiter per test, and a leak check."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator

import pytest
from procs import live_children

import arbiter


@pytest.fixture
def short_tmp() -> Iterator[str]:
    # Unix socket paths are limited to ~107 bytes: pytest's tmp_path can be longer.
    path = tempfile.mkdtemp(prefix="act-", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def tree(short_tmp: str) -> AsyncIterator[arbiter.Arbiter]:
    """An embedded arbiter with a 1 MiB frame limit; every actor ends with the test."""
    before = set(live_children())
    config = arbiter.Config(runtime_dir=os.path.join(short_tmp, "rt"), max_frame=1 << 20,
                            graceful_timeout=5.0)
    arb = await arbiter.start_embedded(config)
    try:
        yield arb
    finally:
        try:
            await arb.shutdown()
        finally:
            arb._stop_now()
        leaked = set(live_children()) - before
        assert not leaked, f"actor processes left behind: {leaked}"
