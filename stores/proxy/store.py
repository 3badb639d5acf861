"""``ProxyStore``: a store whose commands run in the store actor of its URL.

Inside an actor process ``create_store(url)`` returns one (``proxy=False``
forces a direct store).  It is the direct store's class with the three ways
bytes reach the server (``_transmit``, ``send_many``, ``session``) and
``pubsub`` replaced by mailbox calls, so every method, the namespace and the
reply conversions are the direct store's own.

The store actor is named after the URL's connection (namespace and command
timeout excluded, password hashed) and spawned on first use with
``exist_ok=True``: every worker of the tree shares it, and the arbiter
restarts it (``permanent``) if it dies.  Calls in flight when it dies fail
with ``stores.ConnectionError``; the next call finds the restarted actor.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import functools
import hashlib
import itertools
import logging
import re
import weakref
from collections.abc import Awaitable, Sequence
from typing import Any, ClassVar, Final

import actors
from actors import ActorProxy, ConnectionLost

from ..errors import ConnectionError, StoreError, TimeoutError
from ..pubsub import Resubscribing
from ..redis.commands import CommandSpec
from ..redis.resp import _bad_type, encode_command
from ..redis.store import RedisStore, Session
from ..store import create_store
from ..url import build_url
from .wire import unpack_replies

__all__ = ["ProxyPubSub", "ProxyStore", "actor_name", "actor_url", "proxy_class", "store_child"]

logger = logging.getLogger("stores.proxy")

#: Mailbox deadline of blocking commands: they wait as long as their own timeout.
BLOCKING_DEADLINE: Final = 24 * 3600.0
#: URL parameters that only the worker side uses.
_LOCAL_PARAMS: Final = frozenset({"namespace", "timeout"})


def actor_url(store: RedisStore) -> str:
    """The URL the store actor connects with (worker-only parameters removed)."""
    params = {k: v for k, v in store.urlparams.items() if k not in _LOCAL_PARAMS}
    return build_url(store.name, store._host, store._user, store._password,
                     store.database, params)


def actor_name(store: RedisStore) -> str:
    """``store.<scheme>.<host>.<port>.<db>.<hash>``: readable, one per connection URL.

    The hash covers the whole actor URL (credentials and parameters), so two
    URLs share an actor only when they would open the same connections.
    """
    host = store._host if isinstance(store._host, str) else f"{store._host[0]}.{store._host[1]}"
    readable = re.sub(r"[^A-Za-z0-9.@_-]+", "_", f"{store.name}.{host}.{store.database}")
    digest = hashlib.sha256(actor_url(store).encode()).hexdigest()[:8]
    return f"store.{readable.strip('_')}.{digest}"


def store_child(url: str, **kw: Any) -> dict[str, Any]:
    """The child spec (a dict, as ``python -m arbiter`` apps may give) of the
    store actor serving ``url``.

    Workers spawn that actor on first use anyway; listing it among an app's
    children starts it before them and shows it in the tree from the start.
    """
    store = create_store(url, proxy=False, **kw)
    if not isinstance(store, RedisStore):
        raise TypeError(f"{url}: store actors serve Redis-protocol stores only")
    return {"name": actor_name(store), "target": "stores.proxy.actor:StoreActor",
            "params": {"url": actor_url(store)}}


class ProxyStore(RedisStore):
    """Mixin half of the proxy classes; see ``proxy_class``."""

    _proxy_actor: ActorProxy | None = None
    _proxy_lock: asyncio.Lock | None = None
    #: The loop the actor was found in, set and cleared with ``_proxy_actor``:
    #: ``asyncio.get_running_loop()`` costs a ``getpid`` system call on Python
    #: 3.11, too much once per command.
    _proxy_loop: asyncio.AbstractEventLoop | None = None
    #: Commands waiting for this loop iteration's batch, by command timeout.
    _pending: dict[float | None, tuple[list[bytes], list[asyncio.Future[Any]]]]
    is_proxy: ClassVar[bool] = True

    def _init(self, **kw: Any) -> None:
        super()._init(**kw)
        self._pending = {}

    async def actor(self) -> ActorProxy:
        """The store actor, spawned (or found) on first use."""
        proxy = self._proxy_actor
        if proxy is not None:
            return proxy
        if self._proxy_lock is None:
            self._proxy_lock = asyncio.Lock()
        async with self._proxy_lock:
            if self._proxy_actor is None:
                from .actor import StoreActor

                proxy = await actors.spawn(
                    StoreActor, actor_name(self), exist_ok=True, restart="permanent",
                    url=actor_url(self),
                )
                proxy.on_notification("pubsub", _dispatch_pubsub)
                proxy.on_notification("pubsub_status", _dispatch_status)
                self._proxy_loop = asyncio.get_running_loop()
                self._proxy_actor = proxy
            return self._proxy_actor

    async def _call(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        proxy = self._proxy_actor or await self.actor()
        try:
            return await proxy.call(method, *args, timeout=timeout)
        except Exception as exc:
            error = _store_error(exc, proxy.name)
            if error is exc:
                raise
            raise error from exc

    # ------------------------------------------------ the RedisStore transport
    def _transmit(self, spec: CommandSpec | None, args: Sequence[Any],
                  timeout: float | None) -> Awaitable[Any]:
        if spec is not None and spec.blocking and spec.holds(args):
            _check_args(args)
            return self._call("execute", args, timeout=BLOCKING_DEADLINE)
        # Encoded here, as the direct store does (bad arguments raise now).  The
        # commands issued in one loop iteration travel as one mailbox message,
        # their RESP in one piece that the store actor writes as it is.
        data = encode_command(args)
        loop = self._proxy_loop or asyncio.get_running_loop()
        pending = self._pending
        if not pending:
            loop.call_soon(self._send_pending)
        batch = pending.get(timeout)
        if batch is None:
            batch = pending[timeout] = ([], [])
        future: asyncio.Future[Any] = loop.create_future()
        batch[0].append(data)
        batch[1].append(future)
        return future

    def _send_pending(self) -> None:
        pending, self._pending = self._pending, {}
        proxy = self._proxy_actor
        for timeout, (chunks, futures) in pending.items():
            args = (len(futures), b"".join(chunks))
            reply: asyncio.Future[Any]
            try:
                # Connected: the mailbox call's own future, no task per batch.
                reply = asyncio.ensure_future(
                    self._call("execute_encoded", *args, timeout=timeout) if proxy is None
                    else proxy.call("execute_encoded", *args, timeout=timeout))
            except Exception as exc:  # the mailbox connection is closed
                reply = _failed(exc)
            _in_flight.add(reply)
            name = proxy.name if proxy is not None else ""  # else _call names it
            reply.add_done_callback(functools.partial(_settle, futures, name))

    async def send_many(self, commands: Sequence[Sequence[Any]],
                        exclusive: bool = False) -> list[Any]:
        for command in commands:
            _check_args(command)
        timeout = BLOCKING_DEADLINE if exclusive else self._timeout
        packed = await self._call("execute_many", commands, exclusive, timeout=timeout)
        return unpack_replies(packed)

    async def session(self) -> Session:
        sid = await self._call("session_open")
        return ActorSession(self, sid)

    async def connect(self) -> Any:
        """Find (or spawn) the store actor."""
        return await self.actor()

    def pubsub(self, protocol: Any = None, **kw: Any) -> ProxyPubSub:  # type: ignore[override]
        return ProxyPubSub(self, protocol=protocol, **kw)

    async def close(self) -> None:
        """Forget the actor (it keeps serving the other workers)."""
        self._proxy_actor = None
        self._proxy_loop = None


_ARG_TYPES: Final = frozenset({bytes, str, int, float, memoryview})


def _check_args(args: Sequence[Any]) -> None:
    """Refuse what the Redis encoder would refuse, before anything is sent."""
    for arg in args:
        if type(arg) not in _ARG_TYPES and (
                isinstance(arg, bool) or not isinstance(arg, bytes | str | int | float
                                                        | memoryview)):
            raise TypeError(_bad_type(arg))


def _store_error(exc: Exception, name: str) -> Exception:
    """What a failed mailbox call raises in the worker: ``stores`` errors for
    the mailbox's own failures, anything else (reply errors) as it came."""
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, ConnectionLost):
        return ConnectionError(f"store actor {name} went away: {exc}")
    if isinstance(exc, KeyError):
        # The arbiter knows no such actor any more (stopped at shutdown), or a
        # restarted actor knows no such session: either way, it is gone.
        return ConnectionError(f"store actor {name}: {exc}")
    if isinstance(exc, builtins.TimeoutError):
        return TimeoutError(f"store actor {name}: {exc}")
    if isinstance(exc, builtins.ConnectionError | OSError):
        return ConnectionError(f"store actor {name}: {exc}")
    return exc


