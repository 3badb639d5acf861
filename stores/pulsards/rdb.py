"""Redis' DUMP payloads (one value in RDB encoding), without I/O.

A payload is a type byte and the value's RDB encoding, then the RDB version
(2 bytes, little endian) and a CRC-64 (Jones polynomial, reflected, as Redis'
``crc64``) of everything before it (8 bytes, little endian).

``dump_payload`` writes the plain encodings every Redis since 2.x loads
(string, list, set, hash, sorted set with binary scores), so Redis' RESTORE
takes what pulsards' DUMP makes.  ``load_payload`` also reads what Redis 7
writes: integer-encoded and LZF-compressed strings, quicklists of listpacks,
intsets, and listpack-encoded hashes, sets and sorted sets.  Streams travel in
pulsards' own snapshot encoding under a type byte Redis does not know (Redis
refuses such a payload; Redis' own stream encodings are refused here).
FUNCTION DUMP's payload is the same frame around each library's code, led
by the RDB opcode FUNCTION2 (``dump_functions``, ``load_functions``).
"""

from __future__ import annotations

import struct
from collections import deque
from typing import Any, Final

from .snapshot import Reader, SnapshotError, decode_value, encode_value
from .stream import Stream
from .zset import ZSet

__all__ = ["PayloadError", "crc64", "dump_functions", "dump_payload", "load_functions",
           "load_payload"]

RDB_VERSION: Final = 10  # Redis 7.0's; payloads up to 7.2's (11) are read
_NEWEST: Final = 11

_STRING, _LIST, _SET, _ZSET, _HASH, _ZSET_2 = 0, 1, 2, 3, 4, 5
_SET_INTSET, _HASH_LISTPACK, _ZSET_LISTPACK, _QUICKLIST_2, _SET_LISTPACK = 11, 16, 17, 18, 20
_PULSARDS_STREAM: Final = 0xF0
_FUNCTION_PRE_GA, _FUNCTION2 = 246, 245  # RDB opcodes of a function library

_F64: Final = struct.Struct("<d")
_SPECIAL_SCORES: Final = {253: float("nan"), 254: float("inf"), 255: float("-inf")}


class PayloadError(ValueError):
    """The payload is damaged or holds an encoding pulsards cannot read."""


def _crc_table() -> list[int]:
    poly = 0x95AC9329AC4BC9B5  # 0xad93d23594c935a9, bit-reversed
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE: Final = _crc_table()


def crc64(data: bytes, crc: int = 0) -> int:
    """Redis' CRC-64 (Jones): ``crc64(b"123456789") == 0xe9c6d914c4b8d9ca``."""
    table = _CRC_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


