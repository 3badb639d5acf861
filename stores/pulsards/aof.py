"""The append-only file at run time: feeding, batching, fsync, replies after.

With ``appendonly no`` none of this runs: the dispatch table holds the plain
handlers.  ``AppendOnlyFile.wrap`` wraps the handlers of write commands so
that a command which changed the dataset is encoded (``aoffile.propagate``)
into ``buf``.  The buffer is written once per event-loop iteration
(``loop.call_soon``, which runs after every read the loop's poll returned),
as Redis writes in ``beforeSleep``; with ``appendfsync always`` the same
callback fsyncs before any reply goes out.

Replies that could reveal unwritten data wait: while ``buf`` holds commands,
``Client._write`` hands its bytes to ``defer`` and the flush sends them after
the write (and, with ``always``, the fsync).  So an acknowledged write is in
the file (``no``, ``everysec``: in the OS' page cache; ``always``: on disk)
before the client hears about it, and a ``kill -9`` loses nothing that was
acknowledged.  ``everysec`` fsyncs in a worker thread at most once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import TYPE_CHECKING, Any

from .aoffile import EXEC, MULTI, encode_command, propagate, select
from .reply import Blocked

if TYPE_CHECKING:
    from .keyspace import Database
    from .protocol import Client
    from .server import Server, Waiter
    from .table import Entry, Handler

__all__ = ["AppendOnlyFile"]

# Commands whose writes reach the file as one MULTI/EXEC unit: a transaction,
# and a script (its effects, so that replaying runs no Lua).
_TRANSACTIONS = frozenset({"exec", "eval", "evalsha", "fcall"})

log = logging.getLogger("stores.pulsards")


class AppendOnlyFile:
    """The open AOF of a server and the commands not yet written to it."""

    def __init__(self, server: Server, path: str | None, fsync: str) -> None:
        self.server = server
        self.path = path
        self.fsync = fsync
        # None while the first rewrite (CONFIG SET appendonly yes) makes the file.
        self.fd: int | None = None
        if path is not None:
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.buf: list[bytes] = []
        self.db = -1  # database of the last SELECT in the file
        self.deferred: list[tuple[Client, bytes]] = []
        self.scheduled = False
        self.txn: list[tuple[int, list[bytes]]] | None = None  # feeds during EXEC
        # While a rewrite child runs: what to append to its file when it ends.
        self.rewrite_buf: list[bytes] | None = None
        self.rewrite_db = -1
        self.last_fsync = time.monotonic()
        self.unsynced = False
        self.fsync_running = False
        self.last_write_ok = True
        self.delayed_fsync = 0
        # The database a command may be appended in by the wrapper's fast path
        # (no transaction collecting, no rewrite buffer, a file open), else -2:
        # one comparison per write instead of four.
        self.fast_db = -2
        self._sync_fast()

    def _sync_fast(self) -> None:
        """Recompute ``fast_db`` after ``db``, ``txn``, ``rewrite_buf`` or ``fd`` changed."""
        fast = self.txn is None and self.rewrite_buf is None and self.fd is not None
        self.fast_db = self.db if fast else -2

    # -------------------------------------------------------------- wiring
    def wrap(self, entry: Entry, handler: Handler) -> Handler:
        """``handler`` of ``entry``, logging what it changed when it is a write."""
        if entry.name in _TRANSACTIONS:
            return self._wrap_exec(handler)
        if "write" not in entry.spec.flags:
            return handler
        return self._wrap(entry, handler)

    def _wrap(self, entry: Entry, handler: Handler) -> Handler:
        rule = propagate.get(entry.name)
        # SET k v (the usual SET) needs no rule: skip the call.
        plain = 3 if entry.name == "set" else -1
        # A MIGRATE that failed part way deleted the keys the target took.
        errors_write = entry.name == "migrate"
        feed = self.feed

        def logged(c: Client, args: list[bytes]) -> bytes:
            try:
                reply = handler(c, args)
            except Blocked:
                c.blocked.argv = args  # served later: Server.serve_blocked feeds it
                raise
            if reply[:1] == b"-" and not errors_write:
                return reply
            index = c.db.index
            if rule is not None and len(args) != plain:
                for argv in rule(c.db, args, reply) or ():
                    feed(index, argv)
                return reply
            # The hot path of _emit, inlined: same database, no transaction or rewrite.
            if index == self.fast_db:
                self.buf.append(encode_command(args))
                if not self.scheduled:
                    self.scheduled = True
                    asyncio.get_running_loop().call_soon(self.flush)
            else:
                feed(index, args)
            return reply

        return logged

    def _wrap_exec(self, handler: Handler) -> Handler:
        def logged_exec(c: Client, args: list[bytes]) -> bytes:
            if self.txn is not None:  # a script inside EXEC: part of the EXEC's unit
                return handler(c, args)
            self.txn = []
            self._sync_fast()
            try:
                return handler(c, args)
            finally:
                txn, self.txn = self.txn, None
                self._sync_fast()
                if len(txn) == 1:
                    self.feed(*txn[0])
                elif txn:
                    # SELECT first so that MULTI .. EXEC is one unit in the file.
                    self._emit(txn[0][0], MULTI)
                    for index, argv in txn:
                        self._emit(index, encode_command(argv))
                    self._emit(txn[-1][0], EXEC)

        return logged_exec

    def expired(self, db: Database, key: bytes) -> None:
        # A key expired (lazily or actively): replaying must not depend on time.
        self.feed(db.index, [b"DEL", key])

    def served(self, waiter: Waiter, reply: bytes) -> None:
        """A parked blocking command was served: append its deterministic form."""
        argv = getattr(waiter, "argv", None)
        if not argv or reply[:1] == b"-":
            return
        rule = propagate.get(argv[0].decode("ascii", "replace").lower())
        for cmd in (rule(waiter.db, argv, reply) if rule else [argv]) or ():
            self.feed(waiter.db.index, cmd)

    # ------------------------------------------------------------- feeding
    def feed(self, index: int, argv: list[bytes]) -> None:
        """Append one command run in database ``index``."""
        if self.txn is not None:
            self.txn.append((index, argv))
            return
        self._emit(index, encode_command(argv))

    def _emit(self, index: int, data: bytes) -> None:
        if self.fd is not None:
            buf = self.buf
            if index != self.db:
                buf.append(select(index))
                self.db = index
                self._sync_fast()
            buf.append(data)
            if not self.scheduled:
                self.scheduled = True
                asyncio.get_running_loop().call_soon(self.flush)
        rewrite = self.rewrite_buf
        if rewrite is not None:
            if index != self.rewrite_db:
                rewrite.append(select(index))
                self.rewrite_db = index
            rewrite.append(data)

    def defer(self, client: Client, data: bytes) -> None:
        """Send ``data`` to ``client`` once the buffered commands are written."""
        self.deferred.append((client, data))

    # ------------------------------------------------------------- writing
    def flush(self) -> None:
        """Write the buffer (fsync with ``always``), then send the deferred replies."""
        self.scheduled = False
        ok = True
        if self.buf:
            data = b"".join(self.buf)
            self.buf = []
            ok = self._write(data)
        deferred, self.deferred = self.deferred, []
        for client, reply in deferred:
            if client.transport is None or client.closed:
                continue
            if not ok:  # never acknowledge what is not in the file
                client.abort()
                continue
            client.send(reply)

    def _write(self, data: bytes) -> bool:
        """Append ``data`` (and fsync with ``always``); False when that failed."""
        fd = self.fd
        if fd is None:
            return True
        try:
            monitored = self.server.config.latency_monitor_threshold
            started = time.monotonic() if monitored else 0.0
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if monitored:
                written = time.monotonic()
                self.server.latency.add("aof-write", int((written - started) * 1000))
            if self.fsync == "always":
                os.fdatasync(fd)
                self.last_fsync = time.monotonic()
                if monitored:
                    self.server.latency.add("aof-fsync-always",
                                            int((self.last_fsync - written) * 1000))
            else:
                self.unsynced = True
                if self.fsync == "everysec":
                    self.cron()
            self.last_write_ok = True
        except OSError as exc:
            # Redis exits when it cannot append under "always"; here the server
            # stops: acknowledging writes that are not in the file would be a lie.
            self.last_write_ok = False
            log.critical("can't write to the append only file %s: %s; shutting down",
                         self.path, exc)
            self.server.request_stop()
            return False
        return True

    def cron(self) -> None:
        """``everysec``: start a background fsync when the last is a second old."""
        if (self.fsync != "everysec" or not self.unsynced or self.fd is None
                or time.monotonic() - self.last_fsync < 1.0):
            return
        if self.fsync_running:
            self.delayed_fsync += 1  # the disk is slower than one fsync a second
            return
        self.unsynced = False
        self.fsync_running = True
        self.last_fsync = time.monotonic()
        fd = self.fd
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, _quiet_fsync, fd)
        future.add_done_callback(self._fsync_done)

    def _fsync_done(self, future: asyncio.Future[Any]) -> None:
        self.fsync_running = False

    def sync(self) -> None:
        """Write and fsync everything now (SHUTDOWN, SIGTERM, a rewrite ending)."""
        self.flush()
        if self.fd is not None:
            os.fsync(self.fd)
            self.unsynced = False
            self.last_fsync = time.monotonic()

    def close(self) -> None:
        self.sync()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
            self._sync_fast()

    # ------------------------------------------------------------ rewrites
    def start_rewrite(self) -> None:
        """A rewrite child was forked: collect the commands it does not see."""
        self.rewrite_buf = []
        self.rewrite_db = -1
        self._sync_fast()

    def finish_rewrite(self, temp: str, path: str) -> None:
        """Append what came in meanwhile to ``temp`` and make it the AOF."""
        self.sync()
        rest = b"".join(self.rewrite_buf or ())
        with open(temp, "ab") as f:
            f.write(rest)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
        _fsync_dir(path)
        if self.fd is not None:
            os.close(self.fd)
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.path = path
        self.db = self.rewrite_db
        self.rewrite_buf = None
        self._sync_fast()

    def abort_rewrite(self) -> None:
        self.rewrite_buf = None
        self._sync_fast()

    def size(self) -> int:
        try:
            return os.fstat(self.fd).st_size if self.fd is not None else 0
        except OSError:
            return 0


def _quiet_fsync(fd: int) -> None:
    # Closed under us by a rewrite or shutdown: those fsync themselves.
    with contextlib.suppress(OSError):
        os.fsync(fd)


def _fsync_dir(path: str) -> None:
    """Make a rename durable (the directory entry is data too)."""
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

