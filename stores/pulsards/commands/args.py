"""Argument parsing shared by the handlers, with Redis' error texts."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache
from typing import Final

from ..keyspace import now_ms
from ..reply import NOT_FLOAT, NOT_INTEGER, SYNTAX, CommandError

__all__ = ["glob_matcher", "ld_add", "ld_format", "mpop_args", "positive_count", "random_count",
           "range_float", "strtod", "subcommand_error", "timeout_ms", "to_float", "to_int",
           "to_long_double", "upper"]

_FLOAT_OK: Final = re.compile(rb"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z"
                              rb"|[-+]?inf(?:inity)?\Z", re.IGNORECASE)
LLONG_MIN: Final = -(2**63)
LLONG_MAX: Final = 2**63 - 1


def to_int(arg: bytes, err: CommandError = NOT_INTEGER) -> int:
    """Parse a 64-bit signed integer as Redis' ``string2ll`` (no spaces, no '+')."""
    # int() also takes " 1", "+1", "01", "1_0": only "0" and [-][1-9][0-9]* are
    # valid.  (bytes.isdigit is ASCII only, and cheaper than formatting the
    # value back to compare: INCR runs this on every call.)
    n = len(arg)
    if arg.isdigit():
        if n > 19 or (n > 1 and arg[0] == 48):
            raise err
    elif not (1 < n <= 20 and arg[0] == 45 and arg[1] != 48 and arg[1:].isdigit()):
        raise err
    value = int(arg)
    if n >= 19 and not LLONG_MIN <= value <= LLONG_MAX:
        raise err
    return value


# What glibc's strtod reads (the mantissa is group 1): decimal, hexadecimal
# (float.fromhex rounds as strtod does), and the named values.
_DECIMAL: Final = re.compile(rb"([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))(?:[eE][-+]?[0-9]+)?\Z")
_HEXADECIMAL: Final = re.compile(
    rb"([-+]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+))(?:[pP][-+]?[0-9]+)?\Z")
_NAMED: Final = re.compile(rb"[-+]?(?:inf(?:inity)?|nan)\Z", re.IGNORECASE)
_NONZERO: Final = re.compile(rb"[1-9a-fA-F]").search  # after the "0x" (x is not a digit)
_ISSPACE: Final = b" \t\n\v\f\r"
_INF: Final = float("inf")


def strtod(arg: bytes) -> tuple[float, bool] | None:
    """C's ``strtod`` over all of ``arg``: ``(value, ERANGE)``, or ``None``
    when ``arg`` is not a number from end to end.

    ERANGE is set when the value overflowed to an infinity or underflowed to
    zero (glibc also sets it for subnormal results; Redis ignores those).
    """
    text = arg.lstrip(_ISSPACE)
    if not text:
        # No conversion leaves the end pointer at the start: a number only if empty.
        return (0.0, False) if not arg else None
    if (found := _DECIMAL.match(text)) is not None:
        value = float(text)
        mantissa = found.group(1)
    elif (found := _HEXADECIMAL.match(text)) is not None:
        mantissa = found.group(1)
        try:
            value = float.fromhex(text.decode())
        except OverflowError:
            return (-_INF if mantissa[:1] == b"-" else _INF), True
        mantissa = mantissa.lstrip(b"+-")[2:]
    elif _NAMED.match(text) is not None:
        return float(text), False
    else:
        return None
    if value == _INF or value == -_INF:
        return value, True
    return value, value == 0 and _NONZERO(mantissa) is not None


_NOT_POSITIVE: Final = CommandError("ERR value is out of range, must be positive")


def positive_count(arg: bytes) -> int:
    """A pop's COUNT, as Redis' ``getPositiveLongFromObjectOrReply`` reads it
    (zero allowed; one error for non-integers and negatives alike)."""
    count = to_int(arg, _NOT_POSITIVE)
    if count < 0:
        raise _NOT_POSITIVE
    return count


_NUMKEYS: Final = CommandError("ERR numkeys should be greater than 0")
_COUNT: Final = CommandError("ERR count should be greater than 0")


def mpop_args(args: list[bytes], at: int, words: tuple[bytes, bytes]
              ) -> tuple[list[bytes], int, int]:
    """``(keys, which, count)`` of ``numkeys key... WORD [COUNT n]`` at
    ``args[at]``, read as Redis' LMPOP and ZMPOP do; ``which`` is the index
    in ``words`` (LEFT/RIGHT or MIN/MAX) of the word given."""
    numkeys = to_int(args[at], _NUMKEYS)
    if numkeys < 1:
        raise _NUMKEYS
    where_at = at + numkeys + 1
    if where_at >= len(args):
        raise SYNTAX
    word = args[where_at].upper()
    if word not in words:
        raise SYNTAX
    count = -1
    i = where_at + 1
    while i < len(args):
        if count == -1 and args[i].upper() == b"COUNT" and i + 1 < len(args):
            count = to_int(args[i + 1], _COUNT)
            if count < 1:
                raise _COUNT
            i += 2
        else:
            raise SYNTAX
    return args[at + 1:where_at], words.index(word), max(count, 1)


