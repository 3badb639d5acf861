"""Stream commands that add, read by range, delete and trim entries: XADD,
XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XSETID (XREAD and XREADGROUP are in
``streamreads``, consumer groups and XINFO in ``streamgroups``).

A stream is a ``stream.Stream``.  IDs are parsed as Redis 7.0 parses them
(``string2ull``: a strict integer first, then ``strtoull``'s looser reading),
and approximate trimming works on Redis' node boundaries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ..eventrules import STREAM
from ..keyspace import Database, now_ms
from ..notify import publish_event
from ..reply import OK, WRONGTYPE, ZERO, CommandError, bulk, bulks, integer
from ..stream import (
    MAX_ID,
    U64,
    Fields,
    Stream,
    StreamID,
    format_id,
    incr_id,
    interval_id,
    parse_id,
)
from ..table import command
from .args import to_int
from .lists import null_array

if TYPE_CHECKING:
    from ..protocol import Client

__all__ = ["TrimArgs", "entries_reply", "entry_reply", "get_stream", "parse_trim_args"]


def get_stream(db: Database, key: bytes) -> Stream | None:
    """The stream at ``key`` or ``None``; WRONGTYPE for other types."""
    value: Stream | None = db.lookup_type(key, Stream)
    return value


# --------------------------------------------------------------- replies
def entry_reply(sid: StreamID, pairs: Fields) -> bytes:
    return b"*2\r\n" + bulk(format_id(sid)) + bulks(pairs)


def entries_reply(entries: list[tuple[StreamID, Fields]]) -> bytes:
    return b"*%d\r\n" % len(entries) + b"".join(entry_reply(s, p) for s, p in entries)


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
_AUTO_ID: Final = TrimArgs()  # what parse_trim_args makes of "XADD key * ..." (never changed)
_AUTO_ID.id_index = 2


@command("XADD")
def xadd(c: Client, args: list[bytes]) -> bytes:
    config = c.server.config
    if args[2] == b"*":  # no options, an ID to make: most XADDs
        parsed = _AUTO_ID
    else:
        parsed = parse_trim_args(args, True, config.stream_node_max_entries)
    at = parsed.id_index
    pairs = tuple(args[at + 1:])
    if not pairs or len(pairs) % 2:
        raise CommandError("ERR wrong number of arguments for 'xadd' command")
    if parsed.id_given and parsed.seq_given and parsed.id == (0, 0):
        raise CommandError("ERR The ID specified in XADD must be greater than 0-0")
    db = c.db
    key = args[1]
    s = db.data.get(key)
    if s is not None and db.expires:
        s = db.lookup(key)
    if s is None:
        if parsed.nomkstream:
            return c.nil
        s = Stream()
        db.data[key] = s
    elif s.__class__ is not Stream:
        raise WRONGTYPE
    last = s.last_id
    if last == MAX_ID:
        raise CommandError("ERR The stream has exhausted the last possible ID, unable to "
                           "add more items")
    sid = _next_id(last, parsed)
    if sid is None or sid <= last:
        raise CommandError("ERR The ID specified in XADD is equal or smaller than the target "
                           "stream top item")
    s.append(sid, pairs, config.stream_node_max_entries, config.stream_node_max_bytes)
    if db.signals:
        db.touch(key)
    if parsed is not _AUTO_ID and parsed.trims and _trim(s, parsed):
        publish_event(db, STREAM, b"xtrim", key)
    if db.on_ready is not None:
        db.on_ready(db, key)
    text = b"%d-%d" % sid
    return b"$%d\r\n%s\r\n" % (len(text), text)


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
        return null_array(c)
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
    top = s.last_live()
    if top is not None:
        if sid < top:
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
    # Redis 7.0 announces XSETID but does not signal it: WATCH and client
    # tracking do not hear of it (checked against a redis-server).
    publish_event(db, STREAM, b"xsetid", args[1])
    return OK
