"""``store.pubsub()`` against the real Redis.

Channel names are unique per test: pubsub channels are server-wide (not per
database) and the server is shared.  Subscriber connections are found by a
unique ``client_name`` and killed by id only.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from polling import until

import stores
from stores import Message, create_store
from stores.pubsub import JsonProtocol
from stores.redis import RedisStore
from stores.redis.pubsub import RedisPubSub


def _unique(prefix: str = "ch") -> str:
    return f"arbiter-test:{prefix}:{uuid.uuid4().hex[:12]}"


class Inbox:
    """A pubsub client collecting ``(channel, message)`` in a queue."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[Any, Any]] = asyncio.Queue()

    def __call__(self, channel: Any, message: Any) -> None:
        self.queue.put_nowait((channel, message))

    async def get(self, timeout: float = 5.0) -> tuple[Any, Any]:
        return await asyncio.wait_for(self.queue.get(), timeout)


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
async def pstore(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[RedisStore]:
    """A store with a unique client name, over RESP2 or RESP3."""
    s = create_store(redis_url, protocol=request.param, client_name=_unique("client")
                     .replace(":", "-"))
    assert isinstance(s, RedisStore)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def pubsub(pstore: RedisStore) -> AsyncIterator[RedisPubSub]:
    ps = pstore.pubsub()
    try:
        yield ps
    finally:
        await ps.close()


async def test_subscribe_publish_receive(pstore: RedisStore, pubsub: RedisPubSub) -> None:
    channel = _unique()
    inbox = Inbox()
    pubsub.add_client(inbox)
    await pubsub.subscribe(channel)
    assert await pubsub.publish(channel, "hello") == 1
    assert await inbox.get() == (channel.encode(), b"hello")
    assert await pubsub.publish(channel, b"\x00\xffbin") == 1
    assert await inbox.get() == (channel.encode(), b"\x00\xffbin")


async def test_messages_arrive_in_order(pubsub: RedisPubSub, pstore: RedisStore) -> None:
    channel = _unique()
    inbox = Inbox()
    pubsub.add_client(inbox)
    await pubsub.subscribe(channel)
    counts = await asyncio.gather(*(pstore.execute("PUBLISH", channel, i) for i in range(200)))
    assert counts == [1] * 200
    received = [await inbox.get() for _ in range(200)]
    assert [int(m) for _, m in received] == list(range(200))


async def test_subscribe_many_and_unsubscribe(pubsub: RedisPubSub) -> None:
    a, b, c = _unique("a"), _unique("b"), _unique("c")
    inbox = Inbox()
    pubsub.add_client(inbox)
    await pubsub.subscribe(a, b, c)
    assert pubsub.subscribed == {a, b, c}
    assert await pubsub.count(a, b) == {a.encode(): 1, b.encode(): 1}
    await pubsub.unsubscribe(b)
    assert await pubsub.publish(b, "lost") == 0  # nobody listens any more
    assert await pubsub.publish(c, "kept") == 1
    assert await inbox.get() == (c.encode(), b"kept")
    await pubsub.unsubscribe()  # all of them
    assert pubsub.subscribed == frozenset()
    assert await pubsub.count(a, c) == {a.encode(): 0, c.encode(): 0}
    assert await pubsub.publish(a, "x") == 0
    assert inbox.queue.empty()


async def test_psubscribe_and_punsubscribe(pubsub: RedisPubSub) -> None:
    prefix = _unique("p")
    pattern = prefix + ".*"
    inbox = Inbox()
    pubsub.add_client(inbox)
    await pubsub.psubscribe(pattern)
    assert await pubsub.publish(prefix + ".one", "m1") == 1
    assert await inbox.get() == ((prefix + ".one").encode(), b"m1")
    assert await pubsub.publish(prefix + "-nomatch", "m2") == 0
    await pubsub.punsubscribe(pattern)
    assert await pubsub.publish(prefix + ".two", "m3") == 0
    assert inbox.queue.empty()


async def test_channels_lists_active_channels(pubsub: RedisPubSub, pstore: RedisStore) -> None:
    prefix = _unique("list")
    await pubsub.subscribe(prefix + ".a", prefix + ".b")
    assert sorted(await pubsub.channels(prefix + ".*")) == [
        (prefix + ".a").encode(), (prefix + ".b").encode()]
    assert (prefix + ".a").encode() in await pubsub.channels()
    await pubsub.unsubscribe(prefix + ".a")
    assert await pubsub.channels(prefix + ".*") == [(prefix + ".b").encode()]


async def test_remove_client(pubsub: RedisPubSub) -> None:
    channel = _unique()
    kept, removed = Inbox(), Inbox()
    pubsub.add_client(kept)
    pubsub.add_client(removed)
    pubsub.add_client(removed)  # added once only
    await pubsub.subscribe(channel)
    await pubsub.publish(channel, "1")
    assert await kept.get() == (channel.encode(), b"1")
    assert await removed.get() == (channel.encode(), b"1")
    pubsub.remove_client(removed)
    await pubsub.publish(channel, "2")
    assert await kept.get() == (channel.encode(), b"2")
    assert removed.queue.empty()


async def test_async_clients_are_awaited(pubsub: RedisPubSub) -> None:
    channel = _unique()
    got: asyncio.Queue[Any] = asyncio.Queue()

    async def client(ch: Any, message: Any) -> None:
        await asyncio.sleep(0)
        got.put_nowait(message)

    pubsub.add_client(client)
    await pubsub.subscribe(channel)
    await pubsub.publish(channel, "x")
    assert await asyncio.wait_for(got.get(), 5) == b"x"


async def test_async_for_yields_messages_until_close(pstore: RedisStore) -> None:
    ps = pstore.pubsub()
    prefix = _unique("iter")
    try:
        await ps.subscribe(prefix + ".plain")
        await ps.psubscribe(prefix + ".p.*")
        received: list[Message] = []

        async def consume() -> None:
            async for message in ps:
                received.append(message)

        consumer = asyncio.ensure_future(consume())
        await asyncio.sleep(0)  # the iterator is listening from its first step
        await ps.publish(prefix + ".plain", "a")
        await ps.publish(prefix + ".p.x", "b")
        await until(lambda: len(received) == 2)
        assert received[0] == Message((prefix + ".plain").encode(), b"a", None)
        assert received[1] == Message((prefix + ".p.x").encode(), b"b",
                                      (prefix + ".p.*").encode())
    finally:
        await ps.close()
    await asyncio.wait_for(consumer, 5)  # close() ends the iteration
    assert await pstore.execute("PUBLISH", prefix + ".plain", "late") == 0
    with pytest.raises(stores.StoreError):
        await ps.subscribe(prefix + ".again")


async def test_json_protocol(pstore: RedisStore) -> None:
    ps = pstore.pubsub(protocol=JsonProtocol())
    try:
        channel = _unique()
        inbox = Inbox()
        ps.add_client(inbox)
        await ps.subscribe(channel)
        assert await ps.publish(channel, {"a": [1, 2], "b": None}) == 1
        assert await inbox.get() == (channel.encode(), {"a": [1, 2], "b": None})
    finally:
        await ps.close()


async def test_two_subscribers(pstore: RedisStore) -> None:
    channel = _unique()
    one, two = pstore.pubsub(), pstore.pubsub()
    try:
        inbox1, inbox2 = Inbox(), Inbox()
        one.add_client(inbox1)
        two.add_client(inbox2)
        await one.subscribe(channel)
        await two.subscribe(channel)
        assert await one.count(channel) == {channel.encode(): 2}
        assert await one.publish(channel, "both") == 2
        assert (await inbox1.get())[1] == (await inbox2.get())[1] == b"both"
        await two.close()
        assert await one.publish(channel, "one") == 1
    finally:
        await one.close()
        await two.close()


def _subscriber_ids(redis_py: Any, name: str) -> list[int]:
    return [int(c["id"]) for c in redis_py.client_list()
            if c["name"] == name and int(c["sub"]) + int(c["psub"]) > 0]


@pytest.mark.timeout(15)
async def test_resubscribes_after_the_server_drops_the_connection(
        pstore: RedisStore, pubsub: RedisPubSub, redis_py: Any) -> None:
    name = pstore.urlparams["client_name"]
    prefix = _unique("resub")
    statuses: list[tuple[str, dict[str, Any]]] = []
    pubsub.add_status_listener(lambda event, info: statuses.append((event, info)))
    inbox = Inbox()
    pubsub.add_client(inbox)
    await pubsub.subscribe(prefix + ".c1", prefix + ".c2")
    await pubsub.psubscribe(prefix + ".p.*")
    [old_id] = _subscriber_ids(redis_py, name)
    assert redis_py.client_kill_filter(_id=old_id) == 1
    await until(lambda: [e for e, _ in statuses] == ["connection_lost", "reconnected"])
    assert statuses[0][1] == {"channels": 2, "patterns": 1}
    assert statuses[1][1]["channels"] == 2 and statuses[1][1]["patterns"] == 1
    [new_id] = _subscriber_ids(redis_py, name)
    assert new_id != old_id
    assert await pubsub.publish(prefix + ".c2", "after") == 1
    assert await inbox.get() == ((prefix + ".c2").encode(), b"after")
    assert await pubsub.publish(prefix + ".p.x", "pattern") == 1
    assert await inbox.get() == ((prefix + ".p.x").encode(), b"pattern")
    await pubsub.close()
    assert _subscriber_ids(redis_py, name) == []


async def test_close_without_subscribing_and_twice(pstore: RedisStore) -> None:
    ps = pstore.pubsub()
    await ps.close()
    await ps.close()


async def test_unsubscribe_before_any_subscribe_opens_nothing(pstore: RedisStore,
                                                             redis_py: Any) -> None:
    ps = pstore.pubsub()
    try:
        await ps.unsubscribe(_unique())
        await ps.punsubscribe()
        name = pstore.urlparams["client_name"]
        assert [c for c in redis_py.client_list() if c["name"] == name] == []
    finally:
        await ps.close()
