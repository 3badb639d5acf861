"""Worker actors of one tree share one store actor per URL.

Each worker (``proxy_testlib.StoreWorker``, a separate process) calls
``create_store(url)`` itself: inside an actor that is a proxy by default.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from proxy_testlib import Inbox, client_list, spawn_workers, unique, until

import actors
import arbiter
from stores import create_store
from stores.proxy import actor_name

pytestmark = [pytest.mark.processes, pytest.mark.redis, pytest.mark.timeout(25)]


async def test_workers_get_proxies_sharing_one_store_actor(
        tree: arbiter.Arbiter, proxy_url: str, redis_py: Any, client_name: str) -> None:
    workers = await spawn_workers(3)
    described = await asyncio.gather(*(w.call("describe", proxy_url) for w in workers))
    for info in described:
        assert info["proxy"] and info["remote"] and info["ping"]
        assert info["type"] == "ProxyRedisStore"
        assert info["actor"] == info["expected_actor"]
    assert len({info["pid"] for info in described}) == 3  # three processes
    assert len({info["actor_aid"] for info in described}) == 1  # one store actor
    # It is a child of the tree, found by name through the arbiter.
    name = described[0]["actor"]
    store_actor = await actors.lookup(name)
    info = await store_actor.call("info")
    assert info["pid"] in {c.pid for c in tree.children.values()}
    assert info["pid"] not in {d["pid"] for d in described}
    assert [c.name for c in tree.children.values()].count(name) == 1
    # ... holding one Redis connection for all of them.
    assert len(client_list(redis_py, client_name)) == 1
    # The test process' own proxy for that URL uses the same actor too.
    mine = create_store(proxy_url, proxy=True)
    assert (await mine.connect()).aid == described[0]["actor_aid"]
    assert actor_name(mine) == name


async def test_commands_from_workers_reach_redis(tree: arbiter.Arbiter, proxy_url: str,
                                                 redis_py: Any) -> None:
    a, b = await spawn_workers(2)
    assert await a.call("execute", proxy_url, "SET", "shared", "from-a") == b"OK"
    assert await b.call("execute", proxy_url, "GET", "shared") == b"from-a"
    assert redis_py.get("shared") == b"from-a"
    with pytest.raises(Exception) as info:
        await b.call("execute", proxy_url, "LPUSH", "shared", "x")
    # The worker got WrongTypeError from its proxy; crossing one more mailbox to
    # the test it stays a registered class.
    assert type(info.value).__name__ == "WrongTypeError"


async def test_pubsub_across_workers(tree: arbiter.Arbiter, proxy_url: str) -> None:
    ch = unique("ch")
    sub, pub = await spawn_workers(2)
    await sub.call("subscribe", proxy_url, ch)
    await sub.call("psubscribe", proxy_url, ch[:-3] + "*")
    # The test process subscribes to the same channel through its own proxy.
    mine = create_store(proxy_url, proxy=True).pubsub()
    inbox = Inbox()
    mine.add_client(inbox)
    await mine.subscribe(ch)
    try:
        assert await pub.call("execute", proxy_url, "PUBLISH", ch, b"\x00hi") == 2
        received = await until(lambda: _len_at_least(sub.call("received"), 2),
                               what="two notifications in the subscriber worker")
        assert sorted(map(tuple, received)) == [(ch.encode(), b"\x00hi")] * 2
        await until(lambda: inbox.items, what="the test process' delivery")
        assert inbox.items == [(ch.encode(), b"\x00hi")]
    finally:
        await mine.close()
    # The worker still gets messages once the test's subscriber is gone.
    assert await pub.call("execute", proxy_url, "PUBLISH", ch, "again") == 2
    await until(lambda: _len_at_least(sub.call("received"), 4))


async def _len_at_least(call: Any, n: int) -> Any:
    items = await call
    return items if len(items) >= n else None


async def test_channels_callbacks_fire_in_the_worker(tree: arbiter.Arbiter,
                                                     proxy_url: str) -> None:
    ch = unique("events")
    listener, sender = await spawn_workers(2)
    await listener.call("register", proxy_url, ch, "user.*")
    assert await sender.call("publish_event", proxy_url, ch, "user.created", {"id": 7}) == 1
    assert await sender.call("publish_event", proxy_url, ch, "group.created", 1) == 1
    assert await sender.call("publish_event", proxy_url, ch, "user.deleted", [7]) == 1
    assert await sender.call("publish_event", proxy_url, ch, "user.last", None) == 1
    # Messages of one channel arrive in order: once the last one fired, a
    # wrongly matched "group.created" would have fired before it.
    fired = await until(lambda: _len_at_least(listener.call("fired"), 3))
    assert fired == [[ch, "user.created", {"id": 7}], [ch, "user.deleted", [7]],
                     [ch, "user.last", None]]


async def test_concurrent_commands_from_two_workers_coalesce(
        tree: arbiter.Arbiter, proxy_url: str, redis_py: Any, client_name: str) -> None:
    a, b = await spawn_workers(2)
    await asyncio.gather(a.call("describe", proxy_url), b.call("describe", proxy_url))
    store_actor = await actors.lookup(actor_name(create_store(proxy_url, proxy=True)))
    before = await store_actor.call("stats")
    n = 400
    echoes_a, echoes_b, incr_a, incr_b = await asyncio.gather(
        a.call("echo_burst", proxy_url, "a", n), b.call("echo_burst", proxy_url, "b", n),
        a.call("incr_ordered", proxy_url, "counter", n),
        b.call("incr_ordered", proxy_url, "counter", n))
    # Every caller gets its own replies, in its own order.
    assert echoes_a == [f"a:{i}" for i in range(n)]
    assert echoes_b == [f"b:{i}" for i in range(n)]
    assert incr_a == sorted(incr_a) and incr_b == sorted(incr_b)
    assert sorted(incr_a + incr_b) == list(range(1, 2 * n + 1))
    assert redis_py.get("counter") == str(2 * n).encode()
    stats = await store_actor.call("stats")
    commands = stats["commands"] - before["commands"]
    batches = stats["batches"] - before["batches"]
    assert commands == 4 * n
    # Thousands of commands from two processes left in a few pipelined writes,
    # on one Redis connection.
    assert batches <= commands / 10, stats
    assert stats["largest_batch"] >= 50, stats
    assert stats["connections"] == 1
    assert len(client_list(redis_py, client_name)) == 1


async def test_blocking_commands_and_watch_take_connections_of_their_own(
        tree: arbiter.Arbiter, proxy_url: str, redis_py: Any, client_name: str) -> None:
    a, b = await spawn_workers(2)
    popping = [asyncio.ensure_future(w.call("execute", proxy_url, "BLPOP", f"q{i}", 5))
               for i, w in enumerate((a, b))]
    await until(lambda: len(client_list(redis_py, client_name)) == 2,
                what="a connection for each blocking command")
    # Meanwhile a shared connection serves everyone else.
    assert await a.call("execute", proxy_url, "ECHO", "free") == b"free"
    assert await b.call("execute", proxy_url, "ECHO", "free") == b"free"
    assert len(client_list(redis_py, client_name)) == 3
    redis_py.rpush("q0", "x")
    redis_py.rpush("q1", "y")
    assert await asyncio.wait_for(asyncio.gather(*popping), 5) == [[b"q0", b"x"],
                                                                    [b"q1", b"y"]]


async def test_a_consumer_group_spreads_a_stream_over_workers(
        tree: arbiter.Arbiter, proxy_url: str, redis_py: Any, client_name: str) -> None:
    """Workers in their own processes read one stream as consumers of one group,
    blocked in XREADGROUP through their proxies: each entry goes to one of them."""
    a, b = await spawn_workers(2)
    redis_py.xgroup_create("jobs", "workers", id="$", mkstream=True)

    async def take(worker: Any, name: str) -> Any:
        return await worker.call("execute", proxy_url, "XREADGROUP", "GROUP", "workers", name,
                                 "COUNT", 1, "BLOCK", 5000, "STREAMS", "jobs", ">",
                                 timeout=10)

    first = asyncio.ensure_future(take(a, "a"))
    second = asyncio.ensure_future(take(b, "b"))
    await until(lambda: len(client_list(redis_py, client_name)) == 2,
                what="both workers blocked in XREADGROUP")
    redis_py.xadd("jobs", {"n": 1}, id="1-0")
    redis_py.xadd("jobs", {"n": 2}, id="2-0")
    got = await asyncio.wait_for(asyncio.gather(first, second), 5)
    ids = sorted(reply[0][1][0][0] for reply in got)
    assert ids == [b"1-0", b"2-0"]  # one entry each, none twice
    pending = redis_py.xpending("jobs", "workers")
    assert pending["pending"] == 2
    assert sorted(c["name"] for c in pending["consumers"]) == [b"a", b"b"]
    for worker, reply in ((a, got[0]), (b, got[1])):
        assert await worker.call("execute", proxy_url, "XACK", "jobs", "workers",
                                 reply[0][1][0][0]) == 1
    assert redis_py.xpending("jobs", "workers")["pending"] == 0
