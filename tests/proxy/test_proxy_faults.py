"""Faults: the store actor killed with SIGKILL while workers use it.

In-flight calls fail with ``stores.ConnectionError`` (never hang), the arbiter
restarts the actor, proxies find it again on their own, and subscriptions and
Channels registrations come back.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import pytest
from procs import alive
from proxy_testlib import Inbox, client_list, hammer, spawn_workers, unique, until

import actors
import arbiter
import stores
from stores import create_store
from stores.proxy import actor_name
from stores.redis import RedisStore

pytestmark = [pytest.mark.processes, pytest.mark.redis, pytest.mark.timeout(40)]


async def store_actor_pid(store: RedisStore) -> int:
    proxy = await actors.lookup(actor_name(store), wait=10.0)
    return int((await proxy.call("info"))["pid"])


async def kill_store_actor(store: RedisStore) -> tuple[int, int]:
    """SIGKILL the store actor of ``store``; wait for its replacement; both pids."""
    old = await store_actor_pid(store)
    os.kill(old, signal.SIGKILL)
    await until(lambda: not alive(old), what="the store actor's death")

    async def replaced() -> int | None:
        try:
            pid = await store_actor_pid(store)
        except (OSError, actors.ConnectionLost):
            return None  # the arbiter has not reaped the dead one yet
        return pid if pid != old else None

    new = await until(replaced, deadline=10.0, what="a restarted store actor")
    return old, new


async def test_kill_under_load_fails_calls_then_recovers(
        tree: arbiter.Arbiter, proxy_url: str, redis_py: Any) -> None:
    store = create_store(proxy_url, proxy=True)
    assert isinstance(store, RedisStore)
    [worker] = await spawn_workers(1)
    assert await store.ping()
    loads = [asyncio.ensure_future(hammer(store, "n")),
             asyncio.ensure_future(worker.call("hammer", proxy_url, "n"))]
    await until(lambda: int(redis_py.get("n") or 0) > 200, what="load running")
    _, new = await kill_store_actor(store)
    here, there = await asyncio.wait_for(asyncio.gather(*loads), 25)
    for counts in (here, there):
        assert counts["hung"] == 0 and counts["other"] == [], counts
        assert counts["connection_error"] >= 1, counts  # calls in flight failed
        assert counts["ok_after_error"] >= 50, counts  # ... and the proxy came back alone
        assert counts["slowest_error"] < 6.0, counts
    assert new in {c.pid for c in tree.children.values()}
    # Every acknowledged INCR happened (a failed one may have happened too).
    # (Another session flushing the shared test database would break this.)
    total = here["ok"] + there["ok"]
    # No reply was lost, doubled or handed to the wrong caller across the restart.
    replies = here["replies"] + there["replies"]
    assert len(set(replies)) == len(replies)
    assert total <= int(redis_py.get("n")) <= total + here["connection_error"] + \
        there["connection_error"]


async def test_blpop_in_flight_fails_fast(tree: arbiter.Arbiter, proxy_url: str,
                                          redis_py: Any, client_name: str) -> None:
    store = create_store(proxy_url, proxy=True)
    assert isinstance(store, RedisStore)
    [worker] = await spawn_workers(1)
    mine = asyncio.ensure_future(store.client().blpop("q", 30))
    theirs = asyncio.ensure_future(worker.call("execute", proxy_url, "BLPOP", "q2", 30))
    await until(lambda: len(client_list(redis_py, client_name)) == 2,
                what="both BLPOPs waiting in Redis")
    start = time.monotonic()
    await kill_store_actor(store)
    with pytest.raises(stores.ConnectionError):
        await asyncio.wait_for(mine, 5)
    with pytest.raises(stores.ConnectionError):
        await asyncio.wait_for(theirs, 5)
    assert time.monotonic() - start < 10
    # The next blocking call goes to the new actor.
    redis_py.rpush("q", "after")
    assert await store.client().blpop("q", 5) == [b"q", b"after"]


async def test_subscriptions_and_channels_come_back(tree: arbiter.Arbiter,
                                                    proxy_url: str) -> None:
    ch, events = unique("ch"), unique("events")
    sub, pub = await spawn_workers(2)
    await sub.call("subscribe", proxy_url, ch)
    await sub.call("register", proxy_url, events, "*")
    store = create_store(proxy_url, proxy=True)
    mine = store.pubsub()
    inbox, statuses = Inbox(), Inbox()
    mine.add_client(inbox)
    mine.add_status_listener(statuses)
    await mine.psubscribe(ch[:-3] + "*")

    async def round_trip(n: int) -> None:
        """Publish message ``n``; every subscriber must get it."""
        async def published() -> bool:
            return await pub.call("execute", proxy_url, "PUBLISH", ch, f"m{n}") == 2
        await until(published, deadline=10.0, what=f"two subscribers of message {n}")
        assert await pub.call("publish_event", proxy_url, events, "tick", n) == 1

        async def received() -> bool:
            got = [m[1] for m in await sub.call("received")]
            fired = [f[2] for f in await sub.call("fired") if f[1] == "tick"]
            return f"m{n}".encode() in got and n in fired
        await until(received, deadline=10.0, what=f"message {n} in the worker")
        await until(lambda: (ch.encode(), f"m{n}".encode()) in inbox.items,
                    what=f"message {n} in the test process")

    await round_trip(0)
    for n in (1, 2):  # twice: the second failover must be noticed as well
        await kill_store_actor(store)
        await until(lambda n=n: [s[0] for s in statuses.items].count("reconnected") >= n,
                    deadline=10.0, what=f"reconnected #{n}")
        await round_trip(n)
    events_seen = [s[0] for s in statuses.items]
    assert events_seen == ["connection_lost", "reconnected"] * 2, statuses.items
    assert await sub.call("status_events") == ["connection_lost", "reconnected"] * 2
    fired_status = [f[1] for f in await sub.call("fired") if f[0] == "status"]
    assert fired_status == ["connection_lost", "reconnected"] * 2
    await mine.close()


async def test_redis_connections_killed_behave_like_the_direct_client(
        tree: arbiter.Arbiter, proxy_url: str, redis_py: Any, client_name: str) -> None:
    """CLIENT KILL of the actor's connections: commands carry on over a new one, the
    actor's subscriber reconnects and its subscribers hear the status events."""
    ch = unique("ch")
    [sub] = await spawn_workers(1)
    await sub.call("subscribe", proxy_url, ch)
    store = create_store(proxy_url, proxy=True)
    assert await store.execute("SET", "k", "v") == b"OK"
    await until(lambda: len(client_list(redis_py, client_name)) == 2,
                what="the shared and the subscriber connection")
    for entry in client_list(redis_py, client_name):
        assert redis_py.client_kill_filter(_id=entry["id"]) == 1  # by id only
    # Like the direct client: a command on the dead shared connection may fail with
    # ConnectionError; the next ones run on a fresh connection.
    async def get_works() -> bool:
        try:
            return bool(await store.execute("GET", "k") == b"v")
        except stores.ConnectionError:
            return False
    await until(get_works, what="commands on a new connection")

    async def delivered() -> bool:
        await store.execute("PUBLISH", ch, "after-kill")
        return [ch.encode(), b"after-kill"] in await sub.call("received")
    await until(delivered, deadline=10.0, what="messages after the resubscribe")
    assert await sub.call("status_events") == ["connection_lost", "reconnected"]


