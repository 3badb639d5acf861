"""XREAD and XREADGROUP: reading streams, alone or as a consumer of a group,
at once or blocked until an XADD brings entries.

The rules (Redis 7.0's ``xreadCommand`` and ``serveClientsBlockedOnStreamKey``):

* every key is type-checked, and for XREADGROUP its group looked up, before
  anything is read; ``$`` (XREAD) is the stream's last ID now, ``>``
  (XREADGROUP) the group's last delivered ID when served;
* XREADGROUP with an ID other than ``>`` reads the consumer's own pending
  entries from that ID (an entry deleted since comes back with no fields);
* entries delivered with ``>`` become pending for the consumer (unless NOACK)
  and move the group's last delivered ID and its entries-read counter;
* nothing to read and BLOCK: the client waits (not inside MULTI/EXEC, where
  it answers with the timeout's null; never in a script, which is an error);
  an XADD to one of its keys serves it with at most COUNT (default 1000)
  entries of that key; a group destroyed meanwhile answers NOGROUP.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ..eventrules import STREAM
from ..keyspace import Database, now_ms
from ..notify import publish_event
from ..reply import CommandError, bulk
from ..stream import MAX_ID, Fields, Group, Nack, Stream, StreamID, format_id, incr_id, parse_id
from ..table import command
from .args import timeout_ms, to_int
from .lists import block, null_array
from .streams import entries_reply, entry_reply, get_stream

if TYPE_CHECKING:
    from ..protocol import Client
    from ..stream import Consumer

__all__: list[str] = []

_BLOCKED_COUNT: Final = 1000  # XREAD_BLOCKED_DEFAULT_COUNT


class _Read:
    """A parsed XREAD/XREADGROUP."""

    __slots__ = ("consumer", "count", "group", "keys", "noack", "timeout")

    def __init__(self) -> None:
        self.timeout = -1
        self.count = 0
        self.group: bytes | None = None
        self.consumer = b""
        self.noack = False
        self.keys: list[bytes] = []


def _parse(c: Client, args: list[bytes], grouped: bool) -> tuple[_Read, list[bytes]]:
    read = _Read()
    name = "xreadgroup" if grouped else "xread"
    n = len(args)
    i = 1
    at = 0
    while i < n:
        more = n - 1 - i
        opt = args[i].upper()
        if opt == b"BLOCK" and more:
            scripting = c.server.scripting
            if scripting is not None and scripting.caller is c:
                raise CommandError(f"ERR {name} command is not allowed with BLOCK option from "
                                   "scripts")
            read.timeout = timeout_ms(args[i + 1])
            i += 1
        elif opt == b"COUNT" and more:
            read.count = max(0, to_int(args[i + 1]))
            i += 1
        elif opt == b"STREAMS" and more:
            at = i + 1
            if (n - at) % 2:
                raise CommandError("ERR Unbalanced XREAD list of streams: for each stream key "
                                   "an ID or '$' must be specified.")
            break
        elif opt == b"GROUP" and more >= 2:
            if not grouped:
                raise CommandError("ERR The GROUP option is only supported by XREADGROUP. You "
                                   "called XREAD instead.")
            read.group, read.consumer = args[i + 1], args[i + 2]
            i += 2
        elif opt == b"NOACK":
            if not grouped:
                raise CommandError("ERR The NOACK option is only supported by XREADGROUP. You "
                                   "called XREAD instead.")
            read.noack = True
        else:
            raise CommandError("ERR syntax error")
        i += 1
    if not at:
        raise CommandError("ERR syntax error")
    if grouped and read.group is None:
        raise CommandError("ERR Missing GROUP option for XREADGROUP")
    half = (n - at) // 2
    read.keys = args[at:at + half]
    return read, args[at + half:]


def _reply(c: Client, served: list[tuple[bytes, bytes]]) -> bytes:
    if c.resp3:
        return b"%%%d\r\n" % len(served) + b"".join(bulk(k) + e for k, e in served)
    return b"*%d\r\n" % len(served) + b"".join(b"*2\r\n" + bulk(k) + e for k, e in served)


def _after(s: Stream, gt: StreamID, limit: int | None) -> list[tuple[StreamID, Fields]]:
    start = incr_id(gt)
    return s.range(start, MAX_ID, limit) if start is not None else []


@command("XREAD")
def xread(c: Client, args: list[bytes]) -> bytes:
    read, id_args = _parse(c, args, False)
    db = c.db
    after: list[StreamID] = []
    streams = []  # every key checked (and its ID read) before any is served
    for key, arg in zip(read.keys, id_args, strict=True):
        s = get_stream(db, key)
        streams.append(s)
        if arg == b"$":
            after.append(s.last_id if s is not None else (0, 0))
        elif arg == b">":
            raise CommandError("ERR The > ID can be specified only when calling XREADGROUP "
                               "using the GROUP <group> <consumer> option.")
        else:
            after.append(parse_id(arg, strict=True)[0])
    limit = read.count or None
    served = []
    for key, s, gt in zip(read.keys, streams, after, strict=True):
        if s is not None and (last := s.last_live()) is not None and last > gt:
            served.append((key, entries_reply(_after(s, gt, limit))))
    if served:
        return _reply(c, served)
    if read.timeout < 0:
        return null_array(c)
    waits: dict[bytes, StreamID] = {}
    for key, gt in zip(read.keys, after, strict=True):
        waits.setdefault(key, gt)  # a key named twice waits for its first ID, as in Redis
    blocked_limit = read.count or _BLOCKED_COUNT

    def serve(db: Database, key: bytes) -> bytes | None:
        s = db.lookup(key)
        gt = waits[key]
        if s.__class__ is not Stream or s.last_id <= gt:
            return None
        return _reply(c, [(key, entries_reply(_after(s, gt, blocked_limit)))])

    return block(c, read.keys, serve, read.timeout / 1000, null_array(c))


# ------------------------------------------------------------- XREADGROUP
def _group_of(db: Database, key: bytes, name: bytes) -> tuple[Stream, Group]:
    s = get_stream(db, key)
    group = s.groups.get(name) if s is not None else None
    if s is None or group is None:
        raise CommandError(f"NOGROUP No such key '{key.decode('utf-8', 'replace')}' or "
                           f"consumer group '{name.decode('utf-8', 'replace')}' in XREADGROUP "
                           "with GROUP option")
    return s, group


def _consumer(db: Database, key: bytes, group: Group, read: _Read, now: int) -> Consumer:
    """The reading consumer, made (and announced, as Redis does) on its first read."""
    consumer, made = group.consumer(read.consumer, now)
    if made:
        publish_event(db, STREAM, b"xgroup-createconsumer", key)
    return consumer


def _deliver(db: Database, key: bytes, s: Stream, group: Group, read: _Read,
             limit: int | None) -> bytes:
    """New entries (after the group's last ID) for the consumer, made pending."""
    now = now_ms()
    consumer = _consumer(db, key, group, read, now)
    entries = _after(s, group.last_id, limit)
    for sid, _pairs in entries:
        s.delivered(group, sid)
        if not read.noack:
            nack = group.pel.get(sid)
            if nack is None:
                nack = Nack(consumer, now)
            else:  # pending for another consumer (the group's ID was moved back)
                nack.time, nack.count = now, 1
            group.assign(sid, consumer, nack)
    return entries_reply(entries)


def _history(c: Client, key: bytes, s: Stream, group: Group, read: _Read, start: StreamID,
             limit: int | None) -> bytes:
    """The consumer's own pending entries from ``start`` (deleted ones without fields)."""
    now = now_ms()
    consumer = _consumer(c.db, key, group, read, now)
    ids = sorted(sid for sid in consumer.pel if sid >= start)
    if limit:
        ids = ids[:limit]
    parts = []
    for sid in ids:
        pairs = s.entries.get(sid)
        if pairs is None:
            parts.append(b"*2\r\n" + bulk(format_id(sid)) + null_array(c))
            continue
        nack = consumer.pel[sid]
        nack.time = now
        nack.count += 1
        parts.append(entry_reply(sid, pairs))
    return b"*%d\r\n" % len(parts) + b"".join(parts)


@command("XREADGROUP")
def xreadgroup(c: Client, args: list[bytes]) -> bytes:
    read, id_args = _parse(c, args, True)
    assert read.group is not None
    db = c.db
    starts: list[StreamID | None] = []  # None: ">"
    found = []  # every key and group checked before any is served
    for key, arg in zip(read.keys, id_args, strict=True):
        found.append(_group_of(db, key, read.group))
        if arg == b"$":
            raise CommandError("ERR The $ ID is meaningless in the context of XREADGROUP: you "
                               "want to read the history of this consumer by specifying a "
                               "proper ID, or use the > ID to get new messages. The $ ID would "
                               "just return an empty result set.")
        starts.append(None if arg == b">" else parse_id(arg, strict=True)[0])
    limit = read.count or None
    served = []
    for key, (s, group), start in zip(read.keys, found, starts, strict=True):
        if start is not None:
            # Entries after the ID; Redis' increment of the greatest ID wraps to 0-0.
            after = incr_id(start) or (0, 0)
            served.append((key, _history(c, key, s, group, read, after, limit)))
        elif (last := s.last_live()) is not None and last > group.last_id:
            served.append((key, _deliver(db, key, s, group, read, limit)))
    if served:
        return _reply(c, served)
    if read.timeout < 0:
        return null_array(c)
    blocked_limit = read.count or _BLOCKED_COUNT
    name = read.group

    def serve(db: Database, key: bytes) -> bytes | None:
        s = db.lookup(key)
        if s.__class__ is not Stream:  # deleted, or another type now
            return b"-UNBLOCKED the stream key no longer exists\r\n"
        group = s.groups.get(name)
        if group is None:
            return (b"-NOGROUP the consumer group this client was blocked on no longer "
                    b"exists\r\n")
        if s.last_id <= group.last_id:
            return None
        return _reply(c, [(key, _deliver(db, key, s, group, read, blocked_limit))])

    return block(c, read.keys, serve, read.timeout / 1000, null_array(c), wake_on_delete=True)
