"""Sorted-set commands over ``zset.ZSet``: ZADD, ZINCRBY, ZSCORE, ZMSCORE, ZCARD,
ZCOUNT, ZLEXCOUNT, ZRANK, ZREVRANK, ZREM, the ZRANGE family (by index, score
and lex, REV, LIMIT, WITHSCORES) with ZRANGESTORE, ZPOPMIN/ZPOPMAX and
ZREMRANGEBY*.  The set algebra is in ``zsetops``; the multi-key and blocking
pops, ZRANDMEMBER and ZSCAN in ``zsetpops``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Final

from ..keyspace import Database
from ..reply import EMPTY_ARRAY, NOT_FLOAT, SYNTAX, WRONGTYPE, CommandError, bulk, double, integer
from ..table import command
from ..zset import Pair, ZSet
from .args import positive_count, range_float, to_float, to_int
from .zsetlex import lex_bound, lex_select, lex_span

if TYPE_CHECKING:
    from ..protocol import Client

__all__ = ["get_zset", "pairs_reply", "pop_pairs", "store_zset"]

_NOT_RANGE_FLOAT = CommandError("ERR min or max is not a float")
_NAN = CommandError("ERR resulting score is not a number (NaN)")


def get_zset(db: Database, key: bytes) -> ZSet | None:
    """The sorted set at ``key`` or ``None``; WRONGTYPE for other types."""
    value = db.lookup(key)
    if value is not None and value.__class__ is not ZSet:
        raise WRONGTYPE
    return value


def _score(arg: bytes) -> float:
    # + 0.0 turns -0 into 0, as Redis' small sorted sets (listpacks) store an
    # integral score as an integer; its skiplists keep -0 (see the docs).
    return to_float(arg, NOT_FLOAT) + 0.0


_FLAG_INITIALS: Final = frozenset(bytes((c,)) for c in b"NXGLCInxglci")


def pairs_reply(c: Client, pairs: list[Pair], withscores: bool) -> bytes:
    """Members, or member-score pairs (nested in RESP3, flat in RESP2) as ZRANGE replies."""
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
    # A score cannot start like a flag, except "inf" and "nan": the loop below
    # runs only when it might find one.
    while i < len(args) and args[i][:1] in _FLAG_INITIALS:
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
    n = len(args) - i
    if not n or n % 2:
        raise SYNTAX
    if i > 2:
        _check_zadd_flags(nx, xx, gt, lt, incr, n)
    if n == 2:
        pairs = [(_score(args[i]), args[i + 1])]
    else:
        pairs = [(_score(args[j]), args[j + 1]) for j in range(i, len(args), 2)]
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
        if new != new:  # NaN: inf + -inf
            raise _NAN
        if (gt and new <= old) or (lt and new >= old):
            continue
        result = new
        if new != old:
            zs.add(member, new)
            changed += 1
    if not zs:
        db.remove(key)
    if (added or changed) and db.signals:  # an unchanged score is not a write
        db.touch(key)
    server = c.server
    if server.blocking:  # BZPOPMIN/BZMPOP waiters on this key
        server.signal_ready(db, key)
    if incr:
        return double(result, c.resp3) if result is not None else c.nil
    return b":%d\r\n" % (added + changed if ch else added)


def _check_zadd_flags(nx: bool, xx: bool, gt: bool, lt: bool, incr: bool, n: int) -> None:
    if nx and xx:
        raise CommandError("ERR XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise CommandError(
            "ERR GT, LT, and/or NX options at the same time are not compatible")
    if incr and n > 2:
        raise CommandError("ERR INCR option supports a single increment-element pair")


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
    value = range_float(arg[1:] if exclusive else arg, _NOT_RANGE_FLOAT)
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


def _parse_range(mode: str, a: bytes, b: bytes, reverse: bool) -> tuple[Any, Any]:
    """ZRANGE's bounds, read before the key is looked up (Redis' error order)."""
    if mode == "index":
        return to_int(a), to_int(b)
    if reverse:
        a, b = b, a  # REV takes max then min
    if mode == "score":
        return _score_bound(a), _score_bound(b)
    return lex_bound(a), lex_bound(b)


def _select(zs: ZSet, mode: str, low: Any, high: Any, reverse: bool,
            limit: tuple[int, int] | None) -> list[Pair]:
    """The pairs ZRANGE returns, in reply order (O(log n + returned)); the
    bounds are ``_parse_range``'s."""
    size = len(zs)
    if mode == "index":
        start, stop = low, high
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
    offset, count = limit if limit is not None else (0, -1)
    if offset < 0:
        return []
    if mode == "score":
        begin, end = _score_span(zs, low, high)
    else:
        walked = lex_select(zs, low, high, reverse, offset, count)
        if walked is not None:  # scores differ: Redis' walk, not a bisection
            return walked
        begin, end = lex_span(zs, low, high)
    # Apply LIMIT to positions, so only the returned pairs are copied.
    if reverse:
        hi = end - offset
        lo = begin if count < 0 else max(begin, hi - count)
        return zs.slice(lo, hi)[::-1]
    lo = begin + offset
    hi = end if count < 0 else min(end, lo + count)
    return zs.slice(lo, hi)


