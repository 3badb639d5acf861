"""``store.channels()``: event channels over pubsub, against the real Redis."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from stores import Channels, create_store
from stores.redis import RedisStore


def _unique(prefix: str = "ch") -> str:
    return f"arbiter-test-{prefix}-{uuid.uuid4().hex[:12]}"


class Events:
    """A channel callback collecting ``(channel, event, data)``."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[str, str, Any]] = asyncio.Queue()

    def __call__(self, channel: str, event: str, data: Any) -> None:
        self.queue.put_nowait((channel, event, data))

    async def get(self, timeout: float = 5.0) -> tuple[str, str, Any]:
        return await asyncio.wait_for(self.queue.get(), timeout)


@pytest.fixture
async def cstore(redis_url: str) -> AsyncIterator[RedisStore]:
    s = create_store(redis_url, client_name=_unique("client"))
    assert isinstance(s, RedisStore)
    try:
        yield s
    finally:
        await s.close()


async def test_register_publish_with_event_patterns(cstore: RedisStore) -> None:
    channels = cstore.channels()
    try:
        ch = _unique("users")
        users, everything = Events(), Events()
        await channels.register(ch, "user.*", users)
        await channels.register(ch, "*", everything)
        assert ch in channels and channels.registered == [ch]
        assert await channels.publish(ch, "user.created", {"id": 1}) == 1
        assert await users.get() == (ch, "user.created", {"id": 1})
        assert await everything.get() == (ch, "user.created", {"id": 1})
        await channels.publish(ch, "group.deleted", [1, "x"])
        assert await everything.get() == (ch, "group.deleted", [1, "x"])
        assert users.queue.empty()  # "user.*" does not match "group.deleted"
    finally:
        await channels.close()


async def test_namespaced_channels_do_not_see_each_other(cstore: RedisStore) -> None:
    ns = _unique("ns") + ":"
    mine, plain = cstore.channels(namespace=ns), cstore.channels()
    try:
        got_mine, got_plain = Events(), Events()
        await mine.register("news", "*", got_mine)  # unique: the namespace is
        await plain.register(ns + "other", "*", got_plain)
        await mine.publish("news", "hi", 1)
        assert await got_mine.get() == ("news", "hi", 1)
        # The wire name carries the namespace.
        assert await cstore.execute("PUBLISH", ns + "news",
                                    json.dumps({"event": "raw", "data": 2})) == 1
        assert await got_mine.get() == ("news", "raw", 2)
        assert got_plain.queue.empty()
    finally:
        await mine.close()
        await plain.close()


async def test_unregister(cstore: RedisStore) -> None:
    channels = cstore.channels()
    try:
        ch = _unique()
        a, b = Events(), Events()
        await channels.register(ch, "x", a)
        await channels.register(ch, "y", b)
        await channels.unregister(ch, "x", a)
        assert ch in channels
        await channels.publish(ch, "x")
        await channels.publish(ch, "y", "data")
        assert await b.get() == (ch, "y", "data")
        assert a.queue.empty()
        await channels.unregister(ch)  # every callback: the channel is unsubscribed
        assert ch not in channels
        assert await channels.publish(ch, "y") == 0
    finally:
        await channels.close()


async def test_messages_that_are_not_events_are_ignored(cstore: RedisStore) -> None:
    channels = cstore.channels()
    try:
        ch = _unique()
        got = Events()
        await channels.register(ch, "*", got)
        await cstore.execute("PUBLISH", ch, "not json")
        await cstore.execute("PUBLISH", ch, json.dumps({"no": "event"}))
        await channels.publish(ch, "ok")
        assert await got.get() == (ch, "ok", None)
        assert got.queue.empty()
    finally:
        await channels.close()


async def test_async_callbacks(cstore: RedisStore) -> None:
    channels = cstore.channels()
    got: asyncio.Queue[Any] = asyncio.Queue()

    async def callback(channel: str, event: str, data: Any) -> None:
        await asyncio.sleep(0)
        got.put_nowait(data)

    try:
        ch = _unique()
        await channels.register(ch, "e", callback)
        await channels.publish(ch, "e", {"n": 1})
        assert await asyncio.wait_for(got.get(), 5) == {"n": 1}
    finally:
        await channels.close()


async def test_connect_subscribes_registered_channels(cstore: RedisStore) -> None:
    channels = Channels(cstore.pubsub())
    try:
        ch = _unique("late")
        got = Events()
        await channels.register(ch, "*", got)
        await channels.connect()
        assert await channels.publish(ch, "e") == 1
        assert await got.get() == (ch, "e", None)
    finally:
        await channels.close()


@pytest.mark.timeout(15)
async def test_status_channel_and_resubscribe_after_connection_loss(
        cstore: RedisStore, redis_py: Any) -> None:
    name = cstore.urlparams["client_name"]
    channel = _unique("events")
    channels = cstore.channels(status_channel="status")
    try:
        status, events = Events(), Events()
        await channels.register("status", "*", status)
        await channels.register(channel, "*", events)
        [conn_id] = [int(c["id"]) for c in redis_py.client_list()
                     if c["name"] == name and c["sub"] != "0"]
        redis_py.client_kill_filter(_id=conn_id)
        lost = await status.get()
        assert lost[:2] == ("status", "connection_lost")
        assert lost[2]["channels"] == 1
        back = await status.get()
        assert back[:2] == ("status", "reconnected")
        assert back[2]["channels"] == 1 and back[2]["attempts"] >= 1
        assert await channels.publish(channel, "after", "reconnect") == 1
        assert await events.get() == (channel, "after", "reconnect")
    finally:
        await channels.close()
    assert [c for c in redis_py.client_list() if c["name"] == name and c["sub"] != "0"] == []
