"""Keyspace events (``notify-keyspace-events``): pub/sub messages about writes.

As Redis, a write publishes its event to ``__keyspace@<db>__:<key>`` (the
message is the event name, with ``K``) and to ``__keyevent@<db>__:<event>``
(the message is the key, with ``E``), for the classes of events enabled
(``g$lshzxetdnm``, ``A`` for ``g$lshzxetd``).

Nothing here runs while the option is empty.  When it is set, ``Events.wrap``
wraps the handler of every command that has a rule in ``eventrules.RULES``
(``Server.rewire``), and every database calls ``Events.changed`` from
``Database.touch``, the call each write already makes for WATCH.  So the
wrapper learns which keys the command changed, in order, and the command's
rule names the events, as Redis' command code does.  Expiries publish
``expired`` from the keyspace's hook.  Blocking commands served later are
wrapped the same way around the serve.  Stream groups' changes, which Redis
does not signal to WATCH, publish their events where they happen
(``publish_event``).  With ``m`` the commands that read keys are wrapped
too: the keys they looked up and did not find publish ``keymiss`` before
the command's own events.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Final

from .eventrules import (
    EXPIRED,
    KEY_MISS,
    KEYEVENT,
    KEYSPACE,
    NEW,
    RULES,
    Changed,
    Event,
    Places,
    Rule,
)
from .reply import Blocked, CommandError

if TYPE_CHECKING:
    from .keyspace import Database
    from .protocol import Client
    from .server import Server, Waiter
    from .table import Entry, Handler

__all__ = ["Events", "publish_event"]


class _Command:
    """What one running command changed, and the events it announced itself."""

    __slots__ = ("changes", "later")

    def __init__(self) -> None:
        self.changes: Changed = []
        self.later: list[Event] = []


class Events:
    """A server's keyspace events while ``notify-keyspace-events`` is not empty."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.flags = 0
        self._current: _Command | None = None  # the command running, if wrapped

    def changed(self, db: Database, key: bytes) -> None:
        """``Database.touch``: a command changed ``key``."""
        if self._current is not None:
            self._current.changes.append((db, key))

    def announce(self, cls: int, name: bytes, db: Database, key: bytes) -> None:
        """An event a command publishes itself: after its rule's events."""
        if self._current is not None:
            self._current.later.append((cls, name, db, key))
        else:
            self.publish(cls, name, db, key)

    def expired(self, db: Database, key: bytes) -> None:
        self.publish(EXPIRED, b"expired", db, key)

    def wrap(self, entry: Entry, handler: Handler) -> Handler:
        """``handler`` publishing the events of what it changed (when it can
        write), and of the keys it missed (when ``m`` is on and it reads)."""
        rule = RULES.get(entry.name)
        reads = _reads(entry) if self.flags & KEY_MISS else None
        if rule is None and reads is None:
            return handler
        new_first = entry.name in _NEW_FIRST

        def notifying(c: Client, args: list[bytes]) -> bytes:
            absent = self._absent(c, entry, args) if self.flags & NEW else None
            db = c.db
            missed = [key for key in reads(args) if key not in db.data or db.is_expired(key)
                      ] if reads is not None else []
            with self._command() as current:
                try:
                    reply = handler(c, args)
                except Blocked:
                    c.blocked.argv = args  # served later: serve() publishes then
                    raise
                except BaseException:
                    self._missed(db, _misses_before_error(entry.name, args, missed))
                    self._finish(current, rule, c, args, absent, new_first)
                    raise
                # Redis announces a miss as it looks the key up: before the
                # command's events, and only up to an error found later.
                self._missed(db, missed if reply[:1] != b"-"
                             else _misses_before_error(entry.name, args, missed))
                self._finish(current, rule, c, args, absent, new_first)
                return reply

        return notifying

    def serve(self, waiter: Waiter, db: Database, key: bytes) -> bytes | None:
        """Serve a parked blocking command, publishing what the serve changed."""
        argv = waiter.argv or [b""]
        rule = RULES.get(argv[0].decode("ascii", "replace").lower())
        with self._command() as current:
            try:
                return waiter.serve(db, key)
            finally:
                self._finish(current, rule, waiter.client, argv, None)

    def _missed(self, db: Database, keys: Iterable[bytes]) -> None:
        for key in keys:
            self.publish(KEY_MISS, b"keymiss", db, key)

    @contextlib.contextmanager
    def _command(self) -> Iterator[_Command]:
        outer = self._current
        self._current = current = _Command()
        try:
            yield current
        finally:
            self._current = outer

    def _finish(self, current: _Command, rule: Rule | None, c: Client, args: list[bytes],
                absent: Places | None, new_first: bool = False) -> None:
        """Publish what the command did: its rule's events, then its own."""
        events = rule(c, args, _unique(current.changes)) if current.changes and rule else []
        if events or current.later or absent:
            self._publish_all(events + current.later, absent, new_first)

    def _absent(self, c: Client, entry: Entry, args: list[bytes]) -> Places:
        """(database, key) of the keys the command may add (``new``): its keys that
        are missing before it runs, and the destination of RENAME, COPY and
        RESTORE, which Redis deletes and adds again when it exists."""
        from ..redis.commands import find_keys

        db = c.db
        keys = [args[i] for i in find_keys(entry.spec, args) or () if i < len(args)]
        places = [(db, key) for key in keys]
        added: Places = {}
        upper = [arg.upper() for arg in args]
        name = entry.name
        if name == "sort" and b"STORE" in upper[2:-1]:  # not in SORT's key specs
            places.append((db, args[upper.index(b"STORE", 2) + 1]))
        elif name == "move":
            other = self._db(args[2])
            if other is not None:
                places.append((other, args[1]))
        elif name in ("rename", "renamenx", "copy") and args[1] != args[2]:
            other = self._db(args[upper.index(b"DB", 3) + 1]) if b"DB" in upper[3:-1] else db
            if other is not None:
                added[(other, args[2])] = True
        elif name in ("restore", "restore-asking"):
            added[(db, args[1])] = True
        for where, key in places:
            if key not in where.data or where.is_expired(key):
                added[(where, key)] = False
        return added

    def _db(self, arg: bytes) -> Database | None:
        """The database an argument names, None when it names none."""
        dbs = self.server.keyspace.dbs
        return dbs[int(arg)] if arg.isdigit() and int(arg) < len(dbs) else None

    def _publish_all(self, events: list[Event], absent: Places | None,
                     new_first: bool = False) -> None:
        """Publish ``events``, with ``new`` for the keys in ``absent`` that exist now:
        right before the key's first event (``new`` comes from dbAdd, as the
        command stores each key), before all of them with ``new_first``, and
        last for a key added without an event of its own (BITFIELD's that
        failed to write)."""
        absent = dict(absent or {})
        if new_first:
            for _, _, db, key in events:
                self._new(absent, db, key)
        for cls, name, db, key in events:
            self._new(absent, db, key)
            self.publish(cls, name, db, key)
        for (db, key), with_event in list(absent.items()):
            if not with_event:
                self._new(absent, db, key)

    def _new(self, absent: Places, db: Database, key: bytes) -> None:
        if (db, key) in absent and key in db.data:
            del absent[(db, key)]
            self.publish(NEW, b"new", db, key)

    def publish(self, cls: int, name: bytes, db: Database, key: bytes) -> None:
        """Publish one event, as Redis' notifyKeyspaceEvent."""
        from .commands.pubsub import publish_message

        flags = self.flags
        if not flags & cls:
            return
        if flags & KEYSPACE:
            publish_message(self.server, b"__keyspace@%d__:%s" % (db.index, key), name)
        if flags & KEYEVENT:
            publish_message(self.server, b"__keyevent@%d__:%s" % (db.index, name), key)