def _zrange(c: Client, args: list[bytes], mode: str, reverse: bool, base: int = 1,
            store: bool = False) -> bytes:
    """ZRANGE and its older forms; ``base`` is the source key's index (2 in ZRANGESTORE).

    ZRANGE and ZRANGESTORE take BYSCORE/BYLEX/REV; the older commands fix
    them, and only the reading commands take WITHSCORES.
    """
    flexible = store or (base == 1 and args[0].upper() == b"ZRANGE")
    withscores = False
    limit: tuple[int, int] | None = None
    i = base + 3
    while i < len(args):
        option = args[i].upper()
        if option == b"WITHSCORES" and not store:
            withscores = True
            i += 1
        elif option == b"LIMIT" and i + 2 < len(args):
            limit = (to_int(args[i + 1]), to_int(args[i + 2]))
            i += 3
        elif option == b"BYSCORE" and flexible and mode == "index":
            mode = "score"
            i += 1
        elif option == b"BYLEX" and flexible and mode == "index":
            mode = "lex"
            i += 1
        elif option == b"REV" and flexible and not reverse:  # once, as in Redis
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
    low, high = _parse_range(mode, args[base + 1], args[base + 2], reverse)
    zs = get_zset(c.db, args[base])
    if zs is None:
        return store_zset(c, args[1], None) if store else EMPTY_ARRAY
    pairs = _select(zs, mode, low, high, reverse, limit)
    if store:
        return store_zset(c, args[1], ZSet.from_pairs(pairs) if pairs else None)
    return pairs_reply(c, pairs, withscores)


def store_zset(c: Client, key: bytes, zs: ZSet | None) -> bytes:
    """Store a command's result at ``key`` (``Database.store``); reply its size."""
    c.db.store(key, zs)
    return integer(len(zs) if zs else 0)


@command("ZRANGE")
def zrange(c: Client, args: list[bytes]) -> bytes:
    return _zrange(c, args, "index", False)


@command("ZRANGESTORE")
def zrangestore(c: Client, args: list[bytes]) -> bytes:
    return _zrange(c, args, "index", False, base=2, store=True)


@command("ZREVRANGE")
def zrevrange(c: Client, args: list[bytes]) -> bytes:
    return _zrange(c, args, "index", True)


@command("ZRANGEBYSCORE")
def zrangebyscore(c: Client, args: list[bytes]) -> bytes:
    return _zrange(c, args, "score", False)


@command("ZREVRANGEBYSCORE")
def zrevrangebyscore(c: Client, args: list[bytes]) -> bytes:
    return _zrange(c, args, "score", True)


@command("ZRANGEBYLEX")
def zrangebylex(c: Client, args: list[bytes]) -> bytes:
    return _zrange(c, args, "lex", False)


@command("ZREVRANGEBYLEX")
def zrevrangebylex(c: Client, args: list[bytes]) -> bytes:
    return _zrange(c, args, "lex", True)


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
    low, high = lex_bound(args[2]), lex_bound(args[3])
    zs = get_zset(c.db, args[1])
    if zs is None:
        return b":0\r\n"
    start, stop = lex_span(zs, low, high)
    return integer(stop - start)


# ---------------------------------------------------------- pops, removals
def _pop(c: Client, args: list[bytes], highest: bool) -> bytes:
    if len(args) > 3:
        raise SYNTAX
    count = positive_count(args[2]) if len(args) == 3 else 1
    db = c.db
    zs = get_zset(db, args[1])
    if zs is None or count == 0:
        return EMPTY_ARRAY
    pairs = pop_pairs(db, args[1], zs, count, highest)
    if c.resp3 and len(args) == 3:
        return pairs_reply(c, pairs, True)
    return b"*%d\r\n%s" % (2 * len(pairs), b"".join(
        bulk(m) + double(s, c.resp3) for s, m in pairs))


def pop_pairs(db: Database, key: bytes, zs: ZSet, count: int, highest: bool) -> list[Pair]:
    """Remove and return up to ``count`` lowest (``highest``: highest) pairs, in pop order."""
    size = len(zs)
    take = min(count, size)
    pairs = zs.slice(size - take, size)[::-1] if highest else zs.slice(0, take)
    for _, member in pairs:
        zs.remove(member)
    if not zs:
        db.remove(key)
    db.touch(key)
    return pairs


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
    pairs = _select(zs, "index", start, stop, False, None)
    return _remove_pairs(c, args[1], zs, pairs)


@command("ZREMRANGEBYLEX")
def zremrangebylex(c: Client, args: list[bytes]) -> bytes:
    low, high = lex_bound(args[2]), lex_bound(args[3])
    zs = get_zset(c.db, args[1])
    if zs is None:
        return b":0\r\n"
    start, stop = lex_span(zs, low, high)
    return _remove_pairs(c, args[1], zs, zs.slice(start, stop))
