"""One Redis connection: an asyncio Protocol over the sans-I/O RESP codec.

Rules of the connection:

* commands are written in call order and replies are matched to waiters in
  the same order (RESP has no request ids), so many tasks can share one
  connection without a lock: their commands pipeline naturally;
* a write goes straight to the transport when nothing is queued; otherwise it
  is buffered and all buffered writes leave in one ``transport.write`` at the
  next loop iteration (auto-pipelining: one syscall for many tasks);
* a waiter whose caller gave up (cancelled, timed out) still owns its place in
  the queue: its reply is read and dropped, keeping the order right;
* RESP3 push messages and, on a subscribed connection, pubsub messages go to
  ``on_push`` instead of a waiter;
* a malformed reply or a lost connection fails every waiter with
  ``ConnectionError`` (``ProtocolError`` for bad bytes) and closes the
  connection; nothing else is affected.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as ssl_module
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Final

from ..errors import ConnectionError, ProtocolError, ResponseError, TimeoutError, response_error
from .resp import Reader, encode_command, encode_commands, is_push

__all__ = ["Connection", "ConnectionSettings", "RedisProtocol", "open_connection"]

logger = logging.getLogger("stores.redis")

_NOT_ENOUGH: Final = Ellipsis  # hiredis' "not enough data" sentinel; no reply is Ellipsis


class _Batch:
    """Waiter for ``count`` consecutive replies (a pipeline)."""

    __slots__ = ("count", "future", "replies")

    def __init__(self, future: asyncio.Future[list[Any]], count: int) -> None:
        self.future = future
        self.count = count
        self.replies: list[Any] = []


class RedisProtocol(asyncio.Protocol):
    """Writes RESP commands and hands replies to waiters in order."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        encoding: str | None = None,
        on_push: Callable[[Any], None] | None = None,
        resp3: bool = False,
    ) -> None:
        self._loop = loop
        self._reader = Reader(
            protocolError=ProtocolError, replyError=response_error,
            notEnoughData=_NOT_ENOUGH, encoding=encoding,
        )
        # Futures (one reply) and _Batch (a pipeline), in the order commands were sent.
        self._waiters: deque[Any] = deque()
        self._buffer: list[bytes] = []
        self._transport: asyncio.Transport | None = None
        self._closed_exc: Exception | None = None
        self._lost: asyncio.Future[None] = loop.create_future()
        self.on_push = on_push
        self.subscribed = False  # a RESP2 subscriber: every reply is a pubsub event
        # Only RESP3 or subscriber connections can see pushes: skip the check otherwise.
        self._check_push = resp3 or on_push is not None

    # -------------------------------------------------------------- transport
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self._closed_exc is None:
            reason = f": {exc}" if exc else ""
            self._closed_exc = ConnectionError(f"connection closed by the server{reason}")
        self._transport = None
        self._fail_waiters(self._closed_exc)
        if not self._lost.done():
            self._lost.set_result(None)

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        reader.feed(data)
        waiters = self._waiters
        while True:
            try:
                reply = reader.gets()
            except Exception as exc:
                self._malformed(exc)
                return
            if reply is _NOT_ENOUGH:
                return
            if self._check_push and (self.subscribed or is_push(reply)):
                if self.on_push is not None:
                    self.on_push(reply)
                continue
            if not waiters:
                self.abort(ProtocolError(f"unexpected reply with no command waiting: {reply!r}"))
                return
            waiter = waiters[0]
            if waiter.__class__ is _Batch:
                waiter.replies.append(reply)
                waiter.count -= 1
                if waiter.count:
                    if self._check_push:
                        continue
                    # No push can be among the rest of a pipeline's replies.
                    try:
                        if not self._fill(waiter):
                            return
                    except Exception as exc:
                        self._malformed(exc)
                        return
                waiters.popleft()
                if not waiter.future.done():
                    waiter.future.set_result(waiter.replies)
            else:
                waiters.popleft()
                if waiter.done():
                    continue
                if isinstance(reply, ResponseError):
                    waiter.set_exception(reply)
                else:
                    waiter.set_result(reply)

    def _malformed(self, exc: Exception) -> None:
        self.abort(ProtocolError(f"malformed reply from the server: {exc}"))

    def _fill(self, batch: _Batch) -> bool:
        """Read ``batch``'s remaining replies; False when the data runs out first."""
        gets = self._reader.gets
        append = batch.replies.append
        count = batch.count
        while count:
            reply = gets()
            if reply is _NOT_ENOUGH:
                batch.count = count
                return False
            append(reply)
            count -= 1
        batch.count = 0
        return True

    # ------------------------------------------------------------------ writes
    def write(self, data: bytes) -> None:
        """Queue ``data`` for the socket (coalesced with this iteration's writes)."""
        if self._closed_exc is not None:
            raise self._closed_exc
        buffer = self._buffer
        if buffer:
            buffer.append(data)
        elif self._waiters:
            buffer.append(data)
            self._loop.call_soon(self._flush)
        else:
            assert self._transport is not None
            self._transport.write(data)

    def _flush(self) -> None:
        if self._transport is not None and self._buffer:
            data = b"".join(self._buffer)
            self._transport.write(data)
        self._buffer.clear()

    def request(self, data: bytes) -> asyncio.Future[Any]:
        """Send one encoded command; the future gets its reply."""
        self.write(data)
        future = self._loop.create_future()
        self._waiters.append(future)
        return future

    def request_many(self, data: bytes, count: int) -> asyncio.Future[list[Any]]:
        """Send ``count`` encoded commands; the future gets the list of replies.

        Error replies are in the list as ``ResponseError`` instances.
        """
        if count < 1:  # nothing to wait for: a waiter would take another's reply
            if data or count:
                raise ValueError(f"request_many: {count} commands in {len(data)} bytes")
            if self._closed_exc is not None:
                raise self._closed_exc
            done: asyncio.Future[list[Any]] = self._loop.create_future()
            done.set_result([])
            return done
        self.write(data)
        future: asyncio.Future[list[Any]] = self._loop.create_future()
        self._waiters.append(_Batch(future, count))
        return future

    # --------------------------------------------------------------- closing
    @property
    def closed(self) -> bool:
        return self._closed_exc is not None

    @property
    def pending(self) -> int:
        return len(self._waiters)

    def abort(self, exc: Exception) -> None:
        """Close now and fail every waiter with ``exc``."""
        if self._closed_exc is None:
            self._closed_exc = exc
            if isinstance(exc, ProtocolError):
                logger.warning("closing redis connection: %s", exc)
        if self._transport is not None:
            self._transport.abort()
        self._fail_waiters(exc)

    def close(self) -> None:
        if self._closed_exc is None:
            self._closed_exc = ConnectionError("connection closed by the client")
        self._flush()
        if self._transport is not None:
            self._transport.close()
        self._fail_waiters(self._closed_exc)

    async def wait_closed(self) -> None:
        await asyncio.shield(self._lost)

    def _fail_waiters(self, exc: Exception) -> None:
        waiters, self._waiters = self._waiters, deque()
        self._buffer.clear()
        for waiter in waiters:
            future = waiter.future if waiter.__class__ is _Batch else waiter
            if not future.done():
                future.set_exception(exc)
                # Nobody may await a failed pipeline of a caller that gave up.
                future.exception()


