"""Pipelines, MULTI/EXEC transactions and WATCH against the real Redis."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from polling import wait_blocked

import stores
from stores import Command, create_store
from stores.redis import RedisStore
from stores.redis.client import Pipeline


async def test_pipeline_returns_converted_replies_in_order(store: RedisStore) -> None:
    c = store.client()
    pipe = c.pipeline()
    assert pipe.set("a", 1).incr("a").get("a") is pipe  # chained
    pipe.hset("h", "f", "v").hgetall("h")
    pipe.zadd("z", 1, "m").zrange("z", 0, -1, withscores=True)
    pipe.set("a", 5, nx=True).exists("a", "h", "nope")
    assert len(pipe) == 9
    assert await pipe.commit() == [
        True, 2, b"2", 1, {b"f": b"v"}, 1, [(b"m", 1.0)], None, 2]
    assert len(pipe) == 0
    assert await pipe.commit() == []  # empty: nothing sent
    pipe.get("a")
    assert await pipe.commit() == [b"2"]  # reusable


async def test_pipeline_execute_command_gives_raw_replies(store: RedisStore) -> None:
    pipe = store.client().pipeline()
    pipe.execute_command("HSET", "h", "f", "v").execute_command("HGETALL", "h")
    pipe.execute_command("PING")
    assert await pipe.commit() == [1, [b"f", b"v"], b"PONG"]


async def test_pipeline_errors(store: RedisStore, redis_py: Any) -> None:
    c = store.client()
    await c.set("str", "x")
    pipe = c.pipeline()
    pipe.set("before", 1).lpush("str", "y").set("after", 2)
    with pytest.raises(stores.WrongTypeError):
        await pipe.commit()
    # Every command ran; the error is raised after all replies were read.
    assert redis_py.mget("before", "after") == [b"1", b"2"]
    pipe.incr("str").get("str").hget("str", "f")
    replies = await pipe.commit(raise_on_error=False)
    assert isinstance(replies[0], stores.ResponseError)
    assert not isinstance(replies[0], stores.WrongTypeError)
    assert replies[1] == b"x"
    assert isinstance(replies[2], stores.WrongTypeError)
    # The connection is still in step: the next command gets its own reply.
    assert await c.get("before") == b"1"


async def test_pipeline_bad_arguments_send_nothing(store: RedisStore, redis_py: Any) -> None:
    pipe = store.client().pipeline()
    with pytest.raises(TypeError):
        pipe.get("a", "b")  # wrong arity: refused when queued
    pipe.set("a", 1).set("b", None)
    with pytest.raises(TypeError):
        await pipe.commit()
    assert redis_py.exists("a", "b") == 0
    assert await store.ping()


async def test_pipeline_with_a_blocking_command_does_not_stall_others(
        store: RedisStore) -> None:
    pipe = store.client().pipeline()
    pipe.set("x", 1).blpop("bq", 5)
    committing = asyncio.ensure_future(pipe.commit())
    await wait_blocked("blpop")
    # Other commands of the store keep flowing while the pipeline's BLPOP waits.
    assert await asyncio.wait_for(store.execute("GET", "x"), 3) == b"1"
    assert not committing.done()
    await store.execute("RPUSH", "bq", "v")
    assert await asyncio.wait_for(committing, 5) == [True, [b"bq", b"v"]]


async def test_pipelines_and_commands_interleave_correctly(store: RedisStore) -> None:
    c = store.client()

    async def pipeline(i: int) -> list[Any]:
        pipe = c.pipeline()
        for j in range(10):
            pipe.echo(f"{i}:{j}")
        return await pipe.commit()

    async def single(i: int) -> Any:
        return await c.echo(f"single:{i}")

    results = await asyncio.gather(*(pipeline(i) if i % 2 else single(i) for i in range(200)))
    for i, result in enumerate(results):
        if i % 2:
            assert result == [f"{i}:{j}".encode() for j in range(10)]
        else:
            assert result == f"single:{i}".encode()


# -------------------------------------------------------------- transactions
async def test_transaction_multi_exec(store: RedisStore, redis_py: Any) -> None:
    c = store.client()
    async with c.pipeline(transaction=True) as pipe:
        pipe.set("a", 1).incrby("a", 4).hset("h", "f", "v").hgetall("h").get("a")
        assert await pipe.commit() == [True, 5, 1, {b"f": b"v"}, b"5"]
    assert redis_py.get("a") == b"5"


async def test_transaction_over_resp3(redis_url: str, store: RedisStore) -> None:
    s = create_store(redis_url, protocol=3)
    try:
        pipe = s.client().pipeline(transaction=True)
        pipe.zadd("z", 1, "a").zrange("z", 0, -1, withscores=True).hset("h", "f", "v")
        pipe.hgetall("h").zscore("z", "a")
        assert await pipe.commit() == [1, [(b"a", 1.0)], 1, {b"f": b"v"}, 1.0]
    finally:
        await s.close()


async def test_transaction_execabort(store: RedisStore, redis_py: Any) -> None:
    pipe = store.client().pipeline(transaction=True)
    pipe.set("a", 1).execute_command("NOSUCHCOMMAND", "x").set("b", 2)
    with pytest.raises(stores.ExecAbortError) as info:
        await pipe.commit()
    assert "NOSUCHCOMMAND" in str(info.value).upper()
    assert redis_py.exists("a", "b") == 0  # discarded as a whole
    assert await store.execute("SET", "c", 3) == b"OK"  # shared connection still fine
    with pytest.raises(stores.ExecAbortError):
        await store.execute_transaction([Command(("SET", "a", 1)), Command(("NOPE",))])
    assert redis_py.exists("a") == 0


async def test_transaction_error_at_exec_time(store: RedisStore, redis_py: Any) -> None:
    await store.execute("SET", "s", "text")
    pipe = store.client().pipeline(transaction=True)
    pipe.set("a", 1).lpush("s", "x").incr("a")
    replies = await pipe.commit(raise_on_error=False)
    assert replies[0] is True and replies[2] == 2
    assert isinstance(replies[1], stores.WrongTypeError)
    assert redis_py.get("a") == b"2"  # MULTI/EXEC does not roll back
    pipe.set("b", 1).lpush("s", "x")
    with pytest.raises(stores.WrongTypeError):
        await pipe.commit()


async def test_execute_transaction(store: RedisStore, redis_py: Any) -> None:
    replies = await store.execute_transaction([
        Command.insert(("SET", "a", 1)),
        Command(("INCR", "a")),
        Command.update(("HSET", "h", "f", "v")),
        Command(("HGETALL", "h")),
        Command.delete(("DEL", "a")),
    ])
    assert replies == [b"OK", 2, 1, [b"f", b"v"], 1]
    assert redis_py.hgetall("h") == {b"f": b"v"}
    assert await store.execute_transaction([]) == []


# ---------------------------------------------------------------------- watch
async def test_watch_then_commit(store: RedisStore, redis_py: Any) -> None:
    c = store.client()
    await c.set("k", 10)
    async with c.pipeline(transaction=True) as pipe:
        await pipe.watch("k")
        value = int(await pipe.immediate.get("k"))
        pipe.set("k", value + 1)
        assert await pipe.commit() == [True]
    assert redis_py.get("k") == b"11"


async def test_watch_detects_a_concurrent_change(store: RedisStore, redis_py: Any) -> None:
    c = store.client()
    await c.set("k", 10)
    pipe = c.pipeline(transaction=True)
    try:
        await pipe.watch("k")
        assert await pipe.immediate.get("k") == b"10"
        redis_py.set("k", 99)  # someone else, on another connection
        pipe.set("k", 11)
        with pytest.raises(stores.WatchError):
            await pipe.commit()
    finally:
        await pipe.reset()
    assert redis_py.get("k") == b"99"
    # The watching connection went back to the pool un-watched: a new
    # transaction on it succeeds.
    async with c.pipeline(transaction=True) as pipe2:
        await pipe2.watch("k")
        pipe2.set("k", 12)
        assert await pipe2.commit() == [True]
    assert redis_py.get("k") == b"12"


async def test_immediate_needs_watch(store: RedisStore) -> None:
    with pytest.raises(stores.StoreError):
        _ = store.client().pipeline(transaction=True).immediate


async def test_reset_releases_the_watched_connection(redis_url: str) -> None:
    s = create_store(redis_url, pool_size=2, wait_timeout=0.5)
    assert isinstance(s, RedisStore)
    try:
        c = s.client()
        await c.ping()
        for _ in range(5):  # would exhaust a 2-connection pool if leaked
            async with c.pipeline(transaction=True) as pipe:
                await pipe.watch("k")
                await pipe.immediate.get("k")
        assert s.pool.in_use <= 2
        pipe = c.pipeline(transaction=True)
        await pipe.watch("k")
        pipe.set("k", 1)
        await pipe.commit()  # commit gives the connection back too
        assert s.pool.in_use <= 2
        assert await c.blpop("l", 0.01) is None
    finally:
        await s.close()


async def test_transaction_helper_retries_on_watch_error(store: RedisStore,
                                                         redis_py: Any) -> None:
    c = store.client()
    await c.set("counter", 0)
    calls = 0

    async def increment(pipe: Pipeline) -> None:
        nonlocal calls
        calls += 1
        value = int(await pipe.immediate.get("counter"))
        if calls == 1:
            redis_py.incrby("counter", 100)  # a concurrent writer, once
        pipe.set("counter", value + 1)

    assert await c.transaction(increment, "counter") == [True]
    assert calls == 2
    assert redis_py.get("counter") == b"101"


async def test_transaction_helper_gives_up_after_retries(store: RedisStore,
                                                         redis_py: Any) -> None:
    c = store.client()

    def always_conflict(pipe: Pipeline) -> None:
        redis_py.incr("k")
        pipe.set("k", 0)

    with pytest.raises(stores.WatchError):
        await c.transaction(always_conflict, "k", retries=2)
    assert redis_py.get("k") == b"3"


async def test_concurrent_transactions_with_watch_are_consistent(store: RedisStore) -> None:
    c = store.client()
    await c.set("n", 0)

    async def increment(pipe: Pipeline) -> None:
        value = int(await pipe.immediate.get("n"))
        await asyncio.sleep(0)
        pipe.set("n", value + 1)

    await asyncio.gather(*(c.transaction(increment, "n", retries=100) for _ in range(8)))
    assert await c.get("n") == b"8"
