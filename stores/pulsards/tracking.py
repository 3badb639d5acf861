"""Client-side caching: the invalidation messages of CLIENT TRACKING.

Rules (Redis 7.0's):

* Default mode: the keys a tracking client reads (read-only commands) are
  remembered, key -> client ids, in one table for all databases.  The first
  change to a key, or its expiry, sends ``invalidate [key]`` to each of those
  clients and forgets the key.  OPTIN remembers only the reads of the command
  (or transaction) after ``CLIENT CACHING yes``; OPTOUT all but those after
  ``CLIENT CACHING no``.
* BCAST: nothing is remembered; the keys changed under one of the client's
  prefixes (every key without a prefix) are sent once per loop turn, one
  message per prefix.
* NOLOOP: a client is not told of its own changes.
* A message goes to the client, or to its REDIRECT client: a RESP3 push, or
  to a RESP2 client in pub/sub mode a message on ``__redis__:invalidate``.
  A client whose redirect client is gone gets one ``tracking-redir-broken``.
* FLUSHDB and FLUSHALL send ``invalidate`` with a null (everything) to every
  tracking client; FLUSHALL also empties the table.
* The client running the command gets its own messages after the command's
  reply (after EXEC's, a script's), as Redis 7.0 defers them.

``Tracking`` exists while at least one client tracks; it observes the
keyspace (``Database.observers``) like keyspace events do, and tracking
clients are gated, so their commands run through ``Tracking.run``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from .reply import bulk

if TYPE_CHECKING:
    from .keyspace import Database
    from .protocol import Client
    from .server import Server
    from .table import Entry

__all__ = ["Mode", "Tracking"]

_INVALIDATE: Final = b">2\r\n$10\r\ninvalidate\r\n"
_CHANNEL_MESSAGE: Final = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"
# Read-only commands whose own reads are not the caller's: their commands are.
_NOT_TRACKED: Final = frozenset({"eval_ro", "evalsha_ro", "fcall_ro"})


class Mode:
    """One client's CLIENT TRACKING options."""

    __slots__ = ("bcast", "broken", "noloop", "optin", "optout", "prefixes", "redirect")

    def __init__(self) -> None:
        self.bcast = self.optin = self.optout = self.noloop = False
        self.broken = False  # the redirect client went away (told once)
        self.redirect = 0
        self.prefixes: set[bytes] = set()

    def flags(self, caching: bool) -> list[str]:
        """CLIENT TRACKINGINFO's flags after ``on``."""
        names = ["bcast"] * self.bcast
        if self.optin:
            names += ["optin"] + ["caching-yes"] * caching
        if self.optout:
            names += ["optout"] + ["caching-no"] * caching
        return names + ["noloop"] * self.noloop + ["broken_redirect"] * self.broken


