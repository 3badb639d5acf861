"""A bounded pool of Redis connections.

Rules of the pool:

* at most ``size`` connections are open at once;
* ordinary commands share one connection (``shared()``): replies are matched
  in order, so concurrent callers pipeline on it with no lock;
* commands that hold a connection (blocking pops, WATCH, subscriptions) take
  one for themselves with ``async with pool.acquire()``; when all ``size``
  connections are out, ``acquire`` waits up to ``wait_timeout`` seconds and
  then raises ``PoolTimeout``;
* a closed or broken connection is never handed out again: it is dropped and a
  new one is opened on demand.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..errors import PoolTimeout
from .connection import Connection, ConnectionSettings, open_connection

__all__ = ["Pool"]


class Pool:
    """Connections to one server, opened lazily, bounded by ``size``."""

    def __init__(self, settings: ConnectionSettings, size: int = 10,
                 wait_timeout: float | None = 5.0) -> None:
        if size < 1:
            raise ValueError("pool_size must be at least 1")
        self.settings = settings
        self.size = size
        self.wait_timeout = wait_timeout
        self._shared: Connection | None = None
        self._shared_opening: asyncio.Future[Connection] | None = None
        self._idle: list[Connection] = []
        self._in_use: set[Connection] = set()
        self._opening = 0
        self._released: asyncio.Condition | None = None

    @property
    def in_use(self) -> int:
        """Connections open or being opened (shared + idle + checked out)."""
        shared = 1 if self._shared is not None and not self._shared.closed else 0
        return shared + len(self._idle) + len(self._in_use) + self._opening

    def _condition(self) -> asyncio.Condition:
        if self._released is None:
            self._released = asyncio.Condition()
        return self._released

    # ----------------------------------------------------------------- shared
    def shared_now(self) -> Connection | None:
        """The open shared connection, if there is one (the fast path)."""
        conn = self._shared
        if conn is not None and not conn.closed:
            return conn
        return None

    async def shared(self) -> Connection:
        """The connection ordinary commands pipeline on, opened on demand."""
        conn = self.shared_now()
        if conn is not None:
            return conn
        if self._shared_opening is None:
            self._shared_opening = asyncio.ensure_future(self._open_shared())
            self._shared_opening.add_done_callback(self._shared_opened)
        return await asyncio.shield(self._shared_opening)

    async def _open_shared(self) -> Connection:
        conn = await self._take()
        self._in_use.discard(conn)
        self._shared = conn
        return conn

    def _shared_opened(self, future: asyncio.Future[Connection]) -> None:
        self._shared_opening = None
        if not future.cancelled():
            future.exception()  # retrieved: every waiter got it through shield

    # -------------------------------------------------------------- exclusive
    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Connection]:
        """A connection for the caller alone, returned to the pool after."""
        conn = await self._take()
        try:
            yield conn
        finally:
            await self._give_back(conn)

    async def _take(self) -> Connection:
        cond = self._condition()
        async with cond:
            try:
                async with asyncio.timeout(self.wait_timeout):
                    while True:
                        while self._idle:
                            conn = self._idle.pop()
                            if not conn.closed and conn.pending == 0:
                                self._in_use.add(conn)
                                return conn
                        if self.in_use < self.size:
                            break
                        await cond.wait()
            except TimeoutError:
                raise PoolTimeout(
                    f"all {self.size} connections of the pool stayed busy for "
                    f"{self.wait_timeout}s (raise pool_size or release connections)"
                ) from None
            self._opening += 1
        try:
            conn = await open_connection(self.settings)
        except BaseException:
            self._opening -= 1
            async with cond:
                cond.notify()
            raise
        self._opening -= 1
        self._in_use.add(conn)
        return conn

    async def _give_back(self, conn: Connection) -> None:
        self._in_use.discard(conn)
        if not conn.closed and conn.pending == 0:
            self._idle.append(conn)
        else:
            conn.close()
        cond = self._condition()
        async with cond:
            cond.notify()

    # ------------------------------------------------------------------ close
    async def close(self) -> None:
        """Close every connection; the pool can be used again afterwards."""
        conns = [*self._idle, *self._in_use]
        if self._shared is not None:
            conns.append(self._shared)
        self._shared = None
        self._idle.clear()
        for conn in conns:
            conn.close()
        for conn in conns:
            await conn.wait_closed()
