"""Helpers and worker actors for the proxy-store tests (imported by actor processes too)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any

from polling import until  # noqa: F401 - the tests import it from here

import actors
import stores
from actors import Actor, expose
from stores import RemoteStore, create_store
from stores.proxy import ProxyStore, actor_name
from stores.redis import RedisStore


def unique(prefix: str = "t") -> str:
    """A name no other test (or project sharing the Redis server) uses."""
    return f"arbiter-proxy-{prefix}-{uuid.uuid4().hex[:10]}"






def client_list(redis_py: Any, name: str) -> list[dict[str, Any]]:
    """Redis connections whose client name is ``name``."""
    return [c for c in redis_py.client_list() if c.get("name") == name]


class Inbox:
    """A pubsub client / Channels callback collecting what it is given."""

    def __init__(self) -> None:
        self.items: list[tuple[Any, ...]] = []

    def __call__(self, *args: Any) -> None:
        self.items.append(args)


async def hammer(store: RedisStore, key: str, concurrency: int = 8, deadline: float = 15.0,
                 recovered_after: int = 50, call_deadline: float = 6.0) -> dict[str, Any]:
    """INCR ``key`` from ``concurrency`` tasks until, after at least one failure,
    ``recovered_after`` calls succeeded again (or ``deadline`` passed).

    Counts the outcomes; a call still unanswered after ``call_deadline`` is a hang.
    """
    counts: dict[str, Any] = {"ok": 0, "connection_error": 0, "hung": 0, "other": [],
                              "ok_after_error": 0, "slowest_error": 0.0}
    end = time.monotonic() + deadline
    done = asyncio.Event()

    async def one() -> None:
        while not done.is_set() and time.monotonic() < end:
            start = time.monotonic()
            try:
                reply = await asyncio.wait_for(store.execute("INCR", key), call_deadline)
                counts.setdefault("replies", []).append(reply)
            except stores.ConnectionError:
                counts["connection_error"] += 1
                counts["ok_after_error"] = 0
                counts["slowest_error"] = max(counts["slowest_error"],
                                              time.monotonic() - start)
                await asyncio.sleep(0.01)
            except TimeoutError:
                counts["hung"] += 1
            except Exception as exc:
                counts["other"].append(f"{type(exc).__name__}: {exc}")
            else:
                counts["ok"] += 1
                if counts["connection_error"]:
                    counts["ok_after_error"] += 1
                    if counts["ok_after_error"] >= recovered_after:
                        done.set()

    await asyncio.gather(*(one() for _ in range(concurrency)))
    return counts


class StoreWorker(Actor):
    """A worker of the app: uses ``create_store(url)`` inside its own process."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.stores: dict[str, RedisStore] = {}
        self.inbox = Inbox()
        self.events = Inbox()
        self.statuses: list[str] = []
        self.keep: list[Any] = []

    def _store(self, url: str) -> RedisStore:
        store = self.stores.get(url)
        if store is None:
            made = create_store(url)
            assert isinstance(made, RedisStore)
            store = self.stores[url] = made
        return store

    @expose
    async def describe(self, url: str) -> dict[str, Any]:
        store = self._store(url)
        actor = await store.connect()
        return {
            "pid": os.getpid(),
            "type": type(store).__name__,
            "proxy": isinstance(store, ProxyStore),
            "remote": isinstance(store, RemoteStore),
            "actor": actor.name,
            "actor_aid": actor.aid,
            "expected_actor": actor_name(store),
            "ping": await store.ping(),
        }

    @expose
    async def echo_burst(self, url: str, tag: str, count: int) -> list[str]:
        """``count`` concurrent commands at once; their replies, in call order."""
        store = self._store(url)
        replies = await asyncio.gather(*(store.execute("ECHO", f"{tag}:{i}")
                                         for i in range(count)))
        return [r.decode() for r in replies]

    @expose
    async def incr_ordered(self, url: str, key: str, count: int) -> list[int]:
        """``count`` concurrent INCRs of ``key``: replies must ascend in call order."""
        client = self._store(url).client()
        return list(await asyncio.gather(*(client.incr(key) for _ in range(count))))

    @expose
    async def execute(self, url: str, *args: Any) -> Any:
        return await self._store(url).execute(*args)

    @expose
    async def subscribe(self, url: str, *channels: str) -> None:
        pubsub = self._store(url).pubsub()
        pubsub.add_client(self.inbox)
        pubsub.add_status_listener(lambda event, info: self.statuses.append(event))
        await pubsub.subscribe(*channels)
        self.keep.append(pubsub)

    @expose
    async def psubscribe(self, url: str, pattern: str) -> None:
        pubsub = self._store(url).pubsub()
        pubsub.add_client(self.inbox)
        await pubsub.psubscribe(pattern)
        self.keep.append(pubsub)

    @expose
    def received(self) -> list[list[Any]]:
        return [list(item) for item in self.inbox.items]

    @expose
    async def register(self, url: str, channel: str, event: str) -> None:
        channels = self._store(url).channels(status_channel="status")
        await channels.register(channel, event, self.events)
        await channels.register("status", "*", self.events)
        self.keep.append(channels)

    @expose
    async def publish_event(self, url: str, channel: str, event: str, data: Any) -> int:
        channels = self._store(url).channels()
        try:
            return await channels.publish(channel, event, data)
        finally:
            await channels.close()

    @expose
    async def hammer(self, url: str, key: str, deadline: float = 15.0) -> dict[str, Any]:
        return await hammer(self._store(url), key, deadline=deadline)

    @expose
    def fired(self) -> list[list[Any]]:
        return [list(item) for item in self.events.items]

    @expose
    def status_events(self) -> list[str]:
        return list(self.statuses)


async def spawn_workers(count: int, prefix: str = "worker") -> list[actors.ActorProxy]:
    return list(await asyncio.gather(*(actors.spawn(StoreWorker, name=f"{prefix}-{i}")
                                       for i in range(count))))
