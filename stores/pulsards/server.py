"""The pulsards server: one event loop owning the keyspace and the clients.

``Server(config)`` holds the keyspace, the dispatch table, the connected
clients, statistics and the clients parked in blocking commands.
``await server.start()`` listens (port 0 picks a free port, see ``port``);
``await server.serve_forever()`` runs until ``stop()``; ``async with`` works
too.  Nothing here is thread-safe: like Redis, everything happens on the
server's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .acl import Acl
from .aclfile import load_at_startup
from .aof import AppendOnlyFile
from .config import Config
from .eventrules import parse_flags
from .functions import Functions
from .keyspace import Database, Keyspace
from .latency import LatencyMonitor
from .notify import Events
from .persistence import Persistence
from .slowlog import SlowLog
from .table import Entry, all_entries, build_dispatch
from .tracking import Mode, Tracking

if TYPE_CHECKING:
    from .lua import Scripting
    from .pause import Pause
    from .protocol import Client

__all__ = ["Server", "Stats", "Waiter", "run"]

log = logging.getLogger("stores.pulsards")

VERSION = "7.0.15"  # the Redis version whose behaviour pulsards follows


@dataclass
class Stats:
    """Counters for INFO stats (reset by CONFIG RESETSTAT)."""

    connections: int = 0
    commands: int = 0
    rejected_connections: int = 0


# serve(db, key) -> the reply when the key can satisfy the waiter, else None.
Serve = Callable[[Database, bytes], bytes | None]


class Waiter:
    """A client parked in a blocking command on some keys of one database."""

    __slots__ = ("argv", "client", "db", "held", "keys", "serve", "timeout_reply", "timer",
                 "wake_on_delete")

    def __init__(self, client: Client, db: Database, keys: list[bytes], serve: Serve,
                 timeout_reply: bytes) -> None:
        self.client = client
        self.db = db
        self.keys = keys
        self.serve = serve
        self.timeout_reply = timeout_reply
        self.timer: asyncio.TimerHandle | None = None
        # The blocking command itself, set when the AOF is on (it appends the
        # command's non-blocking form once served).
        self.argv: list[bytes] | None = None
        # Served (with an error) when one of its keys is deleted (XREADGROUP).
        self.wake_on_delete = False
        # Held by CLIENT PAUSE (``argv`` runs when the pause ends), not blocked.
        self.held = False


class Server:
    """A Redis-compatible server on one asyncio loop."""

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config()
        self.keyspace = Keyspace(self.config.databases)
        for db in self.keyspace.dbs:
            db.on_ready = self.signal_ready
        self.dispatch: dict[bytes, Entry] = build_dispatch()
        self.clients: dict[int, Client] = {}
        # Connections with output queued this turn (Redis' clients_pending_write).
        self.pending_writes: list[Client] = []
        # Set by start(); asyncio.get_running_loop() costs a getpid() system call.
        self.loop: asyncio.AbstractEventLoop | None = None
        self.acl = Acl(self.config.requirepass)  # users (requirepass: default's password)
        self.stats = Stats()
        self.started = time.time()
        self.started_monotonic = time.monotonic()
        self.run_id = os.urandom(20).hex()
        self.ready_keys: list[tuple[Database, bytes]] = []
        self.blocking: dict[tuple[int, bytes], deque[Waiter]] = {}
        # Pub/sub: channel or pattern -> subscribed clients.
        self.channels: dict[bytes, set[Client]] = {}
        self.patterns: dict[bytes, set[Client]] = {}
        self.shard_channels: dict[bytes, set[Client]] = {}  # SSUBSCRIBE's
        self.monitors: list[Client] = []  # MONITOR's, in the order they came
        self._next_id = 0
        self.background: set[asyncio.Future[Any]] = set()
        self.scan_sessions: Any = None  # commands.keys' SCAN snapshots, made on first use
        self.scripting: Scripting | None = None  # the Lua state, made by the first script
        self.functions = Functions(self)  # FUNCTION LOAD's libraries
        self.slowlog = SlowLog(self)
        self.latency = LatencyMonitor(self)
        self.active_expire = True  # DEBUG SET-ACTIVE-EXPIRE 0 stops the expiry cycle
        self.pause: Pause | None = None  # CLIENT PAUSE in force
        self._server: asyncio.Server | None = None
        self._unix_server: asyncio.Server | None = None
        # The open append-only file (None with appendonly no: then the write
        # commands' handlers are the plain ones, and nothing checks it per command).
        self.aof: AppendOnlyFile | None = None
        # Keyspace events (notify-keyspace-events), None while they are off.
        self.events: Events | None = None
        # Client-side caching (CLIENT TRACKING), None while no client tracks.
        self.tracking: Tracking | None = None
        self.persistence = Persistence(self)
        self._cron: asyncio.TimerHandle | None = None
        self._stopped: asyncio.Event | None = None
        self.port = self.config.port
        self.configure_events()
        self.rewire()

    # ------------------------------------------------------------ wiring
    def configure_events(self) -> None:
        """Turn keyspace events on or off after ``notify-keyspace-events`` changed."""
        flags = parse_flags(self.config.notify_keyspace_events)
        if flags:
            if self.events is None:
                self.events = Events(self)
            self.events.flags = flags
        elif self.events is not None:
            self.events = None
        else:
            return
        self.observe()
        self.rewire()

    def observe(self) -> None:
        """Tell every database what observes its changes (events, tracking)."""
        observers = tuple(o for o in (self.events, self.tracking) if o is not None)
        for db in self.keyspace.dbs:
            db.events = self.events
            db.observers = observers
            db.update_signals()

    def track(self, c: Client, mode: Mode, prefixes: list[bytes]) -> None:
        """CLIENT TRACKING ON: ``c`` tracks with ``mode`` (BCAST ``prefixes`` added)."""
        if self.tracking is None:
            self.tracking = Tracking(self)
            self.observe()
        self.tracking.enable(c, mode, prefixes)
        c.update_gate()

    def untrack(self, c: Client) -> None:
        """CLIENT TRACKING OFF, RESET or a disconnect."""
        tracking = self.tracking
        if tracking is None or c.tracking is None:
            return
        tracking.disable(c)
        c.update_gate()
        if not tracking.clients:
            self.tracking = None
            self.observe()

    def rewire(self) -> None:
        """Give every command the handler for what is on: its plain one, timed
        for the slow log, wrapped by keyspace events, wrapped by the AOF (which
        logs what the command did)."""
        for one in all_entries(self.dispatch):
            handler = self.slowlog.wrap(one, one.plain)
            if self.events is not None:
                handler = self.events.wrap(one, handler)
            if self.aof is not None:
                handler = self.aof.wrap(one, handler)
            one.handler = handler
            one.batch = one.batch_plain if handler is one.plain else None
        hook = self.aof.expired if self.aof is not None else None
        for db in self.keyspace.dbs:
            db.on_expired = hook

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Load the data, listen on ``config.bind``/``config.port`` (and
        ``config.unixsocket``); sets ``port`` to the real one.

        Raises ``persistence.LoadError`` when the AOF or snapshot is damaged,
        ``aclfile.AclFileError`` when the users cannot be loaded.
        """
        from .protocol import Client

        self.loop = loop = asyncio.get_running_loop()
        load_at_startup(self.acl, self.config)  # before the data, as Redis does
        self.persistence.load()
        hosts = self.config.bind.split() or ["127.0.0.1"]
        self._server = await loop.create_server(
            lambda: Client(self), hosts, self.config.port, reuse_address=True, backlog=511)
        self.port = self.config.port = self._server.sockets[0].getsockname()[1]
        path = self.config.unixsocket
        if path:
            if os.path.exists(path):
                os.unlink(path)  # a stale socket of a previous run, as redis-server does
            self._unix_server = await loop.create_unix_server(
                lambda: Client(self), path, backlog=511)
            if self.config.unixsocketperm:
                os.chmod(path, self.config.unixsocketperm)
        self._stopped = asyncio.Event()
        self._cron = loop.call_later(1 / self.config.hz, self._tick)
        log.info("pulsards %s ready on %s port %d", VERSION, " ".join(hosts), self.port)

    async def serve_forever(self) -> None:
        """Wait until ``stop`` is called."""
        assert self._stopped is not None, "start() first"
        await self._stopped.wait()

    async def stop(self) -> None:
        """Stop listening, fsync the AOF, close every client connection."""
        if self._cron is not None:
            self._cron.cancel()
            self._cron = None
        if self._server is not None:
            self._server.close()
        if self._unix_server is not None:
            self._unix_server.close()
        try:
            self.persistence.shutdown()  # sends the replies waiting for the AOF too
        except OSError as exc:
            log.error("error closing the append only file: %s", exc)
        for client in list(self.clients.values()):
            client.close()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        if self._unix_server is not None:
            await self._unix_server.wait_closed()
            self._unix_server = None
            with contextlib.suppress(OSError):
                os.unlink(self.config.unixsocket)
        if self._stopped is not None:
            self._stopped.set()

    def request_stop(self) -> None:
        """``stop()`` from synchronous code (SHUTDOWN, a failed AOF write)."""
        task = asyncio.ensure_future(self.stop())
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def __aenter__(self) -> Server:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    def _tick(self) -> None:
        """serverCron: active expiry and idle timeouts, ``hz`` times a second."""
        loop = asyncio.get_running_loop()
        budget = 250.0 / self.config.hz  # 25% of a tick, as Redis' slow cycle
        if self.active_expire and self.pause is None:
            started = time.monotonic()
            self.keyspace.active_expire(budget)
            if self.config.latency_monitor_threshold:
                self.latency.add("expire-cycle", int((time.monotonic() - started) * 1000))
        if self.ready_keys:  # an expired stream answers its XREADGROUP waiters
            self.serve_blocked()
        self.persistence.cron()
        timeout = self.config.timeout
        if timeout:
            now = time.monotonic()
            for client in list(self.clients.values()):
                if client.blocked is None and now - client.last_active > timeout:
                    client.close()
        self._cron = loop.call_later(1 / self.config.hz, self._tick)

    # -------------------------------------------------------------- clients
    def write_later(self, client: Client) -> None:
        """Write ``client``'s queued output at the end of this loop turn."""
        if not self.pending_writes:
            (self.loop or asyncio.get_running_loop()).call_soon(self.write_pending)
        self.pending_writes.append(client)

    def write_pending(self) -> None:
        """Hand every connection's queued output to its transport (Redis'
        ``handleClientsWithPendingWrites``, run before the loop polls again)."""
        clients, self.pending_writes = self.pending_writes, []
        for client in clients:
            client.flush()

    def next_client_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def forget(self, client: Client) -> None:
        """A connection went away: drop it and anything it was blocked on."""
        self.clients.pop(client.id, None)
        if client.blocked is not None:
            self._remove_waiter(client.blocked)
            if self.pause is not None and client.blocked in self.pause.held:
                self.pause.held.remove(client.blocked)
            client.blocked = None

    # ------------------------------------------------------------- blocking
    def block(self, client: Client, keys: list[bytes], serve: Serve, timeout: float,
              timeout_reply: bytes, wake_on_delete: bool = False) -> None:
        """Park ``client`` until ``serve`` succeeds on one of ``keys`` or ``timeout`` s
        (``wake_on_delete``: ``serve`` is also tried when one of them is deleted)."""
        db = client.db
        waiter = Waiter(client, db, keys, serve, timeout_reply)
        index = db.index
        for key in dict.fromkeys(keys):
            self.blocking.setdefault((index, key), deque()).append(waiter)
            if wake_on_delete:
                db.wake_on_delete[key] = db.wake_on_delete.get(key, 0) + 1
        if wake_on_delete:
            waiter.wake_on_delete = True
            db.update_signals()
        if timeout > 0:
            waiter.timer = asyncio.get_running_loop().call_later(
                timeout, self._timed_out, waiter)
        client.blocked = waiter

    def signal_ready(self, db: Database, key: bytes) -> None:
        """A push made ``key`` servable: waiters get served after the command."""
        if (db.index, key) in self.blocking:
            self.ready_keys.append((db, key))

    def serve_blocked(self) -> None:
        """Serve waiters on the keys signalled ready, oldest waiter first."""
        ready = self.ready_keys
        while ready:
            db, key = ready.pop(0)
            queue = self.blocking.get((db.index, key))
            for waiter in list(queue or ()):
                # An emptied or deleted key: the waiters' serve() says None
                # (they wait for the next push) or, for XREADGROUP, an error.
                started = time.perf_counter_ns()
                if self.events is None:
                    reply = waiter.serve(db, key)
                else:
                    reply = self.events.serve(waiter, db, key)
                if reply is None:
                    # A waiter of another kind (BLPOP behind a BZPOPMIN on a
                    # sorted set): skip it, as Redis does, and serve the rest.
                    continue
                self.slowlog.served(waiter, time.perf_counter_ns() - started)
                self._remove_waiter(waiter)
                if self.aof is not None:
                    self.aof.served(waiter, reply)  # in the file before the reply
                waiter.client.unblock(reply)

    def blocked_count(self) -> int:
        return sum(1 for c in self.clients.values() if c.blocked is not None)

    def release(self, waiter: Waiter, reply: bytes | None = None) -> None:
        """End a wait with ``reply`` (the timeout's by default): CLIENT UNBLOCK."""
        self._remove_waiter(waiter)
        waiter.client.unblock(waiter.timeout_reply if reply is None else reply)

    def _timed_out(self, waiter: Waiter) -> None:
        self.release(waiter)

    def _remove_waiter(self, waiter: Waiter) -> None:
        if waiter.timer is not None:
            waiter.timer.cancel()
        db = waiter.db
        for key in dict.fromkeys(waiter.keys):
            if waiter.wake_on_delete:
                db.wake_on_delete[key] -= 1
                if not db.wake_on_delete[key]:
                    del db.wake_on_delete[key]
            queue = self.blocking.get((db.index, key))
            if queue is None:
                continue
            if waiter in queue:
                queue.remove(waiter)
            if not queue:
                del self.blocking[(db.index, key)]
        if waiter.wake_on_delete:
            db.update_signals()

    def uptime(self) -> float:
        return time.monotonic() - self.started_monotonic


def run(config: Config, on_ready: Callable[[Server], Any] | None = None) -> None:
    """Run a server until SIGINT/SIGTERM (uvloop when installed)."""
    import signal

    uvloop: Any
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        uvloop = None

    async def main() -> None:
        server = Server(config)
        await server.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, _stop, server, sig)
        if on_ready is not None:
            on_ready(server)
        await server.serve_forever()
        log.info("pulsards is now ready to exit, bye bye...")

    if uvloop is not None:
        uvloop.run(main())
    else:  # pragma: no cover
        asyncio.run(main())


def _stop(server: Server, sig: int) -> None:
    log.warning("received signal %d, shutting down", sig)
    task = asyncio.ensure_future(server.stop())
    _PENDING.add(task)
    task.add_done_callback(_PENDING.discard)


_PENDING: set[asyncio.Future[Any]] = set()
