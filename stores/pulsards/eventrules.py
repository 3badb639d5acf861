"""Which keyspace events a write publishes (``notify-keyspace-events``): the
event classes, the option's letters, and ``RULES``: by command, the events
its changed keys announce, as Redis' command code calls notifyKeyspaceEvent.

A rule gets the client, the arguments and the keys the command changed (in
the order first changed) and returns the events, each ``(class, name,
database, key)``; ``notify.Events`` publishes them.  Most rules are "this
event for every changed key"; a container emptied by a removal adds ``del``;
a STORE whose result was empty is only a ``del``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .keyspace import Database
    from .protocol import Client

__all__ = ["ALL", "EXPIRED", "GENERIC", "KEYEVENT", "KEYSPACE", "KEY_MISS", "NEW", "RULES",
           "STREAM", "Changed", "Event", "Places", "Rule", "flags_text", "parse_flags"]

# Redis' bits (server.h NOTIFY_*).
KEYSPACE: Final = 1 << 0
KEYEVENT: Final = 1 << 1
GENERIC: Final = 1 << 2
STRING: Final = 1 << 3
LIST: Final = 1 << 4
SET: Final = 1 << 5
HASH: Final = 1 << 6
ZSET: Final = 1 << 7
EXPIRED: Final = 1 << 8
EVICTED: Final = 1 << 9
STREAM: Final = 1 << 10
KEY_MISS: Final = 1 << 11
MODULE: Final = 1 << 13
NEW: Final = 1 << 14
ALL: Final = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE

_CLASSES: Final = {
    "g": GENERIC, "$": STRING, "l": LIST, "s": SET, "h": HASH, "z": ZSET, "x": EXPIRED,
    "e": EVICTED, "t": STREAM, "d": MODULE, "n": NEW, "K": KEYSPACE, "E": KEYEVENT,
    "m": KEY_MISS, "A": ALL,
}


def parse_flags(text: str) -> int:
    """The bits of a ``notify-keyspace-events`` value; ValueError on a stranger."""
    flags = 0
    for char in text:
        bit = _CLASSES.get(char)
        if bit is None:
            raise ValueError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
        flags |= bit
    return flags


def flags_text(flags: int) -> str:
    """``CONFIG GET``'s spelling of ``flags`` (Redis' keyspaceEventsFlagsToString)."""
    if flags & ALL == ALL:
        text = "A"
    else:
        text = "".join(char for char in "g$lshzxetdn" if flags & _CLASSES[char])
    return text + "".join(char for char in "KEm" if flags & _CLASSES[char])


# One event: (class, name, database, key).
Event = tuple[int, bytes, "Database", bytes]
Changed = list[tuple["Database", bytes]]
# (database, key) -> whether it is only "new" with an event of its own (a
# RENAME destination that existed), in order.
Places = dict[tuple["Database", bytes], bool]
Rule = Callable[["Client", list[bytes], Changed], list[Event]]


# ------------------------------------------------------------------ rules
def each(cls: int, name: str) -> Rule:
    """``name`` for every key the command changed."""
    event = name.encode()
    return lambda c, args, changed: [(cls, event, db, key) for db, key in changed]


def popping(cls: int, name: str) -> Rule:
    """``name`` for every changed key, then ``del`` for one the command emptied."""
    event = name.encode()

    def rule(c: Client, args: list[bytes], changed: Changed) -> list[Event]:
        events: list[Event] = []
        for db, key in changed:
            events.append((cls, event, db, key))
            if key not in db.data:
                events.append((GENERIC, b"del", db, key))
        return events

    return rule


def storing(cls: int, name: str) -> Rule:
    """``name`` for the destination, or ``del`` when the result was empty."""
    event = name.encode()
    return lambda c, args, changed: [
        (cls, event, db, key) if key in db.data else (GENERIC, b"del", db, key)
        for db, key in changed]


def _set(c: Client, args: list[bytes], changed: Changed) -> list[Event]:
    expires = any(arg.upper() in (b"EX", b"PX", b"EXAT", b"PXAT") for arg in args[3:])
    events: list[Event] = []
    for db, key in changed:
        events.append((STRING, b"set", db, key))
        if expires:
            events.append((GENERIC, b"expire", db, key))
    return events


def _mset(c: Client, args: list[bytes], changed: Changed) -> list[Event]:
    """A ``set`` per pair, a key given twice announced twice, as Redis does."""
    return [(STRING, b"set", c.db, key) for key in args[1::2]]


def _setex(c: Client, args: list[bytes], changed: Changed) -> list[Event]:
    return [event for db, key in changed
            for event in ((STRING, b"set", db, key), (GENERIC, b"expire", db, key))]


def _getex(c: Client, args: list[bytes], changed: Changed) -> list[Event]:
    options = {arg.upper() for arg in args[2:]}
    name = b"persist" if b"PERSIST" in options else b"expire"
    return [(GENERIC, name if key in db.data else b"del", db, key) for db, key in changed]


def _expire(c: Client, args: list[bytes], changed: Changed) -> list[Event]:
    # A deadline already past deletes the key.
    return [(GENERIC, b"expire" if key in db.data else b"del", db, key) for db, key in changed]


def _by_position(names: dict[int, bytes], cls: int) -> Rule:
    """An event per argument position of the changed key (RENAME's from/to)."""
    def rule(c: Client, args: list[bytes], changed: Changed) -> list[Event]:
        events: list[Event] = []
        for index in sorted(names):
            for db, key in changed:
                if key == args[index] and (db is c.db or index > 1):
                    events.append((cls, names[index], db, key))
                    break
        return events

    return rule


def _move(c: Client, args: list[bytes], changed: Changed) -> list[Event]:
    mine = [(GENERIC, b"move_from", db, key) for db, key in changed if db is c.db]
    theirs = [(GENERIC, b"move_to", db, key) for db, key in changed if db is not c.db]
    return mine + theirs


def _side(arg: bytes) -> bytes:
    return b"l" if arg.upper() == b"LEFT" else b"r"


def _list_move(c: Client, args: list[bytes], changed: Changed) -> list[Event]:
    """LMOVE/BLMOVE/RPOPLPUSH/BRPOPLPUSH: the push, then the pop (and its del)."""
    name = args[0].upper()
    if name in (b"RPOPLPUSH", b"BRPOPLPUSH"):
        source, target = b"r", b"l"
    else:
        source, target = _side(args[3]), _side(args[4])
    src, dst = args[1], args[2]
    events: list[Event] = []
    db = c.db
    if dst in db.data and (db, dst) in changed:
        events.append((LIST, target + b"push", db, dst))
    if (db, src) in changed:
        events.append((LIST, source + b"pop", db, src))
        if src not in db.data:
            events.append((GENERIC, b"del", db, src))
    return events


def _mpop(cls: int, left: bytes, right: bytes, first_key: int) -> Rule:
    """LMPOP/ZMPOP and their blocking forms: the side comes after the keys."""
    def rule(c: Client, args: list[bytes], changed: Changed) -> list[Event]:
        numkeys = int(args[first_key - 1])
        side = args[first_key + numkeys].upper()
        return popping(cls, (left if side in (b"LEFT", b"MIN") else right).decode())(
            c, args, changed)

    return rule


def _smove(c: Client, args: list[bytes], changed: Changed) -> list[Event]:
    db = c.db
    src, dst = args[1], args[2]
    events: list[Event] = []
    if (db, src) in changed:
        events.append((SET, b"srem", db, src))
        if src not in db.data:
            events.append((GENERIC, b"del", db, src))
    if (db, dst) in changed and src != dst:
        events.append((SET, b"sadd", db, dst))
    return events


def _zadd(c: Client, args: list[bytes], changed: Changed) -> list[Event]:
    name = b"zincr" if any(arg.upper() == b"INCR" for arg in args[2:]) else b"zadd"
    return [(ZSET, name, db, key) for db, key in changed]


_STORE: Final = {
    "sinterstore": SET, "sunionstore": SET, "sdiffstore": SET, "zunionstore": ZSET,
    "zinterstore": ZSET, "zdiffstore": ZSET, "zrangestore": ZSET, "geosearchstore": ZSET,
}

RULES: Final[dict[str, Rule]] = {
    # strings
    "set": _set, "setnx": each(STRING, "set"), "setex": _setex, "psetex": _setex,
    "getset": each(STRING, "set"), "mset": _mset, "msetnx": _mset,
    "append": each(STRING, "append"), "setrange": each(STRING, "setrange"),
    "incr": each(STRING, "incrby"), "decr": each(STRING, "incrby"),
    "incrby": each(STRING, "incrby"), "decrby": each(STRING, "incrby"),
    "incrbyfloat": each(STRING, "incrbyfloat"), "getdel": each(GENERIC, "del"),
    "getex": _getex, "setbit": each(STRING, "setbit"), "bitfield": each(STRING, "setbit"),
    "bitop": storing(STRING, "set"), "pfadd": each(STRING, "pfadd"),
    "pfmerge": each(STRING, "pfadd"),
    # keys
    "del": each(GENERIC, "del"), "unlink": each(GENERIC, "del"),
    "rename": _by_position({1: b"rename_from", 2: b"rename_to"}, GENERIC),
    "renamenx": _by_position({1: b"rename_from", 2: b"rename_to"}, GENERIC),
    "copy": _by_position({2: b"copy_to"}, GENERIC), "move": _move,
    "expire": _expire, "pexpire": _expire, "expireat": _expire, "pexpireat": _expire,
    "persist": each(GENERIC, "persist"), "sort": storing(LIST, "sortstore"),
    "restore": storing(GENERIC, "restore"), "restore-asking": storing(GENERIC, "restore"),
    "migrate": each(GENERIC, "del"),
    # lists
    "lpush": each(LIST, "lpush"), "lpushx": each(LIST, "lpush"),
    "rpush": each(LIST, "rpush"), "rpushx": each(LIST, "rpush"),
    "linsert": each(LIST, "linsert"), "lset": each(LIST, "lset"),
    "lpop": popping(LIST, "lpop"), "rpop": popping(LIST, "rpop"),
    "blpop": popping(LIST, "lpop"), "brpop": popping(LIST, "rpop"),
    "lrem": popping(LIST, "lrem"), "ltrim": popping(LIST, "ltrim"),
    "lmove": _list_move, "blmove": _list_move, "rpoplpush": _list_move,
    "brpoplpush": _list_move, "lmpop": _mpop(LIST, b"lpop", b"rpop", 2),
    "blmpop": _mpop(LIST, b"lpop", b"rpop", 3),
    # hashes
    "hset": each(HASH, "hset"), "hmset": each(HASH, "hset"), "hsetnx": each(HASH, "hset"),
    "hdel": popping(HASH, "hdel"), "hincrby": each(HASH, "hincrby"),
    "hincrbyfloat": each(HASH, "hincrbyfloat"),
    # sets
    "sadd": each(SET, "sadd"), "srem": popping(SET, "srem"), "spop": popping(SET, "spop"),
    "smove": _smove,
    # sorted sets
    "zadd": _zadd, "zincrby": each(ZSET, "zincr"), "zrem": popping(ZSET, "zrem"),
    "zremrangebyscore": popping(ZSET, "zremrangebyscore"),
    "zremrangebyrank": popping(ZSET, "zremrangebyrank"),
    "zremrangebylex": popping(ZSET, "zremrangebylex"),
    "zpopmin": popping(ZSET, "zpopmin"), "zpopmax": popping(ZSET, "zpopmax"),
    "bzpopmin": popping(ZSET, "zpopmin"), "bzpopmax": popping(ZSET, "zpopmax"),
    "zmpop": _mpop(ZSET, b"zpopmin", b"zpopmax", 2),
    "bzmpop": _mpop(ZSET, b"zpopmin", b"zpopmax", 3),
    "geoadd": each(ZSET, "zadd"), "georadius": storing(ZSET, "georadiusstore"),
    "georadiusbymember": storing(ZSET, "georadiusstore"),
    # streams
    "xadd": each(STREAM, "xadd"), "xtrim": each(STREAM, "xtrim"), "xdel": each(STREAM, "xdel"),
    # Announces xgroup-create itself; wrapped for the "new" of MKSTREAM's stream.
    "xgroup|create": lambda c, args, changed: [],
    **{name: storing(cls, name) for name, cls in _STORE.items()},
}
