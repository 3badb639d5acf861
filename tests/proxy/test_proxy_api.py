"""A proxy store in the test process (``create_store(url, proxy=True)``) against the
real Redis: the same public API, replies, errors and namespaces as a direct store.

Its store actor runs under the ``tree`` fixture's embedded arbiter; redis-py
checks what really reached the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from polling import wait_blocked
from proxy_testlib import Inbox, client_list, unique, until

import actors
import arbiter
import stores
from stores import Command, RemoteStore, create_store
from stores.proxy import ProxyPubSub, ProxyStore, actor_name
from stores.pubsub import JsonProtocol
from stores.redis import RedisStore

pytestmark = [pytest.mark.processes, pytest.mark.redis, pytest.mark.timeout(20)]


@pytest.fixture
async def pstore(tree: arbiter.Arbiter, proxy_url: str) -> AsyncIterator[RedisStore]:
    s = create_store(proxy_url, proxy=True)
    assert isinstance(s, ProxyStore) and isinstance(s, RedisStore)
    try:
        yield s
    finally:
        await s.close()


# ----------------------------------------------------------------- identity
async def test_same_attributes_as_a_direct_store(tree: arbiter.Arbiter, proxy_url: str) -> None:
    url = f"{proxy_url}&namespace=ns1:&pool_size=4"
    direct, proxy = create_store(url), create_store(url, proxy=True)
    assert not isinstance(direct, ProxyStore)  # a plain process gets a direct store
    assert isinstance(proxy, ProxyStore) and isinstance(proxy, RemoteStore)
    assert type(proxy).__name__ == "ProxyRedisStore"
    for attr in ("dns", "name", "database", "urlparams", "encoding", "namespace"):
        assert getattr(proxy, attr) == getattr(direct, attr), attr
    assert proxy.name == "redis" and proxy.database == "13"
    assert proxy.urlparams["pool_size"] == 4
    assert create_store(url, proxy=False).__class__ is direct.__class__
    async with proxy:
        assert await proxy.ping() is True
        # The actor is named after the connection URL (the namespace is the worker's).
        actor = await proxy.connect()
        assert actor.name == actor_name(proxy)
        assert actor.name == actor_name(create_store(f"{proxy_url}&pool_size=4", proxy=True))
        assert actor.name != actor_name(create_store(proxy_url, proxy=True))
    await direct.close()


async def test_one_store_actor_per_url(tree: arbiter.Arbiter, proxy_url: str,
                                       redis_py: Any, client_name: str) -> None:
    a, b = create_store(proxy_url, proxy=True), create_store(proxy_url, proxy=True)
    await asyncio.gather(a.ping(), b.ping())
    assert (await a.connect()).aid == (await b.connect()).aid
    found = await actors.lookup(actor_name(a))
    info = await found.call("info")
    assert info["pid"] in {c.pid for c in tree.children.values()}
    assert len(client_list(redis_py, client_name)) == 1  # one shared connection
    # close() forgets the actor, which keeps serving the others; the store works on.
    await a.close()
    assert await b.execute("ECHO", "still") == b"still"
    assert await a.execute("ECHO", "again") == b"again"


# ----------------------------------------------------------------- commands
async def test_execute_returns_raw_replies(pstore: RedisStore, redis_py: Any) -> None:
    assert await pstore.execute("SET", "k", b"\x00\xffbin") == b"OK"
    assert await pstore.execute("GET", "k") == b"\x00\xffbin"
    assert await pstore.execute("HSET", "h", "f", 1, "g", 2.5) == 2
    assert await pstore.execute("HGETALL", "h") == [b"f", b"1", b"g", b"2.5"]
    assert await pstore.execute("GET", "missing") is None
    assert await pstore.execute("ECHO", "é") == "é".encode()
    assert redis_py.get("k") == b"\x00\xffbin"
    assert await pstore.execute("GET", "k", timeout=2.0) == b"\x00\xffbin"


async def test_client_methods_convert(pstore: RedisStore, redis_py: Any) -> None:
    c = pstore.client()
    assert await c.set("s", "välue ✓") is True
    assert await c.set("s", "x", nx=True) is None
    assert await c.get("s") == "välue ✓".encode()
    assert await c.hset("h", "f", 1, "g", 2.5) == 2
    assert await c.hgetall("h") == {b"f": b"1", b"g": b"2.5"}
    assert await c.zadd("z", 1.5, "m", 3, "n") == 2
    assert await c.zrange("z", 0, -1, withscores=True) == [(b"m", 1.5), (b"n", 3.0)]
    assert await c.incrbyfloat("f", 0.5) == 0.5
    assert await c.exists("s", "h", "nope") == 2
    assert await c.sadd("set", "a", "b") == 2
    assert await c.smembers("set") == {b"a", b"b"}
    assert await c.expire("s", 100) is True
    assert 0 < await c.ttl("s") <= 100
    assert redis_py.hgetall("h") == {b"f": b"1", b"g": b"2.5"}
    redis_py.rpush("l", "x", "y")
    assert await c.lrange("l", 0, -1) == [b"x", b"y"]


async def test_namespace_applied_in_the_worker(tree: arbiter.Arbiter, proxy_url: str,
                                               redis_py: Any) -> None:
    ns = unique("ns") + ":"
    s = create_store(f"{proxy_url}&namespace={ns}", proxy=True)
    plain = create_store(proxy_url, proxy=True)
    c = s.client()
    await c.set("a", 1)
    await c.mset("b", 2, "c", 3)
    await c.rpush("l", "x")
    assert sorted(redis_py.keys("*")) == sorted(f"{ns}{k}".encode() for k in "abcl")
    assert sorted(await c.keys("*")) == [b"a", b"b", b"c", b"l"]  # stripped again
    assert await c.blpop("l", 1) == [b"l", b"x"]
    pipe = c.pipeline()
    pipe.get("a").mget("b", "c")
    assert await pipe.commit() == [b"1", [b"2", b"3"]]
    # Namespacing is the worker's job: a refused command never leaves the process.
    with pytest.raises(stores.NamespaceError):
        s.execute("FLUSHDB")  # raised by the call itself, nothing awaited
    with pytest.raises(stores.NamespaceError):
        s.execute("NOTACOMMAND", "x")
    # Both stores share one actor: it holds no namespace.
    assert (await s.connect()).aid == (await plain.connect()).aid
    assert await plain.execute("GET", f"{ns}a") == b"1"


# ------------------------------------------------------------------- errors
async def test_reply_errors_arrive_as_the_same_classes(pstore: RedisStore,
                                                       redis_py: Any) -> None:
    c = pstore.client()
    await c.set("str", "x")
    with pytest.raises(stores.WrongTypeError) as info:
        await c.lpush("str", "y")
    assert type(info.value) is stores.WrongTypeError
    assert "WRONGTYPE" in str(info.value)
    with pytest.raises(stores.ResponseError) as info2:
        await pstore.execute("NOSUCHCOMMAND", "x")
    assert "unknown command" in str(info2.value).lower()
    with pytest.raises(stores.ResponseError):
        await c.incr("str")
    with pytest.raises(stores.NoScriptError):
        await pstore.execute("EVALSHA", "0" * 40, 0)
    assert await c.get("str") == b"x"  # the connection is still in step


async def test_one_iterations_batch_settles_each_caller_alone(pstore: RedisStore,
                                                              redis_py: Any) -> None:
    """Commands issued in one loop iteration travel as one batch: each caller
    gets its own reply or error, and a caller who gave up changes nothing."""
    c = pstore.client()
    await c.set("str", "x")
    for with_error in (False, True):
        gives_up = pstore.execute("INCR", "given-up")  # a future: the command is issued
        calls = [c.incr("n"), c.lpush("str", "y") if with_error else c.get("str"),
                 c.incr("n")]
        gives_up.cancel()
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert results[0] + 1 == results[2]
        if with_error:
            assert type(results[1]) is stores.WrongTypeError
        else:
            assert results[1] == b"x"
        assert gives_up.cancelled()
    # The cancelled INCRs had already left in their batches: they ran.
    assert redis_py.get("given-up") == b"2"
    assert await c.get("str") == b"x"  # still in step


async def test_bad_argument_types_fail_before_sending(pstore: RedisStore,
                                                      redis_py: Any) -> None:
    c = pstore.client()
    for bad in (None, True, object(), {"a": 1}, [1]):
        with pytest.raises(TypeError, match="invalid argument") as info:
            pstore.execute("SET", "a", bad)  # raised by the call: nothing was sent
        assert not hasattr(info.value, "remote_traceback")
    assert await pstore.execute("SET", "a", memoryview(b"mv")) == b"OK"
    assert redis_py.get("a") == b"mv"
    redis_py.delete("a")
    with pytest.raises(TypeError):
        await c.get("a", "b")  # wrong arity
    pipe = c.pipeline()
    pipe.set("a", 1).set("b", None)
    with pytest.raises(TypeError):
        await pipe.commit()
    assert redis_py.exists("a", "b") == 0
    with pytest.raises(TypeError):
        await pstore.execute()
    with pytest.raises(stores.StoreError, match="pubsub"):
        await pstore.execute("SUBSCRIBE", "x")
    assert await pstore.ping()


async def test_malformed_encoded_batches_are_refused(pstore: RedisStore,
                                                    redis_py: Any) -> None:
    """The store actor writes a worker's RESP as it is, so it first checks that it
    is exactly the commands announced: bytes ending mid-command would put every
    later reply on the shared connection out of step."""
    actor = await pstore.actor()
    good = b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
    for count, data in [
        (2, good),  # fewer commands than announced
        (0, good),  # more
        (1, good + b"*2\r\n$3\r\nGET\r\n"),  # a command cut short
        (1, good[:-3]),  # a bulk string cut short
        (1, b"*2\r\n$3\r\nGET\r\n:1\r\n"),  # an integer where Redis takes bulks
        (1, b"*0\r\n"),  # an empty command
        (1, b"PING\r\n"),  # inline
        (1, b"$4\r\nPING\r\n"),  # not an array
        (1, b"*1\r\n$x\r\n"),  # not RESP
    ]:
        with pytest.raises(ValueError, match="complete commands"):
            await actor.call("execute_encoded", count, data)
    assert redis_py.exists("a") == 0  # nothing was written
    # Empty batches are answered at once, wait for no reply of another caller
    # and count as no batch.
    before = await actor.call("stats")
    assert await actor.call("execute_encoded", 0, b"") == [[], []]
    assert await actor.call("execute_many", []) == [[], []]
    after = await actor.call("stats")
    assert (after["commands"], after["batches"]) == (before["commands"], before["batches"])
    assert await actor.call("execute_encoded", 1, good) == [[b"OK"], []]
    assert await pstore.client().get("a") == b"1"  # the shared connection is in step


# --------------------------------------------------------- pipelines, MULTI
async def test_pipeline_commit(pstore: RedisStore, redis_py: Any) -> None:
    c = pstore.client()
    pipe = c.pipeline()
    assert pipe.set("a", 1).incr("a").get("a") is pipe
    pipe.hset("h", "f", "v").hgetall("h").zadd("z", 1, "m").zrange("z", 0, -1, withscores=True)
    assert await pipe.commit() == [True, 2, b"2", 1, {b"f": b"v"}, 1, [(b"m", 1.0)]]
    assert await pipe.commit() == []
    await c.set("str", "x")
    pipe.set("before", 1).lpush("str", "y").set("after", 2)
    with pytest.raises(stores.WrongTypeError):
        await pipe.commit()
    assert redis_py.mget("before", "after") == [b"1", b"2"]
    pipe.incr("str").get("str").hget("str", "f")
    replies = await pipe.commit(raise_on_error=False)
    assert type(replies[0]) is stores.ResponseError
    assert replies[1] == b"x"
    assert type(replies[2]) is stores.WrongTypeError


async def test_pipeline_with_blpop_does_not_stall_others(pstore: RedisStore) -> None:
    pipe = pstore.client().pipeline()
    pipe.set("x", 1).blpop("bq", 5)
    committing = asyncio.ensure_future(pipe.commit())
    await wait_blocked("blpop")
    assert await asyncio.wait_for(pstore.execute("GET", "x"), 3) == b"1"
    assert not committing.done()
    await pstore.execute("RPUSH", "bq", "v")
    assert await asyncio.wait_for(committing, 5) == [True, [b"bq", b"v"]]


async def test_stream_reads_pipeline_unless_they_block(pstore: RedisStore) -> None:
    """XREAD without BLOCK rides the shared connection with the other commands
    (the store actor counts it in its batches); with BLOCK it waits apart."""
    actor = await pstore.actor()
    before = (await actor.call("stats"))["commands"]
    await pstore.execute("XADD", "st", "1-0", "f", "v")
    replies = await asyncio.gather(*(pstore.execute("XREAD", "STREAMS", "st", "0")
                                     for _ in range(20)))
    assert replies == [[[b"st", [[b"1-0", [b"f", b"v"]]]]]] * 20
    assert (await actor.call("stats"))["commands"] - before == 21
    waiting = asyncio.ensure_future(pstore.execute("XREAD", "BLOCK", 5000, "STREAMS", "st",
                                                   "$"))
    await wait_blocked("xread")
    assert await pstore.execute("PING") == b"PONG"  # the shared connection is free
    await pstore.execute("XADD", "st", "2-0", "f", "w")
    assert await asyncio.wait_for(waiting, 5) == [[b"st", [[b"2-0", [b"f", b"w"]]]]]


async def test_blocking_command_waits_past_the_command_timeout(
        tree: arbiter.Arbiter, proxy_url: str) -> None:
    s = create_store(f"{proxy_url}&timeout=0.2", proxy=True)
    c = s.client()
    popping = asyncio.ensure_future(c.blpop("q", 2))
    await asyncio.sleep(0.5)  # past the store's 0.2 s command timeout
    assert not popping.done()
    assert await c.echo("meanwhile") == b"meanwhile"
    await c.rpush("q", "late")
    assert await asyncio.wait_for(popping, 3) == [b"q", b"late"]
    assert await c.blpop("q", 0.1) is None


async def test_transactions(pstore: RedisStore, redis_py: Any) -> None:
    c = pstore.client()
    async with c.pipeline(transaction=True) as pipe:
        pipe.set("a", 1).incrby("a", 4).hset("h", "f", "v").hgetall("h").get("a")
        assert await pipe.commit() == [True, 5, 1, {b"f": b"v"}, b"5"]
    assert redis_py.get("a") == b"5"
    # An error at EXEC time is nested in EXEC's reply: it travels back in place.
    await c.set("s", "text")
    pipe = c.pipeline(transaction=True)
    pipe.set("b", 1).lpush("s", "x").incr("b")
    replies = await pipe.commit(raise_on_error=False)
    assert replies[0] is True and replies[2] == 2
    assert type(replies[1]) is stores.WrongTypeError
    # A command refused while queued aborts the whole transaction.
    pipe.set("c", 1).execute_command("NOSUCHCOMMAND", "x").set("d", 2)
    with pytest.raises(stores.ExecAbortError):
        await pipe.commit()
    assert redis_py.exists("c", "d") == 0


async def test_execute_transaction(pstore: RedisStore, redis_py: Any) -> None:
    replies = await pstore.execute_transaction([
        Command.insert(("SET", "a", 1)), Command(("INCR", "a")),
        Command.update(("HSET", "h", "f", "v")), Command(("HGETALL", "h")),
        Command.delete(("DEL", "a")),
    ])
    assert replies == [b"OK", 2, 1, [b"f", b"v"], 1]
    assert redis_py.hgetall("h") == {b"f": b"v"}
    with pytest.raises(stores.ExecAbortError):
        await pstore.execute_transaction([Command(("SET", "a", 1)), Command(("NOPE",))])
    assert redis_py.exists("a") == 0
    assert await pstore.execute_transaction([]) == []


async def test_watch_immediate_and_watch_error(pstore: RedisStore, redis_py: Any,
                                               client_name: str) -> None:
    c = pstore.client()
    await c.set("k", 10)
    async with c.pipeline(transaction=True) as pipe:
        await pipe.watch("k")
        value = int(await pipe.immediate.get("k"))
        pipe.set("k", value + 1)
        assert await pipe.commit() == [True]
    assert redis_py.get("k") == b"11"
    pipe = c.pipeline(transaction=True)
    try:
        await pipe.watch("k")
        assert await pipe.immediate.get("k") == b"11"
        # The watching connection is one of the actor's own, apart from the shared one.
        assert len(client_list(redis_py, client_name)) == 2
        redis_py.set("k", 99)  # someone else, on another connection
        pipe.set("k", 12)
        with pytest.raises(stores.WatchError):
            await pipe.commit()
    finally:
        await pipe.reset()
    assert redis_py.get("k") == b"99"
    async with c.pipeline(transaction=True) as pipe2:
        await pipe2.watch("k")
        pipe2.set("k", 13)
        assert await pipe2.commit() == [True]
    assert redis_py.get("k") == b"13"


async def test_lua_script(pstore: RedisStore) -> None:
    c = pstore.client()
    assert await c.eval("return {KEYS[1], ARGV[1]}", 1, "key", "arg") == [b"key", b"arg"]


# ------------------------------------------------------------------- pubsub
async def test_pubsub_clients_iterators_and_patterns(pstore: RedisStore) -> None:
    ch, other = unique("ch"), unique("ch")
    pubsub = pstore.pubsub()
    assert isinstance(pubsub, ProxyPubSub)
    inbox = Inbox()
    pubsub.add_client(inbox)
    messages: list[Any] = []

    async def iterate() -> None:
        async for message in pubsub:
            messages.append(message)

    reader = asyncio.ensure_future(iterate())
    try:
        await pubsub.subscribe(ch)
        await pubsub.psubscribe(ch[:-4] + "*")
        assert await pubsub.publish(ch, "hello") == 2  # channel + pattern
        await until(lambda: len(inbox.items) == 2, what="two deliveries")
        assert inbox.items == [(ch.encode(), b"hello"), (ch.encode(), b"hello")]
        await until(lambda: len(messages) == 2)
        assert {m.pattern for m in messages} == {None, (ch[:-4] + "*").encode()}
        assert (await pubsub.count(ch))[ch.encode()] == 1
        assert ch.encode() in await pubsub.channels(ch)
        assert await pubsub.publish(other, "nobody") == 0
        await pubsub.unsubscribe(ch)
        await pubsub.punsubscribe()
        assert await pubsub.publish(ch, "gone") == 0
        assert (await pubsub.count(ch))[ch.encode()] == 0
    finally:
        await pubsub.close()
    await asyncio.wait_for(reader, 2)  # close() ends the iterators
    assert len(inbox.items) == 2


async def test_pubsub_shared_channel_refcounted_in_the_actor(pstore: RedisStore) -> None:
    ch = unique("ch")
    a, b = pstore.pubsub(), pstore.pubsub(protocol=JsonProtocol())
    got_a, got_b = Inbox(), Inbox()
    a.add_client(got_a)
    b.add_client(got_b)
    try:
        await a.subscribe(ch)
        await b.subscribe(ch)
        # One Redis subscription for both handlers of this process.
        assert (await a.count(ch))[ch.encode()] == 1
        assert await b.publish(ch, {"n": 1}) == 1
        await until(lambda: got_a.items and got_b.items)
        assert got_a.items == [(ch.encode(), b'{"n":1}')]
        assert got_b.items == [(ch.encode(), {"n": 1})]
        await a.close()
        assert await b.publish(ch, {"n": 2}) == 1  # b still subscribed
        await until(lambda: len(got_b.items) == 2)
        assert len(got_a.items) == 1
    finally:
        await a.close()
        await b.close()
    assert (await pstore.pubsub().count(ch))[ch.encode()] == 0


async def test_pubsub_namespace(tree: arbiter.Arbiter, proxy_url: str) -> None:
    ns = unique("ns") + ":"
    s = create_store(f"{proxy_url}&namespace={ns}", proxy=True)
    plain = create_store(proxy_url, proxy=True)
    pubsub = s.pubsub()
    inbox = Inbox()
    pubsub.add_client(inbox)
    try:
        await pubsub.subscribe("news")
        await pubsub.psubscribe("sp*")
        assert await plain.execute("PUBLISH", f"{ns}news", "wire") == 1
        assert await pubsub.publish("sport", "goal") == 1
        await until(lambda: len(inbox.items) == 2)
        assert inbox.items == [(b"news", b"wire"), (b"sport", b"goal")]
    finally:
        await pubsub.close()


async def test_channels_register_publish(pstore: RedisStore) -> None:
    channels = pstore.channels()
    try:
        ch = unique("users")
        users, everything = Inbox(), Inbox()
        await channels.register(ch, "user.*", users)
        await channels.register(ch, "*", everything)
        assert ch in channels and channels.registered == [ch]
        assert await channels.publish(ch, "user.created", {"id": 1}) == 1
        await until(lambda: users.items and everything.items)
        assert users.items == [(ch, "user.created", {"id": 1})]
        await channels.publish(ch, "group.deleted", [1, "x"])
        await until(lambda: len(everything.items) == 2)
        assert everything.items[1] == (ch, "group.deleted", [1, "x"])
        assert len(users.items) == 1
        await channels.unregister(ch)
        assert await channels.publish(ch, "user.created", None) == 0
    finally:
        await channels.close()
