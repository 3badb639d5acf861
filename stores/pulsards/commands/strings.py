"""String commands.  GET, SET and INCR are the hot path: they touch the dicts directly."""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

from ..keyspace import Database, now_ms
from ..reply import (
    NOT_FLOAT,
    OK,
    SYNTAX,
    WRONGTYPE,
    CommandError,
    bulk,
    bulks,
    integer,
)
from ..table import batch, command
from .args import LLONG_MAX, LLONG_MIN, ld_add, ld_format, to_int, to_long_double
from .lcs import lcs_reply

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..protocol import Client

__all__ = ["add_float", "get_string"]


def get_string(db: Database, key: bytes) -> bytes | None:
    """The string at ``key``, ``None`` when missing; WRONGTYPE for other types."""
    value = db.lookup(key)
    if value is not None and value.__class__ is not bytes:
        raise WRONGTYPE
    return value


def _check_size(c: Client, size: int) -> None:
    if size > c.server.config.proto_max_bulk_len:
        raise CommandError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")


@command("GET")
def get(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    key = args[1]
    value = db.data.get(key)
    if value is None:
        return c.nil
    if db.expires and key in db.expires and db.expires[key] < now_ms():
        db.lookup(key)  # expires it
        return c.nil
    if value.__class__ is not bytes:
        raise WRONGTYPE
    return b"$%d\r\n%s\r\n" % (len(value), value)


@batch("GET")
def get_batch(c: Client, columns: list[Sequence[bytes]]) -> bytes | None:
    """GETs of keys without a TTL, at once; ``None`` when one holds another type."""
    db = c.db
    keys = columns[0]
    if db.expires and not db.expires.keys().isdisjoint(keys):
        return None  # one may be expired
    try:
        # The replies are the items of an array reply of the values.
        reply = bulks(list(map(db.data.get, keys)), c.resp3)
    except TypeError:  # a list, a hash...: its GET answers WRONGTYPE
        return None
    return reply[reply.index(b"\n") + 1:]


@batch("SET")
def set_batch(c: Client, columns: list[Sequence[bytes]]) -> bytes | None:
    """``SET key value`` requests at once; ``None`` when they have options or
    a watcher, an observer or a waiter must hear of each write."""
    db = c.db
    if len(columns) != 2 or db.signals:
        return None
    keys, values = columns
    expires = db.expires
    if expires:
        for key in keys:
            expires.pop(key, None)
    db.data.update(zip(keys, values, strict=True))
    return OK * len(keys)


def _expire_arg(arg: bytes, name: str) -> int:
    amount = to_int(arg)
    if amount <= 0:
        raise CommandError(f"ERR invalid expire time in '{name}' command")
    return amount


@command("SET")
def set_(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    if len(args) == 3:  # the common case: no options
        key = args[1]
        db.data[key] = args[2]
        if db.expires:
            db.expires.pop(key, None)
        if db.signals:
            db.touch(key)
        return OK
    nx = xx = get_old = keepttl = False
    when: int | None = None
    i = 3
    n = len(args)
    while i < n:
        option = args[i].upper()
        if option == b"NX" and not xx:
            nx = True
        elif option == b"XX" and not nx:
            xx = True
        elif option == b"GET":
            get_old = True
        elif option == b"KEEPTTL" and when is None:
            keepttl = True
        elif option in (b"EX", b"PX", b"EXAT", b"PXAT") and when is None and not keepttl \
                and i + 1 < n:
            amount = _expire_arg(args[i + 1], "set")
            if option == b"EX":
                when = now_ms() + amount * 1000
            elif option == b"PX":
                when = now_ms() + amount
            elif option == b"EXAT":
                when = amount * 1000
            else:
                when = amount
            if when > LLONG_MAX:
                raise CommandError("ERR invalid expire time in 'set' command")
            i += 1
        else:
            raise SYNTAX
        i += 1
    key = args[1]
    old = get_string(db, key) if get_old else db.lookup(key)
    if (nx and old is not None) or (xx and old is None):
        return bulk(old, c.resp3) if get_old else c.nil
    db.set(key, args[2], keepttl)
    if when is not None:
        db.set_expire(key, when)
    return bulk(old, c.resp3) if get_old else OK


@command("SETNX")
def setnx(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    if db.lookup(args[1]) is not None:
        return b":0\r\n"
    db.set(args[1], args[2])
    return b":1\r\n"


def _setex(c: Client, args: list[bytes], unit: int) -> bytes:
    name = args[0].decode().lower()
    amount = _expire_arg(args[2], name)
    when = now_ms() + amount * unit
    if when > LLONG_MAX:
        raise CommandError(f"ERR invalid expire time in '{name}' command")
    c.db.set(args[1], args[3])
    c.db.set_expire(args[1], when)
    return OK


@command("SETEX")
def setex(c: Client, args: list[bytes]) -> bytes:
    return _setex(c, args, 1000)


@command("PSETEX")
def psetex(c: Client, args: list[bytes]) -> bytes:
    return _setex(c, args, 1)


@command("GETSET")
def getset(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    old = get_string(db, args[1])
    db.set(args[1], args[2])
    return bulk(old, c.resp3)


@command("GETDEL")
def getdel(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    old = get_string(db, args[1])
    if old is not None:
        db.delete(args[1])
    return bulk(old, c.resp3)


@command("GETEX")
def getex(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    key = args[1]
    expiry: tuple[bytes, bytes] | None = None  # (unit, amount), read after the lookup
    persist = False
    i = 2
    while i < len(args):
        option = args[i].upper()
        if option in (b"EX", b"PX", b"EXAT", b"PXAT") and expiry is None and not persist \
                and i + 1 < len(args):
            expiry = (option, args[i + 1])
            i += 2
        elif option == b"PERSIST" and expiry is None:
            persist = True
            i += 1
        else:
            raise SYNTAX
    value = get_string(db, key)
    if value is None:  # before the expiry's number is read, as Redis does
        return c.nil
    when: int | None = None
    if expiry is not None:
        unit, arg = expiry
        amount = _expire_arg(arg, "getex")
        when = {b"EX": now_ms() + amount * 1000, b"PX": now_ms() + amount,
                b"EXAT": amount * 1000, b"PXAT": amount}[unit]
        if when > LLONG_MAX:
            raise CommandError("ERR invalid expire time in 'getex' command")
    if when is not None:
        if when <= now_ms() and not db.loading:
            db.delete(key)
        else:
            db.set_expire(key, when)
            db.touch(key)
    elif persist and db.persist(key):
        db.touch(key)
    return bulk(value)


@command("MGET")
def mget(c: Client, args: list[bytes]) -> bytes:
    lookup = c.db.lookup
    values = []
    for key in args[1:]:
        value = lookup(key)
        values.append(value if value.__class__ is bytes else None)
    return bulks(values, c.resp3)


@command("MSET")
def mset(c: Client, args: list[bytes]) -> bytes:
    if len(args) % 2 == 0:
        raise CommandError("ERR wrong number of arguments for 'mset' command")
    db = c.db
    for i in range(1, len(args), 2):
        db.set(args[i], args[i + 1])
    return OK


@command("MSETNX")
def msetnx(c: Client, args: list[bytes]) -> bytes:
    if len(args) % 2 == 0:
        raise CommandError("ERR wrong number of arguments for 'msetnx' command")
    db = c.db
    if any(db.lookup(args[i]) is not None for i in range(1, len(args), 2)):
        return b":0\r\n"
    for i in range(1, len(args), 2):
        db.set(args[i], args[i + 1])
    return b":1\r\n"


@command("APPEND")
def append(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    old = get_string(db, args[1])
    value = args[2] if old is None else old + args[2]
    _check_size(c, len(value))
    db.set(args[1], value, keepttl=True)
    return integer(len(value))


@command("STRLEN")
def strlen(c: Client, args: list[bytes]) -> bytes:
    value = get_string(c.db, args[1])
    return integer(0 if value is None else len(value))


@command("GETRANGE")
def getrange(c: Client, args: list[bytes]) -> bytes:
    start, end = to_int(args[2]), to_int(args[3])
    value = get_string(c.db, args[1]) or b""
    size = len(value)
    if start < 0 and end < 0 and start > end:
        return b"$0\r\n\r\n"
    if start < 0:
        start = max(0, size + start)
    if end < 0:
        end = max(0, size + end)
    end = min(end, size - 1)
    if start > end or size == 0:
        return b"$0\r\n\r\n"
    return bulk(value[start:end + 1])


@command("SUBSTR")
def substr(c: Client, args: list[bytes]) -> bytes:
    """GETRANGE's old name, still in Redis 7."""
    return getrange(c, args)


@command("SETRANGE")
def setrange(c: Client, args: list[bytes]) -> bytes:
    offset = to_int(args[2])
    if offset < 0:
        raise CommandError("ERR offset is out of range")
    db = c.db
    piece = args[3]
    old = get_string(db, args[1])
    if old is None:
        if not piece:
            return b":0\r\n"
        old = b""
    elif not piece:
        return integer(len(old))
    _check_size(c, offset + len(piece))
    if len(old) < offset:
        old += b"\0" * (offset - len(old))
    value = old[:offset] + piece + old[offset + len(piece):]
    db.set(args[1], value, keepttl=True)
    return integer(len(value))


def _incr(c: Client, key: bytes, delta: int) -> bytes:
    db = c.db
    old = db.data.get(key)
    if old is not None and db.expires:
        old = db.lookup(key)
    if old is None:
        current = 0
    elif old.__class__ is not bytes:
        raise WRONGTYPE
    elif _plain_count(old):
        current = int(old)
    else:
        current = to_int(old)
    value = current + delta
    if not LLONG_MIN <= value <= LLONG_MAX:
        raise CommandError("ERR increment or decrement would overflow")
    reply = b":%d\r\n" % value
    db.data[key] = reply[1:-2]  # the TTL stays
    if db.signals:
        db.touch(key)
    return reply


def _plain_count(text: bytes) -> bool:
    """What INCR itself stores, to_int's checks in short: a canonical integer
    of 0 to 18 digits, which no run of increments can push past LLONG_MAX."""
    return text.isdigit() and len(text) < 19 and (text[0] != 48 or len(text) == 1)


@command("INCR")
def incr(c: Client, args: list[bytes]) -> bytes:
    return _incr(c, args[1], 1)


@batch("INCR")
def incr_batch(c: Client, columns: list[Sequence[bytes]]) -> bytes | None:
    """INCRs at once; ``None`` when a key has a TTL, holds something other
    than a plain count (another type, a sign, 19 digits: its INCR may fail or
    overflow) or a watcher, an observer or a waiter must hear of each write."""
    db = c.db
    keys = columns[0]
    if db.signals or (db.expires and not db.expires.keys().isdisjoint(keys)):
        return None
    data = db.data
    counts: dict[bytes, int] = {}
    replies: list[int] = []
    for key in keys:
        count = counts.get(key)
        if count is None:
            old = data.get(key)
            if old is None:
                count = 0
            elif old.__class__ is bytes and _plain_count(old):
                count = int(old)
            else:
                return None  # nothing was written yet
        counts[key] = count = count + 1
        replies.append(count)
    data.update({key: b"%d" % count for key, count in counts.items()})
    return b"".join([b":%d\r\n" % count for count in replies])


@command("DECR")
def decr(c: Client, args: list[bytes]) -> bytes:
    return _incr(c, args[1], -1)


@command("INCRBY")
def incrby(c: Client, args: list[bytes]) -> bytes:
    return _incr(c, args[1], to_int(args[2]))


@command("DECRBY")
def decrby(c: Client, args: list[bytes]) -> bytes:
    delta = to_int(args[2])
    if delta == LLONG_MIN:
        raise CommandError("ERR decrement would overflow")
    return _incr(c, args[1], -delta)


def add_float(old: bytes | None, delta: bytes,
              err: CommandError = NOT_FLOAT) -> bytes:
    """The text of ``old + delta`` as Redis' INCRBYFLOAT computes and prints it."""
    current = Fraction(0) if old is None else to_long_double(old, err)
    increment = to_long_double(delta)
    if current is None or increment is None:
        raise CommandError("ERR increment would produce NaN or Infinity")
    return ld_format(ld_add(current, increment))


@command("INCRBYFLOAT")
def incrbyfloat(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    key = args[1]
    old = get_string(db, key)
    text = add_float(old, args[2])
    db.set(key, text, keepttl=True)
    return bulk(text)


@command("LCS")
def lcs(c: Client, args: list[bytes]) -> bytes:
    db = c.db  # the types are checked before the options are read, as Redis does
    a, b = db.lookup(args[1]) or b"", db.lookup(args[2]) or b""
    if a.__class__ is not bytes or b.__class__ is not bytes:
        raise CommandError("ERR The specified keys must contain string values")
    want_len = want_idx = with_len = False
    min_len = 0
    i = 3
    while i < len(args):
        option = args[i].upper()
        if option == b"LEN":
            want_len = True
        elif option == b"IDX":
            want_idx = True
        elif option == b"WITHMATCHLEN":
            with_len = True
        elif option == b"MINMATCHLEN" and i + 1 < len(args):
            min_len = max(0, to_int(args[i + 1]))
            i += 1
        else:
            raise SYNTAX
        i += 1
    if want_len and want_idx:
        raise CommandError(
            "ERR If you want both the length and indexes, please just use IDX.")
    return lcs_reply(a, b, want_len, want_idx, with_len, min_len, c.resp3)
