"""Publish/subscribe: the ``PubSub`` handler API and ``Channels`` on top of it.

A store's ``pubsub()`` returns a ``PubSub``.  Messages reach every client
added with ``add_client`` (a callable ``client(channel, message)``) and, while
someone iterates ``async for message in pubsub``, that iterator too.

``Channels`` turns channels into event streams: ``publish(channel, event,
data)`` sends ``{"event": event, "data": data}`` as JSON, and callbacks
registered for ``(channel, event pattern)`` receive ``(channel, event, data)``.
"""

from __future__ import annotations

import abc
import asyncio
import fnmatch
import inspect
import json
import logging
import random
import re
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

from .errors import StoreError

if TYPE_CHECKING:
    from .store import RemoteStore

__all__ = ["Channels", "JsonProtocol", "Message", "PubSub", "PubSubClient", "Resubscribing",
           "StatusListener"]

logger = logging.getLogger("stores.pubsub")

# Coroutines returned by callbacks run as tasks; keep them referenced until done.
_background: set[asyncio.Future[Any]] = set()


def _run_soon(result: Any) -> None:
    task = asyncio.ensure_future(result)
    _background.add(task)
    task.add_done_callback(_background.discard)


@runtime_checkable
class PubSubClient(Protocol):
    """A client of a ``PubSub`` handler: called with each message received."""

    def __call__(self, channel: Any, message: Any) -> Any:
        ...


#: Called with ``(event, info)`` on ``"connection_lost"`` and ``"reconnected"``.
StatusListener = Callable[[str, dict[str, Any]], Any]


class Message(NamedTuple):
    """One message, as ``async for`` over a ``PubSub`` yields it."""

    channel: Any
    data: Any
    pattern: Any = None


class JsonProtocol:
    """Encodes published objects as JSON text and decodes received ones."""

    def encode(self, message: Any) -> str:
        return json.dumps(message, separators=(",", ":"))

    def decode(self, message: Any) -> Any:
        return json.loads(message)


class PubSub:
    """A publish/subscribe handler of a store.

    ``protocol`` (optional) has ``encode(obj)`` used by ``publish`` and
    ``decode(data)`` applied to received messages.
    """

    def __init__(self, store: RemoteStore, protocol: Any = None) -> None:
        self.store = store
        self.protocol = protocol
        # Subscriptions, kept to subscribe again after a reconnect.
        self._channels: set[str] = set()
        self._patterns: set[str] = set()
        self._closed = False
        # A tuple, rebuilt on change: broadcast iterates it with no copy per message.
        self._clients: tuple[PubSubClient, ...] = ()
        self._status: list[StatusListener] = []
        self._queues: list[asyncio.Queue[Message | None]] = []

    # ------------------------------------------------------------- clients
    def add_client(self, client: PubSubClient) -> None:
        """Add a callable ``client(channel, message)`` receiving every message."""
        if client not in self._clients:
            self._clients = (*self._clients, client)

    def remove_client(self, client: PubSubClient) -> None:
        """Stop sending messages to ``client``."""
        self._clients = tuple(c for c in self._clients if c != client)

    def add_status_listener(self, listener: StatusListener) -> None:
        """``listener(event, info)`` hears ``connection_lost`` and ``reconnected``."""
        self._status.append(listener)

    def broadcast(self, channel: Any, message: Any, pattern: Any = None) -> None:
        """Deliver a received message to every client and iterator."""
        if self.protocol is not None:
            try:
                message = self.protocol.decode(message)
            except Exception:
                logger.exception("cannot decode message on channel %r", channel)
                return
        for client in self._clients:
            try:
                result = client(channel, message)
                if result is not None and inspect.isawaitable(result):
                    _run_soon(result)
            except Exception:
                logger.exception("pubsub client %r failed on channel %r", client, channel)
        for queue in self._queues:
            queue.put_nowait(Message(channel, message, pattern))

    def notify_status(self, event: str, info: dict[str, Any]) -> None:
        for listener in list(self._status):
            try:
                listener(event, info)
            except Exception:
                logger.exception("status listener %r failed", listener)

    async def __aiter__(self) -> AsyncIterator[Message]:
        """Yield ``Message(channel, data, pattern)`` until ``close()``."""
        queue: asyncio.Queue[Message | None] = asyncio.Queue()
        self._queues.append(queue)
        try:
            while (message := await queue.get()) is not None:
                yield message
        finally:
            self._queues.remove(queue)

    def _end_iterators(self) -> None:
        for queue in self._queues:
            queue.put_nowait(None)

    # ------------------------------------------------- implemented by stores
    async def publish(self, channel: Any, message: Any) -> int:
        """Publish ``message`` on ``channel``; return how many received it."""
        raise NotImplementedError

    async def count(self, *channels: Any) -> dict[Any, int]:
        """Number of subscribers of each of ``channels``."""
        raise NotImplementedError

    async def channels(self, pattern: Any = None) -> list[Any]:
        """Channels with at least one subscriber (matching ``pattern``)."""
        raise NotImplementedError

    async def subscribe(self, channel: Any, *channels: Any) -> None:
        raise NotImplementedError

    async def unsubscribe(self, *channels: Any) -> None:
        raise NotImplementedError

    async def psubscribe(self, pattern: Any, *patterns: Any) -> None:
        raise NotImplementedError

    async def punsubscribe(self, *patterns: Any) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        """Unsubscribe from everything and close the connection."""
        raise NotImplementedError


