"""HyperLogLog commands: PFADD, PFCOUNT, PFMERGE over string values in Redis'
HLL format (``stores.pulsards.hll``), so ``TYPE`` says string, ``GET``
returns the same bytes as Redis and estimates equal Redis' own; and Redis'
debugging pair, PFDEBUG (GETREG, DECODE, ENCODING, TODENSE) and PFSELFTEST."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import hll
from ..keyspace import Database
from ..reply import OK, WRONGTYPE, CommandError, bulk, integer, simple
from ..table import command

if TYPE_CHECKING:
    from ..protocol import Client

__all__: list[str] = []

_NOT_HLL = CommandError("WRONGTYPE Key is not a valid HyperLogLog string value.")
_CORRUPT = CommandError("INVALIDOBJ Corrupted HLL object detected")


def _get_hll(db: Database, key: bytes) -> bytes | None:
    """The HLL string at ``key`` or ``None``; WRONGTYPE for other values."""
    value = db.lookup(key)
    if value is None:
        return None
    if value.__class__ is not bytes:
        raise WRONGTYPE
    if not hll.is_hll(value):
        raise _NOT_HLL
    return value


def _registers(value: bytes) -> bytes:
    try:
        return hll.registers(value)
    except hll.INVALID:
        raise _CORRUPT from None


@command("PFADD")
def pfadd(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    key = args[1]
    value = _get_hll(db, key)
    created = value is None
    try:
        updated = hll.add(hll.EMPTY if value is None else value, args[2:], force=created)
    except hll.INVALID:
        raise _CORRUPT from None
    if updated is None:
        return b":0\r\n"
    db.set(key, updated, keepttl=True)  # an update in place keeps the TTL
    return b":1\r\n"


@command("PFCOUNT")
def pfcount(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    if len(args) == 2:
        key = args[1]
        value = _get_hll(db, key)
        if value is None:
            return b":0\r\n"
        card = hll.cached_count(value)
        if card is None:
            card = hll.count_registers(_registers(value))
            # Redis writes the estimate into the header: a change WATCH sees.
            db.set(key, hll.with_count(value, card), keepttl=True)
        return integer(card)
    merged: bytes | None = None
    for key in args[1:]:
        value = _get_hll(db, key)
        if value is None:
            continue
        regs = _registers(value)
        merged = regs if merged is None else hll.merge_registers(merged, regs)
    return integer(0 if merged is None else hll.count_registers(merged))


@command("PFMERGE")
def pfmerge(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    merged: bytes | None = None
    dense = False
    for key in args[1:]:  # the destination is a source too
        value = _get_hll(db, key)
        if value is None:
            continue
        dense = dense or hll.is_dense(value)
        regs = _registers(value)
        merged = regs if merged is None else hll.merge_registers(merged, regs)
    dst = args[1]
    current = db.lookup(dst)
    try:
        result = hll.set_registers(hll.EMPTY if current is None else current,
                                   merged or bytes(hll.REGISTERS), dense)
    except hll.INVALID:
        raise _CORRUPT from None
    db.set(dst, result, keepttl=current is not None)
    return OK


def _to_dense(db: Database, key: bytes, value: bytes) -> bytes:
    """Store ``value`` dense (PFDEBUG GETREG/TODENSE convert, as Redis does)."""
    try:
        dense = bytes(hll.to_dense(value))
    except hll.INVALID:
        raise _CORRUPT from None
    db.set(key, dense, keepttl=True)
    return dense


@command("PFDEBUG")
def pfdebug(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    key = args[2]
    value = _get_hll(db, key)
    if value is None:
        raise CommandError("ERR The specified key does not exist")
    sub = args[1].lower()
    if sub == b"getreg":
        if not hll.is_dense(value):
            value = _to_dense(db, key, value)
        regs = hll.registers(value)
        return b"*%d\r\n%s" % (len(regs), b"".join(b":%d\r\n" % r for r in regs))
    if sub == b"decode":
        if hll.is_dense(value):
            raise CommandError("ERR HLL encoding is not sparse")
        return bulk(hll.describe_sparse(value))
    if sub == b"encoding":
        return simple("dense" if hll.is_dense(value) else "sparse")
    if sub == b"todense":
        if hll.is_dense(value):
            return b":0\r\n"
        _to_dense(db, key, value)
        return b":1\r\n"
    name = args[1].decode("utf-8", "replace")
    raise CommandError(f"ERR Unknown PFDEBUG subcommand '{name}'")


@command("PFSELFTEST")
def pfselftest(c: Client, args: list[bytes]) -> bytes:
    failure = hll.selftest()
    if failure:
        raise CommandError(f"ERR TESTFAILED {failure}")
    return OK
