"""Fixtures for the example apps: a process tree per test, a Redis namespace per test.

The examples read ``REDIS_URL``; each test points it at the test database
(``ARBITER_STORES_TEST_DB``, see ``tests/conftest.py``) with a namespace and
a ``client_name`` of its own, and deletes that namespace's keys afterwards
(no FLUSHDB: other tests may share the database).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from example_procs import ExampleTree

from stores import create_store


@pytest.fixture
async def example_url(redis_url: str) -> AsyncIterator[str]:
    """``redis_url`` with a fresh ``namespace`` and ``client_name``; cleaned up."""
    tag = uuid.uuid4().hex[:8]
    url = f"{redis_url}?namespace=ex{tag}:&client_name=ex{tag}"
    await _flush(url)
    yield url
    await _flush(url)


async def _flush(url: str) -> None:
    # A connection of its own, closed at once: the examples count the
    # connections named client_name and must find only the store actor's.
    store = create_store(url)
    try:
        await store.flush()
    finally:
        await store.close()


@pytest.fixture
def run_example() -> Iterator[Callable[..., ExampleTree]]:
    """``tree = run_example("examples.NAME", "-w", "2", env={...})``; killed at teardown."""
    trees: list[ExampleTree] = []

    def start(app: str, *flags: str, env: dict[str, Any]) -> ExampleTree:
        tree = ExampleTree(app, *flags, env={k: str(v) for k, v in env.items()})
        trees.append(tree)
        return tree

    yield start
    for tree in trees:
        tree.kill()
