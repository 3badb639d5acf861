"""The snapshot file (SAVE, BGSAVE): a small versioned binary format, no pickle.

Pure functions, no I/O: ``encode_snapshot`` yields the bytes of a snapshot of
some databases and ``decode_snapshot`` turns such bytes back into values.  The
format (version 2), all integers little-endian::

    file    = MAGIC "PULSARDS" (8 bytes) , version (1 byte, 2) , record* ,
              0xFF , crc32 (4 bytes: zlib.crc32 of every byte before it)
    record  = 0xF5 , string                       a function library's code
            | 0xFE , length                       select database <length>
            | 0xFC , int64 , entry                the entry expires at <int64>
            | entry                                (ms since the epoch)
    entry   = type (1 byte) , string key , value
    type    = 0 string | 1 list | 2 set | 3 hash | 4 zset
    value   = string                              (string)
            | length , string*                    (list: head to tail; set)
            | length , (string field , string value)*          (hash)
            | length , (string member , float64 score)*        (zset, in order)
    string  = length , bytes
    length  = one byte 0..253 | 0xFE , uint32 | 0xFF , uint64

Function libraries (FUNCTION LOAD's code) come first.  Version 1 (what
pulsards wrote before it had functions) is the same without them and is
read too; a pulsards that knows only version 1 refuses a version 2 file as
an unknown version rather than half reading it.  Unknown types, a bad magic,
an unknown version, a short file or a checksum mismatch raise
``SnapshotError``: a damaged snapshot is never half loaded.
"""

from __future__ import annotations

import struct
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any, Final, NamedTuple

from .stream import Consumer, Group, Nack, Stream
from .zset import ZSet

__all__ = ["MAGIC", "VERSION", "Entry", "Reader", "Snapshot", "SnapshotError", "decode_snapshot",
           "decode_value", "encode_snapshot", "encode_value"]

MAGIC: Final = b"PULSARDS"
VERSION: Final = 2  # 2: function libraries may come first; 1 files are read too
_READABLE: Final = (1, 2)

_SELECT: Final = 0xFE
_LIBRARY: Final = 0xF5  # as Redis' RDB_OPCODE_FUNCTION2
_EXPIRE: Final = 0xFC
_EOF: Final = 0xFF
_STRING, _LIST, _SET, _HASH, _ZSET, _STREAM = range(6)
_TYPES: Final[dict[type, int]] = {bytes: _STRING, deque: _LIST, set: _SET, dict: _HASH,
                                  ZSet: _ZSET, Stream: _STREAM}
_U32: Final = struct.Struct("<I")
_U64: Final = struct.Struct("<Q")
_I64: Final = struct.Struct("<q")
_F64: Final = struct.Struct("<d")

# (key, value, absolute expiry in ms or None)
Entry = tuple[bytes, Any, int | None]


class Snapshot(NamedTuple):
    """What a snapshot holds: database index -> entries, and function libraries."""

    dbs: dict[int, list[Entry]]
    libraries: list[bytes]


class SnapshotError(ValueError):
    """The bytes are not a valid pulsards snapshot."""


def _length(n: int) -> bytes:
    if n < 0xFE:
        return bytes((n,))
    if n <= 0xFFFFFFFF:
        return b"\xfe" + _U32.pack(n)
    return b"\xff" + _U64.pack(n)


def _string(data: bytes) -> bytes:
    return _length(len(data)) + data


def _value(value: Any) -> bytes:
    kind = _TYPES.get(type(value))
    if kind == _STRING:
        return _string(value)
    parts = [_length(len(value))]
    if kind in (_LIST, _SET):
        parts += [_string(item) for item in value]
    elif kind == _HASH:
        for field, item in value.items():
            parts += (_string(field), _string(item))
    elif kind == _ZSET:
        for score, member in value:
            parts += (_string(member), _F64.pack(score))
    elif kind == _STREAM:
        for sid, pairs in value.entries.items():
            parts += (*_ids(sid), _length(len(pairs)))
            parts += [_string(x) for x in pairs]
        parts += (*_ids(value.last_id), *_ids(value.max_deleted_id))
        parts.append(_U64.pack(value.entries_added))
        parts.append(_length(len(value.groups)))
        for name, group in value.groups.items():
            parts += (_string(name), *_ids(group.last_id), _I64.pack(group.entries_read),
                      _length(len(group.consumers)))
            for consumer in group.consumers.values():
                parts += (_string(consumer.name), _I64.pack(consumer.seen))
            parts.append(_length(len(group.pel)))
            for sid, nack in group.pel.items():
                owner = nack.consumer.name if nack.consumer is not None else b""
                parts += (*_ids(sid), _string(owner), _I64.pack(nack.time), _U64.pack(nack.count))
    else:
        raise TypeError(f"a snapshot cannot hold a {type(value).__name__}")
    return b"".join(parts)


def _ids(sid: tuple[int, int]) -> tuple[bytes, bytes]:
    return _U64.pack(sid[0]), _U64.pack(sid[1])


