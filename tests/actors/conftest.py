"""Fixtures for runtime tests: an embedded arbiter per test, and a leak check."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from procs import embedded_tree

import arbiter


@pytest.fixture
async def tree(short_tmp: str) -> AsyncIterator[arbiter.Arbiter]:
    """An embedded arbiter with a 1 MiB frame limit; every actor ends with the test."""
    async with embedded_tree(os.path.join(short_tmp, "rt"), max_frame=1 << 20,
                             graceful_timeout=5.0) as arb:
        yield arb