def _failed(exc: Exception) -> asyncio.Future[Any]:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    future.set_exception(exc)
    return future


_in_flight: set[asyncio.Future[Any]] = set()


def _settle(futures: list[asyncio.Future[Any]], name: str, reply: asyncio.Future[Any]
            ) -> None:
    """Hand each command of a batch its reply, or the batch's failure."""
    _in_flight.discard(reply)
    error: BaseException | None
    if reply.cancelled():
        error = ConnectionError("the batch was cancelled")
    else:
        error = reply.exception()
        if isinstance(error, Exception):
            translated = _store_error(error, name)
            if translated is not error:
                translated.__cause__ = error
                error = translated
    if error is None:
        packed = reply.result()
        if not packed[1]:  # no error replies, the common case: no per-reply check
            for future, value in zip(futures, packed[0], strict=True):
                if not future.done():  # else its caller gave up
                    future.set_result(value)
            return
        replies = unpack_replies(packed)
    else:
        replies = [error] * len(futures)
    for future, value in zip(futures, replies, strict=True):
        if future.done():
            continue
        if isinstance(value, BaseException):
            future.set_exception(value)
        else:
            future.set_result(value)


class ActorSession:
    """A ``Session`` held in the store actor for this worker."""

    def __init__(self, store: ProxyStore, sid: int) -> None:
        self.store = store
        self.sid = sid
        self._closed = False

    def execute(self, args: Sequence[Any]) -> Awaitable[Any]:
        _check_args(args)
        return self._session_call("session_execute", args)

    async def execute_many(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        for command in commands:
            _check_args(command)
        return unpack_replies(await self._session_call("session_execute_many", commands))

    async def _session_call(self, method: str, payload: Any) -> Any:
        try:
            return await self.store._call(method, self.sid, payload)
        except ConnectionError:
            self._closed = True  # the session (and its WATCH) died with the actor
            raise

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            # A gone actor took the session with it.
            with contextlib.suppress(ConnectionError):
                await self.store._call("session_close", self.sid)


_proxy_classes: dict[type[RedisStore], type[RedisStore]] = {}


def proxy_class(cls: type[RedisStore]) -> type[RedisStore]:
    """The proxy counterpart of a direct store class (``RedisStore`` → ``ProxyRedisStore``)."""
    if issubclass(cls, ProxyStore):
        return cls
    proxy = _proxy_classes.get(cls)
    if proxy is None:
        proxy = type(f"Proxy{cls.__name__}", (ProxyStore, cls), {"__module__": __name__})
        _proxy_classes[cls] = proxy
    return proxy


# ------------------------------------------------------------------- pubsub
_handles = itertools.count(1)
_pubsubs: weakref.WeakValueDictionary[int, ProxyPubSub] = weakref.WeakValueDictionary()


def _dispatch_pubsub(handle: int, channel: Any, data: Any, pattern: Any) -> None:
    pubsub = _pubsubs.get(handle)
    if pubsub is not None:
        pubsub._on_message(channel, data, pattern)


def _dispatch_status(handle: int, event: str, info: dict[str, Any]) -> None:
    pubsub = _pubsubs.get(handle)
    if pubsub is not None:
        pubsub.notify_status(event, dict(info, source="redis"))


class ProxyPubSub(Resubscribing):
    """Subscriptions held by the store actor; messages arrive as notifications.

    When the store actor goes away, it reconnects to the restarted actor with
    backoff, subscribes again, and tells status listeners (``connection_lost``,
    ``reconnected``), like the direct ``RedisPubSub``.  When the actor's own
    subscriber connection to Redis is lost and restored, the listeners hear the
    same events, with ``info["source"] == "redis"``.
    """

    def __init__(self, store: ProxyStore, protocol: Any = None, max_backoff: float = 2.0
                 ) -> None:
        super().__init__(store, protocol)
        self.store: ProxyStore = store
        self.handle = next(_handles)
        self.max_backoff = max_backoff
        self._watching: Any = None
        _pubsubs[self.handle] = self

    # -------------------------------------------------------------- publishing
    async def publish(self, channel: Any, message: Any) -> int:
        if self.protocol is not None:
            message = self.protocol.encode(message)
        return int(await self.store.execute("PUBLISH", channel, message))

    async def count(self, *channels: Any) -> dict[Any, int]:
        return dict(await self.store.client().pubsub_numsub(*channels))

    async def channels(self, pattern: Any = None) -> list[Any]:
        client = self.store.client()
        if pattern is None:
            return list(await client.pubsub_channels())
        return list(await client.pubsub_channels(pattern))

    # ------------------------------------------------------------- subscribing
    async def subscribe(self, channel: Any, *channels: Any) -> None:
        await self._change("subscribe", "channel", (channel, *channels))

    async def unsubscribe(self, *channels: Any) -> None:
        await self._change("unsubscribe", "channel", channels)

    async def psubscribe(self, pattern: Any, *patterns: Any) -> None:
        await self._change("subscribe", "pattern", (pattern, *patterns))

    async def punsubscribe(self, *patterns: Any) -> None:
        await self._change("unsubscribe", "pattern", patterns)

    async def _change(self, method: str, kind: str, names: Sequence[Any]) -> None:
        if self._closed:
            raise StoreError("this pubsub handler is closed")
        texts = [_text(n) for n in names]
        target = self._channels if kind == "channel" else self._patterns
        if method == "subscribe":
            target.update(texts)
        elif texts:
            target.difference_update(texts)
        else:
            target.clear()
        await self._watch()
        await self.store._call(method, self.handle, kind, self._wire(texts))

    def _wire(self, names: Sequence[str]) -> list[str]:
        namespace = self.store._namespace
        return list(names) if namespace is None else [namespace.prefix + n for n in names]

    def _on_message(self, channel: Any, data: Any, pattern: Any) -> None:
        namespace = self.store._namespace
        if namespace is not None:
            channel = namespace.strip(channel)
            if pattern is not None:
                pattern = namespace.strip(pattern)
        self.broadcast(channel, data, pattern)

    # ---------------------------------------------------------------- failover
    async def _watch(self) -> None:
        proxy = await self.store.actor()
        conn = proxy.connection
        if conn is None or conn.closed:
            # A dead connection never calls its close callbacks again: watching
            # it would miss the next failover.
            conn = await proxy.connect()
        if conn is not self._watching:
            self._watching = conn
            conn.add_close_callback(self._on_lost)

    def _on_lost(self, conn: Any) -> None:
        if conn is not self._watching:
            return
        self._watching = None
        self.connection_lost("store actor connection")

    async def resubscribe(self) -> None:
        await self._watch()
        if self._channels:
            await self.store._call("subscribe", self.handle, "channel",
                                   self._wire(sorted(self._channels)))
        if self._patterns:
            await self.store._call("subscribe", self.handle, "pattern",
                                   self._wire(sorted(self._patterns)))

    async def close(self) -> None:
        if self._closed:
            return
        self._stop_reconnecting()
        for kind, names in (("channel", self._channels), ("pattern", self._patterns)):
            if names:
                # A gone actor holds nothing any more.
                with contextlib.suppress(ConnectionError, TimeoutError):
                    await self.store._call("unsubscribe", self.handle, kind, [])
        self._channels.clear()
        self._patterns.clear()
        _pubsubs.pop(self.handle, None)
        self._end_iterators()


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
