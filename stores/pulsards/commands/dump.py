"""DUMP and RESTORE, with Redis' payloads (``stores.pulsards.rdb``).

A value DUMPed by pulsards RESTOREs into Redis and the other way round
(streams excepted: theirs travel in pulsards' own encoding).  RESTORE checks
its arguments in Redis' order: options, an existing key (BUSYKEY), the TTL,
the payload's version and checksum, then its contents.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..keyspace import now_ms
from ..rdb import PayloadError, dump_payload, load_payload, verify
from ..reply import OK, SYNTAX, CommandError, bulk
from ..table import command
from .args import to_int

if TYPE_CHECKING:
    from ..protocol import Client

__all__: list[str] = []


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
