"""Hash commands.  A hash is a plain ``dict`` of ``bytes`` to ``bytes``."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from ..keyspace import Database
from ..reply import EMPTY_ARRAY, OK, WRONGTYPE, CommandError, bulk, bulks, integer, map_reply
from ..table import command
from .args import LLONG_MAX, LLONG_MIN, random_count, to_int, to_long_double
from .keys import EMPTY_SCAN, parse_cursor, scan_options
from .strings import add_float

if TYPE_CHECKING:
    from ..protocol import Client

__all__ = ["get_hash"]


def get_hash(db: Database, key: bytes) -> dict[bytes, bytes] | None:
    """The hash at ``key`` or ``None``; WRONGTYPE for other types."""
    value = db.lookup(key)
    if value is not None and value.__class__ is not dict:
        raise WRONGTYPE
    return value


def _create(db: Database, key: bytes) -> dict[bytes, bytes]:
    value = get_hash(db, key)
    if value is None:
        value = {}
        db.data[key] = value
    return value


@command("HSET")
def hset(c: Client, args: list[bytes]) -> bytes:
    if len(args) % 2:
        raise CommandError(f"ERR wrong number of arguments for '{args[0].decode().lower()}' "
                           "command")
    db = c.db
    h = _create(db, args[1])
    before = len(h)
    for i in range(2, len(args), 2):
        h[args[i]] = args[i + 1]
    db.touch(args[1])
    return integer(len(h) - before)


@command("HMSET")
def hmset(c: Client, args: list[bytes]) -> bytes:
    hset(c, args)
    return OK


@command("HSETNX")
def hsetnx(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    h = _create(db, args[1])
    if args[2] in h:
        return b":0\r\n"
    h[args[2]] = args[3]
    db.touch(args[1])
    return b":1\r\n"


@command("HGET")
def hget(c: Client, args: list[bytes]) -> bytes:
    h = get_hash(c.db, args[1])
    return bulk(None if h is None else h.get(args[2]), c.resp3)


@command("HMGET")
def hmget(c: Client, args: list[bytes]) -> bytes:
    h = get_hash(c.db, args[1]) or {}
    return bulks([h.get(f) for f in args[2:]], c.resp3)


@command("HDEL")
def hdel(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    h = get_hash(db, args[1])
    if h is None:
        return b":0\r\n"
    removed = 0
    for field in args[2:]:
        if h.pop(field, None) is not None:
            removed += 1
    if removed:
        if not h:
            db.remove(args[1])
        db.touch(args[1])
    return integer(removed)


@command("HLEN")
def hlen(c: Client, args: list[bytes]) -> bytes:
    return integer(len(get_hash(c.db, args[1]) or ()))


@command("HSTRLEN")
def hstrlen(c: Client, args: list[bytes]) -> bytes:
    h = get_hash(c.db, args[1]) or {}
    return integer(len(h.get(args[2], b"")))


@command("HEXISTS")
def hexists(c: Client, args: list[bytes]) -> bytes:
    h = get_hash(c.db, args[1]) or {}
    return b":1\r\n" if args[2] in h else b":0\r\n"


@command("HKEYS")
def hkeys(c: Client, args: list[bytes]) -> bytes:
    return bulks(list(get_hash(c.db, args[1]) or ()))


@command("HVALS")
def hvals(c: Client, args: list[bytes]) -> bytes:
    return bulks(list((get_hash(c.db, args[1]) or {}).values()))


def _pairs(items: list[tuple[bytes, bytes]], resp3: bool) -> bytes:
    return map_reply([(bulk(k), bulk(v)) for k, v in items], resp3)


@command("HGETALL")
def hgetall(c: Client, args: list[bytes]) -> bytes:
    return _pairs(list((get_hash(c.db, args[1]) or {}).items()), c.resp3)


@command("HINCRBY")
def hincrby(c: Client, args: list[bytes]) -> bytes:
    delta = to_int(args[3])
    db = c.db
    h = _create(db, args[1])
    old = h.get(args[2])
    current = 0
    if old is not None:
        current = to_int(old, CommandError("ERR hash value is not an integer"))
    value = current + delta
    if not LLONG_MIN <= value <= LLONG_MAX:
        raise CommandError("ERR increment or decrement would overflow")
    h[args[2]] = b"%d" % value
    db.touch(args[1])
    return integer(value)


@command("HINCRBYFLOAT")
def hincrbyfloat(c: Client, args: list[bytes]) -> bytes:
    # A bad increment is reported before the hash is read, an infinite one too.
    if to_long_double(args[3]) is None:
        raise CommandError("ERR value is NaN or Infinity")
    db = c.db
    h = get_hash(db, args[1])
    old = None if h is None else h.get(args[2])
    text = add_float(old, args[3], CommandError("ERR hash value is not a float"))
    _create(db, args[1])[args[2]] = text
    db.touch(args[1])
    return bulk(text)


@command("HRANDFIELD")
def hrandfield(c: Client, args: list[bytes]) -> bytes:
    h = get_hash(c.db, args[1])
    if len(args) == 2:
        if not h:
            return c.nil
        return bulk(random.choice(list(h)))
    random_count(args[2], paired=False)
    if len(args) > 4 or (len(args) == 4 and args[3].upper() != b"WITHVALUES"):
        raise CommandError("ERR syntax error")
    withvalues = len(args) == 4
    count = random_count(args[2], paired=withvalues)
    if not h or count == 0:
        return EMPTY_ARRAY
    fields = list(h)
    chosen = (random.sample(fields, min(count, len(fields))) if count > 0
              else [random.choice(fields) for _ in range(-count)])
    if not withvalues:
        return bulks(chosen)
    if c.resp3:
        return b"*%d\r\n%s" % (len(chosen), b"".join(
            b"*2\r\n" + bulk(f) + bulk(h[f]) for f in chosen))
    return bulks([x for f in chosen for x in (f, h[f])])


@command("HSCAN")
def hscan(c: Client, args: list[bytes]) -> bytes:
    parse_cursor(args[2])
    h = get_hash(c.db, args[1])
    if h is None:
        return EMPTY_SCAN  # Redis answers before looking at the options
    match, _count, _ = scan_options(args, 3, allow_type=False)
    # Like Redis with small hashes, the whole hash comes in one reply (cursor 0).
    items = [x for k, v in h.items() if match is None or match(k) for x in (k, v)]
    return b"*2\r\n$1\r\n0\r\n" + bulks(items)


