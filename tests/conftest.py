"""Shared fixtures: the real Redis at ``REDIS_URL`` on a database of our own.

Tests that need Redis use the ``redis_url`` / ``store`` fixtures; they fail
(never skip) when Redis is absent, since ``make test`` makes sure one runs.
The database number is ``ARBITER_STORES_TEST_DB`` (default 13) and is flushed
before and after each test that uses it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from polling import TEST_DB

from stores import create_store
from stores.redis import RedisStore


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, ""))


@pytest.fixture
def short_tmp() -> Iterator[str]:
    """A temporary directory under /tmp: unix socket paths are limited to ~107
    bytes, and pytest's tmp_path can be longer."""
    path = tempfile.mkdtemp(prefix="as-", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """``REDIS_URL`` pointed at the test database."""
    return _with_db(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), TEST_DB)


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    """A direct Redis store on the flushed test database."""
    s = create_store(redis_url)
    assert isinstance(s, RedisStore)
    await s.execute("FLUSHDB")
    try:
        yield s
    finally:
        await s.execute("FLUSHDB")
        await s.close()


@pytest.fixture
def redis_py(redis_url: str) -> Iterator[object]:
    """redis-py (sync) on the same database: an independent cross-check client."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()
