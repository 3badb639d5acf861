"""Argument parsing shared by pulsards' commands, against Redis' own rules (no I/O)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stores.pulsards.commands.args import LLONG_MAX, LLONG_MIN, to_int
from stores.pulsards.reply import CommandError

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
