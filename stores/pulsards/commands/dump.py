"""DUMP, RESTORE and MIGRATE, with Redis' payloads (``stores.pulsards.rdb``).

A value DUMPed by pulsards RESTOREs into Redis and the other way round
(streams excepted: theirs travel in pulsards' own encoding).  RESTORE checks
its arguments in Redis' order: options, an existing key (BUSYKEY), the TTL,
the payload's version and checksum, then its contents.  MIGRATE sends RESTOREs
to another server over a blocking socket, as Redis does: the server waits
for the target (at most the timeout per read or write).
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import hiredis

from ...redis.resp import encode_commands
from ..keyspace import now_ms
from ..rdb import PayloadError, dump_payload, load_payload, verify
from ..reply import OK, SYNTAX, CommandError, bulk
from ..table import command
from .args import to_int

if TYPE_CHECKING:
    from ..protocol import Client

__all__ = ["migrate_options"]


@command("DUMP")
def dump(c: Client, args: list[bytes]) -> bytes:
    value = c.db.lookup(args[1])
    if value is None:
        return c.nil
    return bulk(dump_payload(value))


def _options(args: list[bytes]) -> tuple[bool, bool]:
    """(REPLACE, ABSTTL); IDLETIME and FREQ are checked and dropped (pulsards
    keeps no access times or counts: OBJECT IDLETIME answers 0)."""
    replace = absttl = False
    seen: bytes | None = None  # IDLETIME or FREQ: Redis takes one of them
    i = 4
    while i < len(args):
        option = args[i].upper()
        if option == b"REPLACE":
            replace = True
        elif option == b"ABSTTL":
            absttl = True
        elif option in (b"IDLETIME", b"FREQ") and i + 1 < len(args) and seen in (None, option):
            seen = option
            amount = to_int(args[i + 1])
            if option == b"IDLETIME" and amount < 0:
                raise CommandError("ERR Invalid IDLETIME value, must be >= 0")
            if option == b"FREQ" and not 0 <= amount <= 255:
                raise CommandError("ERR Invalid FREQ value, must be >= 0 and <= 255")
            i += 1
        else:
            raise SYNTAX
        i += 1
    return replace, absttl


@command("RESTORE")
def restore(c: Client, args: list[bytes]) -> bytes:
    replace, absttl = _options(args)
    db = c.db
    key = args[1]
    if not replace and db.lookup(key) is not None:
        raise CommandError("BUSYKEY Target key name already exists.")
    ttl = to_int(args[2])
    if ttl < 0:
        raise CommandError("ERR Invalid TTL value, must be >= 0")
    payload = args[3]
    if not verify(payload):
        raise CommandError("ERR DUMP payload version or checksum are wrong")
    try:
        value = load_payload(payload)
    except PayloadError:
        raise CommandError("ERR Bad data format") from None
    if replace:
        db.delete(key)
    if ttl and not absttl:
        ttl += now_ms()
    if ttl and ttl <= now_ms():  # already expired: nothing is added
        return OK
    new = key not in db.data
    db.set(key, value)
    if ttl:
        db.set_expire(key, ttl)
    if new and db.on_ready is not None:  # a restored list or sorted set serves waiters
        db.on_ready(db, key)
    return OK


@command("RESTORE-ASKING")
def restore_asking(c: Client, args: list[bytes]) -> bytes:
    """RESTORE as a cluster's MIGRATE sends it to the slot's importing node."""
    return restore(c, args)


# ----------------------------------------------------------------- MIGRATE
def migrate_options(args: list[bytes]) -> tuple[bool, bool, list[bytes], list[bytes]]:
    """(COPY, REPLACE, the AUTH command's arguments, the keys)."""
    copy = replace = False
    auth: list[bytes] = []
    keys = [args[3]]
    i = 6
    while i < len(args):
        option = args[i].upper()
        more = len(args) - 1 - i
        if option == b"COPY":
            copy = True
        elif option == b"REPLACE":
            replace = True
        elif option == b"AUTH" and more:
            auth = [args[i + 1]]
            i += 1
        elif option == b"AUTH2" and more >= 2:
            auth = args[i + 1:i + 3]
            i += 2
        elif option == b"KEYS":
            if args[3]:
                raise CommandError("ERR When using MIGRATE KEYS option, the key argument must "
                                   "be set to the empty string")
            keys = args[i + 1:]
            break
        else:
            raise SYNTAX
        i += 1
    return copy, replace, auth, keys


@command("MIGRATE")
def migrate(c: Client, args: list[bytes]) -> bytes:
    copy, replace, auth, keys = migrate_options(args)
    timeout, dbid = to_int(args[5]), to_int(args[4])
    seconds = (timeout if timeout > 0 else 1000) / 1000
    db = c.db
    found = [(key, value) for key in keys if (value := db.lookup(key)) is not None]
    if not found:
        return b"+NOKEY\r\n"
    commands = [[b"AUTH", *auth]] if auth else []
    commands.append([b"SELECT", b"%d" % dbid])
    now = now_ms()
    for key, value in found:
        when = db.expires.get(key)
        ttl = 0 if when is None else max(when - now, 1)
        commands.append([b"RESTORE", key, b"%d" % ttl, dump_payload(value),
                         *[b"REPLACE"] * replace])
    host, port = args[1].decode("utf-8", "replace"), to_int(args[2])
    try:
        conn = socket.create_connection((host, port), timeout=seconds)
    except ConnectionRefusedError:
        # Redis connects without blocking: a refusal surfaces at the first write.
        raise CommandError("IOERR error or timeout writing to target instance") from None
    except (OSError, OverflowError):
        raise CommandError("IOERR error or timeout connecting to the client") from None
    with conn:
        try:
            conn.sendall(encode_commands(commands))
        except OSError:
            raise CommandError("IOERR error or timeout writing to target instance") from None
        replies = _read_replies(conn, len(commands))
    setup = len(commands) - len(found)  # AUTH and SELECT come first
    refused = next((r for r in replies[:setup] if isinstance(r, hiredis.ReplyError)), None)
    moved = refused is None and not copy
    for (key, _), reply in zip(found, replies[setup:], strict=False):
        if isinstance(reply, hiredis.ReplyError):
            refused = refused or reply
        elif moved:  # the target took it (whatever it said of the other keys)
            db.delete(key)
    if refused is not None:
        raise CommandError(f"ERR Target instance replied with error: {refused}")
    if len(replies) < len(commands):
        raise CommandError("IOERR error or timeout reading to target instance")
    return OK


def _read_replies(conn: socket.socket, count: int) -> list[object]:
    """Up to ``count`` replies (fewer when the target goes quiet or away)."""
    reader = hiredis.Reader()
    replies: list[object] = []
    while len(replies) < count:
        reply = reader.gets()
        if reply is not False:
            replies.append(reply)
            continue
        try:
            data = conn.recv(65536)
        except OSError:
            break
        if not data:
            break
        reader.feed(data)
    return replies
