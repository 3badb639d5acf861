"""Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH with Redis' semantics.

While a client is in MULTI the connection queues commands (``gate.special``)
and flags the transaction when one is rejected (unknown, wrong arity), which
makes EXEC answer EXECABORT.  WATCH registers the client on
``Database.watched``; every write calls ``Database.touch``, which marks the
watchers ``dirty_cas`` so that their EXEC answers a null array.  As in Redis 7,
a watched key that expires before EXEC fails it too, unless it was already
expired when watched (then only a live value in its place does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..reply import OK, CommandError
from ..table import command

if TYPE_CHECKING:
    from ..protocol import Client

__all__ = ["discard_state", "unwatch_all"]


def unwatch_all(c: Client) -> None:
    """Forget every key ``c`` watches."""
    keyspace = c.server.keyspace
    for index, key in c.watched:
        watchers = keyspace[index].watched.get(key)
        if watchers is not None:
            watchers.discard(c)
            if not watchers:
                del keyspace[index].watched[key]
                keyspace[index].update_signals()
    c.watched.clear()
    c.dirty_cas = False


def discard_state(c: Client) -> None:
    """Leave MULTI and unwatch (DISCARD, EXEC, RESET, disconnect)."""
    c.multi = None
    c.multi_error = False
    unwatch_all(c)


@command("MULTI")
def multi(c: Client, args: list[bytes]) -> bytes:
    if c.multi is not None:
        raise CommandError("ERR MULTI calls can not be nested")
    c.multi = []
    c.multi_error = False
    return OK


@command("DISCARD")
def discard(c: Client, args: list[bytes]) -> bytes:
    if c.multi is None:
        raise CommandError("ERR DISCARD without MULTI")
    discard_state(c)
    return OK


@command("EXEC")
def exec_(c: Client, args: list[bytes]) -> bytes:
    queued = c.multi
    if queued is None:
        raise CommandError("ERR EXEC without MULTI")
    if c.multi_error:
        discard_state(c)
        raise CommandError("EXECABORT Transaction discarded because of previous errors.")
    if c.dirty_cas or _watched_key_expired(c):
        discard_state(c)
        return b"_\r\n" if c.resp3 else b"*-1\r\n"
    c.multi = None
    unwatch_all(c)
    c.in_exec = True
    try:
        replies = [c.execute(req) for req in queued]
    finally:
        c.in_exec = False
    return b"*%d\r\n%s" % (len(replies), b"".join(replies))


@command("WATCH")
def watch(c: Client, args: list[bytes]) -> bytes:
    if c.multi is not None:
        raise CommandError("ERR WATCH inside MULTI is not allowed")
    db = c.db
    for key in args[1:]:
        if (db.index, key) not in c.watched:
            db.watched.setdefault(key, set()).add(c)
            db.signals = True
            c.watched[(db.index, key)] = db.is_expired(key)
    return OK


def _watched_key_expired(c: Client) -> bool:
    """Whether a key ``c`` watched while it was live has expired since."""
    keyspace = c.server.keyspace
    return any(not expired and keyspace[index].is_expired(key)
               for (index, key), expired in c.watched.items())


@command("UNWATCH")
def unwatch(c: Client, args: list[bytes]) -> bytes:
    unwatch_all(c)
    return OK