class Tracking:
    """The server's tracking table and BCAST prefixes."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.table: dict[bytes, set[int]] = {}
        self.prefixes: dict[bytes, set[int]] = {}  # BCAST: prefix -> client ids
        self.clients = 0
        # The client whose command is running and the messages it gets after
        # the reply.
        self.writer: Client | None = None
        self.pending: list[bytes] = []
        # BCAST: prefix -> keys changed in this loop turn -> the client that did.
        self._broadcast: dict[bytes, dict[bytes, Client | None]] = {}
        self._scheduled = False

    # ------------------------------------------------------------ clients
    def enable(self, c: Client, mode: Mode, prefixes: list[bytes]) -> None:
        if c.tracking is None:
            self.clients += 1
        else:
            mode.prefixes = c.tracking.prefixes  # re-enabling keeps the old ones
        c.tracking = mode
        if mode.bcast:
            for prefix in prefixes or [b""]:
                mode.prefixes.add(prefix)
                self.prefixes.setdefault(prefix, set()).add(c.id)

    def disable(self, c: Client) -> None:
        mode = c.tracking
        if mode is None:
            return
        for prefix in mode.prefixes:
            ids = self.prefixes.get(prefix)
            if ids is not None:
                ids.discard(c.id)
                if not ids:
                    del self.prefixes[prefix]
        c.tracking = None
        c.caching = False
        self.clients -= 1

    # ------------------------------------------------------------ commands
    def run(self, c: Client, req: list[bytes], entry: Entry,
            call: Callable[[Client, list[bytes], Entry], bytes]) -> bytes:
        """Run a command of a gated client: remember what a tracking client
        read, and send the runner its own messages after the reply."""
        if self.writer is c:  # a command of its EXEC: the outer run sends
            reply = call(c, req, entry)
            self.remember(c, entry, req)
            return reply
        outer, outer_pending = self.writer, self.pending
        self.writer, self.pending = c, []
        try:
            reply = call(c, req, entry)
            self.remember(c, entry, req)
            if self.pending:
                reply += b"".join(self.pending)
            return reply
        finally:
            self.writer, self.pending = outer, outer_pending
            if not entry.name.startswith("client"):
                c.caching = False  # CLIENT CACHING lasts for one command or EXEC

    def remember(self, c: Client, entry: Entry, req: list[bytes]) -> None:
        """Remember the keys a tracking client's read-only command read."""
        from ..redis.commands import find_keys

        mode = c.tracking
        if mode is None or mode.bcast or "readonly" not in entry.spec.flags \
                or entry.name in _NOT_TRACKED:
            return
        if (mode.optin and not c.caching) or (mode.optout and c.caching):
            return
        table = self.table
        for i in find_keys(entry.spec, req) or ():
            table.setdefault(req[i], set()).add(c.id)
        limit = self.server.config.tracking_table_max_keys
        while limit and len(table) > limit:  # the oldest keys go, invalidated
            self._forget(next(iter(table)))

    # ------------------------------------------------------------ changes
    def _forget(self, key: bytes) -> None:
        """Tell the clients that read ``key`` it changed; forget who they were."""
        clients = self.server.clients
        for cid in self.table.pop(key, ()):
            client = clients.get(cid)
            if client is not None and client.tracking is not None and not client.tracking.bcast:
                self._send(client, [key])

    def changed(self, db: Database, key: bytes) -> None:
        """A key changed or expired."""
        if key in self.table:
            self._forget(key)
        if not self.prefixes:
            return
        batches = self._broadcast
        for prefix in self.prefixes:
            if key.startswith(prefix):
                batches.setdefault(prefix, {})[key] = self.writer
        if batches and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._send_broadcast)

    expired = changed

    def _send_broadcast(self) -> None:
        """BCAST: one message per prefix with the keys changed in this loop turn
        (sorted, as Redis' radix tree lists them), as Redis sends in beforeSleep."""
        self._scheduled = False
        batches, self._broadcast = self._broadcast, {}
        clients = self.server.clients
        for prefix in sorted(batches):
            changed = batches[prefix]
            for cid in sorted(self.prefixes.get(prefix, ())):
                client = clients.get(cid)
                if client is None or client.tracking is None:
                    continue
                noloop = client.tracking.noloop
                keys = sorted(key for key, writer in changed.items()
                              if not noloop or writer is not client)
                if keys:
                    self._send(client, keys)

    def flushed(self, everything: bool) -> None:
        """FLUSHDB (``everything`` False) or FLUSHALL ran."""
        for client in list(self.server.clients.values()):
            if client.tracking is not None:
                self._send(client, None)
        if everything:
            self.table.clear()

    def _send(self, client: Client, keys: list[bytes] | None) -> None:
        mode = client.tracking
        assert mode is not None
        if mode.noloop and client is self.writer:
            return
        target = client
        if mode.redirect:
            found = self.server.clients.get(mode.redirect)
            if found is None:
                if not mode.broken:
                    mode.broken = True
                    if client.protocol == 3:
                        self._deliver(client, b">2\r\n$21\r\ntracking-redir-broken\r\n:%d\r\n"
                                      % mode.redirect)
                return
            target = found
        if keys is not None:
            body = b"*%d\r\n" % len(keys) + b"".join(map(bulk, keys))
        else:  # everything, as a null of the tracking client's protocol
            body = b"_\r\n" if client.protocol == 3 else b"$-1\r\n"
        if target.protocol == 3:
            self._deliver(target, _INVALIDATE + body)
        elif mode.redirect and (target.subscriptions or target.psubscriptions):
            self._deliver(target, _CHANNEL_MESSAGE + body)
        # A RESP2 client without a redirect cannot be told anything.

    def _deliver(self, target: Client, message: bytes) -> None:
        from .commands.pubsub import deliver

        deliver(self.writer, target, message, self.pending)

    # ------------------------------------------------------------ INFO
    def items(self) -> int:
        return sum(len(ids) for ids in self.table.values())