# Commands that add the key they announce second (RENAME's rename_to).
_NEW_FIRST: Final = frozenset({"rename", "renamenx", "move"})


def publish_event(db: Database, cls: int, name: bytes, key: bytes) -> None:
    """Publish an event the command's rule cannot name: a change ``touch`` does
    not report (a stream group's own state, which Redis announces without
    signalling WATCH), or one only the handler knows of (XADD's trim)."""
    if db.events is not None:
        db.events.announce(cls, name, db, key)


def _unique(changes: Changed) -> Changed:
    """Changed keys in the order first changed (a command may touch one twice)."""
    return list(dict.fromkeys((db, key) for db, key in changes))


# ------------------------------------------------------------------ misses
# Write commands that look keys up to read them (Redis' lookupKeyRead): the
# keys a miss is announced for.  Read-only commands announce all their keys.
_WRITES_THAT_READ: Final[dict[str, Callable[[list[bytes]], list[bytes]]]] = {
    **dict.fromkeys(("getdel", "getex", "getset", "copy", "sort", "georadius",
                     "georadiusbymember"), lambda args: args[1:2]),
    **dict.fromkeys(("zrangestore", "geosearchstore"), lambda args: args[2:3]),
    **dict.fromkeys(("sinterstore", "sunionstore", "sdiffstore"), lambda args: args[2:]),
    **dict.fromkeys(("zunionstore", "zinterstore", "zdiffstore"),
                    lambda args: args[3:3 + int(args[2])] if args[2].isdigit() else []),
    "bitop": lambda args: args[3:],
    **dict.fromkeys(("pfmerge", "pfcount"), lambda args: args[1:]),
    "set": lambda args: args[1:2] if any(a.upper() == b"GET" for a in args[3:]) else [],
    "bitfield": lambda args: [] if any(a.upper() in (b"SET", b"INCRBY") for a in args[2:])
    else args[1:2],
}
# Commands that answer an error for a missing key after looking it up.
_MISS_THEN_ERROR: Final = frozenset({"xinfo|stream", "xinfo|groups", "xinfo|consumers"})


