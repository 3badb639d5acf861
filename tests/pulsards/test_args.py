"""Argument parsing shared by pulsards' commands, against Redis' own rules (no I/O)."""

from __future__ import annotations

import ctypes
import errno
import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stores.pulsards.commands.args import (
    LLONG_MAX,
    LLONG_MIN,
    range_float,
    strtod,
    to_float,
    to_int,
)
from stores.pulsards.reply import NOT_FLOAT, CommandError

pytestmark = pytest.mark.timeout(60)

# Redis' string2ll: "0", or an optional '-' then a digit 1-9 then digits, in range.
_CANONICAL = re.compile(rb"0|-?[1-9][0-9]*")


def _string2ll(arg: bytes) -> int | None:
    if _CANONICAL.fullmatch(arg) is None:
        return None
    value = int(arg)
    return value if LLONG_MIN <= value <= LLONG_MAX else None


def _check(arg: bytes) -> None:
    want = _string2ll(arg)
    if want is None:
        with pytest.raises(CommandError, match="not an integer"):
            to_int(arg)
    else:
        assert to_int(arg) == want


@pytest.mark.parametrize("arg", [
    b"0", b"7", b"-7", b"10", b"", b"-", b"-0", b"00", b"01", b"+1", b" 1", b"1 ", b"1_0",
    b"1.0", b"0x1", "\u0661".encode(),  # an Arabic-Indic digit, in UTF-8
    b"9223372036854775807", b"9223372036854775808", b"-9223372036854775808",
    b"-9223372036854775809", b"99999999999999999999", b"-99999999999999999999",
    b"09223372036854775807", b"123456789012345678901",
])
def test_to_int_edges(arg: bytes) -> None:
    _check(arg)


@given(st.one_of(
    st.integers().map(lambda i: b"%d" % i),
    st.binary(max_size=22),
    st.text("0123456789-+ _", max_size=22).map(str.encode),
))
def test_to_int_follows_string2ll(arg: bytes) -> None:
    _check(arg)


# ------------------------------------------------------------------ strtod
# The oracle is the C library's own strtod (glibc, which Redis links), through ctypes.
_libc = ctypes.CDLL(None, use_errno=True)
_libc.strtod.restype = ctypes.c_double
_libc.strtod.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]


def _c_strtod(arg: bytes) -> tuple[float, bool] | None:
    buf = ctypes.create_string_buffer(arg)
    end = ctypes.c_void_p()
    ctypes.set_errno(0)
    value = _libc.strtod(buf, ctypes.byref(end))
    erange = ctypes.get_errno() == errno.ERANGE
    if (end.value or 0) - ctypes.addressof(buf) != len(arg):
        return None
    # Redis only looks at ERANGE with an infinite or zero result (not subnormals).
    return value, erange and (math.isinf(value) or value == 0)


def _same(got: tuple[float, bool] | None, want: tuple[float, bool] | None) -> bool:
    if got is None or want is None:
        return got is want
    (a, a_range), (b, b_range) = got, want
    if math.isnan(b):
        return math.isnan(a) and a_range == b_range
    return a == b and math.copysign(1, a) == math.copysign(1, b) and a_range == b_range


_NUMBERISH = st.text("0123456789.eE+-xXpPaAfFinNtyY \t\v", max_size=14).map(str.encode)
_FLOATS = st.floats(allow_nan=False).flatmap(
    lambda f: st.sampled_from([repr(f), f.hex(), f"{f:.3e}", f"{f:.0f}"])).map(str.encode)


@pytest.mark.parametrize("arg", [
    b"", b" ", b" 1", b"1 ", b"1e", b"1e400", b"-1e400", b"1e-400", b"4.9e-324", b"0e999",
    b"0x10", b"0X1p3", b"-0x1.8p1", b"0x", b"0x1p", b"0x1p99999", b"0x1p-99999", b"0x0p-99999",
    b"inf", b"-Infinity", b"nan", b"-nan", b"infin", b".", b"-.5", b"1.", b"+.5e1", b"-0",
    b"1_0", b"1" * 400, b"0" * 400 + b"1",
])
def test_strtod_examples(arg: bytes) -> None:
    assert _same(strtod(arg), _c_strtod(arg)), arg


@given(st.one_of(_NUMBERISH, _FLOATS))
def test_strtod_is_the_c_librarys(arg: bytes) -> None:
    assert _same(strtod(arg), _c_strtod(arg)), arg


@given(st.one_of(_NUMBERISH, _FLOATS))
def test_to_float_and_range_float_are_redis_rules(arg: bytes) -> None:
    want = _c_strtod(arg)
    # getDoubleFromObject: not empty, no leading space, no ERANGE, not NaN.
    ok = (want is not None and arg != b"" and not arg[:1].isspace() and not want[1]
          and not math.isnan(want[0]))
    if ok:
        assert want is not None and to_float(arg) == want[0]
    else:
        with pytest.raises(CommandError):
            to_float(arg)
    # zslParseRange: only the whole string and not NaN.
    if want is not None and not math.isnan(want[0]):
        assert range_float(arg, NOT_FLOAT) == want[0]
    else:
        with pytest.raises(CommandError):
            range_float(arg, NOT_FLOAT)
