"""Reply encoding: what clients parse back is what the handler meant."""

from __future__ import annotations

import hiredis
from hypothesis import given
from hypothesis import strategies as st

from stores.pulsards.reply import bulks

# Values around the 1 KiB header table's edge, and nulls.
VALUES = st.one_of(st.none(), st.binary(max_size=40), st.binary(min_size=1020, max_size=1030))


@given(st.lists(VALUES, max_size=30), st.booleans())
def test_bulks_is_the_array_a_client_reads(values: list[bytes | None], resp3: bool) -> None:
    reader = hiredis.Reader()
    reader.feed(bulks(values, resp3))
    assert reader.gets() == values
    assert reader.gets() is False  # nothing after the array


# Values of one length take a path of their own; a null among them does not.
SAME_LENGTH = st.integers(0, 1030).flatmap(
    lambda n: st.lists(st.one_of(st.none(), st.binary(min_size=n, max_size=n)), max_size=30))


@given(SAME_LENGTH, st.booleans())
def test_bulks_of_values_of_one_length(values: list[bytes | None], resp3: bool) -> None:
    reader = hiredis.Reader()
    reader.feed(bulks(values, resp3))
    assert reader.gets() == values
    assert reader.gets() is False


def test_bulks_takes_any_iterable() -> None:
    assert bulks(iter([b"a", b""])) == b"*2\r\n$1\r\na\r\n$0\r\n\r\n"
    assert bulks(()) == b"*0\r\n"
    assert bulks([None], resp3=True) == b"*1\r\n_\r\n"
    assert bulks([None]) == b"*1\r\n$-1\r\n"
