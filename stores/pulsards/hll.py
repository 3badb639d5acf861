"""HyperLogLog in Redis' own string format, so values move between the two.

An HLL is a string value (``TYPE`` says string, ``GET`` returns it) of a
16-byte header (``HYLL``, encoding byte, 3 unused bytes, a cached
cardinality of 8 little-endian bytes whose top bit marks it stale) and 16384
six-bit registers, stored either

* *dense*: the registers packed little-endian, 12288 bytes; or
* *sparse*: run-length opcodes, ``ZERO`` (``00xxxxxx``, 1-64 zero registers),
  ``XZERO`` (``01xxxxxx yyyyyyyy``, 1-16384 zero registers) and ``VAL``
  (``1vvvvvxx``, 1-4 registers of value 1-32).

Updates follow Redis 7.0's algorithms step by step (the same opcode splits
and merges, promotion to dense past 3000 bytes or a value over 32), so the
bytes, and therefore the estimates, equal Redis'.  Elements hash with
MurmurHash64A (seed ``0xadc83b19``); the estimate is Ertl's improved
estimator, computed in the same floating-point order.

Whole-register work (decoding dense registers, merging, packing) is done on
Python integers as 8-bit lanes: a few big-integer operations instead of a
Python loop over 16384 registers.
"""

from __future__ import annotations

import math
import random
import struct
from bisect import bisect_left, bisect_right
from typing import Final

__all__ = [
    "EMPTY",
    "INVALID",
    "add",
    "cached_count",
    "count_registers",
    "describe_sparse",
    "is_dense",
    "is_hll",
    "merge_registers",
    "pack",
    "registers",
    "selftest",
    "set_registers",
    "to_dense",
    "with_count",
]

P: Final = 14
REGISTERS: Final = 1 << P
Q: Final = 64 - P
HEADER: Final = 16
DENSE_BYTES: Final = REGISTERS * 6 // 8
DENSE_SIZE: Final = HEADER + DENSE_BYTES
SPARSE_MAX_BYTES: Final = 3000  # Redis' hll-sparse-max-bytes default
_DENSE, _SPARSE = 0, 1
_ALPHA_INF: Final = 0.721347520444481703680

# Header, then one XZERO covering every register: Redis' createHLLObject().
EMPTY: Final = b"HYLL\x01\x00\x00\x00" + bytes(8) + b"\x7f\xff"


class Invalid(Exception):
    """The value claims to be an HLL but its registers do not decode."""


INVALID: Final = Invalid

_M: Final = 0xC6A4A7935BD1E995
_MASK: Final = (1 << 64) - 1


def murmur64a(data: bytes, seed: int = 0xADC83B19) -> int:
    """MurmurHash64A as Redis builds it (little-endian words)."""
    n = len(data)
    h = (seed ^ (n * _M)) & _MASK
    blocks = n >> 3
    if blocks:
        for k in struct.unpack_from(f"<{blocks}Q", data):
            k = (k * _M) & _MASK
            k ^= k >> 47
            h ^= (k * _M) & _MASK
            h = (h * _M) & _MASK
    if n & 7:
        h ^= int.from_bytes(data[blocks << 3:], "little")
        h = (h * _M) & _MASK
    h ^= h >> 47
    h = (h * _M) & _MASK
    return h ^ (h >> 47)


def pattern(element: bytes) -> tuple[int, int]:
    """(register index, run of zeros + 1) of an element, as ``hllPatLen``."""
    h = murmur64a(element)
    rest = (h >> P) | (1 << Q)  # the run stops at bit Q at the latest
    return h & (REGISTERS - 1), (rest & -rest).bit_length()


def is_hll(value: bytes) -> bool:
    """Redis' ``isHLLObjectOrReply`` test on a string value."""
    if len(value) < HEADER or value[:4] != b"HYLL" or value[4] > _SPARSE:
        return False
    return value[4] != _DENSE or len(value) == DENSE_SIZE


