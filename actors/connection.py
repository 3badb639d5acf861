"""Mailbox connection: a thin asyncio protocol around :class:`~actors.codec.Codec`.

Rules of the connection:

* Both ends may send requests.  Outgoing requests take ids from a
  per-connection counter; the matching response resolves the caller's future.
  A response whose id is unknown (its caller already timed out) is dropped.
* Every outgoing request has a deadline.  At most ``max_inflight`` requests
  wait for replies; further callers wait for room (back-pressure) within
  their own deadline instead of growing memory.
* Incoming frames are dispatched in arrival order.  A plain return value is
  answered at once, an awaitable when it finishes.  While ``max_inflight``
  incoming requests are unfinished, further requests (and notifications, to
  keep their order) wait in a backlog no larger than one read, and we stop
  reading; we also stop while our write buffer is over its high-water mark.
  A peer that floods us is slowed down, not buffered.  Replies are never
  parked (a handler may be waiting for one).
* Frames written during one loop iteration leave in a single ``write``.
* A protocol error (malformed or oversized frame) closes this connection
  only, with a logged reason; frames decoded before the bad one are served.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

from .codec import DEFAULT_MAX_FRAME, Codec, ProtocolError, encode
from .errors import ConnectionLost, UnknownMethodError, decode_error, encode_error

__all__ = ["Connection", "Defaults", "current_connection", "defaults"]

logger = logging.getLogger("actors.mailbox")

Handler = Callable[..., Any]
_PLAIN = frozenset({type(None), bool, int, float, str, bytes, list, dict, tuple})
_NEVER = float("inf")


class Defaults:
    """Process-wide defaults; an actor gets its values from the arbiter."""

    #: Deadline in seconds of a call that does not pass ``timeout=``.
    call_timeout: float = 30.0
    #: Outgoing requests awaiting replies per connection (and incoming
    #: unfinished requests before reading pauses).
    max_inflight: int = 1024
    #: Largest accepted frame in bytes.
    max_frame: int = DEFAULT_MAX_FRAME


defaults = Defaults()

_current: contextvars.ContextVar[Connection | None] = contextvars.ContextVar(
    "actors_connection", default=None
)


def current_connection() -> Connection | None:
    """The connection whose request (or notification) is being handled.

    Lets a handler push notifications back to its caller later, e.g. pubsub
    messages: ``conn = current_connection(); ...; conn.notify("message", data)``.
    """
    return _current.get()


class Connection(asyncio.Protocol):
    """One mailbox connection (either end: client or server side)."""

    def __init__(
        self,
        handlers: Mapping[str, Handler] | None = None,
        *,
        name: str = "",
        timeout: float | None = None,
        max_inflight: int | None = None,
        max_frame: int | None = None,
    ) -> None:
        #: Methods the peer may call (and notifications it may send).
        self.handlers: Mapping[str, Handler] = handlers if handlers is not None else {}
        self.name = name
        self.timeout = timeout
        self.max_inflight = max_inflight or defaults.max_inflight
        self._codec = Codec(max_frame or defaults.max_frame)
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._deadlines: dict[int, tuple[float, str, float]] = {}
        self._sweep_at = _NEVER
        self._sweep_handle: asyncio.TimerHandle | None = None
        self._next_id = 0
        self._room: deque[asyncio.Future[None]] = deque()
        self._drainers: deque[asyncio.Future[None]] = deque()
        self._wbuf: list[bytes] = []
        self._corked = False
        self._running = 0  # incoming requests not yet answered
        self._backlog: deque[list[Any]] = deque()  # parked while _running is at the bound
        self._reading_paused = False
        self._writing_paused = False
        self._tasks: set[asyncio.Future[Any]] = set()
        self._notification_handlers: dict[str, Handler] = {}
        self._close_callbacks: list[Callable[[Connection], None]] = []
        self._closed = self._loop.create_future()
        self._dead = False
        self.peer = "?"

    # -- asyncio protocol ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, hence the cast.
        self._transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer}" if peer else transport.get_extra_info("sockname") or "unix"

    def connection_lost(self, exc: Exception | None) -> None:
        self._dead = True
        self._transport = None
        reason = f"mailbox connection {self.name or self.peer} closed"
        pending, self._pending = self._pending, {}
        self._deadlines.clear()
        if self._sweep_handle is not None:
            self._sweep_handle.cancel()
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(ConnectionLost(reason))  # one instance per waiter:
        for waiters in (self._room, self._drainers):      # tracebacks are per raise
            while waiters:
                waiter = waiters.popleft()
                if not waiter.done():
                    waiter.set_exception(ConnectionLost(reason))
        if not self._closed.done():
            self._closed.set_result(None)
        for callback in self._close_callbacks:
            try:
                callback(self)
            except Exception:
                logger.exception("close callback of %s failed", self.name or self.peer)

    def pause_writing(self) -> None:
        # The peer is not reading our replies: stop reading its requests.
        self._writing_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._update_reading()
        while self._drainers:
            waiter = self._drainers.popleft()
            if not waiter.done():
                waiter.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self._dead:
            return
        # Corked: replies written while dispatching leave in one write, now,
        # instead of waiting for a call_soon turn.
        self._corked = True
        try:
            try:
                frames = self._codec.feed(data)
            except ProtocolError as exc:
                self._dispatch(exc.frames)
                self._abort(str(exc))
                return
            self._dispatch(frames)
        finally:
            self._corked = False
        self._flush()

    def eof_received(self) -> bool | None:
        return None  # close our side too

    # -- public API ----------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the connection is closed or closing."""
        return self._dead or self._transport is None or self._transport.is_closing()

    def call(
        self, method: str, *args: Any, timeout: float | None = None, **kwargs: Any
    ) -> Awaitable[Any]:
        """Call ``method`` on the peer; await the result.

        The awaitable raises :class:`TimeoutError` when no reply arrives within
        ``timeout`` seconds (default: the connection's, else
        ``defaults.call_timeout``), the remote exception when the peer raised,
        :class:`ConnectionLost` when the connection closes first.  While
        ``max_inflight`` calls await replies, a new call first waits for room
        (within its deadline).  A call abandoned by its caller still holds its
        slot until the reply or the deadline, as the peer is still busy with it.
        """
        if self._dead:
            raise ConnectionLost(f"mailbox connection {self.name or self.peer} is closed")
        if len(self._pending) >= self.max_inflight:
            return self._call_when_room(method, args, kwargs, timeout)
        # Hot path: a bare future, no coroutine frame per call.
        return self._send(method, args, kwargs, timeout)

    async def _call_when_room(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], timeout: float | None
    ) -> Any:
        if timeout is None:
            timeout = self.timeout or defaults.call_timeout
        loop = self._loop
        deadline = loop.time() + timeout
        await self._wait_for_room(deadline, method)
        # Time spent waiting for room counts against the deadline.
        return await self._send(method, args, kwargs, max(deadline - loop.time(), 0.0))

    def _send(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], timeout: float | None
    ) -> asyncio.Future[Any]:
        if timeout is None:
            timeout = self.timeout or defaults.call_timeout
        msgid = self._next_id + 1
        frame = encode([0, msgid, method, args, kwargs])
        self._next_id = msgid
        loop = self._loop
        fut: asyncio.Future[Any] = loop.create_future()
        self._pending[msgid] = fut
        # One timer per connection, not per call: _sweep expires what is due.
        deadline = loop.time() + timeout
        self._deadlines[msgid] = (deadline, method, timeout)
        if deadline < self._sweep_at:
            self._schedule_sweep(deadline)
        self._write(frame)
        return fut

    def notify(self, method: str, *args: Any) -> None:
        """Send a notification ``[2, method, args]``; no reply, no deadline."""
        if self._dead:
            raise ConnectionLost(f"mailbox connection {self.name or self.peer} is closed")
        self._write(encode([2, method, args]))

    async def drain(self) -> None:
        """Wait while the peer is not reading fast enough (write buffer over its
        high-water mark).  Producers of many notifications, e.g. pubsub pushes,
        should ``await conn.drain()`` now and then: :meth:`notify` itself never
        blocks."""
        self._flush()
        if self._writing_paused and not self._dead:
            waiter: asyncio.Future[None] = self._loop.create_future()
            self._drainers.append(waiter)
            await waiter

    def on_notification(self, method: str, handler: Handler | None) -> None:
        """Route notifications named ``method`` to ``handler(*args)`` (``None`` removes).

        Connection handlers win over the ``handlers`` mapping; a handler may be a
        coroutine function.
        """
        if handler is None:
            self._notification_handlers.pop(method, None)
        else:
            self._notification_handlers[method] = handler

    def add_close_callback(self, callback: Callable[[Connection], None]) -> None:
        """Run ``callback(connection)`` once when the connection is lost (soon,
        if it is lost already)."""
        if self._dead:
            self._loop.call_soon(callback, self)
            return
        self._close_callbacks.append(callback)

    def close(self) -> None:
        """Flush what is buffered and close."""
        self._dead = True
        if self._transport is not None:
            self._flush()
            self._transport.close()

    async def wait_closed(self) -> None:
        """Wait until the connection is fully closed."""
        await asyncio.shield(self._closed)

    @property
    def inflight(self) -> int:
        """Outgoing requests currently awaiting a reply."""
        return len(self._pending)

    # -- internals ----------------------------------------------------------

    def _abort(self, reason: str) -> None:
        logger.warning("closing mailbox connection %s from %s: %s", self.name, self.peer, reason)
        self._dead = True
        if self._transport is not None:
            self._flush()
            self._transport.close()

    def _write(self, data: bytes) -> None:
        buf = self._wbuf
        buf.append(data)
        if len(buf) == 1 and not self._corked:
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        buf = self._wbuf
        if not buf:
            return
        self._wbuf = []
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(buf[0] if len(buf) == 1 else b"".join(buf))

    def _schedule_sweep(self, when: float) -> None:
        if self._sweep_handle is not None:
            self._sweep_handle.cancel()
        self._sweep_at = when
        self._sweep_handle = self._loop.call_at(when, self._sweep)

    def _sweep(self) -> None:
        # At most max_inflight entries: a scan is cheap next to a timer per call.
        self._sweep_handle = None
        self._sweep_at = _NEVER
        now = self._loop.time()
        due = [msgid for msgid, entry in self._deadlines.items() if entry[0] <= now]
        for msgid in due:
            _, method, timeout = self._deadlines.pop(msgid)
            fut = self._pending.pop(msgid, None)
            if fut is not None and not fut.done():
                fut.set_exception(
                    TimeoutError(f"call {method!r} got no reply within {timeout:g}s"))
        if self._deadlines:
            self._schedule_sweep(min(entry[0] for entry in self._deadlines.values()))
        if self._room:
            self._make_room()

    async def _wait_for_room(self, deadline: float, method: str) -> None:
        # Loop: a fresh caller may take the freed slot before a woken waiter runs.
        while len(self._pending) >= self.max_inflight:
            waiter: asyncio.Future[None] = self._loop.create_future()
            self._room.append(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    await waiter
            except TimeoutError:
                raise TimeoutError(
                    f"call {method!r}: no room among {self.max_inflight} in-flight calls in time"
                ) from None
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()  # we were woken but leave: pass the turn on
                raise
            finally:
                if not waiter.done() or waiter.cancelled():
                    with contextlib.suppress(ValueError):
                        self._room.remove(waiter)
            if self._dead:
                raise ConnectionLost(f"mailbox connection {self.name or self.peer} is closed")

    def _wake_one(self) -> None:
        while self._room:
            waiter = self._room.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _make_room(self) -> None:
        for _ in range(self.max_inflight - len(self._pending)):
            if not self._room:
                return
            self._wake_one()

    def _dispatch(self, frames: list[list[Any]]) -> None:
        pending = self._pending
        deadlines = self._deadlines
        backlog = self._backlog
        # Handlers see this connection through current_connection(); one
        # set/reset per read rather than per frame (tasks copy it when created).
        token = _current.set(self)
        try:
            self._dispatch_frames(frames, pending, deadlines, backlog)
        finally:
            _current.reset(token)
        if self._room:
            self._make_room()

    def _dispatch_frames(
        self,
        frames: list[list[Any]],
        pending: dict[int, asyncio.Future[Any]],
        deadlines: dict[int, tuple[float, str, float]],
        backlog: deque[list[Any]],
    ) -> None:
        for frame in frames:
            kind = frame[0]
            # Too much work in progress: park requests and notifications (in
            # order) until handlers finish; reading is paused meanwhile.
            # Replies still go through, or handlers awaiting them would never
            # finish.
            if kind != 1 and (backlog or (kind == 0 and self._running >= self.max_inflight)):
                backlog.append(frame)
                continue
            if kind == 1:
                fut = pending.pop(frame[1], None)
                if fut is None:
                    continue  # late reply after a deadline: dropped
                del deadlines[frame[1]]
                if fut.done():
                    continue
                if frame[2] is None:
                    fut.set_result(frame[3])
                else:
                    fut.set_exception(decode_error(frame[2]))
            elif kind == 0:
                self._on_request(frame[1], frame[2], frame[3], frame[4])
            else:
                self._on_notification(frame[1], frame[2])

    def _on_request(self, msgid: int, method: str, args: list[Any], kwargs: dict[str, Any]) -> None:
        handler = self.handlers.get(method)
        if handler is None:
            self._reply_error(
                msgid, UnknownMethodError(f"{self.name or 'peer'} exposes no method {method!r}")
            )
            return
        try:
            result = handler(*args, **kwargs)
        except Exception as exc:
            self._reply_error(msgid, exc)
            return
        # Plain values are the common case: skip the awaitable checks.
        if type(result) not in _PLAIN and inspect.isawaitable(result):
            # The task copies the context now, so the handler keeps seeing
            # its connection through current_connection().
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            self._running += 1
            self._update_reading()
            task.add_done_callback(lambda t: self._on_task_done(msgid, t))
            return
        if self._dead:
            return
        try:
            frame = encode([1, msgid, None, result])
        except Exception as exc:
            self._reply_error(msgid, TypeError(f"result cannot be sent on a mailbox: {exc}"))
            return
        self._write(frame)

    def _on_task_done(self, msgid: int, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        self._running -= 1
        backlog = self._backlog
        if backlog:
            token = _current.set(self)
            try:
                while backlog and not self._dead and self._running < self.max_inflight:
                    frame = backlog.popleft()
                    if frame[0] == 0:
                        self._on_request(frame[1], frame[2], frame[3], frame[4])
                    else:
                        self._on_notification(frame[1], frame[2])
            finally:
                _current.reset(token)
        self._update_reading()
        if task.cancelled():
            self._reply_error(msgid, asyncio.CancelledError("request was cancelled"))
            return
        exc = task.exception()
        if exc is not None:
            self._reply_error(msgid, exc)
        else:
            self._reply(msgid, task.result())

    def _reply(self, msgid: int, result: Any) -> None:
        if self._dead:
            return
        try:
            frame = encode([1, msgid, None, result])
        except Exception as exc:
            error = TypeError(f"result cannot be sent on a mailbox: {exc}")
            frame = encode([1, msgid, encode_error(error), None])
        self._write(frame)

    def _reply_error(self, msgid: int, exc: BaseException) -> None:
        if not self._dead:
            self._write(encode([1, msgid, encode_error(exc), None]))

    def _on_notification(self, method: str, args: list[Any]) -> None:
        handler = self._notification_handlers.get(method) or self.handlers.get(method)
        if handler is None:
            logger.debug("%s: no handler for notification %r", self.name or self.peer, method)
            return
        try:
            result = handler(*args)
            if asyncio.iscoroutine(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._on_notification_done)
        except Exception:
            logger.exception("notification %r handler failed", method)

    def _on_notification_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("notification handler failed", exc_info=task.exception())

    def _update_reading(self) -> None:
        transport = self._transport
        if transport is None:
            return
        pause = self._writing_paused or self._running >= self.max_inflight or bool(self._backlog)
        if pause and not self._reading_paused:
            self._reading_paused = True
            transport.pause_reading()
        elif not pause and self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()