def _misses_before_error(name: str, args: list[bytes], missed: list[bytes]) -> list[bytes]:
    """The misses Redis announced before the error a command answered: XINFO's
    key; XREAD and XREADGROUP look each stream up, then read its ID, until an ID
    is wrong (or, for XREADGROUP, a stream or its group is missing)."""
    if name in _MISS_THEN_ERROR:
        return missed
    if name not in ("xread", "xreadgroup") or not missed:
        return []
    upper = [arg.upper() for arg in args]
    if b"STREAMS" not in upper or (len(args) - upper.index(b"STREAMS") - 1) % 2:
        return []  # refused before any lookup
    at = upper.index(b"STREAMS") + 1
    count = (len(args) - at) // 2
    out = []
    for key, sid in zip(args[at:at + count], args[at + count:], strict=True):
        if key in missed:
            out.append(key)
            if name == "xreadgroup":
                break  # NOGROUP
        if sid not in (b"$", b">") and not _valid_id(sid):
            break
    return out


def _valid_id(text: bytes) -> bool:
    from .stream import parse_id

    try:
        parse_id(text, strict=True)
    except CommandError:
        return False
    return True
# Read-only commands that look nothing up themselves (a script's commands do).
_READ_NOTHING: Final = frozenset({"object|encoding", "object|freq", "object|idletime",
                                  "object|refcount", "memory|usage", "eval_ro", "evalsha_ro",
                                  "fcall_ro"})


def _reads(entry: Entry) -> Callable[[list[bytes]], list[bytes]] | None:
    """The keys ``entry`` reads, from its arguments (None: it reads none)."""
    from ..redis.commands import find_keys

    name = entry.name
    special = _WRITES_THAT_READ.get(name)
    if special is not None:
        return special
    reads_all = "readonly" in entry.spec.flags or name == "xreadgroup"  # a write that reads
    if not reads_all or name in _READ_NOTHING or not entry.spec.key_specs:
        return None
    spec = entry.spec
    passes = 2 if name == "xread" else 1  # XREAD looks its streams up twice

    def keys(args: list[bytes]) -> list[bytes]:
        return [args[i] for i in find_keys(spec, args) or () if i < len(args)] * passes

    return keys
