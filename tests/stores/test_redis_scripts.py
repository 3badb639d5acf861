"""Lua scripts (EVALSHA with NOSCRIPT fallback) and the lock, against the real Redis.

``SCRIPT FLUSH`` would empty the script cache of every user of the shared
server, so "not cached" is produced by scripts whose source is unique to the
test run instead: the server has never seen them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

import stores
from stores.redis import RedisStore


def _fresh(source: str) -> str:
    """``source`` with a unique comment: a script the server has not cached."""
    return f"-- {uuid.uuid4().hex}\n{source}"


async def test_script_runs_by_sha_and_falls_back_on_noscript(store: RedisStore,
                                                            redis_py: Any) -> None:
    c = store.client()
    script = c.register_script(_fresh(
        "redis.call('set', KEYS[1], ARGV[1]); return redis.call('incrby', KEYS[2], ARGV[2])"))
    assert await c.script_exists(script.sha) == [0]
    assert await script(keys=["a", "n"], args=["v", 5]) == 5  # NOSCRIPT -> EVAL
    assert await c.script_exists(script.sha) == [1]  # EVAL cached it
    assert await script(keys=["a", "n"], args=["w", 2]) == 7  # EVALSHA now
    assert redis_py.mget("a", "n") == [b"w", b"7"]
    assert script.sha == redis_py.script_load(script.source)


async def test_script_errors_are_response_errors(store: RedisStore) -> None:
    c = store.client()
    await c.set("s", "text")
    bad = c.register_script(_fresh("return redis.call('lpush', KEYS[1], 'x')"))
    with pytest.raises(stores.WrongTypeError):
        await bad(keys=["s"])
    syntax = c.register_script(_fresh("return ("))
    with pytest.raises(stores.ResponseError):
        await syntax()
    assert await c.ping()


async def test_script_in_a_pipeline_is_loaded_first(store: RedisStore) -> None:
    c = store.client()
    script = c.register_script(_fresh("return redis.call('incrby', KEYS[1], ARGV[1])"))
    pipe = c.pipeline()
    pipe.set("n", 1)
    assert await script(keys=["n"], args=[10], client=pipe) is pipe
    pipe.get("n")
    assert await pipe.commit() == [True, 11, b"11"]


async def test_script_in_a_transaction(store: RedisStore) -> None:
    c = store.client()
    script = c.register_script(_fresh("return redis.call('rpush', KEYS[1], unpack(ARGV))"))
    async with c.pipeline(transaction=True) as pipe:
        # Queued, even on a still empty pipeline.
        assert await script(keys=["l"], args=["a", "b"], client=pipe) is pipe
        assert await store.execute("EXISTS", "l") == 0
        pipe.lrange("l", 0, -1)
        assert await pipe.commit() == [2, [b"a", b"b"]]


async def test_scripts_run_on_resp3(redis_url: str, store: RedisStore) -> None:
    from stores import create_store

    s = create_store(redis_url, protocol=3)
    try:
        script = s.client().register_script(_fresh("return {KEYS[1], ARGV[1], 3}"))
        assert await script(keys=["k"], args=["v"]) == [b"k", b"v", 3]
    finally:
        await s.close()


# ----------------------------------------------------------------------- lock
async def test_lock_takes_and_releases_the_key(store: RedisStore, redis_py: Any) -> None:
    c = store.client()
    lock = c.lock("lk", timeout=5)
    assert not await lock.locked()
    async with lock:
        assert await lock.locked()
        assert redis_py.get("lk") == lock.token
        assert 0 < redis_py.pttl("lk") <= 5000
    assert redis_py.exists("lk") == 0
    assert lock.token is None


async def test_lock_contention_is_mutually_exclusive(store: RedisStore) -> None:
    c = store.client()
    events: list[str] = []

    async def worker(name: str) -> None:
        async with c.lock("shared", timeout=5, sleep=0.005, blocking_timeout=5):
            events.append(f"{name}:in")
            await asyncio.sleep(0.02)
            events.append(f"{name}:out")

    await asyncio.gather(*(worker(str(i)) for i in range(4)))
    assert len(events) == 8
    for i in range(0, 8, 2):  # every "in" is followed by the same worker's "out"
        assert events[i].endswith(":in")
        assert events[i + 1] == events[i].replace(":in", ":out")


async def test_lock_not_acquired_in_time(store: RedisStore) -> None:
    c = store.client()
    async with c.lock("busy", timeout=5):
        other = c.lock("busy", timeout=5, sleep=0.01, blocking_timeout=0.1)
        assert await other.acquire(blocking=False) is False
        started = time.monotonic()
        with pytest.raises(stores.LockError):
            async with other:
                pass
        assert time.monotonic() - started < 3
    assert await c.exists("busy") == 0


async def test_lock_expires_and_a_lost_lock_cannot_be_released(store: RedisStore,
                                                              redis_py: Any) -> None:
    c = store.client()
    first = c.lock("exp", timeout=0.05)
    assert await first.acquire()
    deadline = time.monotonic() + 5
    while redis_py.exists("exp"):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    second = c.lock("exp", timeout=5)
    assert await second.acquire(blocking=False)
    with pytest.raises(stores.LockError):
        await first.release()  # expired, and now someone else's
    assert redis_py.get("exp") == second.token  # untouched by the failed release
    await second.release()
    assert redis_py.exists("exp") == 0


async def test_lock_extend(store: RedisStore, redis_py: Any) -> None:
    c = store.client()
    lock = c.lock("ext", timeout=1)
    await lock.acquire()
    await lock.extend(60)
    assert redis_py.pttl("ext") > 30_000
    await lock.release()
    with pytest.raises(stores.LockError):
        await lock.extend(1)
    with pytest.raises(stores.LockError):
        await lock.release()  # not held any more


async def test_lock_without_timeout_never_expires(store: RedisStore, redis_py: Any) -> None:
    c = store.client()
    async with c.lock("forever", timeout=None) as lock:
        assert redis_py.ttl("forever") == -1
        assert redis_py.get("forever") == lock.token