def to_float(arg: bytes, err: CommandError = NOT_FLOAT) -> float:
    """Parse a double as Redis' ``getDoubleFromObject``: ``strtod`` over all of
    ``arg``, which must not be empty, start with a space, overflow, underflow
    to zero or be NaN."""
    if arg.isdigit() and len(arg) < 300:  # plain digits (ASCII): the usual score
        return float(arg)
    parsed = strtod(arg) if arg[:1].lstrip(_ISSPACE) else None
    if parsed is None or parsed[1] or parsed[0] != parsed[0]:
        raise err
    return parsed[0]


def range_float(arg: bytes, err: CommandError) -> float:
    """Parse a score range bound as Redis' ``zslParseRange``: ``strtod`` over
    all of ``arg``, not NaN (leading spaces, "" and out-of-range values pass)."""
    parsed = strtod(arg)
    if parsed is None or parsed[0] != parsed[0]:
        raise err
    return parsed[0]


# INCRBYFLOAT and HINCRBYFLOAT compute in C ``long double`` (x87 80-bit: a
# 64-bit significand) and print with ``%.17Lf``; clients see those digits
# (10.5 + 0.1 - 5 + 1e3 is 1005.59999999999999998), so pulsards rounds exact
# fractions to 64 significant bits at every step to give the same text.
_LD_BITS: Final = 64


def _ld_round(value: Fraction) -> Fraction:
    """``value`` rounded to the nearest long double (ties to even)."""
    if value == 0:
        return Fraction(0)
    sign = -1 if value < 0 else 1
    a = abs(value)
    exp = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** exp > a:
        exp -= 1
    scaled = a * Fraction(2) ** (_LD_BITS - 1 - exp)  # in [2**63, 2**64)
    mantissa = round(scaled)  # Fraction rounds half to even
    return sign * mantissa * Fraction(2) ** (exp - _LD_BITS + 1)


def to_long_double(arg: bytes, err: CommandError = NOT_FLOAT) -> Fraction | None:
    """Parse as ``strtold`` would; ``None`` for infinities (Redis refuses their result)."""
    if _FLOAT_OK.match(arg) is None:
        raise err
    text = arg.decode().lower()
    if "inf" in text:
        return None
    try:
        return _ld_round(Fraction(Decimal(text)))
    except InvalidOperation:  # pragma: no cover - the regex admits only numbers
        raise err from None


def ld_add(a: Fraction, b: Fraction) -> Fraction:
    """``a + b`` in long double."""
    return _ld_round(a + b)


def ld_format(value: Fraction) -> bytes:
    """Redis' ``ld2string(..., LD_STR_HUMAN)``: ``%.17Lf`` with trailing zeros trimmed."""
    scaled = round(abs(value) * 10**17)
    whole, frac = divmod(scaled, 10**17)
    text = f"{whole}.{frac:017d}".rstrip("0").rstrip(".")
    if value < 0 and text != "0":
        text = "-" + text
    return text.encode()


_RANDOM_RANGE: Final = CommandError(
    "ERR value is out of range, value must between -9223372036854775807 and "
    "9223372036854775807")
_HALF_RANGE: Final = CommandError("ERR value is out of range")


def random_count(arg: bytes, paired: bool) -> int:
    """The count of SRANDMEMBER, HRANDFIELD, ZRANDMEMBER, checked as Redis does.

    A negative count asks for that many picks with repeats, so the range is
    symmetric (-LONG_MAX..LONG_MAX), and half that when every pick is a pair
    (WITHVALUES, WITHSCORES) because the reply length doubles.
    """
    count = to_int(arg)
    if count == LLONG_MIN:
        raise _RANDOM_RANGE
    if paired and not -(LLONG_MAX // 2) <= count <= LLONG_MAX // 2:
        raise _HALF_RANGE
    return count


def subcommand_error(args: list[bytes], parent: str) -> CommandError:
    """Redis' error for a subcommand given the wrong arguments."""
    sub = args[1].decode("utf-8", "replace")
    return CommandError(f"ERR unknown subcommand or wrong number of arguments for "
                        f"'{sub[:128]}'. Try {parent} HELP.")


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


def timeout_ms(arg: bytes) -> int:
    """A timeout in milliseconds (XREAD's BLOCK, WAIT; 0: for ever), with Redis' errors."""
    ms = to_int(arg, CommandError("ERR timeout is not an integer or out of range"))
    if ms < 0:
        raise CommandError("ERR timeout is negative")
    if ms > LLONG_MAX - now_ms():
        raise CommandError("ERR timeout is out of range")
    return ms
