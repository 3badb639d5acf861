"""Sorted-set pops over several keys and the blocking pops (ZMPOP, BZPOPMIN,
BZPOPMAX, BZMPOP), ZRANDMEMBER and ZSCAN.

Blocking pops park the client with the list commands' machinery
(``lists.block``: waiters served first come, first served, woken after the
command or EXEC that filled the key, never blocking inside EXEC); ZADD and
the store commands signal the keys they fill.
"""

from __future__ import annotations

import random
import weakref
from typing import TYPE_CHECKING, Final

from ..keyspace import Database
from ..reply import EMPTY_ARRAY, SYNTAX, WRONGTYPE, bulk, double, format_double
from ..table import command
from ..zset import Pair, ZSet
from .args import mpop_args, random_count
from .keys import EMPTY_SCAN, parse_cursor, scan_options
from .lists import block, null_array, parse_timeout
from .sortedsets import get_zset, pairs_reply, pop_pairs

if TYPE_CHECKING:
    from ..protocol import Client
    from ..server import Server

__all__: list[str] = []

_MIN_MAX: Final = (b"MIN", b"MAX")


# -------------------------------------------------------------------- pops
def _mpop_reply(c: Client, key: bytes, pairs: list[Pair]) -> bytes:
    """ZMPOP's ``[key, [[member, score], ...]]`` (nested in RESP2 too)."""
    resp3 = c.resp3
    body = b"".join(b"*2\r\n" + bulk(m) + double(s, resp3) for s, m in pairs)
    return b"*2\r\n%s*%d\r\n%s" % (bulk(key), len(pairs), body)


def _bpop_reply(c: Client, key: bytes, pair: Pair) -> bytes:
    """BZPOPMIN's ``[key, member, score]``."""
    return b"*3\r\n" + bulk(key) + bulk(pair[1]) + double(pair[0], c.resp3)


def _first_nonempty(db: Database, keys: list[bytes]) -> tuple[bytes, ZSet] | None:
    """The first key holding a sorted set; WRONGTYPE stops the search, as in Redis."""
    for key in keys:
        zs = get_zset(db, key)
        if zs:
            return key, zs
    return None


@command("ZMPOP")
def zmpop(c: Client, args: list[bytes]) -> bytes:
    keys, which, count = mpop_args(args, 1, _MIN_MAX)
    highest = which == 1
    found = _first_nonempty(c.db, keys)
    if found is None:
        return null_array(c)
    key, zs = found
    return _mpop_reply(c, key, pop_pairs(c.db, key, zs, count, highest))


def _blocking_pop(c: Client, keys: list[bytes], highest: bool, count: int, timeout: float,
                  nested: bool) -> bytes:
    """Pop now when a key has members, else wait for ZADD/ZUNIONSTORE... on one of them."""
    db = c.db
    found = _first_nonempty(db, keys)
    if found is not None:
        key, zs = found
        pairs = pop_pairs(db, key, zs, count, highest)
        return _mpop_reply(c, key, pairs) if nested else _bpop_reply(c, key, pairs[0])

    def serve(db: Database, key: bytes) -> bytes | None:
        zs = db.lookup(key)
        if zs.__class__ is not ZSet or not zs:
            return None
        pairs = pop_pairs(db, key, zs, count, highest)
        return _mpop_reply(c, key, pairs) if nested else _bpop_reply(c, key, pairs[0])

    return block(c, keys, serve, timeout, null_array(c))


@command("BZPOPMIN")
def bzpopmin(c: Client, args: list[bytes]) -> bytes:
    return _blocking_pop(c, args[1:-1], False, 1, parse_timeout(args[-1]), nested=False)


@command("BZPOPMAX")
def bzpopmax(c: Client, args: list[bytes]) -> bytes:
    return _blocking_pop(c, args[1:-1], True, 1, parse_timeout(args[-1]), nested=False)


@command("BZMPOP")
def bzmpop(c: Client, args: list[bytes]) -> bytes:
    keys, which, count = mpop_args(args, 2, _MIN_MAX)  # Redis checks these before the timeout
    highest = which == 1
    return _blocking_pop(c, keys, highest, count, parse_timeout(args[1]), nested=True)


