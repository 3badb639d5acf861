"""Unit tests of the sans-I/O codec and the error mapping (no processes, no sockets)."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors import Codec, ProtocolError, RemoteError, encode, register_error
from actors.errors import decode_error, encode_error

scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False) | st.text(max_size=20) | st.binary(max_size=40)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5)
    | st.dictionaries(st.text(max_size=8) | st.integers(-100, 100), inner, max_size=5),
    max_leaves=8,
)
requests = st.builds(
    lambda i, m, a, k: [0, i, m, a, k],
    st.integers(0, 2**32), st.text(max_size=10), st.lists(values, max_size=4),
    st.dictionaries(st.text(max_size=8), values, max_size=3),
)
responses = st.builds(
    lambda i, e, r: [1, i, e, r],
    st.integers(0, 2**32),
    st.none() | st.lists(st.text(max_size=10), min_size=3, max_size=3),
    values,
)
notifications = st.builds(
    lambda m, a: [2, m, a], st.text(max_size=10), st.lists(values, max_size=4)
)
frames = requests | responses | notifications


@given(st.lists(frames, max_size=8), st.data())
@settings(max_examples=60, deadline=None)
def test_round_trip_with_any_slicing(messages: list[list[Any]], data: st.DataObject) -> None:
    stream = b"".join(encode(m) for m in messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    codec = Codec()
    out: list[list[Any]] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        out += codec.feed(stream[start:cut])
        start = cut
    assert out == messages
    for got, sent in zip(out, messages, strict=True):
        # bytes stay bytes, str stays str, ints stay ints
        assert repr(got) == repr(sent)


@given(st.binary(max_size=200))
@settings(max_examples=300, deadline=None)
def test_garbage_gives_frames_or_protocol_error_only(garbage: bytes) -> None:
    codec = Codec(max_frame=1024)
    try:
        codec.feed(garbage)
    except ProtocolError:
        with pytest.raises(ProtocolError):
            codec.feed(b"\x90")  # a failed codec stays failed


def test_bad_frames_are_rejected_with_reason() -> None:
    cases = {
        b"\xc1": "undecodable",
        encode({"a": 1}): "not a non-empty array",
        encode([]): "not a non-empty array",
        encode([9, 1]): "unknown frame type",
        encode([0, 1, "m", [], {}, 5]): "malformed request",
        encode([0, 1, 2, [], {}]): "malformed request",
        encode([1, "x", None, 1]): "malformed response",
        encode([1, 1, [1, 2], 1]): "malformed error",
        encode([2, "m"]): "malformed notification",
        b"\xd4\x01\x00": "ext type",
        b"\x91" * 5000: "undecodable",  # nesting too deep
    }
    for data, reason in cases.items():
        with pytest.raises(ProtocolError, match=reason):
            Codec().feed(data)


def test_frames_before_a_bad_one_are_kept() -> None:
    good = encode([2, "hello", [b"x"]])
    with pytest.raises(ProtocolError) as info:
        Codec().feed(good + good + b"\xc1")
    assert info.value.frames == [[2, "hello", [b"x"]]] * 2


def test_oversized_frame_fails_but_many_small_frames_do_not() -> None:
    codec = Codec(max_frame=100)
    small = b"".join(encode([2, "m", [b"x" * 20]]) for _ in range(50))  # 1.4 kB in one read
    assert len(codec.feed(small)) == 50
    big = encode([2, "m", [b"x" * 200]])
    with pytest.raises(ProtocolError, match="larger than 100 bytes"):
        for i in range(0, len(big), 10):
            codec.feed(big[i:i + 10])


def test_encode_refuses_what_msgpack_cannot_carry() -> None:
    with pytest.raises(TypeError):
        encode([2, "m", [object()]])
    assert msgpack.unpackb(encode([2, "m", [b"b"]]), raw=False) == [2, "m", [b"b"]]


# -- remote errors -------------------------------------------------------------


class ProjectError(Exception):
    pass


def test_known_errors_keep_their_class_and_message() -> None:
    for exc in [KeyError("k"), ValueError("v"), TimeoutError("t"), ZeroDivisionError("z")]:
        wire = msgpack.unpackb(msgpack.packb(encode_error(exc)), raw=False)
        back = decode_error(wire)
        assert type(back) is type(exc) and back.args == exc.args


def test_registered_project_error_round_trips() -> None:
    register_error(ProjectError)
    back = decode_error(encode_error(ProjectError("p")))
    assert type(back) is ProjectError and str(back) == "p"


def test_unknown_error_becomes_remote_error_never_none() -> None:
    class Local(Exception):
        pass

    try:
        raise Local("details here")
    except Local as exc:
        wire = encode_error(exc)
    back = decode_error(wire)
    assert isinstance(back, RemoteError)
    assert back.type_name.endswith("Local") and back.message == "details here"
    assert "raise Local" in back.remote_traceback
    # Even a malformed error triple decodes to an exception.
    assert isinstance(decode_error(["x"]), RemoteError)
    assert isinstance(decode_error(None), RemoteError)


def test_registered_class_with_odd_constructor_falls_back() -> None:
    class Needs2(Exception):
        def __init__(self, a: str, b: str) -> None:
            super().__init__(a, b)

    register_error(Needs2, name="tests.Needs2")
    back = decode_error(["tests.Needs2", "m", ""])
    assert isinstance(back, RemoteError) and back.type_name == "tests.Needs2"
