"""Replies across the mailbox: ``pack_replies`` / ``unpack_replies`` through msgpack."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from actors.codec import Codec, encode
from stores.errors import ResponseError, response_error
from stores.proxy.wire import pack_replies, unpack_replies

errors = st.sampled_from(["ERR bad", "WRONGTYPE no", "NOSCRIPT gone", "EXECABORT x"]).map(
    response_error)
scalars = st.one_of(st.none(), st.integers(-2**63, 2**63 - 1), st.binary(max_size=8),
                    st.text(max_size=8), st.floats(allow_nan=False), errors)
replies = st.lists(st.recursive(scalars, lambda inner: st.lists(inner, max_size=4),
                                max_leaves=12), max_size=20)


def plain(value: Any) -> Any:
    """Errors as (class, message): exceptions do not compare equal by value."""
    if isinstance(value, ResponseError):
        return (type(value), str(value))
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def across_mailbox(packed: list[Any]) -> list[Any]:
    """``packed`` as the result of a response frame, encoded and decoded."""
    (frame,) = Codec().feed(encode([1, 7, None, packed]))
    return frame[3]  # type: ignore[no-any-return]


@given(replies)
def test_replies_with_errors_at_any_depth_come_back_as_they_left(values: list[Any]) -> None:
    assert plain(unpack_replies(across_mailbox(pack_replies(values)))) == plain(values)


def test_flat_error_free_replies_travel_without_a_copy() -> None:
    values = [1, b"two", None, 3.5]
    data, errors_ = pack_replies(values)
    assert data is values and errors_ == []


def test_an_error_comes_back_as_the_same_subclass() -> None:
    values = [1, [response_error("WRONGTYPE no")], response_error("NOSCRIPT gone")]
    back = unpack_replies(across_mailbox(pack_replies(values)))
    assert type(back[1][0]) is type(values[1][0])  # type: ignore[index]
    assert type(back[2]) is type(values[2])