# -------------------------------------------------------------- ZRANDMEMBER
@command("ZRANDMEMBER")
def zrandmember(c: Client, args: list[bytes]) -> bytes:
    if len(args) == 2:
        zs = get_zset(c.db, args[1])
        if zs is None:
            return c.nil
        return bulk(zs.pick([random.randrange(len(zs))])[0][1])
    random_count(args[2], paired=False)
    if len(args) > 4 or (len(args) == 4 and args[3].upper() != b"WITHSCORES"):
        raise SYNTAX
    withscores = len(args) == 4
    count = random_count(args[2], paired=withscores)
    zs = get_zset(c.db, args[1])
    if zs is None or count == 0:
        return EMPTY_ARRAY
    size = len(zs)
    if count < 0:
        # Repeats allowed: pick positions, fetch them in one pass, then shuffle
        # back into random order (the pass returns them sorted).
        pairs = zs.pick(sorted(random.choices(range(size), k=-count)))
        random.shuffle(pairs)
    elif count >= size:
        pairs = list(zs)
    else:
        pairs = zs.pick(sorted(random.sample(range(size), count)))
        random.shuffle(pairs)
    return pairs_reply(c, pairs, withscores)


# -------------------------------------------------------------------- ZSCAN
# Redis' small sorted sets (listpack: at most 128 members of at most 64 bytes)
# come whole in one reply; bigger ones are scanned COUNT members at a time.
_LISTPACK_ENTRIES = 128
_LISTPACK_VALUE = 64


class _Snapshots:
    """Member lists behind ZSCAN cursors of big sets (``session << 32 | position``).

    Every member present for the whole iteration is returned, as SCAN
    guarantees; members removed meanwhile are skipped, scores are current.
    At most ``LIMIT`` iterations are kept; a cursor from a dropped one starts
    over (members may come twice, which SCAN allows).
    """

    LIMIT = 32

    def __init__(self) -> None:
        self.lists: dict[int, list[bytes]] = {}
        self.next_id = 1

    def open(self, zs: ZSet) -> int:
        while len(self.lists) >= self.LIMIT:
            del self.lists[next(iter(self.lists))]
        sid = self.next_id
        self.next_id = self.next_id % 0x7FFFFFFF + 1
        self.lists[sid] = list(zs.scores)
        return sid


_SNAPSHOTS: weakref.WeakKeyDictionary[Server, _Snapshots] = weakref.WeakKeyDictionary()


@command("ZSCAN")
def zscan(c: Client, args: list[bytes]) -> bytes:
    cursor = parse_cursor(args[2])
    value = c.db.lookup(args[1])
    if value is None:
        return EMPTY_SCAN  # Redis answers before looking at the options
    if value.__class__ is not ZSet:
        raise WRONGTYPE
    zs: ZSet = value
    match, count, _ = scan_options(args, 3, allow_type=False)
    scores = zs.scores
    if len(zs) <= _LISTPACK_ENTRIES and all(len(m) <= _LISTPACK_VALUE for m in scores):
        pairs = [(s, m) for s, m in zs if match is None or match(m)]
        next_cursor = 0
    else:
        snapshots = _SNAPSHOTS.get(c.server)
        if snapshots is None:
            snapshots = _SNAPSHOTS[c.server] = _Snapshots()
        sid, pos = cursor >> 32, cursor & 0xFFFFFFFF
        members = snapshots.lists.get(sid) if cursor else None
        if members is None:
            sid, pos = snapshots.open(zs), 0
            members = snapshots.lists[sid]
        end = min(pos + count, len(members))
        pairs = []
        for member in members[pos:end]:
            score = scores.get(member)
            if score is not None and (match is None or match(member)):
                pairs.append((score, member))
        if end >= len(members):
            del snapshots.lists[sid]
            next_cursor = 0
        else:
            next_cursor = sid << 32 | end
    text = b"%d" % next_cursor
    body = b"".join(bulk(m) + bulk(format_double(s)) for s, m in pairs)
    return b"*2\r\n%s*%d\r\n%s" % (bulk(text), 2 * len(pairs), body)
