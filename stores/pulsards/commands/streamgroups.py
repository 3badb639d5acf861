"""Consumer groups of streams (XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM) and
XINFO.  XREADGROUP, which delivers to groups, is in ``streamreads``.

A group (``stream.Group``) keeps its last delivered ID, its entries-read
counter (for XINFO's ``lag``), its pending entries (ID -> ``Nack``: owner,
last delivery time, deliveries) and its consumers, each with its own view of
the pending entries.  Groups and consumers are listed in name order (Redis
keeps them in radix trees), pending entries in ID order.  As in Redis 7.0,
XCLAIM and XAUTOCLAIM drop the pending entries whose stream entry was
deleted, and XAUTOCLAIM lists them in the third element of its reply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ..eventrules import STREAM
from ..keyspace import now_ms
from ..notify import publish_event
from ..reply import OK, ONE, ZERO, CommandError, bulk, help_reply, integer, map_reply
from ..stream import MAX_ID, U64, Group, Nack, Stream, StreamID, format_id, interval_id, parse_id
from ..table import command
from .args import subcommand_error, to_int
from .lists import null_array
from .streams import entries_reply, entry_reply, get_stream

if TYPE_CHECKING:
    from ..protocol import Client

__all__: list[str] = []

SYNTAX: Final = CommandError("ERR syntax error")


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _group(c: Client, key: bytes, name: bytes) -> tuple[Stream, Group]:
    """The stream and its group, or NOGROUP as XACK's siblings word it."""
    s = get_stream(c.db, key)
    group = s.groups.get(name) if s is not None else None
    if s is None or group is None:
        raise CommandError(f"NOGROUP No such key '{_text(key)}' or consumer group "
                           f"'{_text(name)}'")
    return s, group


def _info(c: Client, pairs: list[tuple[bytes, bytes]]) -> bytes:
    return map_reply([(bulk(k), v) for k, v in pairs], c.resp3)


def _nullable(c: Client, value: int | None) -> bytes:
    return c.nil if value is None or value == -1 else integer(value)


# ----------------------------------------------------------------- XGROUP
_XGROUP_HELP: Final = [
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
]
_XINFO_HELP: Final = [
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
]


@command("XGROUP|HELP")
def xgroup_help(c: Client, args: list[bytes]) -> bytes:
    return help_reply(_XGROUP_HELP)


@command("XINFO|HELP")
def xinfo_help(c: Client, args: list[bytes]) -> bytes:
    return help_reply(_XINFO_HELP)


def _xgroup(c: Client, args: list[bytes], create: bool = False
            ) -> tuple[Stream | None, Group | None, int, bool]:
    """What every XGROUP subcommand checks first: CREATE's and SETID's options
    (MKSTREAM, ENTRIESREAD), the key, and the group where it must exist."""
    sub = args[1].upper()
    entries_read = -1
    mkstream = False
    if sub in (b"CREATE", b"SETID"):
        i = 5
        while i < len(args):
            opt = args[i].upper()
            if create and opt == b"MKSTREAM":
                mkstream = True
                i += 1
            elif opt == b"ENTRIESREAD" and i + 1 < len(args):
                entries_read = to_int(args[i + 1])
                if entries_read < -1:
                    raise CommandError("ERR value for ENTRIESREAD must be positive or -1")
                i += 2
            else:
                raise subcommand_error(args, "XGROUP")
    s = get_stream(c.db, args[2])
    group = s.groups.get(args[3]) if s is not None else None
    if not mkstream:
        if s is None:
            raise CommandError("ERR The XGROUP subcommand requires the key to exist. Note that "
                               "for CREATE you may want to use the MKSTREAM option to create "
                               "an empty stream automatically.")
        if group is None and sub != b"CREATE" and sub != b"DESTROY":
            raise CommandError(f"NOGROUP No such consumer group '{_text(args[3])}' for key "
                               f"name '{_text(args[2])}'")
    return s, group, entries_read, mkstream


@command("XGROUP|CREATE")
def xgroup_create(c: Client, args: list[bytes]) -> bytes:
    s, group, entries_read, _ = _xgroup(c, args, create=True)
    if len(args) > 8:
        raise subcommand_error(args, "XGROUP")
    if args[4] == b"$":
        sid = s.last_id if s is not None else (0, 0)
    else:
        sid = parse_id(args[4], strict=True)[0]
    if s is None:  # MKSTREAM
        s = Stream()
        c.db.data[args[2]] = s
        c.db.touch(args[2])
    if group is not None:
        raise CommandError("BUSYGROUP Consumer Group name already exists")
    s.groups[args[3]] = Group(sid, entries_read)
    publish_event(c.db, STREAM, b"xgroup-create", args[2])
    return OK


