"""Set commands.  A set is a plain ``set`` of ``bytes``."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from ..keyspace import Database
from ..reply import EMPTY_ARRAY, SYNTAX, WRONGTYPE, CommandError, bulk, bulks, integer, set_reply
from ..table import command
from .args import positive_count, random_count, to_int
from .keys import EMPTY_SCAN, parse_cursor, scan_options

if TYPE_CHECKING:
    from ..protocol import Client

__all__ = ["get_set"]


def get_set(db: Database, key: bytes) -> set[bytes] | None:
    """The set at ``key`` or ``None``; WRONGTYPE for other types."""
    value = db.lookup(key)
    if value is not None and value.__class__ is not set:
        raise WRONGTYPE
    return value


def _members(c: Client, members: set[bytes] | list[bytes]) -> bytes:
    return set_reply([bulk(m) for m in members], c.resp3)


def _store(db: Database, key: bytes, members: set[bytes]) -> None:
    if members:
        db.set(key, members)
    else:
        db.delete(key)  # touches the key only when there was one


@command("SADD")
def sadd(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    s = get_set(db, args[1])
    if s is None:
        s = set()
        db.data[args[1]] = s
    before = len(s)
    s.update(args[2:])
    added = len(s) - before
    if added and db.signals:  # adding members already there is not a write
        db.touch(args[1])
    return b":%d\r\n" % added


@command("SREM")
def srem(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    s = get_set(db, args[1])
    if s is None:
        return b":0\r\n"
    before = len(s)
    s.difference_update(args[2:])
    removed = before - len(s)
    if removed:
        if not s:
            db.remove(args[1])
        db.touch(args[1])
    return integer(removed)


@command("SMEMBERS")
def smembers(c: Client, args: list[bytes]) -> bytes:
    return _members(c, get_set(c.db, args[1]) or set())


@command("SISMEMBER")
def sismember(c: Client, args: list[bytes]) -> bytes:
    s = get_set(c.db, args[1])
    return b":1\r\n" if s is not None and args[2] in s else b":0\r\n"


@command("SMISMEMBER")
def smismember(c: Client, args: list[bytes]) -> bytes:
    s = get_set(c.db, args[1]) or set()
    return b"*%d\r\n%s" % (len(args) - 2, b"".join(
        b":1\r\n" if m in s else b":0\r\n" for m in args[2:]))


@command("SCARD")
def scard(c: Client, args: list[bytes]) -> bytes:
    return integer(len(get_set(c.db, args[1]) or ()))


@command("SPOP")
def spop(c: Client, args: list[bytes]) -> bytes:
    if len(args) > 3:
        raise SYNTAX
    db = c.db
    key = args[1]
    count = positive_count(args[2]) if len(args) == 3 else None
    s = get_set(db, key)
    if s is None or count == 0:  # popping none is not a write
        return c.nil if count is None else _members(c, [])
    if count is None:
        member = random.choice(list(s))
        s.discard(member)
        chosen = [member]
    else:
        chosen = random.sample(list(s), min(count, len(s)))
        s.difference_update(chosen)
    if not s:
        db.remove(key)
    db.touch(key)
    return bulk(chosen[0]) if count is None else _members(c, chosen)


@command("SRANDMEMBER")
def srandmember(c: Client, args: list[bytes]) -> bytes:
    if len(args) > 3:
        raise SYNTAX
    s = get_set(c.db, args[1])
    if len(args) == 2:
        return c.nil if not s else bulk(random.choice(list(s)))
    count = random_count(args[2], paired=False)
    if not s or count == 0:
        return EMPTY_ARRAY
    members = list(s)
    chosen = (random.sample(members, min(count, len(members))) if count > 0
              else [random.choice(members) for _ in range(-count)])
    return bulks(chosen)


@command("SMOVE")
def smove(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    src, dst, member = args[1], args[2], args[3]
    source = get_set(db, src)
    if source is None:  # before the destination's type, as Redis checks
        return b":0\r\n"
    target = get_set(db, dst)
    if member not in source:
        return b":0\r\n"
    if src == dst:
        return b":1\r\n"
    source.discard(member)
    if not source:
        db.remove(src)
    db.touch(src)
    if target is None:
        target = set()
        db.data[dst] = target
    target.add(member)
    db.touch(dst)
    return b":1\r\n"


def _combine(c: Client, keys: list[bytes], op: str) -> set[bytes]:
    db = c.db
    sets = [get_set(db, key) for key in keys]
    if op == "inter":
        if any(s is None for s in sets):
            return set()
        present = sorted((s for s in sets if s is not None), key=len)
        result = set(present[0])
        for s in present[1:]:
            result &= s
        return result
    if op == "union":
        union: set[bytes] = set()
        for member_set in sets:
            if member_set:
                union |= member_set
        return union
    diff = set(sets[0] or ())
    for member_set in sets[1:]:
        if member_set:
            diff -= member_set
    return diff


def _register(name: str, op: str) -> None:
    @command(name)
    def plain(c: Client, args: list[bytes]) -> bytes:
        return _members(c, _combine(c, args[1:], op))

    @command(name + "STORE")
    def store(c: Client, args: list[bytes]) -> bytes:
        result = _combine(c, args[2:], op)
        _store(c.db, args[1], result)
        return integer(len(result))


_register("SINTER", "inter")
_register("SUNION", "union")
_register("SDIFF", "diff")


@command("SINTERCARD")
def sintercard(c: Client, args: list[bytes]) -> bytes:
    numkeys_error = CommandError("ERR numkeys should be greater than 0")
    numkeys = to_int(args[1], numkeys_error)
    if numkeys <= 0:
        raise numkeys_error
    keys = args[2:2 + numkeys]
    if len(keys) < numkeys:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    limit = 0
    i = 2 + numkeys
    while i < len(args):  # LIMIT may repeat: the last one counts, as in Redis
        if args[i].upper() != b"LIMIT" or i + 1 >= len(args):
            raise SYNTAX
        limit_error = CommandError("ERR LIMIT can't be negative")
        limit = to_int(args[i + 1], limit_error)
        if limit < 0:
            raise limit_error
        i += 2
    size = len(_combine(c, keys, "inter"))
    return integer(min(size, limit) if limit else size)


@command("SSCAN")
def sscan(c: Client, args: list[bytes]) -> bytes:
    parse_cursor(args[2])
    s = get_set(c.db, args[1])
    if s is None:
        return EMPTY_SCAN  # Redis answers before looking at the options
    match, _count, _ = scan_options(args, 3, allow_type=False)
    # Like Redis with small sets, the whole set comes in one reply (cursor 0).
    return b"*2\r\n$1\r\n0\r\n" + bulks([m for m in s if match is None or match(m)])
