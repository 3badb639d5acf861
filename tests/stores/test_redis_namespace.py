"""The URL's ``namespace``: every key and channel prefixed, replies stripped.

redis-py, which knows nothing of namespaces, checks what really is on the server.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

import stores
from stores import Command, create_store
from stores.redis import RedisStore

# pubsub channels are server-wide: a unique prefix keeps other users apart.
NS = f"arbiter-test-{uuid.uuid4().hex[:8]}:"


@pytest.fixture
async def ns_store(store: RedisStore, redis_url: str) -> AsyncIterator[RedisStore]:
    """A namespaced store on the flushed test database (``store`` flushes it)."""
    s = create_store(redis_url, namespace=NS)
    assert isinstance(s, RedisStore) and s.namespace == NS
    try:
        yield s
    finally:
        await s.close()


def _server_keys(redis_py: Any) -> set[bytes]:
    return set(redis_py.keys("*"))


def _all_prefixed(redis_py: Any) -> None:
    keys = _server_keys(redis_py)
    assert keys, "nothing was written"
    assert all(k.startswith(NS.encode()) for k in keys), keys


async def test_every_key_of_every_family_is_prefixed(ns_store: RedisStore,
                                                     redis_py: Any) -> None:
    c = ns_store.client()
    await c.set("s", "v", ex=100)
    await c.mset("m1", 1, "m2", 2)
    assert await c.mget("m1", "m2", "s") == [b"1", b"2", b"v"]
    await c.msetnx("m3", 3)
    await c.setbit("bits", 1, 1)
    await c.bitop("AND", "bitdest", "bits", "bits")
    await c.rpush("l1", "a", "b")
    await c.lmove("l1", "l2", "LEFT", "LEFT")
    await c.rpoplpush("l1", "l3")
    await c.hset("h", "f", "v")
    await c.sadd("set1", "a", "b")
    await c.sadd("set2", "b")
    await c.sinterstore("set3", "set1", "set2")
    await c.smove("set1", "set4", "a")
    await c.zadd("z1", 1, "a")
    await c.zadd("z2", 2, "a")
    await c.zunionstore("z3", 2, "z1", "z2")
    assert await c.zinter(2, "z1", "z2", withscores=True) == [(b"a", 3.0)]
    await c.pfadd("hll", "x")
    await c.pfmerge("hll2", "hll")
    await c.geoadd("geo", 13.36, 38.11, "p")
    await c.geosearchstore("geo2", "geo", "FROMLONLAT", 13, 38, "BYRADIUS", 100, "km")
    await c.xadd("stream", "*", "f", "v")
    await c.xgroup_create("stream", "g", "0")
    await c.copy("s", "s-copy")
    await c.rename("m3", "m4")
    await c.eval("redis.call('set', KEYS[1], ARGV[1]); redis.call('set', KEYS[2], ARGV[1])",
                 2, "e1", "e2", "v")
    assert await c.exists("s", "h", "nope") == 2
    assert await c.object_encoding("h") == b"listpack"
    assert await c.type("set3") == b"set"
    assert await c.touch("s", "h") == 2
    assert isinstance(await c.memory_usage("s"), int)
    assert await c.sort("l2", alpha=True) == [b"a"]
    _all_prefixed(redis_py)
    expected = {"s", "m1", "m2", "bits", "bitdest", "l2", "l3", "h", "set1", "set2",
                "set3", "set4", "z1", "z2", "z3", "hll", "hll2", "geo", "geo2", "stream",
                "s-copy", "m4", "e1", "e2"}
    assert _server_keys(redis_py) == {(NS + k).encode() for k in expected}
    assert redis_py.get(NS + "s") == b"v"
    assert redis_py.lrange(NS + "l3", 0, -1) == [b"b"]


async def test_redis_py_writes_are_read_under_the_namespace(ns_store: RedisStore,
                                                            redis_py: Any) -> None:
    redis_py.set(NS + "from-py", "hello")
    redis_py.set("from-py", "outside")
    assert await ns_store.client().get("from-py") == b"hello"
    assert await ns_store.execute("GET", "from-py") == b"hello"


async def test_key_replies_are_stripped(ns_store: RedisStore, store: RedisStore) -> None:
    c = ns_store.client()
    await store.execute("SET", "outside", 1)
    await c.mset("k1", 1, "k2", 2)
    assert sorted(await c.keys("*")) == [b"k1", b"k2"]
    assert sorted(await c.keys("k1")) == [b"k1"]
    assert sorted(await ns_store.execute("KEYS", "*")) == [b"k1", b"k2"]
    cursor, found = await c.scan(0, count=1000)
    keys = set(found)
    while cursor:
        cursor, found = await c.scan(cursor, count=1000)
        keys.update(found)
    assert keys == {b"k1", b"k2"}
    cursor, found = await c.scan(0, match="k2", count=1000)
    assert b"k2" in found and b"k1" not in found
    await c.rpush("list", "a", "b", "c")
    assert await c.blpop("none", "list", 1) == [b"list", b"a"]
    assert await c.brpop("list", 1) == [b"list", b"c"]
    assert await c.lmpop(1, "list", "LEFT") == [b"list", [b"b"]]
    await c.zadd("z", 1, "a", 2, "b", 3, "c")
    assert await c.bzpopmin("z", 1) == (b"z", b"a", 1.0)
    assert await c.zmpop(1, "z", "MIN") == (b"z", [(b"b", 2.0)])
    assert await c.bzmpop(1, 1, "z", "MIN") == (b"z", [(b"c", 3.0)])
    await c.xadd("st", "1-0", "f", "v")
    assert await c.xread("STREAMS", "st", "0") == {b"st": [[b"1-0", [b"f", b"v"]]]}


async def test_key_replies_are_stripped_over_resp3(store: RedisStore, redis_url: str) -> None:
    s = create_store(redis_url, namespace=NS, protocol=3)
    try:
        c = s.client()
        await c.rpush("l", "x")
        assert await c.blpop("l", 1) == [b"l", b"x"]
        await c.xadd("st", "1-0", "f", "v")
        assert await c.xread("STREAMS", "st", "0") == {b"st": [[b"1-0", [b"f", b"v"]]]}
        assert await c.keys("*") == [b"st"]
    finally:
        await s.close()


async def test_two_namespaces_are_isolated(store: RedisStore, redis_url: str,
                                           redis_py: Any) -> None:
    a = create_store(redis_url, namespace=NS + "a:")
    b = create_store(redis_url, namespace=NS + "b:")
    try:
        ca, cb = a.client(), b.client()
        await ca.set("k", "from-a")
        await cb.set("k", "from-b")
        assert await ca.get("k") == b"from-a"
        assert await cb.get("k") == b"from-b"
        assert await ca.keys("*") == [b"k"]
        await cb.delete("k")
        assert await ca.exists("k") == 1
        assert redis_py.get(NS + "a:k") == b"from-a"
    finally:
        await a.close()
        await b.close()


async def test_flush_deletes_only_the_namespace(ns_store: RedisStore, store: RedisStore,
                                                redis_py: Any) -> None:
    c = ns_store.client()
    for i in range(30):
        await c.set(f"key{i}", i)
    await store.execute("SET", "outside", 1)
    other = create_store(store.dns, namespace="other-" + NS)
    try:
        await other.execute("SET", "kept", 1)
        assert await ns_store.flush() == 30
        assert await c.keys("*") == []
        assert _server_keys(redis_py) == {b"outside", ("other-" + NS + "kept").encode()}
        assert await ns_store.flush() == 0
    finally:
        await other.close()


async def test_commands_without_locatable_keys_are_refused(ns_store: RedisStore,
                                                           redis_py: Any) -> None:
    c = ns_store.client()
    redis_py.set("unrelated", 1)
    await c.rpush("l", 2, 1)
    with pytest.raises(stores.NamespaceError):
        await c.flushdb()
    with pytest.raises(stores.NamespaceError):
        await ns_store.execute("FLUSHDB")
    with pytest.raises(stores.NamespaceError):
        await c.randomkey()
    with pytest.raises(stores.NamespaceError):
        await c.dbsize()
    with pytest.raises(stores.NamespaceError):
        await c.sort("l", by="weight_*")
    with pytest.raises(stores.NamespaceError):
        await ns_store.execute("SORT", "l", "GET", "#")
    with pytest.raises(stores.NamespaceError):  # STORE's key is not located either
        await c.sort("l", store="dest")
    with pytest.raises(stores.NamespaceError):
        await ns_store.execute("NOTACOMMAND", "x")
    # Nothing was run: the database is intact.
    assert redis_py.get("unrelated") == b"1"
    assert redis_py.lrange(NS + "l", 0, -1) == [b"2", b"1"]
    assert await c.sort("l") == [b"1", b"2"]  # plain SORT has its key


async def test_pipelines_transactions_and_watch_are_namespaced(ns_store: RedisStore,
                                                               redis_py: Any) -> None:
    c = ns_store.client()
    pipe = c.pipeline()
    pipe.set("p1", 1).mset("p2", 2, "p3", 3).keys("p*")
    replies = await pipe.commit()
    assert replies[:2] == [True, True] and sorted(replies[2]) == [b"p1", b"p2", b"p3"]
    async with c.pipeline(transaction=True) as tx:
        await tx.watch("p1")
        assert await tx.immediate.get("p1") == b"1"
        assert await tx.immediate.keys("p1") == [b"p1"]
        redis_py.set(NS + "p1", "changed")
        tx.set("p1", 2)
        with pytest.raises(stores.WatchError):
            await tx.commit()
    assert redis_py.get(NS + "p1") == b"changed"
    assert await ns_store.execute_transaction([Command(("INCR", "t")), Command(("GET", "t"))]) \
        == [1, b"1"]
    _all_prefixed(redis_py)


async def test_scripts_and_locks_are_namespaced(ns_store: RedisStore, redis_py: Any) -> None:
    c = ns_store.client()
    script = c.register_script(f"-- {uuid.uuid4().hex}\n"
                               "return redis.call('incrby', KEYS[1], ARGV[1])")
    assert await script(keys=["counter"], args=[3]) == 3
    assert await c.eval("return ARGV[1]", 0, "no keys") == b"no keys"  # none to prefix
    pipe = c.pipeline()
    await script(keys=["counter"], args=[1], client=pipe)
    assert await pipe.commit() == [4]
    async with c.lock("lock") as lock:
        assert redis_py.get(NS + "lock") == lock.token
    assert redis_py.exists(NS + "lock") == 0
    _all_prefixed(redis_py)


async def test_channels_are_prefixed(ns_store: RedisStore, redis_py: Any) -> None:
    ps = ns_store.pubsub()
    got: asyncio.Queue[tuple[Any, Any]] = asyncio.Queue()
    ps.add_client(lambda ch, msg: got.put_nowait((ch, msg)))
    try:
        await ps.subscribe("news")
        await ps.psubscribe("topic.*")
        assert redis_py.pubsub_numsub(NS + "news") == [((NS + "news").encode(), 1)]
        assert redis_py.publish(NS + "news", "from-py") == 1
        assert await asyncio.wait_for(got.get(), 5) == (b"news", b"from-py")
        assert redis_py.publish("news", "unprefixed") == 0  # outside the namespace
        assert await ps.publish("topic.a", "mine") == 1
        assert await asyncio.wait_for(got.get(), 5) == (b"topic.a", b"mine")
        assert await ps.count("news") == {b"news": 1}
        assert await ps.channels() == [b"news"]
        assert await ps.channels("n*") == [b"news"]
        await ps.unsubscribe("news")
        assert redis_py.pubsub_numsub(NS + "news") == [((NS + "news").encode(), 0)]
    finally:
        await ps.close()


async def test_glob_characters_in_the_namespace_match_literally(
        store: RedisStore, redis_url: str, redis_py: Any) -> None:
    base = NS.rstrip(":")
    s = create_store(redis_url, namespace=base + "[1]*:")
    ps = s.pubsub()
    try:
        c = s.client()
        # Keys a glob reading of "<base>[1]*:" would match, but that are not ours.
        redis_py.set(base + "1:a", "not ours")
        redis_py.set(base + "1x:b", "not ours")
        await c.set("mine", 1)
        assert await c.keys("*") == [b"mine"]
        cursor, found = await c.scan(0, count=1000)
        assert cursor == 0 and found == [b"mine"]
        assert await s.flush() == 1
        assert _server_keys(redis_py) == {(base + "1:a").encode(), (base + "1x:b").encode()}
        got: asyncio.Queue[Any] = asyncio.Queue()
        ps.add_client(lambda ch, msg: got.put_nowait(msg))
        messages: list[Any] = []

        async def consume() -> None:
            async for message in ps:
                messages.append(message)

        consumer = asyncio.ensure_future(consume())
        await ps.psubscribe("ev.*")
        assert redis_py.publish(base + "1:ev.x", "other") == 0
        assert await ps.publish("ev.x", "ours") == 1
        assert await asyncio.wait_for(got.get(), 5) == b"ours"
        assert messages[0].channel == b"ev.x" and messages[0].pattern == b"ev.*"
        await ps.punsubscribe("ev.*")
        assert await ps.publish("ev.x", "after") == 0
    finally:
        await ps.close()
        await s.close()
    await asyncio.wait_for(consumer, 5)
