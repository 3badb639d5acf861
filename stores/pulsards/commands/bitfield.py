"""BITFIELD and BITFIELD_RO: integers of 1 to 64 bits at any bit offset of a string.

As Redis 7.0's bitfieldGeneric: every operation is read and checked before
any runs (syntax, type ``i1``..``i64``/``u1``..``u63``, offset ``N`` or ``#N``
in units of the type's width, value); then the key's type; a write grows the
string with zero bytes up to the farthest bit written, before the first
operation runs, even when an OVERFLOW FAIL then writes nothing.  WATCH sees a
change when the key was made or grown and a write applied, or when a write
changed a field's value.  SET replies
the old value, INCRBY the new one; OVERFLOW (WRAP, SAT or FAIL: a null and no
write) applies to the operations after it.  Bits are numbered from the most
significant bit of the first byte, as SETBIT's.
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

_BAD_TYPE = CommandError("ERR Invalid bitfield type. Use something like i16 u8. "
                         "Note that u64 is not supported but i64 is.")
_BAD_OFFSET = CommandError("ERR bit offset is not an integer or out of range")
_BAD_OVERFLOW = CommandError("ERR Invalid OVERFLOW type specified")
_READ_ONLY = CommandError("ERR BITFIELD_RO only supports the GET subcommand")

# (opcode, signed, bits, offset, value, overflow)
Op = tuple[bytes, bool, int, int, int, bytes]


def _type(arg: bytes) -> tuple[bool, int]:
    signed = arg[:1] == b"i"
    if not signed and arg[:1] != b"u":
        raise _BAD_TYPE
    bits = to_int(arg[1:], _BAD_TYPE)
    if bits < 1 or bits > (64 if signed else 63):
        raise _BAD_TYPE
    return signed, bits


def _offset(c: Client, arg: bytes, bits: int) -> int:
    hashed = arg[:1] == b"#"
    offset = to_int(arg[1:] if hashed else arg, _BAD_OFFSET) * (bits if hashed else 1)
    if offset < 0 or offset >> 3 >= c.server.config.proto_max_bulk_len:
        raise _BAD_OFFSET
    return offset


def _parse(c: Client, args: list[bytes]) -> list[Op]:
    ops: list[Op] = []
    overflow = b"WRAP"
    i, n = 2, len(args)
    while i < n:
        name = args[i].upper()
        left = n - i - 1
        if name == b"OVERFLOW" and left >= 1:
            overflow = args[i + 1].upper()
            if overflow not in (b"WRAP", b"SAT", b"FAIL"):
                raise _BAD_OVERFLOW
            i += 2
            continue
        if not ((name == b"GET" and left >= 2) or (name in (b"SET", b"INCRBY") and left >= 3)):
            raise SYNTAX
        signed, bits = _type(args[i + 1])
        offset = _offset(c, args[i + 2], bits)
        value = 0 if name == b"GET" else to_int(args[i + 3])
        ops.append((name, signed, bits, offset, value, overflow))
        i += 3 if name == b"GET" else 4
    return ops


def _get(data: bytearray | bytes, signed: bool, bits: int, offset: int) -> int:
    first, last = offset >> 3, (offset + bits - 1) >> 3
    chunk = bytes(data[first:last + 1]).ljust(last - first + 1, b"\0")
    value = int.from_bytes(chunk, "big") >> ((last + 1) * 8 - offset - bits)
    value &= (1 << bits) - 1
    if signed and value >> (bits - 1):
        value -= 1 << bits
    return value


def _set(data: bytearray, bits: int, offset: int, value: int) -> None:
    first, last = offset >> 3, (offset + bits - 1) >> 3
    shift = (last + 1) * 8 - offset - bits
    mask = ((1 << bits) - 1) << shift
    width = last - first + 1
    word = int.from_bytes(data[first:last + 1], "big")
    word = (word & ~mask) | ((value << shift) & mask)
    data[first:last + 1] = word.to_bytes(width, "big")


def _limit(result: int, signed: bool, bits: int, overflow: bytes) -> int | None:
    """``result`` as the field stores it, or None when OVERFLOW FAIL refuses it."""
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if low <= result <= high:
        return result
    if overflow == b"FAIL":
        return None
    if overflow == b"SAT":
        return high if result > high else low
    wrapped = result & ((1 << bits) - 1)  # WRAP: two's complement
    if signed and wrapped >> (bits - 1):
        wrapped -= 1 << bits
    return wrapped


def _bitfield(c: Client, args: list[bytes], read_only: bool) -> bytes:
    ops = _parse(c, args)
    db = c.db
    key = args[1]
    writes = [op for op in ops if op[0] != b"GET"]
    if not writes:
        current = get_string(db, key)
        return b"*%d\r\n%s" % (len(ops), b"".join(
            integer(_get(current or b"", signed, bits, offset))
            for _, signed, bits, offset, _, _ in ops))
    if read_only:
        raise _READ_ONLY
    current = get_string(db, key)
    data = bytearray(current or b"")
    farthest = max((offset + bits - 1) >> 3 for _, _, bits, offset, _, _ in writes)
    # Made or grown: Redis' "dirty", which makes every applied write a change.
    grown = current is None or len(data) <= farthest
    if len(data) <= farthest:
        data.extend(bytes(farthest + 1 - len(data)))
    replies = []
    changed = False
    for name, signed, bits, offset, value, overflow in ops:
        old = _get(data, signed, bits, offset)
        if name == b"GET":
            replies.append(integer(old))
            continue
        if name == b"SET" and not signed:
            value %= 1 << 64  # Redis stores the signed argument in a uint64_t
        stored = _limit(old + value if name == b"INCRBY" else value, signed, bits, overflow)
        if stored is None:
            replies.append(c.nil)
            continue
        _set(data, bits, offset, stored)
        # As Redis: a write that leaves the field as it was is no change.
        changed = changed or grown or stored != old
        replies.append(integer(stored if name == b"INCRBY" else old))
    if changed:
        db.set(key, bytes(data), keepttl=True)
    elif grown:
        # Every write refused by OVERFLOW FAIL: the key is still made or grown,
        # but, as in Redis, that is no change for WATCH.
        db.data[key] = bytes(data)
    return b"*%d\r\n%s" % (len(replies), b"".join(replies))


@command("BITFIELD")
def bitfield(c: Client, args: list[bytes]) -> bytes:
    return _bitfield(c, args, False)


@command("BITFIELD_RO")
def bitfield_ro(c: Client, args: list[bytes]) -> bytes:
    return _bitfield(c, args, True)
