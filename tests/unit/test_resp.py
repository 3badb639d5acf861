"""The RESP codec: hiredis and the pure-Python reader give the same replies."""

from __future__ import annotations

import math
from typing import Any

import hiredis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stores.errors import ProtocolError, ResponseError, WrongTypeError, response_error
from stores.redis.resp import (
    Push,
    PythonReader,
    encode_command,
    encode_reply,
    is_push,
    python_encode_command,
)

NOT_ENOUGH = Ellipsis
READERS = [hiredis.Reader, PythonReader]


def make(reader_cls: Any, **kw: Any) -> Any:
    return reader_cls(protocolError=ProtocolError, replyError=response_error,
                      notEnoughData=NOT_ENOUGH, **kw)


def read_all(reader: Any) -> list[Any]:
    out = []
    while (reply := reader.gets()) is not NOT_ENOUGH:
        out.append(reply)
    return out


def normal(value: Any) -> Any:
    """Comparable form: errors by class and text, pushes marked, NaN equal."""
    if isinstance(value, Exception):
        return ("error", type(value).__name__, str(value))
    if is_push(value):
        return ("push", [normal(v) for v in value])
    if isinstance(value, list):
        return [normal(v) for v in value]
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


texts = st.binary(max_size=40)
errors = st.from_regex(r"\A(ERR|WRONGTYPE|NOSCRIPT)( [a-z ]{0,20})?\Z").map(response_error)
resp2_scalars = texts | st.integers(-2**63, 2**63 - 1) | st.none() | errors
resp3_scalars = resp2_scalars | st.booleans() | st.floats(allow_nan=True)


def trees(scalars: st.SearchStrategy[Any], resp3: bool) -> st.SearchStrategy[Any]:
    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        options = st.lists(children, max_size=5)
        if resp3:
            options |= st.dictionaries(texts, children, max_size=4)
            options |= st.lists(children, max_size=4).map(Push)
        return options
    return st.recursive(scalars, extend, max_leaves=20)


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[last:point])
        last = point
    return pieces


@pytest.mark.parametrize("reader_cls", READERS)
@settings(max_examples=150, deadline=None)
@given(values=st.lists(trees(resp2_scalars, False), min_size=1, max_size=4),
       cuts=st.lists(st.integers(0, 10_000), max_size=6))
def test_resp2_round_trip_in_any_chunking(reader_cls: Any, values: list[Any],
                                          cuts: list[int]) -> None:
    data = b"".join(encode_reply(v) for v in values)
    reader = make(reader_cls)
    got = []
    for piece in chunks(data, cuts):
        reader.feed(piece)
        got.extend(read_all(reader))
    assert normal(got) == normal(values)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(trees(resp3_scalars, True), min_size=1, max_size=4),
       cuts=st.lists(st.integers(0, 10_000), max_size=6))
def test_resp3_both_readers_agree(values: list[Any], cuts: list[int]) -> None:
    data = b"".join(encode_reply(v, protocol=3) for v in values)
    results = []
    for reader_cls in READERS:
        reader = make(reader_cls)
        got = []
        for piece in chunks(data, cuts):
            reader.feed(piece)
            got.extend(read_all(reader))
        results.append(normal(got))
    assert results[0] == results[1]
    assert len(results[0]) == len(values)


@pytest.mark.parametrize("reader_cls", READERS)
def test_resp3_types(reader_cls: Any) -> None:
    reader = make(reader_cls)
    reader.feed(b"_\r\n#t\r\n#f\r\n,1.5\r\n,inf\r\n(12345678901234567890\r\n"
                b"=8\r\ntxt:abcd\r\n%1\r\n+k\r\n:1\r\n~2\r\n:1\r\n:2\r\n"
                b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n")
    got = read_all(reader)
    assert got[:8] == [None, True, False, 1.5, math.inf, b"12345678901234567890", b"abcd",
                       {b"k": 1}]
    assert got[8] == [1, 2]
    assert is_push(got[9]) and list(got[9]) == [b"message", b"ch", b"hi"]


@pytest.mark.parametrize("reader_cls", READERS)
def test_error_replies_are_returned_as_store_errors(reader_cls: Any) -> None:
    reader = make(reader_cls)
    reader.feed(b"-WRONGTYPE Operation against a key\r\n*2\r\n-ERR inner\r\n:1\r\n")
    first, second = read_all(reader)
    assert isinstance(first, WrongTypeError)
    assert isinstance(second[0], ResponseError) and str(second[0]) == "ERR inner"


@pytest.mark.parametrize("reader_cls", READERS)
def test_truncated_input_waits_for_more(reader_cls: Any) -> None:
    data = encode_reply([b"abc", 12, [b"x" * 100, None]])
    reader = make(reader_cls)
    for i in range(len(data) - 1):
        reader.feed(data[i:i + 1])
        assert reader.gets() is NOT_ENOUGH
    reader.feed(data[-1:])
    assert reader.gets() == [b"abc", 12, [b"x" * 100, None]]


@pytest.mark.parametrize("reader_cls", READERS)
@pytest.mark.parametrize("garbage", [b"?what\r\n", b":12a\r\n", b"$abc\r\n", b"*x\r\n",
                                     b"$-5\r\n"])
def test_garbage_raises_protocol_error_and_stays_broken(reader_cls: Any,
                                                        garbage: bytes) -> None:
    reader = make(reader_cls)
    reader.feed(garbage + b"+OK\r\n")
    with pytest.raises(ProtocolError):
        reader.gets()
    with pytest.raises(ProtocolError):
        reader.gets()


def test_python_reader_rejects_unterminated_bulk() -> None:
    reader = make(PythonReader)
    reader.feed(b"$3\r\nabcXY")
    with pytest.raises(ProtocolError, match="CRLF"):
        reader.gets()


@pytest.mark.parametrize("reader_cls", READERS)
def test_encoding_decodes_strings(reader_cls: Any) -> None:
    reader = make(reader_cls, encoding="utf-8")
    reader.feed(encode_reply([b"caf\xc3\xa9", 1]) + b"+OK\r\n")
    assert read_all(reader) == [["café", 1], "OK"]


def test_python_reader_skips_attributes() -> None:
    reader = make(PythonReader)
    reader.feed(b"|1\r\n+key-popularity\r\n%0\r\n*2\r\n:1\r\n|0\r\n:2\r\n")
    assert reader.gets() == [1, 2]


args = st.lists(st.binary(max_size=30) | st.text(max_size=20)
                | st.integers(-2**70, 2**70) | st.floats(allow_nan=False),
                min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(args)
def test_encoders_agree_with_hiredis(values: list[Any]) -> None:
    assert encode_command(values) == python_encode_command(values) == hiredis.pack_command(
        tuple(values))


def test_encoded_command_parses_back() -> None:
    reader = make(PythonReader)
    reader.feed(encode_command(["SET", "k", b"\x00\r\n", 3, 1.5]))
    assert reader.gets() == [b"SET", b"k", b"\x00\r\n", b"3", b"1.5"]


@pytest.mark.parametrize("bad", [None, True, False, [1], {"a": 1}, object(), bytearray(b"x")])
@pytest.mark.parametrize("encoder", [encode_command, python_encode_command])
def test_unsupported_argument_types_raise_type_error(bad: Any, encoder: Any) -> None:
    with pytest.raises(TypeError, match="must be bytes, str, int or float"):
        encoder(["SET", "k", bad])