class Resubscribing(PubSub, abc.ABC):
    """A ``PubSub`` whose connection can drop: it reconnects with backoff and
    subscribes again, telling status listeners (``connection_lost`` then
    ``reconnected``).  Subclasses say how, in ``resubscribe``."""

    #: Longest wait between two reconnect attempts, in seconds.
    max_backoff: float = 5.0
    _reconnector: asyncio.Task[None] | None = None

    def connection_lost(self, where: str) -> None:
        """The subscriber connection is gone: tell listeners, reconnect in the background.

        One ``connection_lost`` per failover, however often it is called while
        a reconnect runs.
        """
        if self._closed or not (self._channels or self._patterns):
            return
        if self._reconnector is not None and not self._reconnector.done():
            return
        logger.warning("%s lost; resubscribing %d channel(s) and %d pattern(s)",
                       where, len(self._channels), len(self._patterns))
        self.notify_status("connection_lost", {"channels": len(self._channels),
                                               "patterns": len(self._patterns)})
        self._reconnector = asyncio.ensure_future(self._reconnect())

    async def _reconnect(self) -> None:
        delay, attempt = 0.05, 0
        while not self._closed:
            attempt += 1
            try:
                await self.resubscribe()
            except (OSError, StoreError, KeyError) as exc:
                logger.info("resubscribe attempt %d failed: %s", attempt, exc)
                await asyncio.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, self.max_backoff)
                continue
            logger.warning("resubscribed after %d attempt(s): %d channel(s), %d pattern(s)",
                           attempt, len(self._channels), len(self._patterns))
            self.notify_status("reconnected", {"attempts": attempt,
                                               "channels": len(self._channels),
                                               "patterns": len(self._patterns)})
            return

    @abc.abstractmethod
    async def resubscribe(self) -> None:
        """Reconnect and subscribe again to every channel and pattern (one attempt)."""

    def _stop_reconnecting(self) -> None:
        self._closed = True
        if self._reconnector is not None:
            self._reconnector.cancel()



def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Channels:
    """Named event channels over a ``PubSub``.

    ``namespace`` prefixes every channel name on the wire.  When
    ``status_channel`` is given, connection events of the underlying pubsub
    (``connection_lost``, ``reconnected``) are delivered locally to callbacks
    registered on that channel.
    """

    def __init__(self, pubsub: PubSub, namespace: str | None = None,
                 status_channel: str | None = None) -> None:
        self.pubsub = pubsub
        self.namespace = namespace or ""
        self.status_channel = status_channel
        self._callbacks: dict[str, list[tuple[str, re.Pattern[str], Callable[..., Any]]]] = {}
        self._connected = False
        pubsub.add_client(self)
        pubsub.add_status_listener(self._on_status)

    def __repr__(self) -> str:
        return f"Channels({sorted(self._callbacks)!r})"

    def __contains__(self, channel: str) -> bool:
        return channel in self._callbacks

    @property
    def registered(self) -> list[str]:
        """Channel names with at least one callback."""
        return list(self._callbacks)

    async def connect(self) -> None:
        """Subscribe to every registered channel (done by ``register`` too)."""
        names = [self.namespace + c for c in self._callbacks if c != self.status_channel]
        if names:
            await self.pubsub.subscribe(*names)
        self._connected = True

    async def register(self, channel: str, event: str, callback: Callable[..., Any]) -> None:
        """Call ``callback(channel, event, data)`` for events of ``channel`` matching
        ``event`` (``*`` and ``?`` glob patterns allowed)."""
        entries = self._callbacks.setdefault(channel, [])
        matcher = re.compile(fnmatch.translate(event))
        if not any(e == event and cb == callback for e, _, cb in entries):
            entries.append((event, matcher, callback))
        if channel != self.status_channel:
            await self.pubsub.subscribe(self.namespace + channel)

    async def unregister(self, channel: str, event: str | None = None,
                         callback: Callable[..., Any] | None = None) -> None:
        """Remove callbacks (all of ``channel`` when ``event`` is ``None``)."""
        entries = self._callbacks.get(channel, [])
        entries[:] = [
            e for e in entries
            if not (event is None or (e[0] == event and callback in (None, e[2])))
        ]
        if not entries:
            self._callbacks.pop(channel, None)
            if channel != self.status_channel:
                await self.pubsub.unsubscribe(self.namespace + channel)

    async def publish(self, channel: str, event: str, data: Any = None) -> int:
        """Publish ``event`` with JSON-serialisable ``data`` on ``channel``."""
        payload = json.dumps({"event": event, "data": data}, separators=(",", ":"))
        return await self.pubsub.publish(self.namespace + channel, payload)

    async def close(self) -> None:
        """Drop every callback and close the pubsub connection."""
        self._callbacks.clear()
        self.pubsub.remove_client(self)
        await self.pubsub.close()

    def __call__(self, channel: Any, message: Any) -> None:
        name = _text(channel)
        if self.namespace:
            if not name.startswith(self.namespace):
                return
            name = name[len(self.namespace):]
        try:
            decoded = json.loads(message) if isinstance(message, bytes | str) else message
            event, data = decoded["event"], decoded.get("data")
        except (ValueError, TypeError, KeyError):
            logger.warning("ignoring a message on channel %r that is not a Channels event", name)
            return
        self._fire(name, str(event), data)

    def _fire(self, channel: str, event: str, data: Any) -> None:
        for _, matcher, callback in list(self._callbacks.get(channel, ())):
            if matcher.match(event):
                try:
                    result = callback(channel, event, data)
                    if inspect.isawaitable(result):
                        _run_soon(result)
                except Exception:
                    logger.exception("channel callback %r failed", callback)

    def _on_status(self, event: str, info: dict[str, Any]) -> None:
        if self.status_channel is not None:
            self._fire(self.status_channel, event, info)
