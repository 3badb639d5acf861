"""``RedisPubSub``: a subscriber connection that survives the server going away.

Rules of the subscriber:

* it owns one connection, outside the pool, opened on the first subscribe;
* (P)(UN)SUBSCRIBE are written without waiters: the server confirms each
  channel with an event, and ``subscribe`` returns once every channel it
  asked for is confirmed;
* every reply on that connection is an event (RESP2 in subscribed mode, RESP3
  pushes), dispatched to ``broadcast``;
* when the connection is lost and ``close()`` was not called, it reconnects
  with exponential backoff, subscribes again to every channel and pattern,
  and tells status listeners (``connection_lost`` then ``reconnected``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ConnectionError, StoreError
from ..pubsub import Resubscribing
from .connection import Connection, open_connection
from .resp import encode_command

if TYPE_CHECKING:
    from .store import RedisStore

__all__ = ["RedisPubSub"]

logger = logging.getLogger("stores.redis.pubsub")

_CONFIRMS = {"subscribe", "unsubscribe", "psubscribe", "punsubscribe"}


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class RedisPubSub(Resubscribing):
    """Publish/subscribe over a Redis (or pulsards) server."""

    def __init__(self, store: RedisStore, protocol: Any = None,
                 max_backoff: float = 5.0) -> None:
        super().__init__(store, protocol)
        self.store: RedisStore = store
        self.max_backoff = max_backoff
        self._conn: Connection | None = None
        self._connecting: asyncio.Future[Connection] | None = None
        self._confirms: dict[tuple[str, str], list[asyncio.Future[None]]] = {}

    # ------------------------------------------------------------ publishing
    async def publish(self, channel: Any, message: Any) -> int:
        if self.protocol is not None:
            message = self.protocol.encode(message)
        return int(await self.store.execute("PUBLISH", channel, message))

    async def count(self, *channels: Any) -> dict[Any, int]:
        reply = await self.store.client().pubsub_numsub(*channels)
        return dict(reply)

    async def channels(self, pattern: Any = None) -> list[Any]:
        client = self.store.client()
        if pattern is None:
            return list(await client.pubsub_channels())
        return list(await client.pubsub_channels(pattern))

    # ----------------------------------------------------------- subscribing
    @property
    def subscribed(self) -> frozenset[str]:
        """Channels and patterns this handler is subscribed to."""
        return frozenset(self._channels | self._patterns)

    async def subscribe(self, channel: Any, *channels: Any) -> None:
        await self._send("subscribe", (channel, *channels))

    async def unsubscribe(self, *channels: Any) -> None:
        await self._send("unsubscribe", channels or tuple(self._channels))

    async def psubscribe(self, pattern: Any, *patterns: Any) -> None:
        await self._send("psubscribe", (pattern, *patterns))

    async def punsubscribe(self, *patterns: Any) -> None:
        await self._send("punsubscribe", patterns or tuple(self._patterns))

    async def _send(self, kind: str, names: Sequence[Any]) -> None:
        if self._closed:
            raise StoreError("this pubsub handler is closed")
        names = [_text(n) for n in names]
        if not names:
            return
        target = self._patterns if kind.startswith("p") else self._channels
        if kind.endswith("unsubscribe"):
            target.difference_update(names)
            if self._conn is None:
                return
        else:
            target.update(names)
        conn = await self._connection()
        await self._write(conn, kind, names)

    async def _write(self, conn: Connection, kind: str, names: Sequence[str]) -> None:
        loop = asyncio.get_running_loop()
        waiters = []
        for name in names:
            future: asyncio.Future[None] = loop.create_future()
            self._confirms.setdefault((kind, name), []).append(future)
            waiters.append(future)
        wire = names
        namespace = self.store._namespace
        if namespace is not None:
            prefix = namespace.pattern if kind.startswith("p") else namespace.key
            wire = [prefix(n) for n in names]
        conn.protocol.write(encode_command((kind.upper(), *wire)))
        await asyncio.gather(*waiters)

    # ------------------------------------------------------------ connection
    async def _connection(self) -> Connection:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._open())
        try:
            return await asyncio.shield(self._connecting)
        finally:
            if self._connecting is not None and self._connecting.done():
                self._connecting = None

    async def _open(self) -> Connection:
        conn = await open_connection(self.store._settings, on_push=self._on_event)
        conn.protocol.subscribed = True
        conn.protocol._lost.add_done_callback(lambda _: self._on_lost(conn))
        self._conn = conn
        return conn

    def _on_lost(self, conn: Connection) -> None:
        if conn is not self._conn:
            return
        self._conn = None
        error = ConnectionError("pubsub connection lost")
        for futures in self._confirms.values():
            for future in futures:
                if not future.done():
                    future.set_exception(error)
        self._confirms.clear()
        self.connection_lost(f"pubsub connection to {self.store._redacted_dns()}")

    async def resubscribe(self) -> None:
        conn = await self._connection()
        if self._channels:
            await self._write(conn, "subscribe", sorted(self._channels))
        if self._patterns:
            await self._write(conn, "psubscribe", sorted(self._patterns))

    # ---------------------------------------------------------------- events
    def _on_event(self, reply: Any) -> None:
        if not isinstance(reply, list) or not reply:
            return
        kind = _text(reply[0]).lower()
        namespace = self.store._namespace
        if kind == "message":
            channel = reply[1] if namespace is None else namespace.strip(reply[1])
            self.broadcast(channel, reply[2])
        elif kind == "pmessage":
            pattern, channel = reply[1], reply[2]
            if namespace is not None:
                pattern = namespace.strip_pattern(pattern)
                channel = namespace.strip(channel)
            self.broadcast(channel, reply[3], pattern)
        elif kind in _CONFIRMS:
            name = reply[1]
            if namespace is not None:
                strip = namespace.strip_pattern if kind.startswith("p") else namespace.strip
                name = strip(name)
            futures = self._confirms.get((kind, _text(name)))
            if futures:
                future = futures.pop(0)
                if not futures:
                    del self._confirms[(kind, _text(name))]
                if not future.done():
                    future.set_result(None)

    # ----------------------------------------------------------------- close
    async def close(self) -> None:
        self._stop_reconnecting()
        self._channels.clear()
        self._patterns.clear()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            await conn.wait_closed()
        self._end_iterators()
