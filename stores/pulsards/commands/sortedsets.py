"""Sorted-set commands over ``zset.ZSet``: ZADD, ZINCRBY, ZSCORE, ZMSCORE, ZCARD,
ZCOUNT, ZLEXCOUNT, ZRANK, ZREVRANK, ZREM, the ZRANGE family (by index, score
and lex, REV, LIMIT, WITHSCORES), ZPOPMIN/ZPOPMAX and ZREMRANGEBY*."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..keyspace import Database
from ..reply import EMPTY_ARRAY, NOT_FLOAT, SYNTAX, WRONGTYPE, CommandError, bulk, double, integer
from ..table import command
from ..zset import Pair, ZSet
from .args import to_float, to_int

if TYPE_CHECKING:
    from ..protocol import Client

__all__ = ["get_zset"]

_NOT_RANGE_FLOAT = CommandError("ERR min or max is not a float")
_NOT_LEX = CommandError("ERR min or max not valid string range item")
_NAN = CommandError("ERR resulting score is not a number (NaN)")


def get_zset(db: Database, key: bytes) -> ZSet | None:
    """The sorted set at ``key`` or ``None``; WRONGTYPE for other types."""
    value = db.lookup(key)
    if value is not None and value.__class__ is not ZSet:
        raise WRONGTYPE
    return value


def _score(arg: bytes) -> float:
    return to_float(arg, NOT_FLOAT)


def _pairs_reply(c: Client, pairs: list[Pair], withscores: bool) -> bytes:
    if not withscores:
        return b"*%d\r\n%s" % (len(pairs), b"".join(bulk(m) for _, m in pairs))
    if c.resp3:
        return b"*%d\r\n%s" % (len(pairs), b"".join(
            b"*2\r\n" + bulk(m) + double(s, True) for s, m in pairs))
    return b"*%d\r\n%s" % (2 * len(pairs), b"".join(
        bulk(m) + double(s, False) for s, m in pairs))


# -------------------------------------------------------------------- ZADD
@command("ZADD")
def zadd(c: Client, args: list[bytes]) -> bytes:
    nx = xx = gt = lt = ch = incr = False
    i = 2
    while i < len(args):
        flag = args[i].upper()
        if flag == b"NX":
            nx = True
        elif flag == b"XX":
            xx = True
        elif flag == b"GT":
            gt = True
        elif flag == b"LT":
            lt = True
        elif flag == b"CH":
            ch = True
        elif flag == b"INCR":
            incr = True
        else:
            break
        i += 1
    rest = args[i:]
    if not rest or len(rest) % 2:
        raise SYNTAX
    if nx and xx:
        raise CommandError("ERR XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise CommandError(
            "ERR GT, LT, and/or NX options at the same time are not compatible")
    if incr and len(rest) > 2:
        raise CommandError("ERR INCR option supports a single increment-element pair")
    pairs = [(_score(rest[j]), rest[j + 1]) for j in range(0, len(rest), 2)]
    db = c.db
    key = args[1]
    zs = get_zset(db, key)
    if zs is None:
        if xx:
            return c.nil if incr else b":0\r\n"
        zs = ZSet()
        db.data[key] = zs
    added = changed = 0
    result: float | None = None
    for score, member in pairs:
        old = zs.scores.get(member)
        if old is None:
            if xx:
                continue
            zs.add(member, score)  # a parsed score is never NaN
            added += 1
            result = score
            continue
        if nx:
            continue
        new = old + score if incr else score
        if math.isnan(new):
            raise _NAN
        if (gt and new <= old) or (lt and new >= old):
            continue
        result = new
        if new != old:
            zs.add(member, new)
            changed += 1
    if not zs:
        db.remove(key)
    db.touch(key)
    if incr:
        return double(result, c.resp3) if result is not None else c.nil
    return integer(added + changed if ch else added)


@command("ZINCRBY")
def zincrby(c: Client, args: list[bytes]) -> bytes:
    return zadd(c, [b"ZADD", args[1], b"INCR", args[2], args[3]])


@command("ZSCORE")
def zscore(c: Client, args: list[bytes]) -> bytes:
    zs = get_zset(c.db, args[1])
    score = None if zs is None else zs.scores.get(args[2])
    return c.nil if score is None else double(score, c.resp3)


@command("ZMSCORE")
def zmscore(c: Client, args: list[bytes]) -> bytes:
    zs = get_zset(c.db, args[1])
    scores = {} if zs is None else zs.scores
    parts = []
    for member in args[2:]:
        score = scores.get(member)
        parts.append(c.nil if score is None else double(score, c.resp3))
    return b"*%d\r\n%s" % (len(parts), b"".join(parts))


@command("ZCARD")
def zcard(c: Client, args: list[bytes]) -> bytes:
    zs = get_zset(c.db, args[1])
    return integer(0 if zs is None else len(zs))


@command("ZREM")
def zrem(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    zs = get_zset(db, args[1])
    if zs is None:
        return b":0\r\n"
    removed = sum(1 for member in args[2:] if zs.remove(member))
    if removed:
        if not zs:
            db.remove(args[1])
        db.touch(args[1])
    return integer(removed)


def _rank(c: Client, args: list[bytes], reverse: bool) -> bytes:
    zs = get_zset(c.db, args[1])
    rank = None if zs is None else zs.rank(args[2])
    if rank is None:
        return c.nil
    return integer(len(zs) - 1 - rank if reverse and zs is not None else rank)


@command("ZRANK")
def zrank(c: Client, args: list[bytes]) -> bytes:
    return _rank(c, args, False)


@command("ZREVRANK")
def zrevrank(c: Client, args: list[bytes]) -> bytes:
    return _rank(c, args, True)


# ------------------------------------------------------------------ ranges
def _score_bound(arg: bytes) -> tuple[float, bool]:
    """(value, exclusive) of a ZRANGEBYSCORE bound such as ``(1.5`` or ``-inf``."""
    exclusive = arg.startswith(b"(")
    value = to_float(arg[1:] if exclusive else arg, _NOT_RANGE_FLOAT)
    return value, exclusive


def _score_span(zs: ZSet, low: tuple[float, bool], high: tuple[float, bool]) -> tuple[int, int]:
    """Positions [start, stop) of the members whose scores are within the bounds."""
    lo, lo_ex = low
    hi, hi_ex = high
    if lo_ex:
        lo = math.nextafter(lo, math.inf)
    start = zs.position((lo, b""))
    if hi == math.inf and not hi_ex:
        stop = len(zs)
    else:
        stop = zs.position((hi if hi_ex else math.nextafter(hi, math.inf), b""))
    return start, max(start, stop)


def _lex_bound(arg: bytes) -> tuple[int, bytes]:
    """(kind, text): kind -2 is ``-``, 2 is ``+``, 0 inclusive, 1 exclusive."""
    if arg == b"-":
        return -2, b""
    if arg == b"+":
        return 2, b""
    if arg[:1] == b"[":
        return 0, arg[1:]
    if arg[:1] == b"(":
        return 1, arg[1:]
    raise _NOT_LEX


def _lex_test(low: tuple[int, bytes], high: tuple[int, bytes]) -> Callable[[bytes], bool]:
    def inside(member: bytes) -> bool:
        kind, text = low
        if kind == 2 or (kind == 0 and member < text) or (kind == 1 and member <= text):
            return False
        kind, text = high
        return not (kind == -2 or (kind == 0 and member > text)
                    or (kind == 1 and member >= text))

    return inside


def _select(zs: ZSet, mode: str, a: bytes, b: bytes, reverse: bool,
            limit: tuple[int, int] | None) -> list[Pair]:
    """The pairs ZRANGE returns, in reply order."""
    size = len(zs)
    if mode == "index":
        start, stop = to_int(a), to_int(b)
        if start < 0:
            start = max(0, size + start)
        if stop < 0:
            stop += size
        stop = min(stop, size - 1)
        if start > stop:
            return []
        if reverse:
            return zs.slice(size - 1 - stop, size - start)[::-1]
        return zs.slice(start, stop + 1)
    if reverse:
        a, b = b, a  # REV takes max then min
    if mode == "score":
        begin, end = _score_span(zs, _score_bound(a), _score_bound(b))
        pairs = zs.slice(begin, end)
    else:
        inside = _lex_test(_lex_bound(a), _lex_bound(b))
        pairs = [pair for pair in zs if inside(pair[1])]
    if reverse:
        pairs.reverse()
    if limit is not None:
        offset, count = limit
        if offset < 0:
            return []
        pairs = pairs[offset:] if count < 0 else pairs[offset:offset + count]
    return pairs


def _zrange(c: Client, args: list[bytes], mode: str, reverse: bool, store: bytes | None,
            options_from: int) -> bytes:
    withscores = False
    limit: tuple[int, int] | None = None
    i = options_from
    while i < len(args):
        option = args[i].upper()
        if option == b"WITHSCORES" and store is None:
            withscores = True
            i += 1
        elif option == b"LIMIT" and i + 2 < len(args):
            limit = (to_int(args[i + 1]), to_int(args[i + 2]))
            i += 3
        elif option == b"BYSCORE" and args[0].upper() == b"ZRANGE" and mode == "index":
            mode = "score"
            i += 1
        elif option == b"BYLEX" and args[0].upper() == b"ZRANGE" and mode == "index":
            mode = "lex"
            i += 1
        elif option == b"REV" and args[0].upper() == b"ZRANGE":
            reverse = True
            i += 1
        else:
            raise SYNTAX
    if limit is not None and mode == "index":
        raise CommandError("ERR syntax error, LIMIT is only supported in combination with "
                           "either BYSCORE or BYLEX")
    if withscores and mode == "lex":
        raise CommandError(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    zs = get_zset(c.db, args[1])
    if zs is None:
        if mode == "score":
            _score_bound(args[2])
            _score_bound(args[3])
        elif mode == "lex":
            _lex_bound(args[2])
            _lex_bound(args[3])
        return EMPTY_ARRAY
    pairs = _select(zs, mode, args[2], args[3], reverse, limit)
    return _pairs_reply(c, pairs, withscores)


@command("ZRANGE")
def zrange(c: Client, args: list[bytes]) -> bytes:
    return _zrange(c, args, "index", False, None, 4)


@command("ZREVRANGE")
def zrevrange(c: Client, args: list[bytes]) -> bytes:
    return _zrange(c, args, "index", True, None, 4)


@command("ZRANGEBYSCORE")
def zrangebyscore(c: Client, args: list[bytes]) -> bytes:
    return _zrange(c, args, "score", False, None, 4)


@command("ZREVRANGEBYSCORE")
def zrevrangebyscore(c: Client, args: list[bytes]) -> bytes:
    return _zrange(c, args, "score", True, None, 4)


@command("ZRANGEBYLEX")
def zrangebylex(c: Client, args: list[bytes]) -> bytes:
    return _zrange(c, args, "lex", False, None, 4)


@command("ZREVRANGEBYLEX")
def zrevrangebylex(c: Client, args: list[bytes]) -> bytes:
    return _zrange(c, args, "lex", True, None, 4)


@command("ZCOUNT")
def zcount(c: Client, args: list[bytes]) -> bytes:
    low, high = _score_bound(args[2]), _score_bound(args[3])
    zs = get_zset(c.db, args[1])
    if zs is None:
        return b":0\r\n"
    start, stop = _score_span(zs, low, high)
    return integer(stop - start)


@command("ZLEXCOUNT")
def zlexcount(c: Client, args: list[bytes]) -> bytes:
    inside = _lex_test(_lex_bound(args[2]), _lex_bound(args[3]))
    zs = get_zset(c.db, args[1])
    return integer(0 if zs is None else sum(1 for _, m in zs if inside(m)))


# ---------------------------------------------------------- pops, removals
def _pop(c: Client, args: list[bytes], highest: bool) -> bytes:
    if len(args) > 3:
        raise SYNTAX
    count = 1
    if len(args) == 3:
        count = to_int(args[2])
        if count < 0:
            raise CommandError("ERR value is out of range, must be positive")
    db = c.db
    zs = get_zset(db, args[1])
    if zs is None or count == 0:
        return EMPTY_ARRAY
    size = len(zs)
    take = min(count, size)
    pairs = zs.slice(size - take, size)[::-1] if highest else zs.slice(0, take)
    for _, member in pairs:
        zs.remove(member)
    if not zs:
        db.remove(args[1])
    db.touch(args[1])
    if c.resp3 and len(args) == 3:
        return _pairs_reply(c, pairs, True)
    return b"*%d\r\n%s" % (2 * len(pairs), b"".join(
        bulk(m) + double(s, c.resp3) for s, m in pairs))


@command("ZPOPMIN")
def zpopmin(c: Client, args: list[bytes]) -> bytes:
    return _pop(c, args, False)


@command("ZPOPMAX")
def zpopmax(c: Client, args: list[bytes]) -> bytes:
    return _pop(c, args, True)


def _remove_pairs(c: Client, key: bytes, zs: ZSet, pairs: list[Pair]) -> bytes:
    for _, member in pairs:
        zs.remove(member)
    if pairs:
        if not zs:
            c.db.remove(key)
        c.db.touch(key)
    return integer(len(pairs))


@command("ZREMRANGEBYSCORE")
def zremrangebyscore(c: Client, args: list[bytes]) -> bytes:
    low, high = _score_bound(args[2]), _score_bound(args[3])
    zs = get_zset(c.db, args[1])
    if zs is None:
        return b":0\r\n"
    start, stop = _score_span(zs, low, high)
    return _remove_pairs(c, args[1], zs, zs.slice(start, stop))


@command("ZREMRANGEBYRANK")
def zremrangebyrank(c: Client, args: list[bytes]) -> bytes:
    start, stop = to_int(args[2]), to_int(args[3])
    zs = get_zset(c.db, args[1])
    if zs is None:
        return b":0\r\n"
    pairs = _select(zs, "index", b"%d" % start, b"%d" % stop, False, None)
    return _remove_pairs(c, args[1], zs, pairs)


@command("ZREMRANGEBYLEX")
def zremrangebylex(c: Client, args: list[bytes]) -> bytes:
    inside = _lex_test(_lex_bound(args[2]), _lex_bound(args[3]))
    zs = get_zset(c.db, args[1])
    if zs is None:
        return b":0\r\n"
    return _remove_pairs(c, args[1], zs, [pair for pair in zs if inside(pair[1])])
