"""How streams reach the append-only file, without I/O: the commands that
rebuild a stream (BGREWRITEAOF: its entries, counters, groups, consumers and
pending entries) and the deterministic forms of the stream commands whose
effect depends on the clock or on what was read (``aoffile.propagate``):
XADD with the ID it made and an exact trim, XREADGROUP/XCLAIM/XAUTOCLAIM as
the group state they left (XCLAIM ... FORCE JUSTID, XACK, XGROUP SETID).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

import hiredis

from .commands.streams import TrimArgs, parse_trim_args
from .keyspace import Database
from .reply import CommandError
from .stream import MAX_ID, Group, Stream, StreamID, format_id, parse_id

__all__ = ["NILS", "STREAM_RULES", "ZERO", "decode_reply", "stream_commands"]

ZERO: Final = b":0\r\n"
NILS: Final = frozenset({b"$-1\r\n", b"*-1\r\n", b"_\r\n"})


def decode_reply(reply: bytes) -> Any:
    """A handler's encoded reply as Python values (hiredis')."""
    reader = hiredis.Reader()
    reader.feed(reply)
    return reader.gets()


def stream_commands(key: bytes, s: Stream) -> Iterator[list[bytes]]:
    """XADD for each entry, then XSETID for the counters (as Redis' rewrite)."""
    for sid, pairs in s.entries.items():
        yield [b"XADD", key, format_id(sid), *pairs]
    if not s.entries:  # an empty stream: make it with a trimmed entry; XSETID sets the rest
        yield [b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"]
    yield [b"XSETID", key, format_id(s.last_id), b"ENTRIESADDED", b"%d" % s.entries_added,
           b"MAXDELETEDID", format_id(s.max_deleted_id)]
    for name, group in s.groups.items():
        yield [b"XGROUP", b"CREATE", key, name, format_id(group.last_id),
               b"ENTRIESREAD", b"%d" % group.entries_read]
        for consumer in group.consumers:
            yield [b"XGROUP", b"CREATECONSUMER", key, name, consumer]
        # As Redis' rewrite: a pending entry whose stream entry is gone is left out.
        yield from _group_commands(s, key, name, group, sorted(group.pel))


# -------------------------------------------------------------- propagation
def _xadd(db: Database, argv: list[bytes], reply: bytes) -> list[list[bytes]] | None:
    """XADD with the ID it made, and an approximate trim made exact (Redis'
    ``streamRewriteApproxSpecifier`` and ``streamRewriteTrimArgument``)."""
    if reply in NILS:  # NOMKSTREAM on a missing key
        return None
    parsed = parse_trim_args(argv, True, 0)
    argv = list(argv)
    argv[parsed.id_index] = decode_reply(reply)
    return [_exact_trim(db, argv, parsed)]


def _xtrim(db: Database, argv: list[bytes], reply: bytes) -> list[list[bytes]] | None:
    if reply == ZERO:
        return None
    return [_exact_trim(db, list(argv), parse_trim_args(argv, False, 0))]


def _exact_trim(db: Database, argv: list[bytes], parsed: TrimArgs) -> list[bytes]:
    if not parsed.approx:
        return argv
    s = db.data[argv[1]]
    at = parsed.threshold_index
    argv[at - 1] = b"="
    if parsed.maxlen is not None:
        argv[at] = b"%d" % len(s)
    else:  # Redis' first ID of an empty stream is the greatest: replay trims all
        argv[at] = format_id(s.first_id() if len(s) else MAX_ID)
    limit = [i for i in range(2, at) if argv[i].upper() == b"LIMIT"]
    limit += [i for i in range(at + 1, parsed.id_index) if argv[i].upper() == b"LIMIT"]
    for i in reversed(limit):  # LIMIT needs "~": the exact form goes without it
        del argv[i:i + 2]
    return argv


def _sid(text: bytes) -> StreamID:
    ms, _, seq = text.partition(b"-")
    return int(ms), int(seq)


def _pending_state(db: Database, key: bytes, name: bytes, ids: Iterable[StreamID]
                   ) -> list[list[bytes]]:
    """Commands that give group ``name`` of ``key`` the state it has now for
    the entries ``ids`` (XCLAIM ... FORCE JUSTID for the pending ones, XACK for
    the others), then its last delivered ID and entries-read counter."""
    s = db.data.get(key)
    if not isinstance(s, Stream) or name not in s.groups:
        return []
    return _group_commands(s, key, name, s.groups[name], ids)


def _group_commands(s: Stream, key: bytes, name: bytes, group: Group,
                    ids: Iterable[StreamID]) -> list[list[bytes]]:
    out = []
    for sid in ids:
        nack = group.pel.get(sid)
        if nack is None:
            out.append([b"XACK", key, name, format_id(sid)])
        elif sid in s.entries and nack.consumer is not None:  # else XCLAIM would drop it
            out.append([b"XCLAIM", key, name, nack.consumer.name, b"0", format_id(sid),
                        b"TIME", b"%d" % nack.time, b"RETRYCOUNT", b"%d" % nack.count,
                        b"FORCE", b"JUSTID"])
    out.append([b"XGROUP", b"SETID", key, name, format_id(group.last_id), b"ENTRIESREAD",
                b"%d" % group.entries_read])
    return out


def _xreadgroup(db: Database, argv: list[bytes], reply: bytes) -> list[list[bytes]] | None:
    """The consumer, the entries delivered (as XCLAIMs) and the group's position."""
    served = decode_reply(reply)
    if not served:
        return None
    at = [a.upper() for a in argv].index(b"GROUP")
    name, consumer = argv[at + 1], argv[at + 2]
    pairs = served.items() if isinstance(served, dict) else served
    out = []
    for key, entries in pairs:
        out.append([b"XGROUP", b"CREATECONSUMER", key, name, consumer])
        out += _pending_state(db, key, name, [_sid(e[0]) for e in entries if e[1] is not None])
    return out


def _xclaim(db: Database, argv: list[bytes], reply: bytes) -> list[list[bytes]] | None:
    ids = []
    for arg in argv[5:]:
        try:
            ids.append(parse_id(arg, strict=True)[0])
        except CommandError:
            break
    return _pending_state(db, argv[1], argv[2], ids)


def _xautoclaim(db: Database, argv: list[bytes], reply: bytes) -> list[list[bytes]] | None:
    _, claimed, deleted = decode_reply(reply)
    ids = [_sid(x if isinstance(x, bytes) else x[0]) for x in claimed]
    return _pending_state(db, argv[1], argv[2], ids + [_sid(x) for x in deleted])


STREAM_RULES: Final[dict[str, Callable[[Database, list[bytes], bytes],
                                       list[list[bytes]] | None]]] = {
    "xadd": _xadd, "xtrim": _xtrim, "xreadgroup": _xreadgroup, "xclaim": _xclaim,
    "xautoclaim": _xautoclaim,
}