def encode_snapshot(dbs: Iterable[tuple[int, Iterable[Entry]]], chunk: int = 1 << 16,
                    libraries: Iterable[bytes] = ()) -> Iterator[bytes]:
    """The snapshot of ``(index, entries)`` pairs (and function libraries), in
    chunks of about ``chunk`` bytes.

    The last chunk ends with the EOF marker and the checksum.
    """
    crc = 0
    out = [MAGIC, bytes((VERSION,))]
    out += (b"\xf5" + _string(code) for code in libraries)
    size = sum(map(len, out))
    for index, entries in dbs:
        selected = False
        for key, value, expire in entries:
            if not selected:  # empty databases are left out
                out.append(b"\xfe" + _length(index))
                selected = True
            if expire is not None:
                out.append(b"\xfc" + _I64.pack(expire))
            record = bytes((_TYPES.get(type(value), 0),)) + _string(key) + _value(value)
            out.append(record)
            size += len(record)
            if size >= chunk:
                data = b"".join(out)
                crc = zlib.crc32(data, crc)
                yield data
                out = []
                size = 0
    out.append(b"\xff")
    data = b"".join(out)
    crc = zlib.crc32(data, crc)
    yield data + _U32.pack(crc)


class Reader:
    """Cursor over encoded bytes; every read checks it stays inside them."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def truncated(self) -> ValueError:
        return SnapshotError("snapshot is truncated")

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise self.truncated()
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise self.truncated()
        value = self.data[self.pos]
        self.pos += 1
        return value

    def length(self) -> int:
        first = self.byte()
        if first < 0xFE:
            return first
        if first == 0xFE:
            return int(_U32.unpack(self.take(4))[0])
        return int(_U64.unpack(self.take(8))[0])

    def string(self) -> bytes:
        return self.take(self.length())


def _read_value(r: Reader, kind: int) -> Any:
    if kind == _STRING:
        return r.string()
    n = r.length()
    if kind == _LIST:
        return deque(r.string() for _ in range(n))
    if kind == _SET:
        return {r.string() for _ in range(n)}
    if kind == _HASH:
        return {r.string(): r.string() for _ in range(n)}
    if kind == _ZSET:
        zset = ZSet()
        for _ in range(n):
            member = r.string()
            zset.add(member, _F64.unpack(r.take(8))[0])
        return zset
    if kind == _STREAM:
        return _read_stream(r, n)
    raise SnapshotError(f"unknown value type {kind} in snapshot")


def _read_id(r: Reader) -> tuple[int, int]:
    return int(_U64.unpack(r.take(8))[0]), int(_U64.unpack(r.take(8))[0])


def _read_stream(r: Reader, n: int) -> Stream:
    # Nodes are laid out again with Redis' default limits (the snapshot does
    # not record them): approximate trims may cut elsewhere after a restart.
    s = Stream()
    for _ in range(n):
        sid = _read_id(r)
        if sid <= s.last_id:
            raise SnapshotError("stream IDs out of order in snapshot")
        pairs = tuple(r.string() for _ in range(r.length()))
        s.append(sid, pairs, 100, 4096)
    s.last_id, s.max_deleted_id = _read_id(r), _read_id(r)
    s.entries_added = int(_U64.unpack(r.take(8))[0])
    for _ in range(r.length()):
        name = r.string()
        group = s.groups[name] = Group(_read_id(r), int(_I64.unpack(r.take(8))[0]))
        for _ in range(r.length()):
            cname = r.string()
            group.consumers[cname] = Consumer(cname, int(_I64.unpack(r.take(8))[0]))
        for _ in range(r.length()):
            sid, owner = _read_id(r), r.string()
            nack = Nack(None, int(_I64.unpack(r.take(8))[0]), int(_U64.unpack(r.take(8))[0]))
            consumer = group.consumers.get(owner)
            if consumer is None:
                raise SnapshotError("pending entry of an unknown consumer in snapshot")
            group.assign(sid, consumer, nack)
    return s


def encode_value(value: Any) -> bytes:
    """One value in the snapshot's encoding, led by its type (DUMP of a stream)."""
    return bytes((_TYPES.get(type(value), 0),)) + _value(value)


def decode_value(data: bytes) -> Any:
    """The value ``encode_value`` made (SnapshotError when damaged)."""
    r = Reader(data)
    value = _read_value(r, r.byte())
    if r.pos != len(data):
        raise SnapshotError("trailing bytes after the value")
    return value


def decode_snapshot(data: bytes) -> Snapshot:
    """The databases and libraries in the bytes ``encode_snapshot`` made."""
    if len(data) < 14 or data[:8] != MAGIC:
        raise SnapshotError("not a pulsards snapshot (bad magic)")
    if data[8] not in _READABLE:
        raise SnapshotError(f"unsupported snapshot version {data[8]}")
    if data[-5] != _EOF or _U32.unpack(data[-4:])[0] != zlib.crc32(data[:-4]):
        raise SnapshotError("snapshot checksum mismatch (damaged or truncated file)")
    r = Reader(data[:-5])
    r.pos = 9
    out: dict[int, list[Entry]] = {}
    libraries: list[bytes] = []
    entries: list[Entry] | None = None
    end = len(r.data)
    while r.pos < end:
        op = r.byte()
        if op == _LIBRARY:
            libraries.append(r.string())
            continue
        if op == _SELECT:
            entries = out.setdefault(r.length(), [])
            continue
        expire: int | None = None
        if op == _EXPIRE:
            expire = _I64.unpack(r.take(8))[0]
            op = r.byte()
        if entries is None:
            raise SnapshotError("snapshot entry before any database")
        key = r.string()
        entries.append((key, _read_value(r, op), expire))
    return Snapshot(out, libraries)
