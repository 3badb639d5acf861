"""``ZSet`` against a plain sorted list, with enough members to split its runs."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stores.pulsards import zset
from stores.pulsards.zset import ZSet

pytestmark = pytest.mark.timeout(30)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # RUN stays patched
@given(st.lists(st.tuples(st.sampled_from(["add", "remove"]), st.integers(0, 60),
                          st.integers(-5, 5)), max_size=300))
def test_zset_matches_a_sorted_model(monkeypatch_run: None,
                                     ops: list[tuple[str, int, int]]) -> None:
    zs = ZSet()
    model: dict[bytes, float] = {}
    for op, member_id, score in ops:
        member = b"m%d" % member_id
        if op == "add":
            zs.add(member, float(score))
            model[member] = float(score)
        else:
            assert zs.remove(member) == (model.pop(member, None) is not None)
    expected = sorted((s, m) for m, s in model.items())
    assert list(zs) == expected
    assert len(zs) == len(expected)
    for rank, (_, member) in enumerate(expected):
        assert zs.rank(member) == rank
    if expected:
        start = len(expected) // 3
        assert zs.slice(start, start + 7) == expected[start:start + 7]


@pytest.fixture
def monkeypatch_run(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tiny runs make a few hundred members exercise splitting and run removal.
    monkeypatch.setattr(zset, "RUN", 4)


def test_large_zset_positions() -> None:
    zs = ZSet()
    members = [(random.random(), b"%d" % i) for i in range(20000)]
    for score, member in members:
        zs.add(member, score)
    members.sort()
    assert list(zs) == members
    assert zs.position((members[12345][0], b"")) == 12345
    assert zs.slice(19990, 20010) == members[19990:]
