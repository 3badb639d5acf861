"""One client connection: request framing, dispatch, and one write per read.

The hot path (``data_received`` while the connection is in *fast mode*) works
in two passes over a read: parse and check every complete request in it
(``hiredis.Reader`` for multibulk requests, ``bytes.split`` for whole inline
lines without quotes), then run them through the dispatch table.  A read that
is a run of one command with a batch handler (GET, ``SET key value``, INCR)
is answered by it at once, unless it declines; when its keys (and values)
have one length it is not even parsed, only split (``runs``).  The helpers
that classify, parse and batch a read are in ``fastpath``.

Replies are not written at once: a connection's output (replies, and the
pub/sub messages and MONITOR lines other clients' commands send it) waits in
``outbuf`` until the end of the event loop's turn, when ``Server.write_pending``
hands every waiting connection's output to its transport in one write, as
Redis writes its clients' buffers in ``beforeSleep``.  The clients served by one
turn then get their replies back to back: a client that pipelines over many
connections is woken once for them, not once for each (waking a sleeping
process is a large part of what a reply costs the server).

Fast mode is only used when a read starts at a request boundary and holds
nothing unusual.  Anything else (quoted inline arguments, a request split
across reads, malformed framing, an unauthenticated client, a blocked client
with requests queued behind it) switches the connection to *slow mode*: the
read is parsed again by ``parser.RequestParser``, which skips the requests
already run and knows Redis' inline syntax, limits and error texts.  Once
that parser is empty at a request boundary the connection returns to fast
mode.  A *gated* client's requests (MULTI, ACL rules, MONITOR...) go through
``gate.special`` one by one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from operator import length_hint
from typing import TYPE_CHECKING, Any, cast

import hiredis

from .fastpath import not_for_fast_path, not_for_inline, parse_requests, run_batch, run_uniform
from .gate import call, internal_error, special
from .parser import INLINE_MAX, RequestParser
from .reply import NIL2, NIL3, Blocked, CommandError, ProtocolError, error

if TYPE_CHECKING:
    from .acl import User
    from .keyspace import Database
    from .server import Server
    from .table import Entry
    from .tracking import Mode

__all__ = ["Client"]

log = logging.getLogger("stores.pulsards")

class Client(asyncio.Protocol):
    """The server side of one connection (``CLIENT LIST`` calls these clients)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.id = server.next_client_id()
        self.transport: asyncio.Transport | None = None
        self.reader: Any = hiredis.Reader()
        self.parser: RequestParser | None = None
        self.db: Database = server.keyspace[0]
        self.resp3 = False  # the replies' protocol (a script's are RESP2 for a while)
        self.protocol = 2  # the connection's (HELLO): what pushes to it are in
        self.nil = NIL2
        # ``gated`` (in MULTI or not authenticated) sends every request off the
        # hot path; the ``multi`` and ``locked`` properties keep it up to date.
        self.gated = False
        # The ACL user, and whether AUTH/HELLO (or the default user's nopass)
        # authenticated it; a user whose commands are checked gates the client.
        self.user: User = server.acl.default
        self.authenticated = server.acl.open_default()
        self.tracking: Mode | None = None  # CLIENT TRACKING's options while on
        self.caching = False  # CLIENT CACHING yes/no for the next command
        # CLIENT REPLY: OFF, SKIP (for the next command); ``muted`` while either
        # holds (the client is gated: commands.connection.run_muted drops replies).
        self.reply_off = self.skip_next = self.skip_this = self.muted = False
        self.no_evict = False  # CLIENT NO-EVICT (shown in CLIENT LIST)
        self._multi: list[list[bytes]] | None = None
        self._locked = False
        # Insertion-ordered: UNSUBSCRIBE with no names goes in subscription order.
        self.subscriptions: dict[bytes, None] = {}
        self.psubscriptions: dict[bytes, None] = {}
        self.ssubscriptions: dict[bytes, None] = {}  # sharded (SSUBSCRIBE)
        self.locked = not self.authenticated
        self.name = b""
        self.addr = ""
        self.laddr = ""
        self.created = time.monotonic()
        self.last_active = self.created
        self.last_command: list[bytes] = [b"NULL"]  # the last request (CLIENT LIST's cmd)
        self.closing = False
        self.closed = False
        # Output waiting for the end of the loop's turn (``write_pending``).
        self.outbuf: list[bytes] | None = None
        self.blocked: Any = None  # the waiter object while parked in a blocking command
        self.multi_error = False
        # (db index, key) watched -> whether the key was expired when watched.
        self.watched: dict[tuple[int, bytes], bool] = {}
        self.dirty_cas = False
        self.in_exec = False  # blocking commands do not block inside EXEC
        self.monitor = False  # MONITOR: gets a line for every command run
        self.unix = False  # connected through the unix socket

    # ---------------------------------------------------------- connection
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: no isinstance.
        self.transport = transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        self.addr = _address(peer)
        self.laddr = _address(sock)
        if isinstance(sock, str) and sock:  # a unix socket: Redis shows "path:0" for both
            self.addr = self.laddr = f"{sock}:0"
            self.unix = True
        server = self.server
        if len(server.clients) >= server.config.maxclients:
            server.stats.rejected_connections += 1
            transport.write(b"-ERR max number of clients reached\r\n")
            self.closing = True
            transport.close()
            return
        server.clients[self.id] = self
        server.stats.connections += 1
        # MONITOR or CLIENT PAUSE may have come between __init__ and now.
        self.update_gate()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.outbuf = None
        self.server.forget(self)
        if self.watched:
            from .commands.transactions import unwatch_all

            unwatch_all(self)
        if self.subscriptions or self.psubscriptions or self.ssubscriptions:
            from .commands.pubsub import unsubscribe_all

            unsubscribe_all(self)
        if self.monitor:
            from .commands.monitor import stop_monitoring

            stop_monitoring(self)
        if self.tracking is not None:
            self.server.untrack(self)

    def pause_writing(self) -> None:
        # The client is not reading its replies: stop reading its requests until
        # the transport's buffer drains, so a flood cannot grow it without bound.
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.closing:
            self.transport.resume_reading()

    def close(self) -> None:
        """Close after the replies written so far are flushed."""
        self.closing = True
        self.flush()
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Close now, dropping unsent replies (CLIENT KILL, a stuck subscriber)."""
        self.closing = True
        self.outbuf = None
        if self.transport is not None:
            self.transport.abort()

    # ------------------------------------------------------------ requests
    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        server = self.server
        if (self.parser is not None or self._locked or self.blocked is not None
                or len(data) > server.config.proto_max_bulk_len):
            # (A blocked client's requests wait in the exact parser behind the
            # blocking command, which was the last of its read.)
            self._slow(data)
            return
        if data[0] == 42:
            if data[2:5] == b"\r\n$" and not self.gated and data.find(data[:5], 5) > 0:
                out: list[bytes] = []
                if run_uniform(self, data, out):
                    self._write(out)
                    return
            if data[1:8].isdigit() or not_for_fast_path(data):
                self._slow(data)
                return
            reqs, more = parse_requests(self.reader, data)
        elif data[-1] == 10 and len(data) <= INLINE_MAX and not not_for_inline(data):
            # Whole inline lines that bytes.split() splits as sdssplitargs does.
            lines = data.split(b"\n")
            lines.pop()  # the nothing after the last newline
            reqs = [line.split() for line in lines]
            more = False
        else:
            self._slow(data)
            return
        out = []
        if len(reqs) > 1 and not self.gated and run_batch(self, reqs, out):
            done = len(reqs)
        else:
            done = self._run_each(reqs, out)
        server.stats.commands += done
        self.last_active = time.monotonic()
        last = reqs[done - 1] if done else None
        if last:
            self.last_command = last
        if not self.closing and (more or done < len(reqs)):
            # Not at a request boundary, stopped early, or hiredis balked: the
            # exact parser re-reads this read, skipping the requests already run.
            self.reader = hiredis.Reader()
            self.parser = parser = self._new_parser()
            parser.feed(data)
            try:
                for _ in range(done):
                    parser.gets()
            except ProtocolError as exc:
                self._protocol_error(exc, out)
            else:
                if self.blocked is None:
                    self._run_parser(out)
        if out:
            self._write(out)

    def _run_each(self, reqs: list[Any], out: list[bytes]) -> int:
        """Run ``reqs`` one by one into ``out``; how many ran."""
        server = self.server
        dispatch = server.dispatch
        ready = server.ready_keys
        append = out.append
        skip = 0
        it = iter(reqs)
        for req in it:
            try:
                entry = dispatch[req[0]]
            except KeyError:
                found = dispatch.get(req[0].upper())
                if found is None:
                    append(self._special(req, None))
                    continue
                entry = found
            except IndexError:
                if req.__class__ is list:
                    continue  # ``*0``: Redis ignores an empty request
                skip = 1  # a bulk string alone: Redis reads it as an inline command
                break
            if entry.lo <= len(req) <= entry.hi and not self.gated:
                try:
                    append(entry.handler(self, req))
                except CommandError as exc:
                    append(exc.reply())
                except Blocked:
                    break
                except Exception as exc:  # a bug: answer, log, keep serving
                    append(internal_error(req, exc))
            else:
                try:
                    append(self._special(req, entry))
                except Blocked:
                    break
            if ready:
                server.serve_blocked()
            if self.closing:
                break
        return len(reqs) - length_hint(it) - skip

    def _new_parser(self) -> RequestParser:
        parser = RequestParser(self.server.config.proto_max_bulk_len)
        parser.auth_required = self.locked
        return parser

    def _slow(self, data: bytes) -> None:
        parser = self.parser
        if parser is None:
            self.parser = parser = self._new_parser()
        parser.feed(data)
        if parser.pending() > self.server.config.client_query_buffer_limit:
            log.warning("closing client %s that reached max query buffer length", self.addr)
            self.close()
            return
        out: list[bytes] = []
        self.last_active = time.monotonic()
        if self.blocked is None:
            self._run_parser(out)
        if out:
            self._write(out)

    def _run_parser(self, out: list[bytes]) -> None:
        """Run the requests the slow parser holds; back to fast mode when it is empty."""
        parser = self.parser
        assert parser is not None
        server = self.server
        try:
            while not self.closing and self.blocked is None:
                parser.auth_required = self.locked
                req = parser.gets()
                if req is None:
                    break
                if not req:
                    continue
                server.stats.commands += 1
                self.last_command = req
                out.append(self.execute(req))
                if server.ready_keys:
                    server.serve_blocked()
        except ProtocolError as exc:
            self._protocol_error(exc, out)
            return
        except Blocked:
            pass
        if parser.idle() and self.blocked is None:
            self.parser = None

    def _protocol_error(self, exc: ProtocolError, out: list[bytes]) -> None:
        log.info("protocol error from client %s: %s", self.addr, exc)
        out.append(error(f"ERR Protocol error: {exc}"))
        self.closing = True

    def _write(self, out: list[bytes]) -> None:
        """Queue the replies ``out`` (the list is kept: callers pass a new one)."""
        aof = self.server.aof
        if aof is not None and aof.buf:
            # Commands are waiting to be written to the AOF (and fsynced): the
            # reply goes out after them, in the same loop turn (aof.flush).
            aof.defer(self, out[0] if len(out) == 1 else b"".join(out))
            return
        if self.outbuf is not None:
            self.outbuf += out
        elif len(self.server.clients) > 1:
            self.outbuf = out
            self.server.write_later(self)
        else:  # no other connection to answer in this turn: waiting gains nothing
            self.outbuf = out
            self.flush()

    def send(self, data: bytes) -> None:
        """Queue ``data`` (a pub/sub message, a MONITOR line, a deferred reply)
        behind this connection's replies so far."""
        if self.outbuf is None:
            self.outbuf = [data]
            self.server.write_later(self)
        else:
            self.outbuf.append(data)

    def flush(self) -> None:
        """Write the queued output in one write (``Server.write_pending``); close
        the transport after it when the connection is closing."""
        out = self.outbuf
        if out is None:
            return
        self.outbuf = None
        transport = self.transport
        if transport is None or self.closed:
            return
        transport.write(out[0] if len(out) == 1 else b"".join(out))
        if self.closing:
            transport.close()

    def execute(self, req: list[bytes]) -> bytes:
        """Run one request and return its encoded reply (raises ``Blocked``)."""
        dispatch = self.server.dispatch
        entry = dispatch.get(req[0])
        if entry is None:
            entry = dispatch.get(req[0].upper())
        if entry is None or not entry.lo <= len(req) <= entry.hi or self.gated:
            return self._special(req, entry)
        return self._call(req, entry)

    def _special(self, req: list[bytes], entry: Entry | None) -> bytes:
        """Everything off the hot path (``gate.special``)."""
        return special(self, req, entry)

    def _call(self, req: list[bytes], entry: Entry) -> bytes:
        return call(self, req, entry)

    # ------------------------------------------------------------ blocking
    def unblock(self, reply: bytes) -> None:
        """Answer a parked blocking command; queued requests run on the next turn."""
        self.blocked = None
        if self.closing or self.transport is None:
            return
        if not self.reply_off:
            self._write([reply])
        if self.parser is not None:
            asyncio.get_running_loop().call_soon(self._resume)

    def run_held(self, waiter: Any) -> None:
        """Run the request a pause held (``pause.unpause``), then the ones
        queued behind it."""
        if self.blocked is not waiter or self.closing or self.transport is None:
            return
        self.blocked = None
        try:
            self._write([self.execute(waiter.argv)])
        except Blocked:  # a blocking command that now waits for its keys
            return
        finally:
            if self.server.ready_keys:  # it pushed: serve the waiters now
                self.server.serve_blocked()
        if self.parser is not None and self.blocked is None:
            self._resume()

    def _resume(self) -> None:
        if self.closing or self.blocked is not None or self.parser is None:
            return
        out: list[bytes] = []
        self._run_parser(out)
        if out:
            self._write(out)

    # ---------------------------------------------------------------- state
    @property
    def multi(self) -> list[list[bytes]] | None:
        """Commands queued since MULTI, ``None`` outside a transaction."""
        return self._multi

    @multi.setter
    def multi(self, value: list[list[bytes]] | None) -> None:
        self._multi = value
        self.update_gate()

    @property
    def locked(self) -> bool:
        """True until the client authenticates, when a password is required."""
        return self._locked

    @locked.setter
    def locked(self, value: bool) -> None:
        self._locked = value
        self.update_gate()

    @property
    def subscribed(self) -> bool:
        """In RESP2 pub/sub mode: only (un)subscribe, PING, QUIT and RESET are allowed."""
        return not self.resp3 and bool(self.subscriptions or self.psubscriptions
                                       or self.ssubscriptions)

    def update_gate(self) -> None:
        """Recompute ``gated`` after MULTI, AUTH, (UN)SUBSCRIBE, HELLO, MONITOR,
        CLIENT TRACKING (whose reads are remembered, off the hot path), CLIENT
        REPLY, a change of the ACL user's rules (checked off the hot path) or
        CLIENT PAUSE/UNPAUSE (``pause.holds`` decides off the hot path)."""
        self.gated = (self._locked or self._multi is not None or self.subscribed
                      or bool(self.server.monitors) or self.tracking is not None
                      or self.muted or self.user.restricted or self.server.pause is not None)

    def select(self, index: int) -> None:
        self.db = self.server.keyspace[index]

    def set_protocol(self, version: int) -> None:
        self.protocol = version
        self.resp3 = version == 3
        self.nil = NIL3 if self.resp3 else NIL2
        self.update_gate()


def _address(value: Any) -> str:
    if isinstance(value, tuple) and len(value) >= 2:
        host = value[0]
        return f"[{host}]:{value[1]}" if ":" in host else f"{host}:{value[1]}"
    return str(value or "")
