"""Generic key commands: DEL, EXISTS, TYPE, RENAME, COPY, MOVE, KEYS, SCAN,
RANDOMKEY, TOUCH, OBJECT, the EXPIRE family, TTL family and PERSIST."""

from __future__ import annotations

import copy
import random
import re
from collections import deque
from typing import TYPE_CHECKING, Any

from ..hll import is_hll
from ..keyspace import Database, now_ms, type_name
from ..reply import ONE, SYNTAX, ZERO, CommandError, bulk, bulks, help_reply, integer, simple
from ..stream import Stream
from ..table import command
from ..zset import ZSet
from .args import glob_matcher, to_int

if TYPE_CHECKING:
    from ..protocol import Client

__all__ = ["EMPTY_SCAN", "encoding_of", "parse_cursor", "scan_options"]

_NO_KEY = CommandError("ERR no such key")
_SAME = CommandError("ERR source and destination objects are the same")


@command("DEL")
def delete(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    removed = 0
    for key in args[1:]:
        if db.delete(key):
            removed += 1
    return b":%d\r\n" % removed


@command("UNLINK")
def unlink(c: Client, args: list[bytes]) -> bytes:
    return delete(c, args)


@command("EXISTS")
def exists(c: Client, args: list[bytes]) -> bytes:
    lookup = c.db.lookup
    return b":%d\r\n" % sum(1 for key in args[1:] if lookup(key) is not None)


@command("TOUCH")
def touch(c: Client, args: list[bytes]) -> bytes:
    return exists(c, args)


@command("TYPE")
def type_(c: Client, args: list[bytes]) -> bytes:
    value = c.db.lookup(args[1])
    return simple("none" if value is None else type_name(value))


def _move_value(src: Database, key: bytes, dst: Database, newkey: bytes,
                value: Any, keep: bool) -> None:
    when = src.get_expire(key)
    if not keep:
        src.remove(key)
        src.touch(key)
    dst.set(newkey, value)
    if when is not None:
        dst.set_expire(newkey, when)
    if type(value) in (deque, ZSet) and dst.on_ready is not None:  # blocked pops
        dst.on_ready(dst, newkey)


@command("RENAME")
def rename(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    src, dst = args[1], args[2]
    value = db.lookup(src)
    if value is None:
        raise _NO_KEY
    if src != dst:
        if db.lookup(dst) is not None:
            # Replaced, not a change of its own: the source is signalled first
            # (client tracking sends its invalidations in that order).
            db.drop(dst)
        _move_value(db, src, db, dst, value, keep=False)
    return b"+OK\r\n"


@command("RENAMENX")
def renamenx(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    src, dst = args[1], args[2]
    value = db.lookup(src)
    if value is None:
        raise _NO_KEY
    if db.lookup(dst) is not None:
        return ZERO
    if src != dst:
        _move_value(db, src, db, dst, value, keep=False)
    return ONE


def _db_arg(c: Client, arg: bytes) -> Database:
    index = to_int(arg)
    if not 0 <= index < len(c.server.keyspace):
        raise CommandError("ERR DB index is out of range")
    return c.server.keyspace[index]


@command("COPY")
def copy_(c: Client, args: list[bytes]) -> bytes:
    src_db = dst_db = c.db
    replace = False
    i = 3
    while i < len(args):
        option = args[i].upper()
        if option == b"REPLACE":
            replace = True
            i += 1
        elif option == b"DB" and i + 1 < len(args):
            dst_db = _db_arg(c, args[i + 1])
            i += 2
        else:
            raise SYNTAX
    src, dst = args[1], args[2]
    if src_db is dst_db and src == dst:
        raise _SAME
    value = src_db.lookup(src)
    if value is None:
        return ZERO
    if dst_db.lookup(dst) is not None:
        if not replace:
            return ZERO
        dst_db.delete(dst)
    _move_value(src_db, src, dst_db, dst, copy.copy(value), keep=True)
    return ONE


@command("MOVE")
def move(c: Client, args: list[bytes]) -> bytes:
    dst_db = _db_arg(c, args[2])
    src_db = c.db
    if dst_db is src_db:
        raise _SAME
    key = args[1]
    value = src_db.lookup(key)
    if value is None or dst_db.lookup(key) is not None:
        return ZERO
    _move_value(src_db, key, dst_db, key, value, keep=False)
    return ONE


@command("KEYS")
def keys(c: Client, args: list[bytes]) -> bytes:
    pattern = args[1]
    db = c.db
    if pattern == b"*":
        return bulks(db.live_keys())
    match = glob_matcher(pattern).match
    return bulks(key for key in db.live_keys() if match(key))


# -------------------------------------------------------------------- SCAN
class _ScanSessions:
    """Key snapshots behind SCAN cursors.

    A cursor is ``session << 32 | position`` in a snapshot of the keys taken
    when the iteration began, so every key present for the whole iteration
    is returned, as SCAN guarantees.  A cursor whose session was dropped
    (too many concurrent scans) restarts from a fresh snapshot: keys may
    then come twice, which SCAN also allows.
    """

    LIMIT = 32

    def __init__(self) -> None:
        self.snapshots: dict[int, list[bytes]] = {}
        self.next_id = 1

    def open(self, db: Database) -> int:
        while len(self.snapshots) >= self.LIMIT:
            del self.snapshots[next(iter(self.snapshots))]
        sid = self.next_id
        self.next_id = (self.next_id % 0x7FFFFFFF) + 1
        self.snapshots[sid] = list(db.data)
        return sid


def _sessions(c: Client) -> _ScanSessions:
    sessions: _ScanSessions | None = c.server.scan_sessions
    if sessions is None:
        sessions = c.server.scan_sessions = _ScanSessions()
    return sessions


def scan_options(args: list[bytes], start: int, allow_type: bool) -> tuple[Any, int, bytes | None]:
    """Parse ``MATCH p``, ``COUNT n``, ``TYPE t`` from ``args[start:]``."""
    match = None
    count = 10
    kind = None
    i = start
    while i < len(args):
        option = args[i].upper()
        if i + 1 >= len(args):
            raise SYNTAX
        if option == b"MATCH":
            pattern = args[i + 1]
            match = None if pattern == b"*" else glob_matcher(pattern).match
        elif option == b"COUNT":
            count = to_int(args[i + 1])
            if count < 1:
                raise SYNTAX
        elif option == b"TYPE" and allow_type:
            kind = args[i + 1].lower()
        else:
            raise SYNTAX
        i += 2
    return match, count, kind


EMPTY_SCAN = b"*2\r\n$1\r\n0\r\n*0\r\n"  # a finished iteration over nothing
_CURSOR = re.compile(rb"([+-]?)([0-9]*)\Z")
_BAD_CURSOR = CommandError("ERR invalid cursor")


def parse_cursor(arg: bytes) -> int:
    """A SCAN cursor as Redis reads it with ``strtoul``: "-1" wraps to 2**64 - 1, "" is 0."""
    m = _CURSOR.match(arg)
    if m is None or (m.group(1) and not m.group(2)):
        raise _BAD_CURSOR
    value = int(m.group(2) or b"0")
    if value >= 2**64:
        raise _BAD_CURSOR
    return (-value) % 2**64 if m.group(1) == b"-" else value


@command("SCAN")
def scan(c: Client, args: list[bytes]) -> bytes:
    cursor = parse_cursor(args[1])
    match, count, kind = scan_options(args, 2, allow_type=True)
    db = c.db
    sessions = _sessions(c)
    sid, pos = cursor >> 32, cursor & 0xFFFFFFFF
    snapshot = sessions.snapshots.get(sid) if cursor else None
    if snapshot is None:
        sid, pos = sessions.open(db), 0
        snapshot = sessions.snapshots[sid]
    end = min(pos + count, len(snapshot))
    found = []
    for key in snapshot[pos:end]:
        value = db.lookup(key)
        if value is None:
            continue
        if match is not None and not match(key):
            continue
        if kind is not None and type_name(value).encode() != kind:
            continue
        found.append(key)
    if end >= len(snapshot):
        del sessions.snapshots[sid]
        next_cursor = 0
    else:
        next_cursor = sid << 32 | end
    text = b"%d" % next_cursor
    return b"*2\r\n$%d\r\n%s\r\n%s" % (len(text), text, bulks(found))


@command("RANDOMKEY")
def randomkey(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    while db.data:
        key = random.choice(list(db.data))
        if db.lookup(key) is not None:
            return bulk(key)
    return c.nil


# ------------------------------------------------------------------ OBJECT
def encoding_of(value: Any) -> str:
    """What Redis 7.0 would report for this value's OBJECT ENCODING."""
    if isinstance(value, bytes):
        if value[:4] == b"HYLL" and is_hll(value):
            return "raw"  # PFADD and PFMERGE make raw strings whatever their size
        if len(value) <= 20:
            try:
                to_int(value)
                return "int"
            except CommandError:
                pass
        return "embstr" if len(value) <= 44 else "raw"
    if isinstance(value, deque):
        return "quicklist"  # Redis 7.0 has no listpack-encoded lists
    if isinstance(value, dict):
        small = len(value) <= 128 and all(
            len(k) <= 64 and len(v) <= 64 for k, v in value.items())
        return "listpack" if small else "hashtable"
    if isinstance(value, set):
        if len(value) <= 512:
            try:
                for member in value:
                    to_int(member)
                return "intset"
            except CommandError:
                pass
        return "hashtable"
    if isinstance(value, ZSet):
        small = len(value) <= 128 and all(len(m) <= 64 for m in value.scores)
        return "listpack" if small else "skiplist"
    if isinstance(value, Stream):
        return "stream"
    return "raw"


@command("OBJECT|ENCODING")
def object_encoding(c: Client, args: list[bytes]) -> bytes:
    value = c.db.lookup(args[2])
    if value is None:
        return c.nil
    return bulk(encoding_of(value).encode())


@command("OBJECT|REFCOUNT")
def object_refcount(c: Client, args: list[bytes]) -> bytes:
    return c.nil if c.db.lookup(args[2]) is None else ONE


@command("OBJECT|IDLETIME")
def object_idletime(c: Client, args: list[bytes]) -> bytes:
    return c.nil if c.db.lookup(args[2]) is None else ZERO


@command("OBJECT|FREQ")
def object_freq(c: Client, args: list[bytes]) -> bytes:
    if c.db.lookup(args[2]) is None:
        return c.nil
    # pulsards has no maxmemory policy: Redis' answer under its default, noeviction.
    raise CommandError(
        "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please "
        "note that when switching between policies at runtime LRU and LFU data will take "
        "some time to adjust.")


_OBJECT_HELP = [
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
]


@command("OBJECT|HELP")
def object_help(c: Client, args: list[bytes]) -> bytes:
    return help_reply(_OBJECT_HELP)


# ------------------------------------------------------------------ EXPIRE
def _expire(c: Client, args: list[bytes], unit: int, absolute: bool) -> bytes:
    name = args[0].decode().lower()
    amount = to_int(args[2])
    nx = xx = gt = lt = False
    for arg in args[3:]:
        option = arg.upper()
        if option == b"NX":
            nx = True
        elif option == b"XX":
            xx = True
        elif option == b"GT":
            gt = True
        elif option == b"LT":
            lt = True
        else:
            raise CommandError(f"ERR Unsupported option {arg.decode('utf-8', 'replace')}")
    if nx and (xx or gt or lt):
        raise CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if gt and lt:
        raise CommandError("ERR GT and LT options at the same time are not compatible")
    try:
        when = amount * unit if absolute else amount * unit + now_ms()
        if not -(2**63) <= amount * unit <= 2**63 - 1 or not -(2**63) <= when <= 2**63 - 1:
            raise OverflowError
    except OverflowError:
        raise CommandError(f"ERR invalid expire time in '{name}' command") from None
    db = c.db
    key = args[1]
    if db.lookup(key) is None:
        return ZERO
    current = db.get_expire(key)
    if nx and current is not None:
        return ZERO
    if xx and current is None:
        return ZERO
    if gt and (current is None or when <= current):
        return ZERO
    if lt and current is not None and when >= current:
        return ZERO
    if when <= now_ms() and not db.loading:
        db.delete(key)
        return ONE
    db.set_expire(key, when)
    db.touch(key)
    return ONE


@command("EXPIRE")
def expire(c: Client, args: list[bytes]) -> bytes:
    return _expire(c, args, 1000, absolute=False)


@command("PEXPIRE")
def pexpire(c: Client, args: list[bytes]) -> bytes:
    return _expire(c, args, 1, absolute=False)


@command("EXPIREAT")
def expireat(c: Client, args: list[bytes]) -> bytes:
    return _expire(c, args, 1000, absolute=True)


@command("PEXPIREAT")
def pexpireat(c: Client, args: list[bytes]) -> bytes:
    return _expire(c, args, 1, absolute=True)


def _ttl(c: Client, key: bytes, ms: bool, absolute: bool) -> bytes:
    db = c.db
    if db.lookup(key) is None:
        return b":-2\r\n"
    when = db.get_expire(key)
    if when is None:
        return b":-1\r\n"
    if absolute:
        return integer(when if ms else (when + 500) // 1000)
    left = max(0, when - now_ms())
    return integer(left if ms else (left + 500) // 1000)


@command("TTL")
def ttl(c: Client, args: list[bytes]) -> bytes:
    return _ttl(c, args[1], ms=False, absolute=False)


@command("PTTL")
def pttl(c: Client, args: list[bytes]) -> bytes:
    return _ttl(c, args[1], ms=True, absolute=False)


@command("EXPIRETIME")
def expiretime(c: Client, args: list[bytes]) -> bytes:
    return _ttl(c, args[1], ms=False, absolute=True)


@command("PEXPIRETIME")
def pexpiretime(c: Client, args: list[bytes]) -> bytes:
    return _ttl(c, args[1], ms=True, absolute=True)


@command("PERSIST")
def persist(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    key = args[1]
    if db.lookup(key) is None or not db.persist(key):
        return ZERO
    db.touch(key)
    return ONE

