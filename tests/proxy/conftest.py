"""Fixtures for the proxy-store tests: an embedded arbiter per test, a leak check,
and a URL with a unique ``client_name`` so that each test has its own store actor
and its Redis connections can be counted with ``CLIENT LIST``."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator

import pytest
from procs import live_children
from proxy_testlib import unique

import arbiter


@pytest.fixture
def short_tmp() -> Iterator[str]:
    # Unix socket paths are limited to ~107 bytes: pytest's tmp_path can be longer.
    path = tempfile.mkdtemp(prefix="prx-", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def tree(short_tmp: str) -> AsyncIterator[arbiter.Arbiter]:
    """An embedded arbiter (the hub of ``actors.spawn`` and of proxy stores) whose
    every actor must be gone when the test ends."""
    before = set(live_children())
    config = arbiter.Config(runtime_dir=os.path.join(short_tmp, "rt"), graceful_timeout=5.0,
                            intensity=5, period=5.0, call_timeout=10.0)
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


@pytest.fixture
def client_name() -> str:
    return unique("client")


@pytest.fixture
def proxy_url(redis_url: str, client_name: str, store: object) -> str:
    """The test database (flushed by ``store``) with a unique client name."""
    return f"{redis_url}?client_name={client_name}"
