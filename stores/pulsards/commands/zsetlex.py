"""Lexicographic ranges of sorted sets: ZRANGE BYLEX, ZRANGEBYLEX,
ZREVRANGEBYLEX, ZLEXCOUNT, ZREMRANGEBYLEX (and ZRANGESTORE BYLEX).

Redis defines them for members of one score: then the members' order is the
set's order and both ends are found by bisection, O(log n).  Its rules when
scores differ are those of the walk over a small set (a listpack), which
pulsards follows for every size, O(n):

* the range is empty when min > max (or equal with an exclusive end), when
  the last member is below min or the first one above max;
* forward, it starts at the first member >= min (nothing if that one is
  above max) and goes on while members are <= max, whatever else they are;
  in reverse, it starts at the last member <= max (nothing if that one is
  below min) and goes back while members are >= min;
* a LIMIT offset skips members without looking at them.
"""

from __future__ import annotations

from typing import Final

from ..reply import CommandError
from ..zset import Pair, ZSet

__all__ = ["LexBound", "lex_bound", "lex_select", "lex_span"]

# (kind, text): kind -2 is ``-``, 2 is ``+``, 0 inclusive, 1 exclusive.
LexBound = tuple[int, bytes]

_NOT_LEX: Final = CommandError("ERR min or max not valid string range item")


def lex_bound(arg: bytes) -> LexBound:
    """A ``-``, ``+``, ``[text`` or ``(text`` range end."""
    if arg == b"-":
        return -2, b""
    if arg == b"+":
        return 2, b""
    if arg[:1] == b"[":
        return 0, arg[1:]
    if arg[:1] == b"(":
        return 1, arg[1:]
    raise _NOT_LEX


def lex_span(zs: ZSet, low: LexBound, high: LexBound) -> tuple[int, int]:
    """Positions [start, stop) of the members in range, walking forward."""
    if zs.flat():
        return _bisect(zs, low, high)
    pairs = zs.slice(0, len(zs))
    start = _first_in(pairs, low, high)
    if start is None:
        return 0, 0
    stop = start
    while stop < len(pairs) and _le_max(pairs[stop][1], high):
        stop += 1
    return start, stop


def lex_select(zs: ZSet, low: LexBound, high: LexBound, reverse: bool, offset: int,
               count: int) -> list[Pair] | None:
    """The pairs in range, in reply order, after ``offset`` and at most ``count``
    (all if negative); ``None`` when the scores are equal: use ``lex_span``."""
    if zs.flat():
        return None
    pairs = zs.slice(0, len(zs))
    out: list[Pair] = []
    if reverse:
        i = _last_in(pairs, low, high)
        if i is None:
            return out
        i -= offset
        while i >= 0 and count != 0 and _ge_min(pairs[i][1], low):
            out.append(pairs[i])
            i -= 1
            count -= 1
        return out
    i = _first_in(pairs, low, high)
    if i is None:
        return out
    i += offset
    while i < len(pairs) and count != 0 and _le_max(pairs[i][1], high):
        out.append(pairs[i])
        i += 1
        count -= 1
    return out


def _bisect(zs: ZSet, low: LexBound, high: LexBound) -> tuple[int, int]:
    kind, text = low
    if kind == -2:
        start = 0
    elif kind == 2:
        start = len(zs)
    else:
        start = zs.member_position(text, right=kind == 1)
    kind, text = high
    if kind == 2:
        stop = len(zs)
    elif kind == -2:
        stop = 0
    else:
        stop = zs.member_position(text, right=kind == 0)
    return start, max(start, stop)


def _ge_min(member: bytes, low: LexBound) -> bool:
    kind, text = low
    if kind == -2:
        return True
    if kind == 2:
        return False
    return member > text if kind else member >= text


def _le_max(member: bytes, high: LexBound) -> bool:
    kind, text = high
    if kind == 2:
        return True
    if kind == -2:
        return False
    return member < text if kind else member <= text


def _may_hold(pairs: list[Pair], low: LexBound, high: LexBound) -> bool:
    """Redis' zzlIsInLexRange: the checks before any walk."""
    if not pairs:
        return False
    (low_kind, low_text), (high_kind, high_text) = low, high
    # "-" sorts before every string and "+" after; both ends of a kind are equal.
    low_key = (low_kind if low_kind in (-2, 2) else 0, low_text)
    high_key = (high_kind if high_kind in (-2, 2) else 0, high_text)
    exclusive = low_kind != 0 or high_kind != 0  # "-" and "+" count as exclusive
    if low_key > high_key or (low_key == high_key and exclusive):
        return False
    return _ge_min(pairs[-1][1], low) and _le_max(pairs[0][1], high)


def _first_in(pairs: list[Pair], low: LexBound, high: LexBound) -> int | None:
    if not _may_hold(pairs, low, high):
        return None
    for i, (_, member) in enumerate(pairs):
        if _ge_min(member, low):
            return i if _le_max(member, high) else None
    return None


def _last_in(pairs: list[Pair], low: LexBound, high: LexBound) -> int | None:
    if not _may_hold(pairs, low, high):
        return None
    for i in range(len(pairs) - 1, -1, -1):
        member = pairs[i][1]
        if _le_max(member, high):
            return i if _ge_min(member, low) else None
    return None
