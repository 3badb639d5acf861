"""The hot path's reads (sans-I/O): which reads the fast path may take,
parsing them with hiredis, and runs of one command that its batch handler
answers at once.

Rules:

* ``not_for_fast_path(data)`` (a read starting like a request array) and
  ``not_for_inline(data)`` (whole inline lines) say when a read must go to
  the exact parser (``parser.RequestParser``) instead: what hiredis would
  accept but Redis refuses, or would take too long to free.
* ``parse_requests(reader, data)`` returns the complete requests of a read,
  each checked to be an array of bulk strings, and whether bytes follow the
  last one; it stops at the first bad request and never raises.
* ``run_batch(c, reqs, out)`` and ``run_uniform(c, data, out)`` answer a read
  that is a run of one command through the command's batch handler
  (``table.batch``), the second without parsing (``runs``); they return
  False, with nothing run, when the read is not one or the handler declines.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, Any, Final

import hiredis

from .parser import needs_sdssplitargs
from .runs import columns, shape

if TYPE_CHECKING:
    from .protocol import Client
    from .table import Entry

__all__ = ["ONLY_BYTES", "not_for_fast_path", "not_for_inline", "parse_requests", "run_batch",
           "run_uniform"]

log = logging.getLogger("stores.pulsards")

# hiredis allocates an aggregate's slots from its header before the elements
# arrive, and freeing millions of them takes seconds: such reads go the slow way.
# (A read starts with a header, checked apart.  A search led by a literal is
# several times faster than one led by a character class, and the other list
# types are rare enough that a memchr for each decides whether to look.)
_huge_array = re.compile(rb"\n\*[0-9]{7}").search
_huge_aggregate = re.compile(rb"\n[~>|][0-9]{7}").search


def not_for_fast_path(data: bytes) -> bool:
    """Whether a read that starts like a request array needs the exact parser."""
    if _huge_array(data):
        return True
    # Int needles (memchr): a bytes needle is first tried as an int, which
    # formats and drops a TypeError on every call.
    if (126 in data or 62 in data or 124 in data) and _huge_aggregate(data):
        return True
    # hiredis returns simple strings as bytes, like bulk strings; Redis refuses
    # them in a request.
    return 43 in data and data.find(b"\n+") >= 0


# Joining a request's arguments fails on anything hiredis made of a non-bulk
# element (integers, nulls, nested arrays, errors), and it is cheaper than a
# type check per argument.  Reads over this size skip the join (it copies) for
# a type check per argument.
_JOIN_CHECK_MAX: Final = 1 << 16
ONLY_BYTES: Final = frozenset({bytes}).issuperset


def _check_types(req: Any) -> None:
    """Raise TypeError unless ``req`` is a list of bytes (the join's check, no copy)."""
    if req.__class__ is not list or not ONLY_BYTES(map(type, req)):
        raise TypeError("not a request")


def not_for_inline(data: bytes) -> bool:
    """Whether a read of whole inline lines needs the exact parser: bytes that
    sdssplitargs treats apart, or a multibulk request after a line."""
    return needs_sdssplitargs(data) or data.find(b"\n*") >= 0


def parse_requests(reader: Any, data: bytes) -> tuple[list[Any], bool]:
    """The complete requests ``reader`` (a ``hiredis.Reader``) finds in
    ``data``, checked, and whether bytes follow them."""
    reader.feed(data)
    gets = reader.gets
    has_data = reader.has_data
    reqs: list[Any] = []
    add = reqs.append
    check = b"".join if len(data) <= _JOIN_CHECK_MAX else _check_types
    # Whether bytes followed the last complete request: hiredis consumes the
    # elements of an incomplete array, so "nothing left" after gets() returned
    # False does not prove the read ended at a request boundary; this does.
    more = True
    try:
        while (req := gets()) is not False:
            # hiredis also parses integers, nulls, nested arrays...: Redis
            # takes only arrays of bulk strings.  The join raises TypeError on
            # anything else (one C call, no Python loop per argument).
            check(req)
            add(req)
            more = has_data()
    except (hiredis.ProtocolError, TypeError):
        more = True  # the exact parser answers from the first bad request on
    return reqs, more


def run_batch(c: Client, reqs: list[Any], out: list[bytes]) -> bool:
    """Answer a read of one command (same name, same arity) through the
    command's batch handler (``table.batch``); False when it has none or
    declines, and nothing ran."""
    first = reqs[0]
    if first.__class__ is not list or not first:
        return False
    entry = c.server.dispatch.get(first[0])
    if entry is None or entry.batch is None:
        return False
    n = len(reqs)
    size = len(first)
    if not entry.lo <= size <= entry.hi:
        return False
    try:
        columns_: list[Any] = list(zip(*reqs, strict=True))
    except ValueError:  # the requests' lengths differ
        return False
    if columns_.pop(0).count(first[0]) != n:
        return False
    return _call_batch(c, entry, columns_, out)


def run_uniform(c: Client, data: bytes, out: list[bytes]) -> bool:
    """Answer a read that is a run of one request shape (``runs``: GETs or
    INCRs of keys of one length, SETs of keys and values of one length each)
    through the command's batch handler, with no parser; False when the read
    is not one or the handler declined, and nothing ran."""
    run = shape(data)
    if run is None:
        return False
    name = run[0]
    entry = c.server.dispatch.get(name)
    if entry is None or entry.batch is None or not entry.lo <= len(run[1]) + 1 <= entry.hi:
        return False
    args = columns(data, run)
    if args is None or not _call_batch(c, entry, args, out):
        return False
    c.server.stats.commands += len(args[0])
    c.last_active = time.monotonic()
    c.last_command = [name, *(column[-1] for column in args)]
    return True


def _call_batch(c: Client, entry: Entry, columns_: list[Any], out: list[bytes]) -> bool:
    handler = entry.batch
    assert handler is not None
    try:
        reply = handler(c, columns_)
    except Exception:  # a bug: the one-by-one path still answers
        log.exception("batch of %s failed", entry.name)
        return False
    if reply is None:
        return False
    out.append(reply)
    return True
