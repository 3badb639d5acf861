"""Sorted-set algebra: ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD.

Inputs may be sorted sets or plain sets (every member scoring 1), as in
Redis.  Argument checks run in Redis' order (numkeys, then the keys' types,
then the options), so the same bad request gets the same error.  Sources are
visited smallest first for union and intersection, as Redis' ``qsort`` by
cardinality does: SUM adds in that order, which decides the last bits of a
floating-point total.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from itertools import repeat
from typing import TYPE_CHECKING

from ..reply import SYNTAX, WRONGTYPE, CommandError, integer
from ..table import command
from ..zset import ZSet
from .args import to_float, to_int
from .sortedsets import pairs_reply, store_zset

if TYPE_CHECKING:
    from ..protocol import Client

__all__: list[str] = []

_WEIGHT = CommandError("ERR weight value is not a float")

# A source: its member -> score mapping (a set's members all score 1) and weight.
Source = dict[bytes, float] | set[bytes]


def _scores(source: Source, member: bytes) -> float | None:
    """``member``'s score in ``source`` or ``None``."""
    if source.__class__ is set:
        return 1.0 if member in source else None
    return source.get(member)  # type: ignore[union-attr]


def _items(source: Source) -> Iterable[tuple[bytes, float]]:
    """(member, score) pairs, lazily: ZINTERCARD's LIMIT stops early."""
    if source.__class__ is set:
        return zip(source, repeat(1.0))
    return source.items()  # type: ignore[union-attr]


def _sources(c: Client, args: list[bytes], numkeys_at: int) -> tuple[list[Source], int]:
    """The input collections (empty for missing keys) and the index after the keys."""
    numkeys = to_int(args[numkeys_at])
    if numkeys < 1:
        name = args[0].decode("utf-8", "replace").lower()
        raise CommandError(f"ERR at least 1 input key is needed for '{name}' command")
    if numkeys > len(args) - numkeys_at - 1:
        raise SYNTAX
    db = c.db
    sources: list[Source] = []
    for key in args[numkeys_at + 1:numkeys_at + 1 + numkeys]:
        value = db.lookup(key)
        if value is None:
            sources.append({})
        elif value.__class__ is ZSet:
            sources.append(value.scores)
        elif value.__class__ is set:
            sources.append(value)
        else:
            raise WRONGTYPE
    return sources, numkeys_at + 1 + numkeys


def _aggregate(op: bytes) -> str:
    word = op.upper()
    if word not in (b"SUM", b"MIN", b"MAX"):
        raise SYNTAX
    return word.decode()


def _combine(a: float, b: float, how: str) -> float:
    """Redis' ``zunionInterAggregate``: inf + -inf sums to 0, not NaN."""
    if how == "SUM":
        total = a + b
        return 0.0 if math.isnan(total) else total
    if how == "MIN":
        return b if b < a else a
    return b if b > a else a


def _weighted(score: float, weight: float) -> float:
    value = score * weight
    return 0.0 if math.isnan(value) else value  # 0 * inf


def _union(sources: list[Source], weights: list[float], how: str) -> dict[bytes, float]:
    out: dict[bytes, float] = {}
    for source, weight in sorted(zip(sources, weights, strict=True), key=lambda sw: len(sw[0])):
        for member, score in _items(source):
            value = _weighted(score, weight)
            old = out.get(member)
            out[member] = value if old is None else _combine(old, value, how)
    return out


def _inter(sources: list[Source], weights: list[float], how: str,
           limit: int = 0) -> dict[bytes, float]:
    """Members in every source; with ``limit``, stop after that many (ZINTERCARD)."""
    ordered = sorted(zip(sources, weights, strict=True), key=lambda sw: len(sw[0]))
    out: dict[bytes, float] = {}
    (first, first_weight), rest = ordered[0], ordered[1:]
    for member, score in _items(first):
        value = _weighted(score, first_weight)
        for source, weight in rest:
            other = _scores(source, member)
            if other is None:
                break
            # Only the first source's product goes from NaN (0 * inf) to 0;
            # Redis aggregates the others' as they are (inf + NaN sums to 0).
            value = _combine(value, other * weight, how)
        else:
            out[member] = value
            if limit and len(out) >= limit:
                break
    return out


def _diff(sources: list[Source]) -> dict[bytes, float]:
    first, rest = sources[0], [s for s in sources[1:] if s]
    return {member: score for member, score in _items(first)
            if not any(member in source for source in rest)}


def _algebra(c: Client, args: list[bytes], op: str, store: bool) -> bytes:
    numkeys_at = 2 if store else 1
    sources, i = _sources(c, args, numkeys_at)
    weights = [1.0] * len(sources)
    how = "SUM"
    withscores = False
    while i < len(args):
        option = args[i].upper()
        left = len(args) - i
        if op != "diff" and option == b"WEIGHTS" and left >= len(sources) + 1:
            weights = [to_float(arg, _WEIGHT) for arg in args[i + 1:i + 1 + len(sources)]]
            i += 1 + len(sources)
        elif op != "diff" and option == b"AGGREGATE" and left >= 2:
            how = _aggregate(args[i + 1])
            i += 2
        elif option == b"WITHSCORES" and not store:
            withscores = True
            i += 1
        else:
            raise SYNTAX
    if op == "union":
        result = _union(sources, weights, how)
    elif op == "inter":
        result = _inter(sources, weights, how)
    else:
        result = _diff(sources)
    if store:
        return store_zset(c, args[1], ZSet.from_scores(result))
    pairs = sorted((score, member) for member, score in result.items())
    return pairs_reply(c, pairs, withscores)


@command("ZUNION")
def zunion(c: Client, args: list[bytes]) -> bytes:
    return _algebra(c, args, "union", store=False)


@command("ZINTER")
def zinter(c: Client, args: list[bytes]) -> bytes:
    return _algebra(c, args, "inter", store=False)


@command("ZDIFF")
def zdiff(c: Client, args: list[bytes]) -> bytes:
    return _algebra(c, args, "diff", store=False)


@command("ZUNIONSTORE")
def zunionstore(c: Client, args: list[bytes]) -> bytes:
    return _algebra(c, args, "union", store=True)


@command("ZINTERSTORE")
def zinterstore(c: Client, args: list[bytes]) -> bytes:
    return _algebra(c, args, "inter", store=True)


@command("ZDIFFSTORE")
def zdiffstore(c: Client, args: list[bytes]) -> bytes:
    return _algebra(c, args, "diff", store=True)


@command("ZINTERCARD")
def zintercard(c: Client, args: list[bytes]) -> bytes:
    sources, i = _sources(c, args, 1)
    limit = 0
    while i < len(args):
        if args[i].upper() == b"LIMIT" and i + 1 < len(args):
            limit = to_int(args[i + 1], _NEGATIVE_LIMIT)
            if limit < 0:
                raise _NEGATIVE_LIMIT
            i += 2
        else:
            raise SYNTAX
    return integer(len(_inter(sources, [1.0] * len(sources), "SUM", limit)))


_NEGATIVE_LIMIT = CommandError("ERR LIMIT can't be negative")
