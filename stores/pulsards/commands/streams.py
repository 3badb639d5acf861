"""Stream commands (without consumer groups): XADD, XLEN, XRANGE, XREVRANGE,
XDEL, XTRIM, XREAD (and its BLOCK form), XSETID, XINFO.

A stream is a ``stream.Stream``.  IDs are parsed as Redis 7.0 parses them
(``string2ull``: a strict integer first, then ``strtoull``'s looser reading),
and approximate trimming works on Redis' node boundaries.  Consumer groups
(XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM) are not implemented:
XINFO GROUPS answers an empty list and XINFO CONSUMERS ``NOGROUP``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..keyspace import Database, now_ms
from ..reply import NIL3, OK, WRONGTYPE, ZERO, CommandError, bulk, bulks, integer
from ..stream import MAX_ID, U64, Stream, StreamID, format_id, incr_id, interval_id, parse_id
from ..table import command
from .args import LLONG_MAX, to_int
from .lists import block

if TYPE_CHECKING:
    from ..protocol import Client

__all__ = ["TrimArgs", "get_stream", "parse_trim_args"]



def get_stream(db: Database, key: bytes) -> Stream | None:
    """The stream at ``key`` or ``None``; WRONGTYPE for other types."""
    value = db.lookup(key)
    if value is not None and value.__class__ is not Stream:
        raise WRONGTYPE
    return value


# --------------------------------------------------------------- replies
def entry_reply(sid: StreamID, pairs: list[bytes]) -> bytes:
    return b"*2\r\n" + bulk(format_id(sid)) + bulks(pairs)


def entries_reply(entries: list[tuple[StreamID, list[bytes]]]) -> bytes:
    return b"*%d\r\n" % len(entries) + b"".join(entry_reply(s, p) for s, p in entries)


def _null_array(c: Client) -> bytes:
    return NIL3 if c.resp3 else b"*-1\r\n"


# ------------------------------------------------------------------ trim
class TrimArgs:
    """The parsed options of XADD/XTRIM (``streamParseAddOrTrimArgsOrReply``)."""

    __slots__ = ("approx", "id", "id_given", "id_index", "limit", "maxlen", "minid",
                 "nomkstream", "seq_given", "threshold_index")

    def __init__(self) -> None:
        self.maxlen: int | None = None
        self.minid: StreamID | None = None
        self.approx = False
        self.limit = 0
        self.threshold_index = -1
        self.nomkstream = False
        self.id: StreamID = (0, 0)
        self.id_given = False
        self.seq_given = True
        self.id_index = -1  # XADD: where the ID (or "*") is; the fields follow it

    @property
    def trims(self) -> bool:
        return self.maxlen is not None or self.minid is not None


def parse_trim_args(args: list[bytes], xadd: bool, node_entries: int) -> TrimArgs:
    parsed = TrimArgs()
    limit_given = False
    i = 2
    n = len(args)
    while i < n:
        more = n - 1 - i
        opt = args[i].upper()
        if xadd and args[i] == b"*":
            break
        if opt in (b"MAXLEN", b"MINID") and more:
            if parsed.trims:
                raise CommandError("ERR syntax error, MAXLEN and MINID options at the same "
                                   "time are not compatible")
            parsed.approx = False
            if more >= 2 and args[i + 1] in (b"~", b"="):
                parsed.approx = args[i + 1] == b"~"
                i += 1
            if opt == b"MAXLEN":
                maxlen = to_int(args[i + 1])
                if maxlen < 0:
                    raise CommandError("ERR The MAXLEN argument must be >= 0.")
                parsed.maxlen = maxlen
            else:
                parsed.minid = parse_id(args[i + 1], strict=True)[0]
            i += 1
            parsed.threshold_index = i
        elif opt == b"LIMIT" and more:
            parsed.limit = to_int(args[i + 1])
            if parsed.limit < 0:
                raise CommandError("ERR The LIMIT argument must be >= 0.")
            limit_given = True
            i += 1
        elif xadd and opt == b"NOMKSTREAM":
            parsed.nomkstream = True
        elif xadd:
            parsed.id, parsed.seq_given = parse_id(args[i], strict=True, auto_seq=True)
            parsed.id_given = True
            break
        else:
            raise CommandError("ERR syntax error")
        i += 1
    if parsed.limit and not parsed.trims:
        raise CommandError("ERR syntax error, LIMIT cannot be used without specifying a "
                           "trimming strategy")
    if not xadd and not parsed.trims:
        raise CommandError("ERR syntax error, XTRIM must be called with a trimming strategy")
    if limit_given:
        if not parsed.approx:
            raise CommandError("ERR syntax error, LIMIT cannot be used without the special ~ "
                               "option")
    else:
        parsed.limit = 100 * node_entries if parsed.approx else 0
    parsed.id_index = i
    return parsed


def _trim(s: Stream, parsed: TrimArgs) -> int:
    return s.trim(parsed.maxlen, parsed.minid, parsed.approx, parsed.limit)


# ------------------------------------------------------------- commands
@command("XADD")
def xadd(c: Client, args: list[bytes]) -> bytes:
    config = c.server.config
    parsed = parse_trim_args(args, True, config.stream_node_max_entries)
    at = parsed.id_index
    pairs = args[at + 1:]
    if not pairs or len(pairs) % 2:
        raise CommandError("ERR wrong number of arguments for 'xadd' command")
    if parsed.id_given and parsed.seq_given and parsed.id == (0, 0):
        raise CommandError("ERR The ID specified in XADD must be greater than 0-0")
    db = c.db
    key = args[1]
    s = get_stream(db, key)
    if s is None:
        if parsed.nomkstream:
            return c.nil
        s = Stream()
        db.data[key] = s
    last = s.last_id
    if last == MAX_ID:
        raise CommandError("ERR The stream has exhausted the last possible ID, unable to "
                           "add more items")
    sid = _next_id(last, parsed)
    if sid is None or sid <= last:
        raise CommandError("ERR The ID specified in XADD is equal or smaller than the target "
                           "stream top item")
    s.append(sid, pairs, config.stream_node_max_entries, config.stream_node_max_bytes)
    if parsed.trims:
        _trim(s, parsed)
    db.touch(key)
    if db.on_ready is not None:
        db.on_ready(db, key)
    return bulk(format_id(sid))


def _next_id(last: StreamID, parsed: TrimArgs) -> StreamID | None:
    if not parsed.id_given:
        ms = now_ms()
        return (ms, 0) if ms > last[0] else incr_id(last)
    if parsed.seq_given:
        return parsed.id
    if parsed.id[0] == last[0]:
        return None if last[1] == U64 else (last[0], last[1] + 1)
    return parsed.id


@command("XLEN")
def xlen(c: Client, args: list[bytes]) -> bytes:
    s = get_stream(c.db, args[1])
    return integer(len(s)) if s is not None else ZERO


def _xrange(c: Client, args: list[bytes], reverse: bool) -> bytes:
    first, second = (args[3], args[2]) if reverse else (args[2], args[3])
    start = interval_id(first, 0, True)
    end = interval_id(second, U64, False)
    count = -1
    i = 4
    while i < len(args):
        if args[i].upper() == b"COUNT" and i + 1 < len(args):
            count = max(0, to_int(args[i + 1]))
            i += 2
        else:
            raise CommandError("ERR syntax error")
    s = get_stream(c.db, args[1])
    if s is None:
        return b"*0\r\n"
    if count == 0:
        return _null_array(c)
    return entries_reply(s.range(start, end, None if count < 0 else count, reverse))


@command("XRANGE")
def xrange(c: Client, args: list[bytes]) -> bytes:
    return _xrange(c, args, False)


@command("XREVRANGE")
def xrevrange(c: Client, args: list[bytes]) -> bytes:
    return _xrange(c, args, True)


@command("XDEL")
def xdel(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    s = get_stream(db, args[1])
    if s is None:
        return ZERO
    ids = [parse_id(arg, strict=True)[0] for arg in args[2:]]
    deleted = sum(1 for sid in ids if s.delete(sid))
    if deleted:
        db.touch(args[1])
    return integer(deleted)


@command("XTRIM")
def xtrim(c: Client, args: list[bytes]) -> bytes:
    parsed = parse_trim_args(args, False, c.server.config.stream_node_max_entries)
    db = c.db
    s = get_stream(db, args[1])
    if s is None:
        return ZERO
    removed = _trim(s, parsed)
    if removed:
        db.touch(args[1])
    return integer(removed)


@command("XSETID")
def xsetid(c: Client, args: list[bytes]) -> bytes:
    sid = parse_id(args[2], strict=True)[0]
    entries_added = -1
    max_deleted: StreamID = (0, 0)
    i = 3
    while i < len(args):
        opt = args[i].upper()
        if opt == b"ENTRIESADDED" and i + 1 < len(args):
            entries_added = to_int(args[i + 1])
            if entries_added < 0:
                raise CommandError("ERR entries_added must be positive")
        elif opt == b"MAXDELETEDID" and i + 1 < len(args):
            max_deleted = parse_id(args[i + 1], strict=True)[0]
            if sid < max_deleted:
                raise CommandError("ERR The ID specified in XSETID is smaller than the provided "
                                   "max_deleted_entry_id")
        else:
            raise CommandError("ERR syntax error")
        i += 2
    db = c.db
    s = get_stream(db, args[1])
    if s is None:
        raise CommandError("ERR no such key")
    if len(s):
        if sid < s.ids[-1]:
            raise CommandError("ERR The ID specified in XSETID is smaller than the target "
                               "stream top item")
        if entries_added != -1 and len(s) > entries_added:
            raise CommandError("ERR The entries_added specified in XSETID is smaller than "
                               "the target stream length")
    if sid < s.max_deleted_id:
        raise CommandError("ERR The ID specified in XSETID is smaller than current "
                           "max_deleted_entry_id")
    s.last_id = sid
    if entries_added != -1:
        s.entries_added = entries_added
    if max_deleted != (0, 0):
        s.max_deleted_id = max_deleted
    db.touch(args[1])
    return OK


# ------------------------------------------------------------------ XREAD
@command("XREAD")
def xread(c: Client, args: list[bytes]) -> bytes:
    timeout = -1
    count = 0
    streams_at = 0
    i = 1
    n = len(args)
    while i < n:
        more = n - 1 - i
        opt = args[i].upper()
        if opt == b"BLOCK" and more:
            scripting = c.server.scripting
            if scripting is not None and scripting.caller is c:
                raise CommandError("ERR xread command is not allowed with BLOCK option from "
                                   "scripts")
            timeout = _timeout_ms(args[i + 1])
            i += 1
        elif opt == b"COUNT" and more:
            count = max(0, to_int(args[i + 1]))
            i += 1
        elif opt == b"STREAMS" and more:
            streams_at = i + 1
            if (n - streams_at) % 2:
                raise CommandError("ERR Unbalanced XREAD list of streams: for each stream "
                                   "key an ID or '$' must be specified.")
            break
        elif opt == b"GROUP" and more >= 2:
            raise CommandError("ERR The GROUP option is only supported by XREADGROUP. You "
                               "called XREAD instead.")
        elif opt == b"NOACK":
            raise CommandError("ERR The NOACK option is only supported by XREADGROUP. You "
                               "called XREAD instead.")
        else:
            raise CommandError("ERR syntax error")
        i += 1
    if not streams_at:
        raise CommandError("ERR syntax error")
    half = (n - streams_at) // 2
    keys = args[streams_at:streams_at + half]
    db = c.db
    after: list[StreamID] = []
    for key, arg in zip(keys, args[streams_at + half:], strict=True):
        s = get_stream(db, key)
        if arg == b"$":
            after.append(s.last_id if s is not None else (0, 0))
        elif arg == b">":
            raise CommandError("ERR The > ID can be specified only when calling XREADGROUP "
                               "using the GROUP <group> <consumer> option.")
        else:
            after.append(parse_id(arg, strict=True)[0])
    limit = count or None
    served = []
    for key, gt in zip(keys, after, strict=True):
        s = get_stream(db, key)
        if s is not None and s.ids and s.ids[-1] > gt:
            served.append((key, _after(s, gt, limit)))
    if served:
        return _xread_reply(c, served)
    if timeout < 0:
        return _null_array(c)
    waits = dict(zip(keys, after, strict=True))

    def serve(db: Database, key: bytes) -> bytes | None:
        s = db.data.get(key)
        gt = waits[key]
        if s.__class__ is not Stream or s.last_id <= gt:
            return None
        return _xread_reply(c, [(key, _after(s, gt, limit))])

    return block(c, keys, serve, timeout / 1000, _null_array(c))


def _after(s: Stream, gt: StreamID, limit: int | None) -> bytes:
    start = incr_id(gt)
    return entries_reply(s.range(start, MAX_ID, limit) if start is not None else [])


def _xread_reply(c: Client, served: list[tuple[bytes, bytes]]) -> bytes:
    if c.resp3:
        return b"%%%d\r\n" % len(served) + b"".join(bulk(k) + e for k, e in served)
    return b"*%d\r\n" % len(served) + b"".join(b"*2\r\n" + bulk(k) + e for k, e in served)


def _timeout_ms(arg: bytes) -> int:
    """XREAD's BLOCK milliseconds (0: for ever), with Redis' errors."""
    ms = to_int(arg, CommandError("ERR timeout is not an integer or out of range"))
    if ms < 0:
        raise CommandError("ERR timeout is negative")
    if ms > LLONG_MAX - now_ms():
        raise CommandError("ERR timeout is out of range")
    return ms


# ------------------------------------------------------------------ XINFO
def _info_pairs(c: Client, s: Stream) -> list[tuple[bytes, bytes]]:
    return [
        (b"length", integer(len(s))),
        (b"radix-tree-keys", integer(s.node_count())),
        (b"radix-tree-nodes", integer(s.rax_size())),
        (b"last-generated-id", bulk(format_id(s.last_id))),
        (b"max-deleted-entry-id", bulk(format_id(s.max_deleted_id))),
        (b"entries-added", integer(s.entries_added)),
        (b"recorded-first-entry-id", bulk(format_id(s.first_id()))),
    ]


def _map(c: Client, pairs: list[tuple[bytes, bytes]]) -> bytes:
    head = b"%%%d\r\n" % len(pairs) if c.resp3 else b"*%d\r\n" % (2 * len(pairs))
    return head + b"".join(bulk(k) + v for k, v in pairs)


@command("XINFO|STREAM")
def xinfo_stream(c: Client, args: list[bytes]) -> bytes:
    full = len(args) > 3
    count = 10
    if full and (args[3].upper() != b"FULL" or len(args) not in (4, 6)
                 or (len(args) == 6 and args[4].upper() != b"COUNT")):
        name = args[1].decode("utf-8", "replace")
        raise CommandError(f"ERR unknown subcommand or wrong number of arguments for '{name}'. "
                           "Try XINFO HELP.")
    if len(args) == 6:
        count = max(0, to_int(args[5]))
    s = get_stream(c.db, args[2])
    if s is None:
        raise CommandError("ERR no such key")
    pairs = _info_pairs(c, s)
    if full:
        entries = s.range((0, 0), MAX_ID, count or None)
        pairs += [(b"entries", entries_reply(entries)), (b"groups", b"*0\r\n")]
    else:
        first = s.range((0, 0), MAX_ID, 1)
        last = s.range((0, 0), MAX_ID, 1, reverse=True)
        pairs += [
            (b"groups", ZERO),
            (b"first-entry", entry_reply(*first[0]) if first else c.nil),
            (b"last-entry", entry_reply(*last[0]) if last else c.nil),
        ]
    return _map(c, pairs)


@command("XINFO|GROUPS")
def xinfo_groups(c: Client, args: list[bytes]) -> bytes:
    if get_stream(c.db, args[2]) is None:
        raise CommandError("ERR no such key")
    return b"*0\r\n"


@command("XINFO|CONSUMERS")
def xinfo_consumers(c: Client, args: list[bytes]) -> bytes:
    if get_stream(c.db, args[2]) is None:
        raise CommandError("ERR no such key")
    group = args[3].decode("utf-8", "replace")
    key = args[2].decode("utf-8", "replace")
    raise CommandError(f"NOGROUP No such consumer group '{group}' for key name '{key}'")