# ------------------------------------------------------------- registers
def _lanes(byte: int) -> int:
    return int.from_bytes(bytes([byte]) * (REGISTERS // 4), "little")


_L03: Final = _lanes(0x03)
_L0F: Final = _lanes(0x0F)
_L3F: Final = _lanes(0x3F)
_L80: Final = _lanes(0x80)
_ALL_RAW: Final = (1 << (8 * REGISTERS)) - 1
_H80_RAW: Final = int.from_bytes(b"\x80" * REGISTERS, "little")


def _unpack(packed: bytes | bytearray) -> bytes:
    """Dense registers (4 per 3 bytes, little-endian bits) -> one byte per register."""
    a = int.from_bytes(packed[0::3], "little")
    b = int.from_bytes(packed[1::3], "little")
    c = int.from_bytes(packed[2::3], "little")
    size = REGISTERS // 4
    out = bytearray(REGISTERS)
    out[0::4] = (a & _L3F).to_bytes(size, "little")
    out[1::4] = (((a >> 6) & _L03) | ((b & _L0F) << 2)).to_bytes(size, "little")
    out[2::4] = (((b >> 4) & _L0F) | ((c & _L03) << 4)).to_bytes(size, "little")
    out[3::4] = ((c >> 2) & _L3F).to_bytes(size, "little")
    return bytes(out)


def pack(raw: bytes | bytearray) -> bytearray:
    """One byte per register -> the dense packing."""
    r0, r1, r2, r3 = (int.from_bytes(raw[i::4], "little") & _L3F for i in range(4))
    size = REGISTERS // 4
    out = bytearray(DENSE_BYTES)
    out[0::3] = (r0 | ((r1 & _L03) << 6)).to_bytes(size, "little")
    out[1::3] = (((r1 >> 2) & _L0F) | ((r2 & _L0F) << 4)).to_bytes(size, "little")
    out[2::3] = (((r2 >> 4) & _L03) | (r3 << 2)).to_bytes(size, "little")
    return out


def _sparse_registers(body: bytes | bytearray) -> bytes:
    """Sparse opcodes -> one byte per register; ``Invalid`` unless they cover 16384."""
    raw = bytearray(REGISTERS)
    idx = 0
    p, end = 0, len(body)
    while p < end:
        op = body[p]
        if op & 0xC0 == 0:  # ZERO
            idx += (op & 0x3F) + 1
            p += 1
        elif op & 0x80 == 0:  # XZERO
            idx += (((op & 0x3F) << 8) | (body[p + 1] if p + 1 < end else 0)) + 1
            p += 2
        else:  # VAL
            run = (op & 3) + 1
            if idx + run > REGISTERS:
                break
            raw[idx:idx + run] = bytes([((op >> 2) & 0x1F) + 1]) * run
            idx += run
            p += 1
    if idx != REGISTERS:
        raise Invalid
    return bytes(raw)


def registers(value: bytes | bytearray) -> bytes:
    """The 16384 registers of a valid HLL value, one byte each."""
    if value[4] == _DENSE:
        return _unpack(value[HEADER:])
    return _sparse_registers(value[HEADER:])


def describe_sparse(value: bytes) -> bytes:
    """PFDEBUG DECODE's text: ``z:len`` (ZERO), ``Z:len`` (XZERO), ``v:value,len`` (VAL)."""
    words = []
    body = value[HEADER:]
    p, end = 0, len(body)
    while p < end:
        op = body[p]
        if op & 0xC0 == 0:
            words.append(b"z:%d" % ((op & 0x3F) + 1))
            p += 1
        elif op & 0x80 == 0:
            words.append(b"Z:%d" % ((((op & 0x3F) << 8) | (body[p + 1] if p + 1 < end else 0)) + 1))
            p += 2
        else:
            words.append(b"v:%d,%d" % (((op >> 2) & 0x1F) + 1, (op & 3) + 1))
            p += 1
    return b" ".join(words)


def merge_registers(a: bytes, b: bytes) -> bytes:
    """Register-wise maximum of two register arrays, in 8-bit lanes (values < 128)."""
    x = int.from_bytes(a, "little")
    y = int.from_bytes(b, "little")
    x_ge_y = (((x | _H80_RAW) - y) & _H80_RAW) >> 7  # 1 in lanes where x >= y
    keep = x_ge_y * 0xFF
    return ((x & keep) | (y & ~keep & _ALL_RAW)).to_bytes(REGISTERS, "little")


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        previous = z
        z += x * y
        y += y
        if previous == z:
            return z


def _tau(x: float) -> float:
    if x in (0.0, 1.0):
        return 0.0
    y, z = 1.0, 1 - x
    while True:
        x = math.sqrt(x)
        previous = z
        y *= 0.5
        z -= (1 - x) ** 2 * y
        if previous == z:
            return z / 3


def count_registers(raw: bytes) -> int:
    """The cardinality estimate of a register array (``hllCount``)."""
    histogram = [raw.count(v) for v in range(Q + 2)]
    m = float(REGISTERS)
    z = m * _tau((m - histogram[Q + 1]) / m)
    for j in range(Q, 0, -1):
        z += histogram[j]
        z *= 0.5
    z += m * _sigma(histogram[0] / m)
    if z == 0:  # every register at Q + 1: C divides by zero; no real input gets here
        return 0
    return math.floor(_ALPHA_INF * m * m / z + 0.5)  # llroundl: halves away from zero


def cached_count(value: bytes) -> int | None:
    """The cardinality cached in the header, ``None`` when stale."""
    if value[15] & 0x80:
        return None
    return int.from_bytes(value[8:16], "little")


def with_count(value: bytes, card: int) -> bytes:
    """``value`` with ``card`` cached in its header (PFCOUNT stores it, as Redis does)."""
    return value[:8] + card.to_bytes(8, "little") + value[16:]


# ---------------------------------------------------------------- updates
def to_dense(value: bytes | bytearray) -> bytearray:
    """A dense copy of a valid HLL (the header, with its cache, kept)."""
    if value[4] == _DENSE:
        return bytearray(value)
    dense = bytearray(value[:HEADER])
    dense[4] = _DENSE
    dense += pack(_sparse_registers(value[HEADER:]))
    return dense


def _dense_set(h: bytearray, index: int, count: int) -> bool:
    """Raise register ``index`` of dense ``h`` to ``count``; True when it grew."""
    bit = index * 6
    at = HEADER + (bit >> 3)
    shift = bit & 7
    nxt = h[at + 1] if at + 1 < len(h) else 0
    old = ((h[at] >> shift) | (nxt << (8 - shift))) & 0x3F
    if count <= old:
        return False
    h[at] = (h[at] & ~(0x3F << shift) & 0xFF) | ((count << shift) & 0xFF)
    if at + 1 < len(h):
        h[at + 1] = (h[at + 1] & ~(0x3F >> (8 - shift)) & 0xFF) | (count >> (8 - shift))
    return True


def _val(value: int, run: int) -> int:
    return 0x80 | ((value - 1) << 2) | (run - 1)


def _zeros(run: int) -> bytes:
    """ZERO for up to 64 registers, else XZERO."""
    if run > 64:
        return bytes([0x40 | ((run - 1) >> 8), (run - 1) & 0xFF])
    return bytes([run - 1])


# Registers covered by each one-byte opcode (ZERO, VAL); 0 marks XZERO's first byte.
_SPANS: Final = bytes((op & 0x3F) + 1 if op < 0x40 else 0 if op < 0x80 else (op & 3) + 1
                      for op in range(256))


class _Trail:
    """Checkpoints (byte offset, first register, previous opcode's offset) on the
    opcodes of a sparse value, in order.

    Several updates of one value in a command (PFADD's elements, PFMERGE's
    registers) resume from the last checkpoint before the register instead of
    walking the opcodes from the start each time (Redis walks in C, pulsards
    in Python).  Registers raised in ascending order (PFMERGE) then walk O(1)
    opcodes each.  Only every 8th opcode is recorded, to keep the walk cheap.
    """

    __slots__ = ("firsts", "offsets", "prevs")

    def __init__(self) -> None:
        self.offsets: list[int] = []
        self.firsts: list[int] = []
        self.prevs: list[int] = []

    def forget_from(self, offset: int) -> None:
        """Opcodes at or after ``offset`` moved: drop their checkpoints."""
        i = bisect_left(self.offsets, offset)
        del self.offsets[i:], self.firsts[i:], self.prevs[i:]


def _sparse_set(h: bytearray, index: int, count: int, trail: _Trail) -> bytearray | None:
    """``hllSparseSet``: raise a register of sparse ``h`` in place.

    Returns ``h`` when it changed, ``None`` when not, or a new dense value
    when the change needed promotion.  ``Invalid`` for corrupt opcodes.
    """
    if count > 32:
        return _promote(h, index, count)
    end = len(h)
    known = bisect_right(trail.firsts, index) - 1
    if known < 0:
        p, first, prev = HEADER, 0, -1
        trail.forget_from(0)
    else:
        p, first, prev = trail.offsets[known], trail.firsts[known], trail.prevs[known]
        trail.forget_from(p + 1)  # the walk records those again
    span = walked = 0
    op = 0
    while p < end:  # find the opcode covering ``index``
        op = h[p]
        span = _SPANS[op]
        oplen = 1
        if not span:  # XZERO: its length continues in the next byte
            span = (((op & 0x3F) << 8) | (h[p + 1] if p + 1 < end else 0)) + 1
            oplen = 2
        if index <= first + span - 1:
            break
        prev = p
        p += oplen
        first += span
        walked += 1
        if not walked & 7:
            trail.offsets.append(p)
            trail.firsts.append(first)
            trail.prevs.append(prev)
    if span == 0 or p >= end:
        trail.forget_from(0)
        raise Invalid
    # Everything from ``prev`` on may move (split here, merges from prev).
    trail.forget_from(prev if prev >= 0 else HEADER)
    is_val = bool(op & 0x80)
    is_xzero = not is_val and bool(op & 0x40)
    run = span
    if is_val:
        old = ((op >> 2) & 0x1F) + 1
        if old >= count:
            return None
        if run == 1:
            h[p] = _val(count, 1)
            return _merge_vals(h, prev)
    elif not is_xzero and run == 1:
        h[p] = _val(count, 1)
        return _merge_vals(h, prev)
    # The general case: split the opcode around the register.
    last = first + span - 1
    if is_val:
        current = ((op >> 2) & 0x1F) + 1
        seq = bytearray()
        if index != first:
            seq.append(_val(current, index - first))
        seq.append(_val(count, 1))
        if index != last:
            seq.append(_val(current, last - index))
    else:
        seq = bytearray(_zeros(index - first) if index != first else b"")
        seq.append(_val(count, 1))
        if index != last:
            seq += _zeros(last - index)
    oldlen = 2 if is_xzero else 1
    if len(seq) > oldlen and len(h) + len(seq) - oldlen > SPARSE_MAX_BYTES:
        return _promote(h, index, count)
    h[p:p + oldlen] = seq
    return _merge_vals(h, prev)


def _merge_vals(h: bytearray, prev: int) -> bytearray:
    """Step 4 of ``hllSparseSet``: join equal adjacent VALs, up to 5 opcodes from ``prev``."""
    p = prev if prev >= 0 else HEADER
    end = len(h)
    scan = 5
    while p < end and scan:
        scan -= 1
        op = h[p]
        if op & 0xC0 == 0x40:
            p += 2
            continue
        if op & 0xC0 == 0:
            p += 1
            continue
        if p + 1 < end and h[p + 1] & 0x80:
            nxt = h[p + 1]
            if (op >> 2) & 0x1F == (nxt >> 2) & 0x1F:
                run = (op & 3) + (nxt & 3) + 2
                if run <= 4:
                    h[p + 1] = (nxt & 0xFC) | (run - 1)
                    del h[p]
                    end -= 1
                    continue
        p += 1
    return h


def _promote(h: bytearray, index: int, count: int) -> bytearray:
    dense = to_dense(h)
    _dense_set(dense, index, count)
    return dense


def _raise(h: bytearray, index: int, count: int, trail: _Trail) -> tuple[bytearray, bool]:
    """Raise one register of dense or sparse ``h``: (the value, whether it grew)."""
    if h[4] == _DENSE:
        return h, _dense_set(h, index, count)
    result = _sparse_set(h, index, count, trail)
    return (h, False) if result is None else (result, True)


def add(value: bytes, elements: list[bytes], force: bool = False) -> bytes | None:
    """``value`` with ``elements`` added (cache invalidated), ``None`` if no register
    grew (unless ``force``: a new key counts as a change).

    ``Invalid`` when the sparse opcodes are corrupt.
    """
    h = bytearray(value)
    changed = force
    trail = _Trail()
    for element in elements:
        h, grew = _raise(h, *pattern(element), trail)
        changed = changed or grew
    if not changed:
        return None
    h[15] |= 0x80
    return bytes(h)


def is_dense(value: bytes) -> bool:
    return value[4] == _DENSE


def set_registers(value: bytes, raw: bytes, dense: bool) -> bytes:
    """PFMERGE's write: raise ``value``'s registers to ``raw`` (dense first when ``dense``).

    Redis 7.0.15 keeps the destination sparse unless a source was dense,
    raising its registers one by one in index order (which may promote it).
    """
    h = to_dense(value) if dense else bytearray(value)
    if h[4] == _DENSE:
        h[HEADER:] = pack(raw)  # the maximum includes the destination's registers
    else:
        trail = _Trail()
        for index, count in enumerate(raw):
            if count:
                h, _ = _raise(h, index, count, trail)
                if h[4] == _DENSE:  # promoted: the rest is the packed maximum
                    h[HEADER:] = pack(raw)
                    break
    h[15] |= 0x80
    return bytes(h)


def selftest() -> str:
    """PFSELFTEST: the register packing round-trips, the sparse and dense paths
    agree, and estimates stay within the error bound; '' when all hold."""
    rng = random.Random(1)
    raw = bytes(rng.randrange(64) for _ in range(REGISTERS))
    if _unpack(pack(raw)) != raw:
        return "dense register packing does not round-trip"
    elements = [b"selftest:%d" % i for i in range(5000)]
    sparse = add(EMPTY, elements[:200], force=True)
    dense = bytearray(to_dense(EMPTY))
    for element in elements[:200]:
        _dense_set(dense, *pattern(element))
    if sparse is None or registers(sparse) != registers(bytes(dense)):
        return "sparse and dense encodings disagree"
    for n in (10, 1000, 5000):
        value = add(EMPTY, elements[:n], force=True)
        assert value is not None
        estimate = count_registers(registers(value))
        if abs(estimate - n) > max(2, 5 * 1.04 / 128 * n):  # five standard errors
            return f"estimate {estimate} for {n} elements is out of bounds"
    return ""
