"""Fixtures for the proxy-store tests: an embedded arbiter per test, a leak check,
and a URL with a unique ``client_name`` so that each test has its own store actor
and its Redis connections can be counted with ``CLIENT LIST``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from procs import embedded_tree
from proxy_testlib import unique

import arbiter


@pytest.fixture
async def tree(short_tmp: str) -> AsyncIterator[arbiter.Arbiter]:
    """An embedded arbiter (the hub of ``actors.spawn`` and of proxy stores) whose
    every actor must be gone when the test ends."""
    async with embedded_tree(os.path.join(short_tmp, "rt"), graceful_timeout=5.0,
                             intensity=5, period=5.0, call_timeout=10.0) as arb:
        yield arb


@pytest.fixture
def client_name() -> str:
    return unique("client")


@pytest.fixture
def proxy_url(redis_url: str, client_name: str, store: object) -> str:
    """The test database (flushed by ``store``) with a unique client name."""
    return f"{redis_url}?client_name={client_name}"
