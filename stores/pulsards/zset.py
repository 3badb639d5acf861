"""The sorted-set value: a member -> score dict plus an ordered index.

``ZSet.order`` is a list of sorted runs of ``(score, member)`` pairs (as the
``sortedcontainers`` package does): finding a position is a bisection over
the runs' maxima then inside one run, and inserting moves at most one run of
``RUN`` pairs, so updates stay O(log n) plus a bounded memmove even for
millions of members.  Ranks need the lengths of the runs before a position,
an O(n / RUN) sum.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator
from operator import itemgetter
from typing import Final

__all__ = ["ZSet"]

RUN: Final = 512

Pair = tuple[float, bytes]

_member: Final = itemgetter(1)


class ZSet:
    """Members with scores, ordered by (score, member) like Redis' skiplist."""

    __slots__ = ("_maxes", "_runs", "scores")

    def __init__(self) -> None:
        self.scores: dict[bytes, float] = {}
        self._runs: list[list[Pair]] = []
        self._maxes: list[Pair] = []

    def __len__(self) -> int:
        return len(self.scores)

    def flat(self) -> bool:
        """Whether every member has the same score (lex ranges bisect then)."""
        runs = self._runs
        return not runs or runs[0][0][0] == runs[-1][-1][0]

    def __iter__(self) -> Iterator[Pair]:
        for run in self._runs:
            yield from run

    def copy(self) -> ZSet:
        other = ZSet()
        other.scores = dict(self.scores)
        other._runs = [list(run) for run in self._runs]
        other._maxes = list(self._maxes)
        return other

    __copy__ = copy

    @classmethod
    def from_scores(cls, scores: dict[bytes, float]) -> ZSet:
        """A set holding ``scores`` (member -> score), built in O(n log n) at once.

        Store commands (ZUNIONSTORE, ZRANGESTORE...) make whole sets: sorting
        once and cutting runs is cheaper than n inserts.
        """
        zs = cls()
        zs.scores = scores
        pairs = sorted((score, member) for member, score in scores.items())
        zs._runs = [pairs[i:i + RUN] for i in range(0, len(pairs), RUN)]
        zs._maxes = [run[-1] for run in zs._runs]
        return zs

    @classmethod
    def from_pairs(cls, pairs: Iterable[Pair]) -> ZSet:
        """A set of ``(score, member)`` pairs with distinct members."""
        return cls.from_scores({member: score for score, member in pairs})

    # ------------------------------------------------------------ updates
    def add(self, member: bytes, score: float) -> None:
        """Insert ``member`` or move it to ``score``."""
        old = self.scores.get(member)
        if old is not None:
            if old == score:
                return
            self._unindex((old, member))
        self.scores[member] = score
        self._index((score, member))

    def remove(self, member: bytes) -> bool:
        score = self.scores.pop(member, None)
        if score is None:
            return False
        self._unindex((score, member))
        return True

    def _index(self, pair: Pair) -> None:
        maxes, runs = self._maxes, self._runs
        if not runs:
            runs.append([pair])
            maxes.append(pair)
            return
        i = bisect_left(maxes, pair)
        if i == len(runs):
            i -= 1
            runs[i].append(pair)
            maxes[i] = pair
        else:
            insort(runs[i], pair)
        if len(runs[i]) > 2 * RUN:  # split a long run in two
            run = runs[i]
            runs[i:i + 1] = [run[:RUN], run[RUN:]]
            maxes[i:i + 1] = [run[RUN - 1], run[-1]]

    def _unindex(self, pair: Pair) -> None:
        maxes, runs = self._maxes, self._runs
        i = bisect_left(maxes, pair)
        run = runs[i]
        del run[bisect_left(run, pair)]
        if run:
            maxes[i] = run[-1]
        else:
            del runs[i]
            del maxes[i]

    # ------------------------------------------------------------ queries
    def rank(self, member: bytes) -> int | None:
        """0-based position of ``member`` in ascending order."""
        score = self.scores.get(member)
        if score is None:
            return None
        return self.position((score, member))

    def position(self, pair: Pair, right: bool = False) -> int:
        """How many pairs sort before ``pair`` (after it with ``right``)."""
        maxes, runs = self._maxes, self._runs
        find = bisect_right if right else bisect_left
        i = find(maxes, pair)
        if i == len(runs):
            return len(self.scores)
        return sum(len(run) for run in runs[:i]) + find(runs[i], pair)

    def member_position(self, member: bytes, right: bool = False) -> int:
        """How many pairs have a member before ``member`` (not after it with ``right``).

        Lexicographic ranges (ZRANGEBYLEX...) assume every score is equal, as
        Redis' do: then the order is the members' order and bisection works.
        """
        maxes, runs = self._maxes, self._runs
        find = bisect_right if right else bisect_left
        i = find(maxes, member, key=_member)
        if i == len(runs):
            return len(self.scores)
        return sum(len(run) for run in runs[:i]) + find(runs[i], member, key=_member)

    def pick(self, positions: list[int]) -> list[Pair]:
        """The pairs at ascending ``positions`` (repeats allowed), in one pass over the runs."""
        out: list[Pair] = []
        runs = self._runs
        i = offset = 0
        for pos in positions:
            while pos >= offset + len(runs[i]):
                offset += len(runs[i])
                i += 1
            out.append(runs[i][pos - offset])
        return out

    def slice(self, start: int, stop: int) -> list[Pair]:
        """Pairs at positions ``start`` (inclusive) to ``stop`` (exclusive)."""
        out: list[Pair] = []
        if start >= stop:
            return out
        offset = 0
        for run in self._runs:
            end = offset + len(run)
            if end > start:
                out.extend(run[max(0, start - offset):stop - offset])
                if end >= stop:
                    break
            offset = end
        return out