@command("XGROUP|SETID")
def xgroup_setid(c: Client, args: list[bytes]) -> bytes:
    s, group, entries_read, _ = _xgroup(c, args)
    assert s is not None and group is not None
    if len(args) not in (5, 7):
        raise subcommand_error(args, "XGROUP")
    group.last_id = s.last_id if args[4] == b"$" else parse_id(args[4])[0]
    group.entries_read = entries_read
    publish_event(c.db, STREAM, b"xgroup-setid", args[2])
    return OK


@command("XGROUP|DESTROY")
def xgroup_destroy(c: Client, args: list[bytes]) -> bytes:
    s, group, _, _ = _xgroup(c, args)
    if s is None or group is None:
        return ZERO
    del s.groups[args[3]]
    db = c.db
    publish_event(db, STREAM, b"xgroup-destroy", args[2])
    if db.on_ready is not None:  # clients blocked on the group get NOGROUP
        db.on_ready(db, args[2])
    return ONE


@command("XGROUP|CREATECONSUMER")
def xgroup_createconsumer(c: Client, args: list[bytes]) -> bytes:
    _, group, _, _ = _xgroup(c, args)
    assert group is not None
    _, made = group.consumer(args[4], now_ms(), refresh=False)
    if not made:
        return ZERO
    publish_event(c.db, STREAM, b"xgroup-createconsumer", args[2])
    return ONE


@command("XGROUP|DELCONSUMER")
def xgroup_delconsumer(c: Client, args: list[bytes]) -> bytes:
    _, group, _, _ = _xgroup(c, args)
    assert group is not None
    consumer = group.consumers.pop(args[4], None)
    if consumer is None:
        return ZERO
    for sid in consumer.pel:
        del group.pel[sid]
    publish_event(c.db, STREAM, b"xgroup-delconsumer", args[2])
    return integer(len(consumer.pel))


# -------------------------------------------------------------------- XACK
@command("XACK")
def xack(c: Client, args: list[bytes]) -> bytes:
    s = get_stream(c.db, args[1])
    group = s.groups.get(args[2]) if s is not None else None
    if group is None:
        return ZERO
    ids = [parse_id(arg, strict=True)[0] for arg in args[3:]]
    return integer(sum(1 for sid in ids if group.forget(sid)))


# ---------------------------------------------------------------- XPENDING
@command("XPENDING")
def xpending(c: Client, args: list[bytes]) -> bytes:
    n = len(args)
    if n != 3 and not 6 <= n <= 9:
        raise SYNTAX
    min_idle = 0
    consumer_name = None
    if n >= 6:
        at = 3
        if args[3].upper() == b"IDLE":
            min_idle = to_int(args[4])
            if n < 8:
                raise SYNTAX
            at = 5
        count = max(0, to_int(args[at + 2]))
        start = interval_id(args[at], 0, True)
        end = interval_id(args[at + 1], U64, False)
        if at + 3 < n:
            consumer_name = args[at + 3]
    _, group = _group(c, args[1], args[2])
    if n == 3:
        return _pending_summary(c, group)
    pel = group.pel
    if consumer_name is not None:
        owner = group.consumers.get(consumer_name)
        if owner is None:
            return b"*0\r\n"
        pel = owner.pel
    now = now_ms()
    rows = []
    for sid in sorted(pel):
        if not count or sid > end:
            break
        if sid < start:
            continue
        nack = pel[sid]
        if min_idle and now - nack.time < min_idle:
            continue
        count -= 1
        assert nack.consumer is not None
        rows.append(b"*4\r\n" + bulk(format_id(sid)) + bulk(nack.consumer.name)
                    + integer(max(0, now - nack.time)) + integer(nack.count))
    return b"*%d\r\n" % len(rows) + b"".join(rows)


def _pending_summary(c: Client, group: Group) -> bytes:
    if not group.pel:
        return b"*4\r\n:0\r\n" + c.nil + c.nil + null_array(c)
    ids = sorted(group.pel)
    owners = [(name, len(consumer.pel)) for name, consumer in sorted(group.consumers.items())
              if consumer.pel]
    rows = b"".join(b"*2\r\n" + bulk(name) + bulk(b"%d" % size) for name, size in owners)
    return (b"*4\r\n" + integer(len(ids)) + bulk(format_id(ids[0])) + bulk(format_id(ids[-1]))
            + b"*%d\r\n" % len(owners) + rows)


