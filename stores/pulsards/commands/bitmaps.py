"""Bitmap commands on strings: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP.

Bit 0 is the most significant bit of the first byte, as in Redis.  Counting
and searching convert the byte range to one Python ``int`` (C speed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..reply import SYNTAX, CommandError, integer
from ..table import command
from .args import to_int
from .strings import get_string

if TYPE_CHECKING:
    from ..protocol import Client

__all__: list[str] = []

_BAD_OFFSET = CommandError("ERR bit offset is not an integer or out of range")
_BAD_BIT = CommandError("ERR bit is not an integer or out of range")
_BAD_BITPOS = CommandError("ERR The bit argument must be 1 or 0.")


def _offset(c: Client, arg: bytes) -> int:
    offset = to_int(arg, _BAD_OFFSET)
    if not 0 <= offset < min(2**32, c.server.config.proto_max_bulk_len * 8):
        raise _BAD_OFFSET
    return offset


@command("SETBIT")
def setbit(c: Client, args: list[bytes]) -> bytes:
    offset = _offset(c, args[2])
    if args[3] not in (b"0", b"1"):
        raise _BAD_BIT
    db = c.db
    current = get_string(db, args[1])
    value = bytearray(current or b"")
    index, shift = divmod(offset, 8)
    grown = index >= len(value)
    if grown:
        value.extend(bytes(index + 1 - len(value)))
    mask = 0x80 >> shift
    old = 1 if value[index] & mask else 0
    if args[3] == b"1":
        value[index] |= mask
    else:
        value[index] &= ~mask & 0xFF
    # As Redis: a bit set to what it was is not a write (WATCH does not see it).
    if current is None or grown or old != (args[3] == b"1"):
        db.set(args[1], bytes(value), keepttl=True)
    return integer(old)


@command("GETBIT")
def getbit(c: Client, args: list[bytes]) -> bytes:
    offset = _offset(c, args[2])
    value = get_string(c.db, args[1]) or b""
    index, shift = divmod(offset, 8)
    if index >= len(value):
        return b":0\r\n"
    return b":1\r\n" if value[index] & (0x80 >> shift) else b":0\r\n"


def _unit(args: list[bytes], at: int) -> bool:
    """True for BIT ranges, False for BYTE ones (the default)."""
    if len(args) <= at:
        return False
    if len(args) > at + 1:
        raise SYNTAX
    unit = args[at].upper()
    if unit == b"BIT":
        return True
    if unit == b"BYTE":
        return False
    raise SYNTAX


def _norm(start: int, end: int, size: int) -> tuple[int, int]:
    if start < 0:
        start = max(0, size + start)
    if end < 0:
        end = max(0, size + end)  # Redis clamps a too negative end to 0
    return start, min(end, size - 1)


def _bits(value: bytes) -> int:
    return int.from_bytes(value, "big")


@command("BITCOUNT")
def bitcount(c: Client, args: list[bytes]) -> bytes:
    value = get_string(c.db, args[1])
    if value is None:  # before the arguments are read, as Redis does
        return b":0\r\n"
    if len(args) == 3:
        raise SYNTAX
    ranged = len(args) > 2
    start = to_int(args[2]) if ranged else 0
    end = to_int(args[3]) if ranged else -1
    if start < 0 and end < 0 and start > end:  # as GETRANGE (BITPOS clamps), before
        return b":0\r\n"                      # the unit is read, as Redis does
    bits = _unit(args, 4)
    if not value:
        return b":0\r\n"
    size = len(value) * 8 if bits else len(value)
    start, end = _norm(start, end, size)
    if start > end:
        return b":0\r\n"
    if not bits:
        return integer(_bits(value[start:end + 1]).bit_count())
    chunk = _bits(value[start // 8:end // 8 + 1])
    width = (end // 8 - start // 8 + 1) * 8
    keep = end - start + 1
    chunk >>= width - (start % 8) - keep  # drop the bits after ``end``
    return integer((chunk & ((1 << keep) - 1)).bit_count())


@command("BITPOS")
def bitpos(c: Client, args: list[bytes]) -> bytes:
    if to_int(args[2]) not in (0, 1):
        raise _BAD_BITPOS
    want = args[2] == b"1"
    value = get_string(c.db, args[1])
    if value is None:  # before the range is read, as Redis does
        return b":-1\r\n" if want else b":0\r\n"
    start = to_int(args[3]) if len(args) > 3 else 0
    end_given = len(args) > 4
    end = to_int(args[4]) if end_given else -1
    bits = _unit(args, 5)
    size = len(value) * 8 if bits else len(value)
    start, end = _norm(start, end, size)
    if start > end:
        return b":-1\r\n"
    first, last = (start, end) if bits else (start * 8, end * 8 + 7)
    for bit in range(first, last + 1):
        if bool(value[bit >> 3] & (0x80 >> (bit & 7))) == want:
            return integer(bit)
    if not want and not end_given:
        return integer(last + 1)  # the zero just past the string
    return b":-1\r\n"


@command("BITOP")
def bitop(c: Client, args: list[bytes]) -> bytes:
    op = args[1].upper()
    if op not in (b"AND", b"OR", b"XOR", b"NOT"):
        raise SYNTAX
    if op == b"NOT" and len(args) != 4:
        raise CommandError("ERR BITOP NOT must be called with a single source key.")
    db = c.db
    sources = [get_string(db, key) or b"" for key in args[3:]]
    size = max(len(s) for s in sources)
    if size == 0:
        db.delete(args[2])
        return b":0\r\n"
    padded = [_bits(s + bytes(size - len(s))) for s in sources]
    result = padded[0]
    if op == b"NOT":
        result = ~result & ((1 << (8 * size)) - 1)
    for other in padded[1:]:
        if op == b"AND":
            result &= other
        elif op == b"OR":
            result |= other
        else:
            result ^= other
    db.set(args[2], result.to_bytes(size, "big"))
    return integer(size)
