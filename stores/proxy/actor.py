"""``StoreActor``: the actor that owns the connection pool for one store URL.

Worker processes reach it through ``ProxyStore``.  Its rules:

* every request runs on the actor's direct store; requests that arrive in one
  mailbox read are handled in one loop iteration, so their commands leave in
  one pipelined write on the shared Redis connection (the connection's
  auto-pipelining does the coalescing), each caller's order kept;
* blocking commands and sessions (``WATCH``) get connections of their own;
* subscriptions are reference counted per channel across every caller; each
  message is pushed as a ``pubsub`` notification to the callers subscribed
  to its channel or pattern;
* the status events of the Redis subscriber connection (``connection_lost``,
  ``reconnected``) are pushed to every subscriber as ``pubsub_status``;
* everything a caller held (sessions, subscriptions) is released when its
  mailbox connection closes.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from actors import Actor, Connection, current_connection, expose

from ..redis.connection import Connection as RedisConnection
from ..redis.resp import Reader
from ..redis.store import RedisStore, Session, _spec_of
from ..store import create_store
from .wire import pack_replies

__all__ = ["StoreActor"]

# (connection, handle) identifies one ProxyPubSub in one worker process.
Subscriber = tuple[Connection, int]


class StoreActor(Actor):
    """Owns a direct store for ``url``; serves ``ProxyStore`` callers."""

    def __init__(self, url: str, **params: Any) -> None:
        super().__init__(url=url, **params)
        self.url = url
        self.store: RedisStore | None = None
        self._sessions: dict[tuple[Connection, int], Session] = {}
        self._session_ids = itertools.count(1)
        self._subscribers: dict[tuple[str, str], set[Subscriber]] = defaultdict(set)
        self._watched: set[Connection] = set()
        # Redis connections busy with a caller's blocking command, by caller.
        self._blocked: dict[Connection, set[RedisConnection]] = {}
        self._pubsub: Any = None
        self._pubsub_lock = asyncio.Lock()
        # Coalescing, measured: commands received, and the loop iterations
        # (one pipelined write on the shared connection each) they went out in.
        self._commands = 0
        self._batches = 0
        self._batch = 0
        self._largest_batch = 0
        # Found once: asyncio.get_running_loop() is a getpid system call on 3.11.
        self._loop: asyncio.AbstractEventLoop | None = None

    async def on_start(self) -> None:
        self._loop = asyncio.get_running_loop()
        store = create_store(self.url, proxy=False)
        if not isinstance(store, RedisStore):
            raise TypeError(f"{self.url}: store actors serve Redis-protocol stores only")
        # No connection yet: a server that is down now may be up by the first call.
        self.store = store

    async def on_stop(self) -> None:
        for session in list(self._sessions.values()):
            await session.close()
        if self._pubsub is not None:
            await self._pubsub.close()
        if self.store is not None:
            await self.store.close()

    def _store(self) -> RedisStore:
        if self.store is None:
            raise RuntimeError("store actor is not started")
        return self.store

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("store actor is not started")
        return self._loop

    def _caller(self) -> Connection:
        conn = current_connection()
        if conn is None:
            raise RuntimeError("no caller connection")
        if conn not in self._watched:
            self._watched.add(conn)
            conn.add_close_callback(self._caller_gone)
        return conn

    # --------------------------------------------------------------- commands
    @expose
    def execute(self, args: list[Any], timeout: float | None = None) -> Any:
        """Run one (namespaced) command; its raw reply."""
        store = self._store()
        spec = _spec_of(args)
        if spec is not None and spec.blocking and spec.holds(args):
            return self._blocking(self._caller(), args)
        if not self._batch:
            self._running_loop().call_soon(self._batch_done)
        self._batch += 1
        return store._transmit(spec, args, timeout)

    async def _blocking(self, caller: Connection, args: list[Any]) -> Any:
        # On a connection of its own, closed if the caller goes away first:
        # then Redis drops the waiting pop instead of handing an element to
        # a caller that can no longer receive it.
        async with self._store().pool.acquire() as conn:
            held = self._blocked.setdefault(caller, set())
            held.add(conn)
            try:
                return await conn.execute(args)
            finally:
                held.discard(conn)

    def _batch_done(self) -> None:
        self._commands += self._batch
        self._batches += 1
        self._largest_batch = max(self._largest_batch, self._batch)
        self._batch = 0

    @expose
    def stats(self) -> dict[str, Any]:
        """How well commands coalesce, and the connections held.

        ``commands`` single commands arrived in ``batches`` loop iterations
        (each left in one pipelined write on the shared connection);
        ``largest_batch`` is the most in one iteration.  ``connections`` counts
        the pool's open connections (the shared one, plus those of blocking
        commands and sessions; not the subscriber's), ``sessions`` and
        ``subscriptions`` what callers hold.
        """
        store = self._store()
        return {
            "commands": self._commands + self._batch,
            "batches": self._batches + (1 if self._batch else 0),
            "largest_batch": max(self._largest_batch, self._batch),
            "connections": store.pool.in_use,
            "sessions": len(self._sessions),
            "subscriptions": len(self._subscribers),
        }

    @expose
    def execute_encoded(self, count: int, data: bytes) -> asyncio.Future[list[Any]]:
        """``count`` independent commands a worker issued in one loop iteration,
        encoded there as RESP (``ValueError`` unless ``data`` is exactly that).

        They are written as they came, in one pipelined write with this
        iteration's other commands; each gets its own reply or error
        (``wire.pack_replies``).
        """
        check_encoded(count, data)
        loop = self._running_loop()
        # A future, not a coroutine: no task per batch.
        packed: asyncio.Future[list[Any]] = loop.create_future()
        if not count:  # nothing to send, nothing to count
            packed.set_result(pack_replies([]))
            return packed
        if not self._batch:
            loop.call_soon(self._batch_done)
        self._batch += count
        conn = self._store().pool.shared_now()
        replies = (conn.execute_encoded(data, count) if conn is not None
                   else asyncio.ensure_future(self._execute_encoded(data, count)))
        replies.add_done_callback(functools.partial(_pack_into, packed))
        return packed

    async def _execute_encoded(self, data: bytes, count: int) -> list[Any]:
        conn = await self._store().pool.shared()
        return await conn.execute_encoded(data, count)

    @expose
    async def execute_many(self, commands: list[list[Any]], exclusive: bool = False
                           ) -> list[Any]:
        """Run a pipeline in one write; replies packed by ``wire.pack_replies``."""
        return pack_replies(await self._store().send_many(commands, exclusive))

    # --------------------------------------------------------------- sessions
    @expose
    async def session_open(self) -> int:
        """Reserve a connection for the caller (WATCH); returns its id."""
        conn = self._caller()
        sid = next(self._session_ids)
        self._sessions[(conn, sid)] = await self._store().session()
        return sid

    @expose
    async def session_execute(self, sid: int, args: list[Any]) -> Any:
        return await self._session(sid).execute(args)

    @expose
    async def session_execute_many(self, sid: int, commands: list[list[Any]]) -> list[Any]:
        return pack_replies(await self._session(sid).execute_many(commands))

    @expose
    async def session_close(self, sid: int) -> None:
        session = self._sessions.pop((self._caller(), sid), None)
        if session is not None:
            await session.close()

    def _session(self, sid: int) -> Session:
        try:
            return self._sessions[(self._caller(), sid)]
        except KeyError:
            raise KeyError(f"no session {sid} for this caller") from None

    # ----------------------------------------------------------------- pubsub
    @expose
    async def subscribe(self, handle: int, kind: str, names: list[str]) -> None:
        """Subscribe caller ``handle`` to channels (``kind`` "channel") or patterns."""
        caller = (self._caller(), handle)
        pubsub = await self._ensure_pubsub()
        fresh = []
        for name in names:
            subscribers = self._subscribers[(kind, name)]
            if not subscribers:
                fresh.append(name)
            subscribers.add(caller)
        if fresh:
            if kind == "channel":
                await pubsub.subscribe(*fresh)
            else:
                await pubsub.psubscribe(*fresh)

    @expose
    async def unsubscribe(self, handle: int, kind: str, names: list[str]) -> None:
        """Drop caller ``handle`` from channels or patterns (all of its own if empty)."""
        await self._drop({(self._caller(), handle)}, kind, names)

    async def _drop(self, callers: set[Subscriber], kind: str, names: Sequence[str]) -> None:
        if not names:
            names = [name for (k, name), subs in self._subscribers.items()
                     if k == kind and subs & callers]
        emptied = []
        for name in names:
            subscribers = self._subscribers.get((kind, name))
            if subscribers is None:
                continue
            subscribers.difference_update(callers)
            if not subscribers:
                del self._subscribers[(kind, name)]
                emptied.append(name)
        if emptied and self._pubsub is not None:
            if kind == "channel":
                await self._pubsub.unsubscribe(*emptied)
            else:
                await self._pubsub.punsubscribe(*emptied)

    async def _ensure_pubsub(self) -> Any:
        async with self._pubsub_lock:
            if self._pubsub is None:
                self._pubsub = self._store().pubsub()
                self._pubsub.add_status_listener(self._forward_status)
                self.create_task(self._forward(self._pubsub), name="pubsub-forward")
            return self._pubsub

    async def _forward(self, pubsub: Any) -> None:
        async for message in pubsub:
            channel = _text(message.channel)
            if message.pattern is None:
                targets = self._subscribers.get(("channel", channel), ())
            else:
                targets = self._subscribers.get(("pattern", _text(message.pattern)), ())
            for conn, handle in list(targets):
                if not conn.closed:
                    conn.notify("pubsub", handle, message.channel, message.data,
                                message.pattern)
            for conn, _ in list(targets):
                await conn.drain()  # a slow worker slows this actor, not its memory

    def _forward_status(self, event: str, info: dict[str, Any]) -> None:
        """The subscriber connection to Redis was lost / is back: tell every subscriber."""
        for conn, handle in {sub for subs in self._subscribers.values() for sub in subs}:
            if not conn.closed:
                conn.notify("pubsub_status", handle, event, _plain(info))

    # --------------------------------------------------------------- cleanup
    def _caller_gone(self, conn: Connection) -> None:
        self._watched.discard(conn)
        for redis_conn in self._blocked.pop(conn, ()):
            redis_conn.close()
        for key in [k for k in self._sessions if k[0] is conn]:
            self.create_task(self._sessions.pop(key).close(), name="session-close")
        for kind in ("channel", "pattern"):
            callers = {sub for subs in self._subscribers.values() for sub in subs
                       if sub[0] is conn}
            if callers:
                self.create_task(self._drop(callers, kind, []), name="unsubscribe-gone")


def check_encoded(count: int, data: bytes) -> None:
    """Refuse ``data`` unless it is exactly ``count`` RESP commands.

    Bytes written on the shared connection must end on a command boundary,
    or the replies of every caller after them would be mismatched.  The
    sentinel ``*0`` fed after the data comes back as an empty request only
    when the data ended on a boundary.
    """
    reader = Reader()
    reader.feed(data)
    reader.feed(b"*0\r\n")
    join = b"".join
    seen = 0
    try:
        while (request := reader.gets()) is not False:
            if request.__class__ is not list:
                break
            if not request:  # the sentinel (commands are never empty)
                if seen == count and not reader.has_data():
                    return
                break
            join(request)  # TypeError unless every element is a bulk string
            seen += 1
    except Exception:  # malformed RESP: refused below
        pass
    raise ValueError(f"execute_encoded: the data is not {count} complete commands")


def _pack_into(packed: asyncio.Future[list[Any]], replies: asyncio.Future[list[Any]]) -> None:
    if packed.done():
        return
    if replies.cancelled():
        packed.cancel()
    elif (exc := replies.exception()) is not None:
        packed.set_exception(exc)
    else:
        packed.set_result(pack_replies(replies.result()))


def _plain(info: dict[str, Any]) -> dict[str, Any]:
    """``info`` with what msgpack cannot carry turned into text."""
    return {str(k): v if isinstance(v, int | float | str | bytes | None) else str(v)
            for k, v in info.items()}


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
