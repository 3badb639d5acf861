"""``execute`` and ``client()`` methods against the real Redis, family by family.

Most tests run twice, over RESP2 and RESP3 (``?protocol=3``): the client's
reply conversions must give the same Python values whatever the server sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from polling import wait_blocked

import stores
from stores import create_store
from stores.redis import RedisStore
from stores.redis.client import RedisClient


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
async def client(request: pytest.FixtureRequest, store: RedisStore,
                 redis_url: str) -> AsyncIterator[RedisClient]:
    """A client over RESP2 or RESP3 on the flushed test database."""
    protocol = request.param
    if protocol == 2:
        yield store.client()
        return
    s = create_store(redis_url, protocol=3)
    assert isinstance(s, RedisStore) and s.protocol == 3
    try:
        yield s.client()
    finally:
        await s.close()


# ------------------------------------------------------------------- execute
async def test_execute_returns_raw_replies(store: RedisStore) -> None:
    assert await store.execute("SET", "k", "v") == b"OK"
    assert await store.execute("GET", "k") == b"v"
    assert await store.execute("GET", "missing") is None
    assert await store.execute("INCRBY", "n", 5) == 5
    assert await store.execute("RPUSH", "l", "a", "b") == 2
    assert await store.execute("LRANGE", "l", 0, -1) == [b"a", b"b"]
    assert await store.execute("HSET", "h", "f", "v") == 1
    # execute does not convert: HGETALL stays a flat list over RESP2.
    assert await store.execute("HGETALL", "h") == [b"f", b"v"]
    assert await store.ping() is True


async def test_execute_accepts_bytes_str_int_float(store: RedisStore) -> None:
    await store.execute(b"SET", b"bk", 1.5)
    assert await store.execute("GET", "bk") == b"1.5"
    await store.execute("set", "ik", -42)
    assert await store.execute("GET", "ik") == b"-42"


async def test_execute_refuses_connection_state_commands(store: RedisStore) -> None:
    for args in (("MULTI",), ("SELECT", 1), ("SUBSCRIBE", "c"), ("WATCH", "k")):
        with pytest.raises(stores.StoreError):
            await store.execute(*args)
    assert await store.ping()


# ------------------------------------------------------------------- strings
async def test_strings(client: RedisClient) -> None:
    c = client
    assert await c.set("k", "v") is True
    assert await c.get("k") == b"v"
    assert await c.set("k", "w", nx=True) is None  # exists: NX refuses
    assert await c.get("k") == b"v"
    assert await c.set("k", "w", xx=True, get=True) == b"v"
    assert await c.set("t", "x", ex=10, nx=True) is True
    assert 0 < await c.ttl("t") <= 10
    assert await c.set("p", "x", px=20000) is True
    assert 0 < await c.pttl("p") <= 20000
    assert await c.append("k", "!") == 2
    assert await c.strlen("k") == 2
    assert await c.getrange("k", 0, 0) == b"w"
    assert await c.setrange("k", 1, "?") == 2
    assert await c.incr("n") == 1
    assert await c.incrby("n", 10) == 11
    assert await c.decr("n") == 10
    assert await c.decrby("n", 5) == 5
    assert await c.incrbyfloat("f", 1.25) == 1.25
    assert await c.incrbyfloat("f", "0.25") == 1.5
    assert await c.mset("a", 1, "b", 2) is True
    assert await c.mget("a", "b", "missing") == [b"1", b"2", None]
    assert await c.msetnx("a", 3, "z", 4) is False
    assert await c.setnx("a", 9) is False
    assert await c.setnx("new", 9) is True
    assert await c.getdel("new") == b"9"
    assert await c.getex("a", ex=100) == b"1"
    assert 0 < await c.ttl("a") <= 100
    assert await c.setex("se", 100, "v") is True
    assert await c.psetex("pse", 100000, "v") is True
    assert await c.lcs("k", "k") == await c.get("k")


async def test_bitmaps(client: RedisClient) -> None:
    c = client
    assert await c.setbit("bm", 7, 1) == 0
    assert await c.setbit("bm", 7, 1) == 1
    assert await c.getbit("bm", 7) == 1
    assert await c.getbit("bm", 0) == 0
    assert await c.bitcount("bm") == 1
    assert await c.bitpos("bm", 1) == 7
    assert await c.get("bm") == b"\x01"
    assert await c.bitfield("bm", "SET", "u8", 8, 255, "GET", "u8", 8) == [0, 255]
    assert await c.bitfield_ro("bm", "GET", "u8", 0) == [1]
    assert await c.bitop("OR", "dest", "bm", "bm") == 2
    assert await c.get("dest") == b"\x01\xff"


# ----------------------------------------------------------------------- keys
async def test_keys_family(client: RedisClient) -> None:
    c = client
    await c.mset("k1", "a", "k2", "b", "other", "c")
    assert await c.exists("k1", "k2", "nope") == 2
    assert sorted(await c.keys("k*")) == [b"k1", b"k2"]
    assert await c.type("k1") == b"string"
    assert await c.expire("k1", 100) is True
    assert await c.expire("nope", 100) is False
    assert 0 < await c.ttl("k1") <= 100
    assert await c.persist("k1") is True
    assert await c.ttl("k1") == -1
    assert await c.pexpire("k1", 100000) is True
    assert await c.expireat("k2", 4_000_000_000) is True
    assert await c.expiretime("k2") == 4_000_000_000
    assert await c.rename("k1", "k3") is True
    assert await c.renamenx("k3", "k2") is False
    assert await c.copy("k3", "k4") is True
    assert await c.get("k4") == b"a"
    assert await c.delete("k3", "k4", "nope") == 2
    assert await c.unlink("other") == 1
    assert await c.touch("k2") == 1
    assert await c.object_encoding("k2") == b"embstr"
    dumped = await c.dump("k2")
    assert isinstance(dumped, bytes)
    assert await c.restore("k5", 0, dumped) is True
    assert await c.get("k5") == b"b"
    cursor, found = await c.scan(0, match="k*", count=100)
    keys = set(found)
    while cursor:
        cursor, found = await c.scan(cursor, match="k*", count=100)
        keys.update(found)
    assert keys == {b"k2", b"k5"}
    assert await c.dbsize() == 2
    await c.rpush("sortme", 3, 1, 2)
    assert await c.sort("sortme") == [b"1", b"2", b"3"]
    assert await c.sort("sortme", desc=True, limit=(0, 2)) == [b"3", b"2"]


# ---------------------------------------------------------------------- lists
async def test_lists(client: RedisClient) -> None:
    c = client
    assert await c.rpush("l", "a", "b", "c") == 3
    assert await c.lpush("l", "z") == 4
    assert await c.lrange("l", 0, -1) == [b"z", b"a", b"b", b"c"]
    assert await c.llen("l") == 4
    assert await c.lindex("l", 1) == b"a"
    assert await c.lpos("l", "b") == 2
    assert await c.lset("l", 0, "y") is True
    assert await c.linsert("l", "BEFORE", "a", "x") == 5
    assert await c.lrem("l", 0, "x") == 1
    assert await c.ltrim("l", 0, 2) is True
    assert await c.lrange("l", 0, -1) == [b"y", b"a", b"b"]
    assert await c.lpop("l") == b"y"
    assert await c.rpop("l", 1) == [b"b"]
    assert await c.lmove("l", "l2", "LEFT", "RIGHT") == b"a"
    assert await c.lpop("l") is None
    await c.rpush("m", 1, 2, 3)
    assert await c.lmpop(2, "empty", "m", "LEFT", count=2) == [b"m", [b"1", b"2"]]
    assert await c.rpoplpush("m", "l2") == b"3"
    assert await c.lrange("l2", 0, -1) == [b"3", b"a"]


async def test_blocking_pops(client: RedisClient) -> None:
    c = client
    await c.rpush("q", "one", "two")
    assert await c.blpop("q", 1) == [b"q", b"one"]
    assert await c.brpop("empty", "q", 1) == [b"q", b"two"]
    assert await c.blpop("q", 0.05) is None  # timed out: nil
    await c.rpush("q", "x")
    assert await c.blmove("q", "dst", "LEFT", "LEFT", 1) == b"x"
    assert await c.brpoplpush("dst", "q", 1) == b"x"
    assert await c.blmpop(1, 1, "q", "RIGHT") == [b"q", [b"x"]]


async def test_blocking_pop_waits_for_a_push(client: RedisClient, store: RedisStore) -> None:
    waiter = asyncio.ensure_future(client.blpop("later", 5))
    await wait_blocked("blpop")
    assert not waiter.done()
    # Ordinary commands keep flowing while the pop blocks its own connection.
    assert await store.execute("RPUSH", "later", "v") == 1
    assert await asyncio.wait_for(waiter, 5) == [b"later", b"v"]


# --------------------------------------------------------------------- hashes
async def test_hashes(client: RedisClient) -> None:
    c = client
    assert await c.hset("h", "a", 1, "b", 2) == 2
    assert await c.hget("h", "a") == b"1"
    assert await c.hgetall("h") == {b"a": b"1", b"b": b"2"}
    assert await c.hgetall("missing") == {}
    assert await c.hmget("h", "a", "x") == [b"1", None]
    assert await c.hsetnx("h", "a", 5) is False
    assert await c.hsetnx("h", "c", 3) is True
    assert await c.hexists("h", "c") is True
    assert await c.hexists("h", "x") is False
    assert await c.hincrby("h", "a", 10) == 11
    assert await c.hincrbyfloat("h", "f", 0.5) == 0.5
    assert sorted(await c.hkeys("h")) == [b"a", b"b", b"c", b"f"]
    assert sorted(await c.hvals("h")) == [b"0.5", b"11", b"2", b"3"]
    assert await c.hlen("h") == 4
    assert await c.hstrlen("h", "a") == 2
    assert await c.hdel("h", "f", "x") == 1
    assert await c.hmset("h", "d", 4) is True
    cursor, found = await c.hscan("h", 0)
    assert cursor == 0 and found == {b"a": b"11", b"b": b"2", b"c": b"3", b"d": b"4"}
    pairs = await c.hrandfield("h", 4, withvalues=True)
    assert sorted(pairs) == [(b"a", b"11"), (b"b", b"2"), (b"c", b"3"), (b"d", b"4")]
    assert await c.hrandfield("h") in (b"a", b"b", b"c", b"d")


# ----------------------------------------------------------------------- sets
async def test_sets(client: RedisClient) -> None:
    c = client
    assert await c.sadd("s", "a", "b", "c") == 3
    assert await c.sadd("t", "b", "c", "d") == 3
    assert await c.smembers("s") == {b"a", b"b", b"c"}
    assert await c.smembers("missing") == set()
    assert await c.sismember("s", "a") is True
    assert await c.sismember("s", "z") is False
    assert await c.smismember("s", "a", "z") == [1, 0]
    assert await c.scard("s") == 3
    assert await c.sinter("s", "t") == {b"b", b"c"}
    assert await c.sunion("s", "t") == {b"a", b"b", b"c", b"d"}
    assert await c.sdiff("s", "t") == {b"a"}
    assert await c.sintercard(2, "s", "t") == 2
    assert await c.sinterstore("st", "s", "t") == 2
    assert await c.smove("s", "t", "a") is True
    assert await c.srem("t", "a", "zz") == 1
    assert await c.spop("st") in (b"b", b"c")
    assert await c.srandmember("s") in (b"b", b"c")
    cursor, found = await c.sscan("s", 0)
    assert cursor == 0 and sorted(found) == [b"b", b"c"]


# ---------------------------------------------------------------- sorted sets
async def test_sorted_sets(client: RedisClient) -> None:
    c = client
    assert await c.zadd("z", 1, "a", 2.5, "b") == 2
    assert await c.zadd("z", 5, "a", nx=True) == 0  # NX: "a" exists, not updated
    assert await c.zscore("z", "a") == 1.0
    assert await c.zadd("z", 7, "a", xx=True, ch=True) == 1
    assert await c.zadd("z", 1, "a") == 0
    assert await c.zadd("z", 3, "c", gt=True) == 1
    assert await c.zadd("i", 2, "m", incr=True) == 2.0  # a float over RESP2 and RESP3
    assert await c.zadd("i", 0.5, "m", incr=True) == 2.5
    assert await c.zadd("i", 1, "m", nx=True, incr=True) is None
    assert await c.zscore("z", "b") == 2.5
    assert await c.zscore("z", "missing") is None
    assert await c.zmscore("z", "a", "missing") == [1.0, None]
    assert await c.zrange("z", 0, -1) == [b"a", b"b", b"c"]
    assert await c.zrange("z", 0, -1, withscores=True) == [
        (b"a", 1.0), (b"b", 2.5), (b"c", 3.0)]
    assert await c.zrange("z", 0, 0, rev=True, withscores=True) == [(b"c", 3.0)]
    assert await c.zrangebyscore("z", 2, "+inf", withscores=True) == [
        (b"b", 2.5), (b"c", 3.0)]
    assert await c.zrevrange("z", 0, 0, withscores=True) == [(b"c", 3.0)]
    assert await c.zrevrangebyscore("z", "+inf", "-inf", limit=(0, 1)) == [b"c"]
    assert await c.zrank("z", "b") == 1
    assert await c.zrevrank("z", "b") == 1
    assert await c.zcard("z") == 3
    assert await c.zcount("z", 2, 3) == 2
    assert await c.zincrby("z", 0.5, "a") == 1.5
    assert await c.zlexcount("z", "-", "+") == 3
    await c.zadd("y", 10, "a", 20, "d")
    assert await c.zunion(2, "z", "y", withscores=True) == [
        (b"b", 2.5), (b"c", 3.0), (b"a", 11.5), (b"d", 20.0)]
    assert await c.zinter(2, "z", "y", withscores=True) == [(b"a", 11.5)]
    assert await c.zdiff(2, "z", "y") == [b"b", b"c"]
    assert await c.zunionstore("u", 2, "z", "y") == 4
    assert sorted(await c.zrandmember("z", 3, withscores=True)) == [
        (b"a", 1.5), (b"b", 2.5), (b"c", 3.0)]
    cursor, found = await c.zscan("z", 0)
    assert cursor == 0 and sorted(found) == [(b"a", 1.5), (b"b", 2.5), (b"c", 3.0)]
    assert await c.zpopmin("z") == [(b"a", 1.5)]
    assert await c.zpopmax("z", 1) == [(b"c", 3.0)]
    assert await c.zpopmin("missing") == []
    assert await c.zmpop(1, "y", "MIN", count=1) == (b"y", [(b"a", 10.0)])
    assert await c.zmpop(1, "missing", "MIN") is None
    assert await c.bzpopmin("z", 1) == (b"z", b"b", 2.5)
    assert await c.bzpopmax("missing", 0.05) is None
    assert await c.bzmpop(1, 1, "y", "MAX") == (b"y", [(b"d", 20.0)])
    assert await c.zrem("u", "x") == 0
    assert await c.zremrangebyscore("u", "-inf", "+inf") >= 0


async def test_zmpop_shape(client: RedisClient) -> None:
    await client.zadd("u", 1, "a", 2, "b", 3, "c")
    assert await client.zmpop(1, "u", "MAX", count=2) == (b"u", [(b"c", 3.0), (b"b", 2.0)])


# ------------------------------------------------------------- hyperloglog/geo
async def test_hyperloglog(client: RedisClient) -> None:
    c = client
    assert await c.pfadd("h1", "a", "b", "c") == 1
    assert await c.pfadd("h1", "a") == 0
    assert await c.pfadd("h2", "c", "d") == 1
    assert await c.pfcount("h1") == 3
    assert await c.pfcount("h1", "h2") == 4
    assert await c.pfmerge("h3", "h1", "h2") is True
    assert await c.pfcount("h3") == 4


async def test_geo(client: RedisClient) -> None:
    c = client
    assert await c.geoadd("g", 13.361389, 38.115556, "Palermo",
                          15.087269, 37.502669, "Catania") == 2
    assert await c.geoadd("g", 13.361389, 38.115556, "Palermo", nx=True) == 0
    assert await c.geodist("g", "Palermo", "Catania", "km") == pytest.approx(166.2742)
    assert await c.geodist("g", "Palermo", "nowhere") is None
    pos = await c.geopos("g", "Palermo", "nowhere")
    assert pos[1] is None
    lon, lat = pos[0]
    assert (lon, lat) == (pytest.approx(13.361389, abs=1e-5), pytest.approx(38.115556, abs=1e-5))
    assert await c.geohash("g", "Palermo") == [b"sqc8b49rny0"]
    assert await c.geosearch("g", "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km", "ASC") == [
        b"Catania", b"Palermo"]
    found = await c.geosearch("g", "FROMMEMBER", "Palermo", "BYRADIUS", 200, "km", "ASC",
                              withcoord=True, withdist=True)
    assert [item[0] for item in found] == [b"Palermo", b"Catania"]
    member, dist, (lon, lat) = found[1]
    assert member == b"Catania"
    assert dist == pytest.approx(166.2742)
    assert (lon, lat) == (pytest.approx(15.087269, abs=1e-5),
                                        pytest.approx(37.502669, abs=1e-5))
    assert await c.geosearchstore("g2", "g", "FROMLONLAT", 15, 37, "BYRADIUS", 100, "km") == 1


async def test_geo_replies_same_over_resp2_and_resp3(store: RedisStore, redis_url: str) -> None:
    s3 = create_store(redis_url, protocol=3)
    try:
        c2, c3 = store.client(), s3.client()
        await c2.geoadd("g", 13.361389, 38.115556, "Palermo")
        assert await c2.geopos("g", "Palermo", "x") == await c3.geopos("g", "Palermo", "x")
        args = ("g", "FROMLONLAT", 13, 38, "BYRADIUS", 100, "km")
        assert (await c2.geosearch(*args, withcoord=True, withdist=True, withhash=True)
                == await c3.geosearch(*args, withcoord=True, withdist=True, withhash=True))
    finally:
        await s3.close()


# -------------------------------------------------------------------- streams
async def test_streams(client: RedisClient) -> None:
    c = client
    assert await c.xadd("st", "1-0", "f", "v") == b"1-0"
    assert await c.xadd("st", "*", "g", "w", maxlen=("~", 100)) != b""
    assert await c.xadd("nost", "*", "f", "v", nomkstream=True) is None
    assert await c.exists("nost") == 0
    assert await c.xlen("st") == 2
    entries = await c.xrange("st", "-", "+", count=1)
    assert entries == [[b"1-0", [b"f", b"v"]]]
    assert (await c.xrevrange("st", "+", "-", count=1))[0][1] == [b"g", b"w"]
    assert await c.xgroup_create("st", "grp", "0") is True
    read = await c.xreadgroup("GROUP", "grp", "c1", "COUNT", 1, "STREAMS", "st", ">")
    assert read == {b"st": [[b"1-0", [b"f", b"v"]]]}
    assert await c.xinfo_groups("st") == [{
        b"name": b"grp", b"consumers": 1, b"pending": 1, b"last-delivered-id": b"1-0",
        b"entries-read": 1, b"lag": 1}]
    [consumer] = await c.xinfo_consumers("st", "grp")
    assert consumer[b"name"] == b"c1" and consumer[b"pending"] == 1
    pending = await c.xpending("st", "grp")
    assert pending[0] == 1 and pending[3] == [[b"c1", b"1"]]
    assert await c.xack("st", "grp", "1-0") == 1
    assert await c.xread("COUNT", 1, "STREAMS", "st", "0") == {b"st": [[b"1-0", [b"f", b"v"]]]}
    assert await c.xread("STREAMS", "nostream", "0") is None
    # Keyword options go before STREAMS, where the server expects them.
    assert await c.xread("STREAMS", "st", "0", count=1) == {b"st": [[b"1-0", [b"f", b"v"]]]}
    assert await c.xreadgroup("GROUP", "grp", "c2", "STREAMS", "st", "0", count=1,
                              noack=True) == {b"st": []}
    info = await c.xinfo_stream("st")
    assert info[b"length"] == 2 and info[b"groups"] == 1
    assert await c.xdel("st", "1-0") == 1
    assert await c.xtrim("st", "MAXLEN", 0) == 1


async def test_xread_block_waits_for_an_entry(client: RedisClient, store: RedisStore) -> None:
    reader = asyncio.ensure_future(client.xread("STREAMS", "bs", "$", block=5000))
    await wait_blocked("xread")
    await store.execute("XADD", "bs", "5-0", "k", "v")
    assert await asyncio.wait_for(reader, 5) == {b"bs": [[b"5-0", [b"k", b"v"]]]}


# ------------------------------------------------------------------ scripting
async def test_eval_replies(client: RedisClient) -> None:
    c = client
    assert await c.eval("return {1, 'two', {3}}", 0) == [1, b"two", [3]]
    assert await c.eval("return redis.call('set', KEYS[1], ARGV[1])", 1, "ek", "ev") == b"OK"
    assert await c.get("ek") == b"ev"
    assert await c.eval("return 3.7", 0) == 3  # Lua numbers become integers
    assert await c.eval("return nil", 0) is None
    sha = await c.script_load("return ARGV[1]")
    assert await c.evalsha(sha, 0, "x") == b"x"
    assert await c.script_exists(sha, "0" * 40) == [1, 0]
    assert await c.eval_ro("return redis.call('get', KEYS[1])", 1, "ek") == b"ev"
    with pytest.raises(stores.ResponseError):
        await c.eval("return redis.error_reply('boom')", 0)


# --------------------------------------------------------------------- server
async def test_server_commands(client: RedisClient) -> None:
    c = client
    info = await c.info()
    assert isinstance(info, dict)
    assert isinstance(info["redis_version"], str)
    assert isinstance(info["connected_clients"], int)
    assert "redis_version" in await c.info("server")
    keyspace = await c.info("keyspace")
    assert isinstance(keyspace, dict)
    await c.set("x", 1)
    keyspace = await c.info("keyspace")
    db = next(v for k, v in keyspace.items() if k.startswith("db"))
    assert isinstance(db, dict) and db["keys"] >= 1
    seconds, micros = await c.time()
    assert seconds > 1_600_000_000 and 0 <= micros < 1_000_000
    config = await c.config_get("maxmemory-policy")
    assert list(config) == [b"maxmemory-policy"]
    clients = await c.client_list()
    assert clients and all("id" in entry and "addr" in entry for entry in clients)
    me = await c.client_info()
    assert int(me["id"]) == await c.client_id()
    assert await c.ping() is True
    assert await c.echo("hi") == b"hi"
    assert await c.dbsize() == 1
    assert await c.lastsave() > 0
    assert await c.command_count() > 100
    assert isinstance(await c.memory_usage("x"), int)


async def test_client_info_shows_the_test_database(store: RedisStore) -> None:
    info = await store.client().client_info()
    assert info["db"] == store.database


# ----------------------------------------------------------- decode_responses
async def test_decode_responses(store: RedisStore, redis_url: str) -> None:
    s = create_store(redis_url, decode_responses="true")
    try:
        c = s.client()
        assert await c.set("k", "välue") is True
        assert await c.get("k") == "välue"
        assert await s.execute("GET", "k") == "välue"
        await c.hset("h", "f", "v")
        assert await c.hgetall("h") == {"f": "v"}
        await c.zadd("z", 1, "a")
        assert await c.zrange("z", 0, -1, withscores=True) == [("a", 1.0)]
        assert await c.ping() is True
        assert await c.keys("*") != []
        assert isinstance((await c.info())["redis_version"], str)
        assert await c.client_list()
        # Binary-clean reads still need bytes: the plain store gives them.
        assert await store.execute("GET", "k") == "välue".encode()
    finally:
        await s.close()


# ---------------------------------------------------------------- concurrency
@pytest.mark.timeout(15)
async def test_many_concurrent_tasks_get_their_own_replies(store: RedisStore) -> None:
    c = store.client()

    async def one(i: int) -> tuple[Any, Any, Any]:
        await c.set(f"key:{i}", i)
        return await c.get(f"key:{i}"), await c.incrby("counter", 1), i

    results = await asyncio.gather(*(one(i) for i in range(500)))
    assert [int(r[0]) for r in results] == list(range(500))
    assert sorted(r[1] for r in results) == list(range(1, 501))
    assert await c.get("counter") == b"500"


async def test_concurrent_gathers_share_a_small_number_of_connections(
        store: RedisStore) -> None:
    name = f"arbiter-stores-test-{id(store)}"
    s = create_store(store.dns, client_name=name)
    assert isinstance(s, RedisStore)
    try:
        replies = await asyncio.gather(*(s.execute("ECHO", i) for i in range(500)))
        assert replies == [str(i).encode() for i in range(500)]
        clients = await store.client().client_list()
        ours = [entry for entry in clients if entry["name"] == name]
        assert 1 <= len(ours) <= 2
    finally:
        await s.close()


async def test_resp3_pushes_on_a_pooled_connection_do_not_take_replies(
        store: RedisStore, redis_url: str, redis_py: Any) -> None:
    """Client-side-caching invalidations arrive as pushes between replies."""
    s = create_store(redis_url, protocol=3)
    try:
        assert await s.execute("CLIENT", "TRACKING", "ON") == b"OK"
        await s.execute("SET", "tracked", "1")
        assert await s.execute("GET", "tracked") == b"1"  # now tracked
        redis_py.set("tracked", "2")  # the server pushes an invalidation to us
        replies = await asyncio.gather(*(s.execute("ECHO", i) for i in range(20)))
        assert replies == [str(i).encode() for i in range(20)]
        assert await s.execute("GET", "tracked") == b"2"
    finally:
        await s.close()
