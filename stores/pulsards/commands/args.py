"""Argument parsing shared by the handlers, with Redis' error texts."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Final

from ..reply import NOT_FLOAT, NOT_INTEGER, CommandError

__all__ = ["glob_matcher", "to_decimal", "to_float", "to_int", "upper"]

_INT: Final = re.compile(rb"-?(?:0|[1-9][0-9]{0,18})\Z")
_FLOAT_OK: Final = re.compile(rb"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z"
                              rb"|[-+]?inf(?:inity)?\Z", re.IGNORECASE)
LLONG_MIN: Final = -(2**63)
LLONG_MAX: Final = 2**63 - 1


def to_int(arg: bytes, err: CommandError = NOT_INTEGER) -> int:
    """Parse a 64-bit signed integer as Redis' ``string2ll`` (no spaces, no '+')."""
    if _INT.match(arg) is None:
        raise err
    value = int(arg)
    if not LLONG_MIN <= value <= LLONG_MAX:
        raise err
    return value


def to_float(arg: bytes, err: CommandError = NOT_FLOAT) -> float:
    """Parse a double as Redis' ``string2d`` (no spaces, no NaN)."""
    if _FLOAT_OK.match(arg) is None:
        raise err
    return float(arg)


def to_decimal(arg: bytes, err: CommandError = NOT_FLOAT) -> Decimal:
    """Parse a number exactly (INCRBYFLOAT adds in long double; Decimal is closer)."""
    if _FLOAT_OK.match(arg) is None:
        raise err
    try:
        return Decimal(arg.decode())
    except InvalidOperation:  # pragma: no cover - the regex admits only numbers
        raise err from None


def upper(arg: bytes) -> bytes:
    return arg.upper()


@lru_cache(maxsize=256)
def glob_matcher(pattern: bytes) -> re.Pattern[bytes]:
    """A compiled regex matching like Redis' ``stringmatchlen`` (case-sensitive)."""
    out = bytearray()
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == ord("*"):
            out += b".*"
        elif c == ord("?"):
            out += b"."
        elif c == ord("\\") and i + 1 < n:
            i += 1
            out += re.escape(pattern[i:i + 1])
        elif c == ord("["):
            j = i + 1
            negate = j < n and pattern[j] == ord("^")
            if negate:
                j += 1
            items = bytearray()
            while j < n and pattern[j] != ord("]"):
                if pattern[j] == ord("\\") and j + 1 < n:
                    j += 1
                    items += re.escape(pattern[j:j + 1])
                elif pattern[j] == ord("-") and items and j + 1 < n and pattern[j + 1] != ord("]"):
                    items += b"-"
                else:
                    items += re.escape(pattern[j:j + 1])
                j += 1
            if not items:
                out += b"(?!)" if not negate else b"."
            else:
                out += b"[" + (b"^" if negate else b"") + bytes(items) + b"]"
            i = j  # at ']' (or the end: an unterminated class ends the pattern)
        else:
            out += re.escape(pattern[i:i + 1])
        i += 1
    return re.compile(bytes(out) + rb"\Z", re.DOTALL)