async def test_a_worker_that_leaves_releases_what_it_held(
        tree: arbiter.Arbiter, proxy_url: str, redis_py: Any) -> None:
    ch = unique("ch")
    stay, leave = await spawn_workers(2)
    await stay.call("subscribe", proxy_url, ch)
    await leave.call("subscribe", proxy_url, ch, ch + "-only")
    store = create_store(proxy_url, proxy=True)
    store_actor = await actors.lookup(actor_name(store))
    assert (await store_actor.call("stats"))["subscriptions"] == 2
    assert await actors.stop("worker-1")
    await until(lambda: _subscriptions(store_actor, 1), what="the leaver's channel dropped")
    numsub = dict(redis_py.pubsub_numsub(ch, ch + "-only"))
    assert numsub == {ch.encode(): 1, (ch + "-only").encode(): 0}
    assert await store.execute("PUBLISH", ch, "still") == 1


async def _subscriptions(store_actor: actors.ActorProxy, n: int) -> bool:
    return bool((await store_actor.call("stats"))["subscriptions"] == n)


async def test_blocking_pop_of_a_killed_worker_takes_nothing(
        tree: arbiter.Arbiter, proxy_url: str, redis_py: Any, client_name: str) -> None:
    """The store actor drops a dead worker's BLPOP: a later push stays in the list."""
    [worker] = await spawn_workers(1)
    waiting = asyncio.ensure_future(worker.call("execute", proxy_url, "BLPOP", "jobs", 0))
    await until(lambda: any(c["cmd"] == "blpop" for c in client_list(redis_py, client_name)),
                what="the worker's BLPOP waiting in Redis")
    pid = (await worker.call("info"))["pid"]
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(waiting, 5)
    await until(lambda: not any(c["cmd"] == "blpop"
                                for c in client_list(redis_py, client_name)),
                what="the orphaned BLPOP dropped")
    # Redis serves a blocked pop while it runs the push, before any later
    # command: had the orphan survived, the element would be gone by now.
    redis_py.rpush("jobs", "precious")
    assert redis_py.lrange("jobs", 0, -1) == [b"precious"]
