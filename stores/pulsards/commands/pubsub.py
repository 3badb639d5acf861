"""Pub/sub: SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB,
and the sharded SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH.

Subscriptions live on the server (``channels``/``patterns``/``shard_channels``:
name -> clients) and on each client (``subscriptions``/``psubscriptions``/
``ssubscriptions``).  Sharded channels are a namespace of their own, as in a
Redis without cluster mode: SPUBLISH reaches only SSUBSCRIBE's subscribers
(``smessage``), and their count in the replies is counted apart.  Messages are
queued on each subscriber's connection behind its replies so far, written at
the end of the loop's turn (RESP3 clients get pushes); a subscriber whose
unread output passes ``PUBSUB_OUTPUT_LIMIT`` is disconnected, like Redis'
``client-output-buffer-limit pubsub`` hard limit, so a slow reader cannot make
the server's memory grow without bound.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from ..reply import CommandError, bulk, bulks, integer
from ..table import command
from .args import glob_matcher

if TYPE_CHECKING:
    from ..protocol import Client
    from ..server import Server

__all__ = ["PUBSUB_OUTPUT_LIMIT", "deliver", "publish_message", "unsubscribe_all"]

log = logging.getLogger("stores.pulsards")

PUBSUB_OUTPUT_LIMIT: Final = 32 * 1024 * 1024  # Redis' default pubsub hard limit


def _head(c: Client, size: int) -> bytes:
    return b"%s%d\r\n" % (b">" if c.resp3 else b"*", size)


def _event(c: Client, kind: bytes, name: bytes | None, count: int) -> bytes:
    return _head(c, 3) + bulk(kind) + bulk(name, c.resp3) + integer(count)


def _count(c: Client, kind: str) -> int:
    if kind == "shard":
        return len(c.ssubscriptions)
    return len(c.subscriptions) + len(c.psubscriptions)


# kind -> (the server's table, the client's, the reply's word when subscribing,
# when unsubscribing)
_KINDS = {
    "channel": ("channels", "subscriptions", b"subscribe", b"unsubscribe"),
    "pattern": ("patterns", "psubscriptions", b"psubscribe", b"punsubscribe"),
    "shard": ("shard_channels", "ssubscriptions", b"ssubscribe", b"sunsubscribe"),
}


def _subscribe(c: Client, names: list[bytes], kind: str) -> bytes:
    table_name, mine_name, word, _ = _KINDS[kind]
    table = getattr(c.server, table_name)
    mine = getattr(c, mine_name)
    out = []
    for name in names:
        if name not in mine:
            mine[name] = None
            table.setdefault(name, set()).add(c)
        out.append(_event(c, word, name, _count(c, kind)))
    c.update_gate()
    return b"".join(out)


def _unsubscribe(c: Client, names: list[bytes], kind: str) -> bytes:
    table_name, mine_name, _, word = _KINDS[kind]
    table = getattr(c.server, table_name)
    mine = getattr(c, mine_name)
    targets = names or list(mine)
    if not targets:
        return _event(c, word, None, _count(c, kind))
    out = []
    for name in targets:
        if name in mine:
            del mine[name]
            clients = table.get(name)
            if clients is not None:
                clients.discard(c)
                if not clients:
                    del table[name]
        out.append(_event(c, word, name, _count(c, kind)))
    c.update_gate()
    return b"".join(out)


def unsubscribe_all(c: Client) -> None:
    """Drop every subscription of ``c`` (RESET, disconnect)."""
    for kind, (_, mine_name, _, _) in _KINDS.items():
        if getattr(c, mine_name):
            _unsubscribe(c, [], kind)


@command("SUBSCRIBE")
def subscribe(c: Client, args: list[bytes]) -> bytes:
    return _subscribe(c, args[1:], "channel")


@command("PSUBSCRIBE")
def psubscribe(c: Client, args: list[bytes]) -> bytes:
    return _subscribe(c, args[1:], "pattern")


@command("UNSUBSCRIBE")
def unsubscribe(c: Client, args: list[bytes]) -> bytes:
    return _unsubscribe(c, args[1:], "channel")


@command("PUNSUBSCRIBE")
def punsubscribe(c: Client, args: list[bytes]) -> bytes:
    return _unsubscribe(c, args[1:], "pattern")


def deliver(publisher: Client | None, receiver: Client, message: bytes,
            own: list[bytes]) -> None:
    """Send ``message`` to ``receiver``, or add it to ``own`` when the receiver is
    the client running the command (the caller puts those next to its reply);
    a subscriber too slow to read is disconnected."""
    if receiver is publisher:
        own.append(message)  # goes out before the PUBLISH reply, in order
        return
    transport = receiver.transport
    if transport is None or receiver.closing:
        return
    if transport.get_write_buffer_size() > PUBSUB_OUTPUT_LIMIT:
        log.warning("closing subscriber %s: output buffer over %d bytes",
                    receiver.addr, PUBSUB_OUTPUT_LIMIT)
        receiver.abort()  # close() would wait for the buffer it cannot drain
        return
    receiver.send(message)


def publish_message(server: Server, channel: bytes, payload: bytes,
                    publisher: Client | None = None) -> tuple[int, list[bytes]]:
    """Send ``payload`` to ``channel``'s subscribers; (receivers, the publisher's own)."""
    own: list[bytes] = []
    receivers = 0
    tail = bulk(channel) + bulk(payload)
    for client in list(server.channels.get(channel, ())):
        deliver(publisher, client, _head(client, 3) + b"$7\r\nmessage\r\n" + tail, own)
        receivers += 1
    for pattern, clients in list(server.patterns.items()):
        if not glob_matcher(pattern).match(channel):
            continue
        for client in list(clients):
            message = _head(client, 4) + b"$8\r\npmessage\r\n" + bulk(pattern) + tail
            deliver(publisher, client, message, own)
            receivers += 1
    return receivers, own


@command("SSUBSCRIBE")
def ssubscribe(c: Client, args: list[bytes]) -> bytes:
    if c.in_exec:  # Redis refuses it to a client that expects one reply per command
        raise CommandError("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
    return _subscribe(c, args[1:], "shard")


@command("SUNSUBSCRIBE")
def sunsubscribe(c: Client, args: list[bytes]) -> bytes:
    return _unsubscribe(c, args[1:], "shard")


@command("SPUBLISH")
def spublish(c: Client, args: list[bytes]) -> bytes:
    own: list[bytes] = []
    clients = list(c.server.shard_channels.get(args[1], ()))
    tail = bulk(args[1]) + bulk(args[2])
    for client in clients:
        deliver(c, client, _head(client, 3) + b"$8\r\nsmessage\r\n" + tail, own)
    return b"".join(own) + integer(len(clients))


@command("PUBLISH")
def publish(c: Client, args: list[bytes]) -> bytes:
    receivers, own = publish_message(c.server, args[1], args[2], c)
    return b"".join(own) + integer(receivers)


def _names(table: dict[bytes, set[Client]], args: list[bytes]) -> bytes:
    names = list(table)
    if len(args) > 2:
        match = glob_matcher(args[2]).match
        names = [n for n in names if match(n)]
    return bulks(names)


def _numsub(table: dict[bytes, set[Client]], args: list[bytes]) -> bytes:
    # A flat array even in RESP3, as Redis 7.0 answers.
    return b"*%d\r\n%s" % (2 * (len(args) - 2), b"".join(
        bulk(n) + integer(len(table.get(n, ()))) for n in args[2:]))


@command("PUBSUB|CHANNELS")
def pubsub_channels(c: Client, args: list[bytes]) -> bytes:
    return _names(c.server.channels, args)


@command("PUBSUB|NUMSUB")
def pubsub_numsub(c: Client, args: list[bytes]) -> bytes:
    return _numsub(c.server.channels, args)


@command("PUBSUB|SHARDCHANNELS")
def pubsub_shardchannels(c: Client, args: list[bytes]) -> bytes:
    return _names(c.server.shard_channels, args)


@command("PUBSUB|SHARDNUMSUB")
def pubsub_shardnumsub(c: Client, args: list[bytes]) -> bytes:
    return _numsub(c.server.shard_channels, args)


@command("PUBSUB|NUMPAT")
def pubsub_numpat(c: Client, args: list[bytes]) -> bytes:
    return integer(len(c.server.patterns))
