"""``stream.Stream`` against a model: a sorted list of the live IDs.

Random appends, deletions (the oldest, as consumers do, or any), exact and
approximate trims by length and by ID: the entries ranges return, the length,
the first and last live IDs and what trims report must match the model, and
exact trims must leave exactly what Redis' exact trimming leaves.  (The
agreement tests compare node boundaries with Redis itself.)
"""

from __future__ import annotations

import bisect
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stores.pulsards.stream import MAX_ID, Stream, StreamID

_OPS = st.lists(st.one_of(
    st.tuples(st.just("add"), st.integers(1, 300)),
    st.tuples(st.just("del_oldest"), st.integers(1, 40)),
    st.tuples(st.just("del_any"), st.integers(0, 10**6)),
    st.tuples(st.just("maxlen"), st.integers(0, 400), st.booleans()),
    st.tuples(st.just("minid"), st.integers(0, 10**6), st.booleans()),
), max_size=40)


def _check(s: Stream, model: list[StreamID]) -> None:
    assert len(s) == len(model)
    assert [sid for sid, _ in s.range((0, 0), MAX_ID)] == model
    assert s.first_id() == (model[0] if model else (0, 0))
    assert s.last_live() == (model[-1] if model else None)
    if len(model) > 2:
        lo, hi = model[1], model[-2]
        assert [sid for sid, _ in s.range(lo, hi, 5)] == model[1:-1][:5]
        assert [sid for sid, _ in s.range(lo, hi, 5, reverse=True)] == model[-2:0:-1][:5]


@settings(max_examples=150, deadline=None)
@given(_OPS)
def test_stream_matches_a_sorted_list(ops: list[tuple[Any, ...]]) -> None:
    s = Stream()
    model: list[StreamID] = []
    next_ms = 1
    for op in ops:
        if op[0] == "add":
            for _ in range(op[1]):
                sid = (next_ms, next_ms % 3)
                next_ms += 1
                s.append(sid, (b"f", b"%d" % next_ms), 10, 4096)
                model.append(sid)
        elif op[0] == "del_oldest":
            for sid in model[:op[1]]:
                assert s.delete(sid)
            del model[:op[1]]
        elif op[0] == "del_any" and model:
            sid = model[op[1] % len(model)]
            assert s.delete(sid) and not s.delete(sid)
            model.remove(sid)
        elif op[0] == "maxlen":
            removed = s.trim(maxlen=op[1], approx=op[2], limit=0)
            if not op[2]:
                assert len(s) == min(len(model), op[1])
            assert removed == len(model) - len(s)
            del model[:removed]
        elif op[0] == "minid":
            minid = (op[1], 0)
            removed = s.trim(minid=minid, approx=op[2], limit=0)
            if not op[2]:
                assert model[removed:] == model[bisect.bisect_left(model, minid):]
            del model[:removed]
        _check(s, model)
