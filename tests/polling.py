"""Waiting for events in tests: poll with a deadline, never sleep a fixed time."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis

#: The database the tests own on the shared Redis (flushed around each test).
TEST_DB = int(os.environ.get("ARBITER_STORES_TEST_DB", "13"))


async def until(predicate: Callable[[], Any], deadline: float = 5.0,
                what: str = "condition") -> Any:
    """Poll ``predicate`` (sync or async) every 10 ms until truthy; fail past ``deadline``."""
    end = time.monotonic() + deadline
    while True:
        result = predicate()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return result
        assert time.monotonic() < end, f"{what} not reached within {deadline}s"
        await asyncio.sleep(0.01)


def wait_for(predicate: Callable[[], Any], deadline: float = 5.0,
             what: str = "condition") -> Any:
    """``until`` for synchronous tests (threads, blocking clients)."""
    end = time.monotonic() + deadline
    while not (result := predicate()):
        assert time.monotonic() < end, f"{what} not reached within {deadline}s"
        time.sleep(0.01)
    return result


def blocked_in(cmd: str, db: int = TEST_DB, url: str | None = None) -> int:
    """How many clients of database ``db`` are blocked in ``cmd`` right now
    (``CLIENT LIST`` flag ``b``) on the Redis at ``url`` (default REDIS_URL)."""
    url = url or os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    with redis.Redis.from_url(url) as admin:
        return sum(1 for c in admin.client_list()
                   if c["cmd"] == cmd and "b" in c["flags"] and int(c["db"]) == db)


async def wait_blocked(cmd: str, count: int = 1, db: int = TEST_DB,
                       url: str | None = None) -> None:
    """Wait until ``count`` clients of ``db`` block in ``cmd`` (e.g. ``"blpop"``)."""
    await until(lambda: blocked_in(cmd, db, url) >= count,
                what=f"{count} client(s) blocked in {cmd}")
