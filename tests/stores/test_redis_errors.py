"""Errors, argument checking and redis-py cross-checks against the real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

import stores
from stores import create_store
from stores.redis import RedisStore


@pytest.fixture
async def named(store: RedisStore, redis_url: str) -> AsyncIterator[tuple[RedisStore, str]]:
    name = f"arbiter-stores-test-{uuid.uuid4().hex[:12]}"
    s = create_store(redis_url, client_name=name)
    assert isinstance(s, RedisStore)
    try:
        yield s, name
    finally:
        await s.close()


def _last_command(redis_py: Any, name: str) -> str:
    [entry] = [c for c in redis_py.client_list() if c["name"] == name]
    return str(entry["cmd"])


# ------------------------------------------------------------- cross-checks
async def test_redis_py_reads_what_we_wrote(store: RedisStore, redis_py: Any) -> None:
    c = store.client()
    await c.set("s", "välue ✓")
    await c.hset("h", "f", 1, "g", 2.5)
    await c.rpush("l", "a", b"\x00b")
    await c.sadd("set", "x", "y")
    await c.zadd("z", 1.5, "m")
    await c.xadd("st", "1-0", "k", "v")
    assert redis_py.get("s").decode() == "välue ✓"
    assert redis_py.hgetall("h") == {b"f": b"1", b"g": b"2.5"}
    assert redis_py.lrange("l", 0, -1) == [b"a", b"\x00b"]
    assert redis_py.smembers("set") == {b"x", b"y"}
    assert redis_py.zrange("z", 0, -1, withscores=True) == [(b"m", 1.5)]
    assert redis_py.xrange("st") == [(b"1-0", {b"k": b"v"})]


async def test_we_read_what_redis_py_wrote(store: RedisStore, redis_py: Any) -> None:
    redis_py.set("s", "from redis-py")
    redis_py.hset("h", mapping={"a": "1"})
    redis_py.zadd("z", {"m": 2})
    c = store.client()
    assert await c.get("s") == b"from redis-py"
    assert await c.hgetall("h") == {b"a": b"1"}
    assert await c.zrange("z", 0, -1, withscores=True) == [(b"m", 2.0)]


async def test_binary_values_round_trip(store: RedisStore, redis_py: Any) -> None:
    every_byte = bytes(range(256))
    big = every_byte * 4096  # 1 MiB, split over many reads
    c = store.client()
    await c.set(b"bin\x00key\xff", every_byte)
    await c.set("big", big)
    assert await c.get(b"bin\x00key\xff") == every_byte
    assert redis_py.get(b"bin\x00key\xff") == every_byte
    assert await c.get("big") == big
    assert redis_py.strlen("big") == len(big)
    redis_py.set("crlf", b"\r\n$3\r\n*1\r\n")
    assert await c.get("crlf") == b"\r\n$3\r\n*1\r\n"
    assert store.decode_bytes(store.encode_bytes(every_byte)) == every_byte
    assert store.dencode_bytes("é") == "é".encode()


# ----------------------------------------------------- arguments refused early
@pytest.mark.parametrize("bad", [None, True, False, [1, 2], {"a": 1}, object()],
                         ids=["None", "True", "False", "list", "dict", "object"])
async def test_unsupported_argument_types_are_refused_before_sending(
        named: tuple[RedisStore, str], redis_py: Any, bad: Any) -> None:
    s, name = named
    c = s.client()
    assert await c.echo("marker") == b"marker"
    with pytest.raises(TypeError):
        await s.execute("SET", "k", bad)
    with pytest.raises(TypeError):
        await c.set("k", bad)
    with pytest.raises(TypeError):
        await c.rpush("l", "ok", bad)
    pipe = c.pipeline()
    pipe.set("p", 1).set("k", bad)
    with pytest.raises(TypeError):
        await pipe.commit()
    # Nothing reached the server: the last command it saw is still ECHO.
    assert _last_command(redis_py, name) == "echo"
    assert redis_py.exists("k", "l", "p") == 0
    assert await c.get("k") is None  # and the connection is in step


async def test_a_bad_argument_does_not_disturb_concurrent_commands(store: RedisStore) -> None:
    c = store.client()
    results = await asyncio.gather(
        *(c.set(f"k{i}", None if i % 10 == 5 else i) for i in range(50)),
        return_exceptions=True)
    for i, result in enumerate(results):
        if i % 10 == 5:
            assert isinstance(result, TypeError)
        else:
            assert result is True
    assert await c.mget("k4", "k5", "k6") == [b"4", None, b"6"]


async def test_wrong_arity_is_a_type_error_and_sends_nothing(
        named: tuple[RedisStore, str], redis_py: Any) -> None:
    s, name = named
    c = s.client()
    await c.echo("marker")
    with pytest.raises(TypeError, match="wrong number of arguments"):
        await c.get("a", "b")
    with pytest.raises(TypeError):
        await c.set("only-key")
    with pytest.raises(TypeError):
        await c.hset("h", "f")  # HSET's arity is -4: a field needs a value
    with pytest.raises(TypeError):
        await c.delete()
    assert _last_command(redis_py, name) == "echo"


async def test_execute_misuse(store: RedisStore) -> None:
    with pytest.raises(TypeError):
        await store.execute()
    with pytest.raises(TypeError):
        await store.execute("GET", "k", unknown_option=1)
    with pytest.raises(AttributeError):
        store.client().no_such_command()  # type: ignore[attr-defined]


# ---------------------------------------------------------------- server errors
async def test_server_errors_are_response_errors(store: RedisStore) -> None:
    c = store.client()
    with pytest.raises(stores.ResponseError) as info:
        await store.execute("NOSUCHCOMMAND")
    assert info.value.code == "ERR"
    assert isinstance(info.value, stores.StoreError)
    await c.set("k", "text")
    with pytest.raises(stores.ResponseError) as info:
        await c.incr("k")
    assert "not an integer" in str(info.value)
    with pytest.raises(stores.ResponseError):
        await store.execute("GET")  # arity checked by the server for execute()
    # The connection stays usable after error replies.
    assert await c.get("k") == b"text"


async def test_wrongtype(store: RedisStore) -> None:
    c = store.client()
    await c.rpush("list", "a")
    with pytest.raises(stores.WrongTypeError) as info:
        await c.get("list")
    assert info.value.code == "WRONGTYPE"
    assert isinstance(info.value, stores.ResponseError)
    with pytest.raises(stores.WrongTypeError):
        await store.execute("HSET", "list", "f", "v")
    assert await c.lrange("list", 0, -1) == [b"a"]


async def test_noscript(store: RedisStore) -> None:
    with pytest.raises(stores.NoScriptError) as info:
        await store.client().evalsha("0" * 40, 0)
    assert info.value.code == "NOSCRIPT"


async def test_errors_over_resp3_and_decoded(store: RedisStore, redis_url: str) -> None:
    for s in (create_store(redis_url, protocol=3),
              create_store(redis_url, decode_responses=True)):
        try:
            await s.execute("RPUSH", "l3", "a")
            with pytest.raises(stores.WrongTypeError):
                await s.execute("GET", "l3")
            with pytest.raises(stores.ResponseError):
                await s.execute("NOSUCHCOMMAND")
            assert await s.ping()
        finally:
            await s.execute("DEL", "l3")
            await s.close()


async def test_many_concurrent_errors_stay_matched(store: RedisStore) -> None:
    c = store.client()
    await c.rpush("list", "x")
    calls = [c.get("list") if i % 3 == 0 else c.echo(str(i)) for i in range(300)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    for i, result in enumerate(results):
        if i % 3 == 0:
            assert isinstance(result, stores.WrongTypeError)
        else:
            assert result == str(i).encode()