# ------------------------------------------------------- XCLAIM, XAUTOCLAIM
def _claimed(s: Stream, sid: StreamID, justid: bool) -> bytes:
    return bulk(format_id(sid)) if justid else entry_reply(sid, s.entries[sid])


@command("XCLAIM")
def xclaim(c: Client, args: list[bytes]) -> bytes:
    s, group = _group(c, args[1], args[2])
    min_idle = max(0, to_int(args[4], CommandError(
        "ERR Invalid min-idle-time argument for XCLAIM")))
    ids: list[StreamID] = []
    j = 5
    while j < len(args):
        try:
            ids.append(parse_id(args[j], strict=True)[0])
        except CommandError:
            break
        j += 1
    now = now_ms()
    delivery: int | None = None
    retrycount = -1
    force = justid = False
    last_id: StreamID = (0, 0)
    while j < len(args):
        opt = args[j].upper()
        more = j + 1 < len(args)
        if opt == b"FORCE":
            force = True
        elif opt == b"JUSTID":
            justid = True
        elif opt in (b"IDLE", b"TIME", b"RETRYCOUNT") and more:
            word = opt.decode()
            value = to_int(args[j + 1], CommandError(
                f"ERR Invalid {word} option argument for XCLAIM"))
            if opt == b"RETRYCOUNT":
                retrycount = value
            else:
                delivery = now - value if opt == b"IDLE" else value
            j += 1
        elif opt == b"LASTID" and more:
            last_id = parse_id(args[j + 1], strict=True)[0]
            j += 1
        else:
            raise CommandError(f"ERR Unrecognized XCLAIM option '{_text(args[j])}'")
        j += 1
    if last_id > group.last_id:
        group.last_id = last_id
    if delivery is None or delivery < 0 or delivery > now:
        delivery = now
    out = []
    for sid in ids:
        nack = group.pel.get(sid)
        if sid not in s.entries:  # deleted from the stream: not pending any more
            if nack is not None:
                group.forget(sid)
            continue
        if nack is None:
            if not force:
                continue
            nack = Nack(None, delivery)  # Redis' new NACK counts one delivery
        elif nack.consumer is not None and min_idle and now - nack.time < min_idle:
            continue
        consumer, made = group.consumer(args[3], now)
        if made:
            publish_event(c.db, STREAM, b"xgroup-createconsumer", args[1])
        nack.time = delivery
        if retrycount >= 0:
            nack.count = retrycount
        elif not justid:
            nack.count += 1
        group.assign(sid, consumer, nack)
        out.append(_claimed(s, sid, justid))
    return b"*%d\r\n" % len(out) + b"".join(out)


@command("XAUTOCLAIM")
def xautoclaim(c: Client, args: list[bytes]) -> bytes:
    min_idle = max(0, to_int(args[4], CommandError(
        "ERR Invalid min-idle-time argument for XAUTOCLAIM")))
    start = interval_id(args[5], 0, True)
    count = 100
    justid = False
    j = 6
    while j < len(args):
        opt = args[j].upper()
        if opt == b"COUNT" and j + 1 < len(args):
            count = to_int(args[j + 1], CommandError("ERR COUNT must be > 0"))
            if not 1 <= count <= (2**63 - 1) // 10:
                raise CommandError("ERR COUNT must be > 0")
            j += 1
        elif opt == b"JUSTID":
            justid = True
        else:
            raise SYNTAX
        j += 1
    s, group = _group(c, args[1], args[2])
    now = now_ms()
    ids = sorted(sid for sid in group.pel if sid >= start)
    attempts = count * 10
    claimed: list[bytes] = []
    deleted: list[StreamID] = []
    cursor: StreamID = (0, 0)
    for sid in ids:
        if not attempts or not count:
            cursor = sid  # the next entry to look at
            break
        attempts -= 1
        nack = group.pel[sid]
        if sid not in s.entries:
            group.forget(sid)
            deleted.append(sid)
            count -= 1
            continue
        if min_idle and now - nack.time < min_idle:
            continue
        consumer, made = group.consumer(args[3], now)
        if made:
            publish_event(c.db, STREAM, b"xgroup-createconsumer", args[1])
        nack.time = now
        if not justid:
            nack.count += 1
        group.assign(sid, consumer, nack)
        claimed.append(_claimed(s, sid, justid))
        count -= 1
    return (b"*3\r\n" + bulk(format_id(cursor)) + b"*%d\r\n" % len(claimed) + b"".join(claimed)
            + b"*%d\r\n" % len(deleted) + b"".join(bulk(format_id(d)) for d in deleted))