# ------------------------------------------------------------------ writing
def _length(n: int) -> bytes:
    if n < 1 << 6:
        return bytes((n,))
    if n < 1 << 14:
        return bytes((0x40 | n >> 8, n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + n.to_bytes(4, "big")
    return b"\x81" + n.to_bytes(8, "big")


def _string(data: bytes) -> bytes:
    return _length(len(data)) + data


def _seal(body: bytes) -> bytes:
    """``body`` followed by the RDB version and the CRC-64 of both."""
    body += RDB_VERSION.to_bytes(2, "little")
    return body + crc64(body).to_bytes(8, "little")


def dump_functions(codes: list[bytes]) -> bytes:
    """FUNCTION DUMP's payload: each library's code after the RDB opcode
    FUNCTION2, as Redis 7.0 writes it."""
    return _seal(b"".join(bytes((_FUNCTION2,)) + _string(code) for code in codes))


def dump_payload(value: Any) -> bytes:
    """The DUMP payload of a stored value."""
    kind = value.__class__
    if kind is bytes:
        parts = [b"\x00", _string(value)]
    elif kind is deque:
        parts = [b"\x01", _length(len(value)), *map(_string, value)]
    elif kind is set:
        parts = [b"\x02", _length(len(value)), *map(_string, value)]
    elif kind is dict:
        parts = [b"\x04", _length(len(value))]
        for field, item in value.items():
            parts += (_string(field), _string(item))
    elif kind is ZSet:
        parts = [b"\x05", _length(len(value))]
        for score, member in value:
            parts += (_string(member), _F64.pack(score))
    elif kind is Stream:
        parts = [bytes((_PULSARDS_STREAM,)), encode_value(value)]
    else:
        raise TypeError(f"cannot dump a {kind.__name__}")
    return _seal(b"".join(parts))


# ------------------------------------------------------------------ reading
class _Reader(Reader):
    """Cursor over a payload's value, with RDB's lengths and strings."""

    __slots__ = ()

    def truncated(self) -> ValueError:
        return PayloadError("truncated")

    def rdb_length(self) -> tuple[int, bool]:
        """A length, or (with True) the kind of a specially encoded string."""
        first = self.byte()
        kind = first >> 6
        if kind == 0:
            return first & 0x3F, False
        if kind == 1:
            return (first & 0x3F) << 8 | self.byte(), False
        if kind == 3:
            return first & 0x3F, True
        if first == 0x80:
            return int.from_bytes(self.take(4), "big"), False
        if first == 0x81:
            return int.from_bytes(self.take(8), "big"), False
        raise PayloadError("bad length")

    def count(self) -> int:
        n, special = self.rdb_length()
        if special:
            raise PayloadError("bad length")
        return n

    def string(self) -> bytes:
        n, special = self.rdb_length()
        if not special:
            return self.take(n)
        if n <= 2:  # an integer of 1, 2 or 4 bytes, little endian
            return b"%d" % int.from_bytes(self.take(1 << n), "little", signed=True)
        if n == 3:
            compressed, size = self.count(), self.count()
            return lzf_decompress(self.take(compressed), size)
        raise PayloadError("bad string encoding")


def lzf_decompress(data: bytes, size: int) -> bytes:
    """LZF (liblzf, as Redis compresses strings) back to ``size`` bytes."""
    out = bytearray()
    i = 0
    end = len(data)
    try:
        while i < end:
            ctrl = data[i]
            i += 1
            if ctrl < 32:  # a literal run of ctrl + 1 bytes
                out += data[i:i + ctrl + 1]
                i += ctrl + 1
                continue
            n = ctrl >> 5
            if n == 7:
                n += data[i]
                i += 1
            start = len(out) - ((ctrl & 0x1F) << 8) - data[i] - 1
            i += 1
            if start < 0:
                raise PayloadError("bad LZF back reference")
            for j in range(start, start + n + 2):  # may overlap what it writes
                out.append(out[j])
    except IndexError:
        raise PayloadError("truncated LZF data") from None
    if len(out) != size:
        raise PayloadError("LZF data of the wrong size")
    return bytes(out)


def _backlen_size(n: int) -> int:
    return 1 if n <= 127 else 2 if n < 16383 else 3 if n < 2097151 else 4 if n < 268435455 else 5


def _listpack(blob: bytes) -> list[bytes]:
    """The elements of a listpack, integers as their decimal text."""
    if len(blob) < 7 or blob[-1] != 0xFF or int.from_bytes(blob[:4], "little") != len(blob):
        raise PayloadError("bad listpack")
    out: list[bytes] = []
    pos = 6
    try:
        while (b := blob[pos]) != 0xFF:
            if b < 0x80:  # 7-bit unsigned
                out.append(b"%d" % b)
                size = 1
            elif b < 0xC0:  # string of up to 63 bytes
                size = 1 + (b & 0x3F)
                out.append(blob[pos + 1:pos + size])
            elif b < 0xE0:  # 13-bit signed
                n = (b & 0x1F) << 8 | blob[pos + 1]
                out.append(b"%d" % (n - (1 << 13) if n >= 1 << 12 else n))
                size = 2
            elif b < 0xF0:  # string of up to 4095 bytes
                size = 2 + ((b & 0x0F) << 8 | blob[pos + 1])
                out.append(blob[pos + 2:pos + size])
            elif b == 0xF0:  # string with a 32-bit length
                size = 5 + int.from_bytes(blob[pos + 1:pos + 5], "little")
                out.append(blob[pos + 5:pos + size])
            elif b <= 0xF4:  # 16, 24, 32 or 64-bit signed
                width = (2, 3, 4, 8)[b - 0xF1]
                size = 1 + width
                out.append(b"%d" % int.from_bytes(blob[pos + 1:pos + size], "little",
                                                  signed=True))
            else:
                raise PayloadError("bad listpack entry")
            pos += size + _backlen_size(size)
            if pos >= len(blob):
                raise PayloadError("bad listpack")
    except IndexError:
        raise PayloadError("truncated listpack") from None
    return out


def _intset(blob: bytes) -> set[bytes]:
    if len(blob) < 8:
        raise PayloadError("bad intset")
    width, count = int.from_bytes(blob[:4], "little"), int.from_bytes(blob[4:8], "little")
    if width not in (2, 4, 8) or len(blob) != 8 + width * count:
        raise PayloadError("bad intset")
    return {b"%d" % int.from_bytes(blob[i:i + width], "little", signed=True)
            for i in range(8, len(blob), width)}


def _score(text: bytes) -> float:
    try:
        return float(text)
    except ValueError:
        raise PayloadError("bad score") from None


def _read(r: _Reader, kind: int) -> Any:
    if kind == _STRING:
        return r.string()
    if kind == _PULSARDS_STREAM:
        try:
            return decode_value(r.data[r.pos:])
        except SnapshotError as exc:
            raise PayloadError(str(exc)) from None
    if kind == _SET_INTSET:
        return _intset(r.string())
    if kind in (_HASH_LISTPACK, _ZSET_LISTPACK, _SET_LISTPACK):
        items = _listpack(r.string())
        if kind == _SET_LISTPACK:
            return set(items)
        if len(items) % 2:
            raise PayloadError("odd listpack")
        pairs = zip(items[::2], items[1::2], strict=True)
        if kind == _HASH_LISTPACK:
            return dict(pairs)
        return ZSet.from_scores({member: _score(score) for member, score in pairs})
    n = r.count()
    if kind == _LIST:
        return deque(r.string() for _ in range(n))
    if kind == _QUICKLIST_2:
        out: deque[bytes] = deque()
        for _ in range(n):
            container = r.count()
            if container == 1:  # a plain node: one element
                out.append(r.string())
            elif container == 2:
                out.extend(_listpack(r.string()))
            else:
                raise PayloadError("bad quicklist node")
        return out
    if kind == _SET:
        return {r.string() for _ in range(n)}
    if kind == _HASH:
        return {r.string(): r.string() for _ in range(n)}
    if kind == _ZSET_2:
        return ZSet.from_scores({r.string(): _F64.unpack(r.take(8))[0] for _ in range(n)})
    if kind == _ZSET:  # scores as text, a length byte of 253-255 for nan, inf, -inf
        scores = {}
        for _ in range(n):
            member = r.string()
            size = r.byte()
            scores[member] = _SPECIAL_SCORES[size] if size >= 253 else _score(r.take(size))
        return ZSet.from_scores(scores)
    raise PayloadError(f"unsupported type {kind}")


def verify(payload: bytes) -> bool:
    """Whether the version and the checksum of ``payload`` are ones Redis accepts."""
    if len(payload) < 10:
        return False
    version = int.from_bytes(payload[-10:-8], "little")
    crc = int.from_bytes(payload[-8:], "little")
    return version <= _NEWEST and crc == crc64(payload[:-8])


def load_payload(payload: bytes) -> Any:
    """The value a verified payload holds (PayloadError when it cannot be read)."""
    r = _Reader(payload[:-10])
    value = _read(r, r.byte())  # bytes after the value are ignored, as by Redis
    if not value and value.__class__ is not bytes and value.__class__ is not Stream:
        raise PayloadError("empty value")
    return value


def load_functions(payload: bytes) -> list[bytes]:
    """The library codes of a verified FUNCTION DUMP payload (PayloadError
    with the text Redis' FUNCTION RESTORE answers)."""
    r = _Reader(payload[:-10])
    codes = []
    while r.pos < len(r.data):
        kind = r.byte()
        if kind == _FUNCTION_PRE_GA:
            raise PayloadError("Pre-GA function format not supported")
        if kind != _FUNCTION2:
            raise PayloadError("given type is not a function")
        try:
            codes.append(r.string())
        except (PayloadError, SnapshotError):
            raise PayloadError("Failed loading library payload") from None
    return codes
