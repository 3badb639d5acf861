"""Reads that are runs of one request shape, split without a parser (sans-I/O).

A client pipelining GETs or INCRs of fixed-size keys, or SETs of fixed-size
keys and values, sends reads that are the same request over and over with other
bytes in the same places.  Such a read is cut into its argument columns with
one ``bytes.split`` and a few C-level ``map`` passes instead of a parser call
and a list per request.

Rules:

* ``shape(data)`` reads the first request's framing: ``*2`` or ``*3``, the
  command name, and the ``$<len>`` header of each argument, which must be
  canonical (no sign, no leading zero) and under 1 KiB.  It returns ``None``
  for anything else; it never raises.
* ``columns(data, run)`` accepts ``data`` only when it is two or more
  requests of that shape: every request starts with the first one's header
  ``*N $n NAME $L1`` (CRLFs included), every argument has the first
  request's length and header, and the read ends with the last request's
  CRLF.  RESP frames are self-delimiting, so a read that is such a sequence
  has no other decomposition: the columns are what a parser would have
  returned.  An argument that holds CRLF and a header makes a piece of the
  wrong length, and the read is refused (``None``); the caller then parses
  it the usual way.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any, Final

__all__ = ["Shape", "columns", "shape"]

# (name, argument lengths, the value's b"$<len>" or b"", the request up to its
# first argument)
Shape = tuple[bytes, tuple[int, ...], bytes, bytes]

# Canonical headers only: b"$016" or b"$+1" are not keys here.
_SIZES: Final[dict[bytes, int]] = {b"$%d" % n: n for n in range(1024)}
# A key's and a value's slices of a SET piece, by the two lengths.
_CUTS: dict[tuple[int, ...], tuple[Callable[[bytes], Any], ...]] = {}


def shape(data: bytes) -> Shape | None:
    """The shape of the request ``data`` starts with (a name and one or two
    arguments); ``None`` when it is not one."""
    count = data[:4]
    if count == b"*2\r\n":
        parts = data.split(b"\r\n", 4)
        if len(parts) != 5:
            return None
        value_head = b""
    elif count == b"*3\r\n":
        parts = data.split(b"\r\n", 6)
        if len(parts) != 7:
            return None
        value_head = parts[5]
    else:
        return None
    name = parts[2]
    key_size = _SIZES.get(parts[3])
    if key_size is None or _SIZES.get(parts[1]) != len(name):
        return None
    head = data[:len(parts[1]) + len(name) + len(parts[3]) + 10]
    if not value_head:
        return name, (key_size,), value_head, head
    value_size = _SIZES.get(value_head)
    if value_size is None or len(parts[4]) != key_size:
        return None
    return name, (key_size, value_size), value_head, head


def columns(data: bytes, run: Shape) -> list[list[bytes]] | None:
    """The argument columns of ``data`` when it is two or more requests of
    shape ``run`` (``[keys]``, or ``[keys, values]``); ``None`` otherwise."""
    _, lengths, value_head, head = run
    if data[-2:] != b"\r\n":
        return None
    pieces = data[len(head):-2].split(b"\r\n" + head)
    n = len(pieces)
    if n < 2:
        return None
    if not value_head:
        return [pieces] if list(map(len, pieces)).count(lengths[0]) == n else None
    # Each piece is "<key>\r\n$L2\r\n<value>": check the middle, cut the two.
    cuts = _CUTS.get(lengths)
    if cuts is None:
        key_size = lengths[0]
        value_at = key_size + len(value_head) + 4
        cuts = _CUTS[lengths] = (itemgetter(slice(0, key_size)),
                                 itemgetter(slice(key_size, value_at)),
                                 itemgetter(slice(value_at, None)))
    key, middle, value = cuts
    if (list(map(len, pieces)).count(sum(lengths) + len(value_head) + 4) != n
            or list(map(middle, pieces)).count(b"\r\n" + value_head + b"\r\n") != n):
        return None
    return [list(map(key, pieces)), list(map(value, pieces))]