# ------------------------------------------------------------------- XINFO
def _stream_pairs(s: Stream) -> list[tuple[bytes, bytes]]:
    return [
        (b"length", integer(len(s))),
        (b"radix-tree-keys", integer(s.node_count())),
        (b"radix-tree-nodes", integer(s.rax_size())),
        (b"last-generated-id", bulk(format_id(s.last_id))),
        (b"max-deleted-entry-id", bulk(format_id(s.max_deleted_id))),
        (b"entries-added", integer(s.entries_added)),
        (b"recorded-first-entry-id", bulk(format_id(s.first_id()))),
    ]


@command("XINFO|STREAM")
def xinfo_stream(c: Client, args: list[bytes]) -> bytes:
    full = len(args) > 3
    count = 10
    if full and (args[3].upper() != b"FULL" or len(args) not in (4, 6)
                 or (len(args) == 6 and args[4].upper() != b"COUNT")):
        raise subcommand_error(args, "XINFO")
    if len(args) == 6:
        count = max(0, to_int(args[5]))
    s = get_stream(c.db, args[2])
    if s is None:
        raise CommandError("ERR no such key")
    pairs = _stream_pairs(s)
    if full:
        entries = s.range((0, 0), MAX_ID, count or None)
        groups = [_full_group(c, s, name, s.groups[name], count) for name in sorted(s.groups)]
        pairs += [(b"entries", entries_reply(entries)),
                  (b"groups", b"*%d\r\n" % len(groups) + b"".join(groups))]
    else:
        first = s.range((0, 0), MAX_ID, 1)
        last = s.range((0, 0), MAX_ID, 1, reverse=True)
        pairs += [
            (b"groups", integer(len(s.groups))),
            (b"first-entry", entry_reply(*first[0]) if first else c.nil),
            (b"last-entry", entry_reply(*last[0]) if last else c.nil),
        ]
    return _info(c, pairs)


def _full_group(c: Client, s: Stream, name: bytes, group: Group, count: int) -> bytes:
    pending = []
    for sid in sorted(group.pel)[:count or None]:
        nack = group.pel[sid]
        assert nack.consumer is not None
        pending.append(b"*4\r\n" + bulk(format_id(sid)) + bulk(nack.consumer.name)
                       + integer(nack.time) + integer(nack.count))
    consumers = []
    for cname in sorted(group.consumers):
        consumer = group.consumers[cname]
        own = [b"*3\r\n" + bulk(format_id(sid)) + integer(consumer.pel[sid].time)
               + integer(consumer.pel[sid].count)
               for sid in sorted(consumer.pel)[:count or None]]
        consumers.append(_info(c, [
            (b"name", bulk(cname)), (b"seen-time", integer(consumer.seen)),
            (b"pel-count", integer(len(consumer.pel))),
            (b"pending", b"*%d\r\n" % len(own) + b"".join(own))]))
    return _info(c, [
        (b"name", bulk(name)), (b"last-delivered-id", bulk(format_id(group.last_id))),
        (b"entries-read", _nullable(c, group.entries_read)), (b"lag", _nullable(c, s.lag(group))),
        (b"pel-count", integer(len(group.pel))),
        (b"pending", b"*%d\r\n" % len(pending) + b"".join(pending)),
        (b"consumers", b"*%d\r\n" % len(consumers) + b"".join(consumers))])


@command("XINFO|GROUPS")
def xinfo_groups(c: Client, args: list[bytes]) -> bytes:
    s = get_stream(c.db, args[2])
    if s is None:
        raise CommandError("ERR no such key")
    rows = [_info(c, [
        (b"name", bulk(name)), (b"consumers", integer(len(group.consumers))),
        (b"pending", integer(len(group.pel))),
        (b"last-delivered-id", bulk(format_id(group.last_id))),
        (b"entries-read", _nullable(c, group.entries_read)),
        (b"lag", _nullable(c, s.lag(group)))])
        for name, group in sorted(s.groups.items())]
    return b"*%d\r\n" % len(rows) + b"".join(rows)


@command("XINFO|CONSUMERS")
def xinfo_consumers(c: Client, args: list[bytes]) -> bytes:
    s = get_stream(c.db, args[2])
    if s is None:
        raise CommandError("ERR no such key")
    group = s.groups.get(args[3])
    if group is None:
        raise CommandError(f"NOGROUP No such consumer group '{_text(args[3])}' for key name "
                           f"'{_text(args[2])}'")
    now = now_ms()
    rows = [_info(c, [(b"name", bulk(name)), (b"pending", integer(len(consumer.pel))),
                      (b"idle", integer(max(0, now - consumer.seen)))])
            for name, consumer in sorted(group.consumers.items())]
    return b"*%d\r\n" % len(rows) + b"".join(rows)