class ConnectionSettings:
    """Everything needed to open and set up a connection, from the store URL."""

    __slots__ = ("address", "client_name", "connect_timeout", "database", "encoding",
                 "password", "protocol", "ssl", "user")

    def __init__(
        self,
        address: tuple[str, int] | str,
        *,
        database: int = 0,
        user: str | None = None,
        password: str | None = None,
        client_name: str | None = None,
        protocol: int = 2,
        connect_timeout: float | None = 5.0,
        ssl: ssl_module.SSLContext | None = None,
        encoding: str | None = None,
    ) -> None:
        self.address = address
        self.database = database
        self.user = user
        self.password = password
        self.client_name = client_name
        self.protocol = protocol
        self.connect_timeout = connect_timeout
        self.ssl = ssl
        self.encoding = encoding

    def handshake(self) -> list[Sequence[Any]]:
        """Commands that put a fresh connection in the URL's state."""
        commands: list[Sequence[Any]] = []
        if self.protocol == 3:
            hello: list[Any] = ["HELLO", 3]
            if self.password is not None:
                hello += ["AUTH", self.user or "default", self.password]
            commands.append(hello)
        elif self.password is not None:
            commands.append(["AUTH", self.user, self.password] if self.user
                            else ["AUTH", self.password])
        if self.database:
            commands.append(["SELECT", self.database])
        if self.client_name:
            commands.append(["CLIENT", "SETNAME", self.client_name])
        return commands


class Connection:
    """An open connection: ``execute`` one command, ``execute_many`` a pipeline."""

    __slots__ = ("protocol", "settings", "transport")

    def __init__(self, transport: asyncio.Transport, protocol: RedisProtocol,
                 settings: ConnectionSettings) -> None:
        self.transport = transport
        self.protocol = protocol
        self.settings = settings

    @property
    def closed(self) -> bool:
        return self.protocol.closed

    @property
    def pending(self) -> int:
        return self.protocol.pending

    def execute(self, args: Sequence[Any]) -> asyncio.Future[Any]:
        return self.protocol.request(encode_command(args))

    def execute_many(self, commands: Sequence[Sequence[Any]]) -> asyncio.Future[list[Any]]:
        return self.protocol.request_many(encode_commands(commands), len(commands))

    def execute_encoded(self, data: bytes, count: int) -> asyncio.Future[list[Any]]:
        """Send ``count`` commands already encoded as RESP (``encode_commands``)."""
        return self.protocol.request_many(data, count)

    def close(self) -> None:
        self.protocol.close()

    async def wait_closed(self) -> None:
        await self.protocol.wait_closed()


async def open_connection(
    settings: ConnectionSettings,
    on_push: Callable[[Any], None] | None = None,
) -> Connection:
    """Connect, authenticate, select the database; raise ``stores`` errors."""
    loop = asyncio.get_running_loop()

    def factory() -> RedisProtocol:
        return RedisProtocol(loop, settings.encoding, on_push, settings.protocol == 3)

    address = settings.address
    try:
        async with asyncio.timeout(settings.connect_timeout):
            if isinstance(address, str):
                transport, protocol = await loop.create_unix_connection(factory, address)
            else:
                host, port = address
                transport, protocol = await loop.create_connection(
                    factory, host, port, ssl=settings.ssl,
                    server_hostname=host if settings.ssl else None,
                )
            connection = Connection(transport, protocol, settings)
            try:
                handshake = settings.handshake()
                if handshake:
                    replies = await connection.execute_many(handshake)
                    for reply in replies:
                        if isinstance(reply, Exception):
                            raise reply
            except BaseException:
                connection.close()  # a refused, timed-out or cancelled handshake leaks nothing
                raise
    except builtins_timeout:
        raise TimeoutError(
            f"connecting to {_describe(address)} took longer than {settings.connect_timeout}s"
        ) from None
    except OSError as exc:
        if isinstance(exc, ConnectionError):
            raise
        raise ConnectionError(f"cannot connect to {_describe(address)}: {exc}") from exc
    return connection


builtins_timeout: Final = asyncio.TimeoutError


def _describe(address: tuple[str, int] | str) -> str:
    if isinstance(address, str):
        return f"unix socket {address}"
    return f"{address[0]}:{address[1]}"
