"""Pub/sub: SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB.

Subscriptions live on the server (``channels``/``patterns``: name -> clients)
and on each client (``subscriptions``/``psubscriptions``).  Messages are
written straight to each subscriber's transport (RESP3 clients get pushes);
a subscriber whose unread output passes ``PUBSUB_OUTPUT_LIMIT`` is
disconnected, like Redis' ``client-output-buffer-limit pubsub`` hard limit,
so a slow reader cannot make the server's memory grow without bound.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from ..reply import bulk, bulks, integer
from ..table import command
from .args import glob_matcher

if TYPE_CHECKING:
    from ..protocol import Client
    from ..server import Server

__all__ = ["PUBSUB_OUTPUT_LIMIT", "unsubscribe_all"]

log = logging.getLogger("stores.pulsards")

PUBSUB_OUTPUT_LIMIT: Final = 32 * 1024 * 1024  # Redis' default pubsub hard limit


def _head(c: Client, size: int) -> bytes:
    return b"%s%d\r\n" % (b">" if c.resp3 else b"*", size)


def _event(c: Client, kind: bytes, name: bytes | None, count: int) -> bytes:
    return _head(c, 3) + bulk(kind) + bulk(name, c.resp3) + integer(count)


def _count(c: Client) -> int:
    return len(c.subscriptions) + len(c.psubscriptions)


def _subscribe(c: Client, names: list[bytes], pattern: bool) -> bytes:
    server = c.server
    table = server.patterns if pattern else server.channels
    mine = c.psubscriptions if pattern else c.subscriptions
    kind = b"psubscribe" if pattern else b"subscribe"
    out = []
    for name in names:
        if name not in mine:
            mine[name] = None
            table.setdefault(name, set()).add(c)
        out.append(_event(c, kind, name, _count(c)))
    c.update_gate()
    return b"".join(out)


def _unsubscribe(c: Client, names: list[bytes], pattern: bool) -> bytes:
    server = c.server
    table = server.patterns if pattern else server.channels
    mine = c.psubscriptions if pattern else c.subscriptions
    kind = b"punsubscribe" if pattern else b"unsubscribe"
    targets = names or list(mine)
    if not targets:
        return _event(c, kind, None, _count(c))
    out = []
    for name in targets:
        if name in mine:
            del mine[name]
            clients = table.get(name)
            if clients is not None:
                clients.discard(c)
                if not clients:
                    del table[name]
        out.append(_event(c, kind, name, _count(c)))
    c.update_gate()
    return b"".join(out)


def unsubscribe_all(c: Client) -> None:
    """Drop every subscription of ``c`` (RESET, disconnect)."""
    if c.subscriptions:
        _unsubscribe(c, [], pattern=False)
    if c.psubscriptions:
        _unsubscribe(c, [], pattern=True)


@command("SUBSCRIBE")
def subscribe(c: Client, args: list[bytes]) -> bytes:
    return _subscribe(c, args[1:], pattern=False)


@command("PSUBSCRIBE")
def psubscribe(c: Client, args: list[bytes]) -> bytes:
    return _subscribe(c, args[1:], pattern=True)


@command("UNSUBSCRIBE")
def unsubscribe(c: Client, args: list[bytes]) -> bytes:
    return _unsubscribe(c, args[1:], pattern=False)


@command("PUNSUBSCRIBE")
def punsubscribe(c: Client, args: list[bytes]) -> bytes:
    return _unsubscribe(c, args[1:], pattern=True)


def _deliver(publisher: Client | None, receiver: Client, message: bytes,
             own: list[bytes]) -> None:
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
    transport.write(message)


def publish_message(server: Server, channel: bytes, payload: bytes,
                    publisher: Client | None = None) -> tuple[int, list[bytes]]:
    """Send ``payload`` to ``channel``'s subscribers; (receivers, the publisher's own)."""
    own: list[bytes] = []
    receivers = 0
    tail = bulk(channel) + bulk(payload)
    for client in list(server.channels.get(channel, ())):
        _deliver(publisher, client, _head(client, 3) + b"$7\r\nmessage\r\n" + tail, own)
        receivers += 1
    for pattern, clients in list(server.patterns.items()):
        if not glob_matcher(pattern).match(channel):
            continue
        for client in list(clients):
            message = _head(client, 4) + b"$8\r\npmessage\r\n" + bulk(pattern) + tail
            _deliver(publisher, client, message, own)
            receivers += 1
    return receivers, own


@command("PUBLISH")
def publish(c: Client, args: list[bytes]) -> bytes:
    receivers, own = publish_message(c.server, args[1], args[2], c)
    return b"".join(own) + integer(receivers)


@command("PUBSUB|CHANNELS")
def pubsub_channels(c: Client, args: list[bytes]) -> bytes:
    names = list(c.server.channels)
    if len(args) > 2:
        match = glob_matcher(args[2]).match
        names = [n for n in names if match(n)]
    return bulks(names)


@command("PUBSUB|NUMSUB")
def pubsub_numsub(c: Client, args: list[bytes]) -> bytes:
    channels = c.server.channels  # a flat array even in RESP3, as Redis 7.0 answers
    return b"*%d\r\n%s" % (2 * (len(args) - 2), b"".join(
        bulk(n) + integer(len(channels.get(n, ()))) for n in args[2:]))


@command("PUBSUB|NUMPAT")
def pubsub_numpat(c: Client, args: list[bytes]) -> bytes:
    return integer(len(c.server.patterns))
