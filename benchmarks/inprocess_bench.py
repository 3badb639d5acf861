"""The Python cost of a pipelined request in pulsards, without any socket.

Feeds reads of 16 pipelined requests (GET, SET or PING) to
``Client.data_received`` of 8 connections whose transports drop the replies,
then lets the loop turn (the replies are written at the end of a turn, as in
the server: ``Server.write_pending``), on uvloop like the server, and prints
the nanoseconds per request (the best of several rounds: the machine's other
load only adds).  ``--user`` also measures a connection authenticated as an
ACL user whose commands are checked (``~bench:* +@all``).

    python benchmarks/inprocess_bench.py [--rounds 7] [--reads 20000] [--user]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import uvloop

from stores.pulsards.config import Config
from stores.pulsards.protocol import Client
from stores.pulsards.server import Server

PIPELINE = 16
CONNECTIONS = 8  # reads a loop turn serves


class NullTransport:
    """Takes the replies and drops them."""

    def write(self, data: bytes) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name in ("peername", "sockname") else default

    def close(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


def _request(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


READS = {
    "PING": _request(b"PING") * PIPELINE,
    "GET": _request(b"GET", b"bench:key") * PIPELINE,
    "SET": _request(b"SET", b"bench:key", b"x" * 3) * PIPELINE,
}


def _client(server: Server, user: bool) -> Client:
    client = Client(server)
    client.connection_made(NullTransport())  # type: ignore[arg-type]
    if user:
        client.data_received(_request(b"ACL", b"SETUSER", b"bench", b"on", b"nopass",
                                      b"~bench:*", b"&*", b"+@all"))
        client.data_received(_request(b"AUTH", b"bench", b"x"))
        assert client.user.name == b"bench" and client.gated
    return client


async def measure(clients: list[Client], data: bytes, reads: int) -> float:
    """Nanoseconds per request over ``reads`` reads."""
    feeds = [client.data_received for client in clients]
    turns = reads // len(clients)
    loop = asyncio.get_running_loop()
    start = time.perf_counter_ns()
    for _ in range(turns):
        for feed in feeds:
            feed(data)
        # The turn ends: write_pending, queued first, writes the replies.
        turn = loop.create_future()
        loop.call_soon(turn.set_result, None)
        await turn
    return (time.perf_counter_ns() - start) / (turns * len(clients) * PIPELINE)


async def main(rounds: int, reads: int, user: bool) -> None:
    server = Server(Config(port=0))
    clients = {"default": [_client(server, False) for _ in range(CONNECTIONS)]}
    if user:
        clients["acl user"] = [_client(server, True) for _ in range(CONNECTIONS)]
    best: dict[tuple[str, str], float] = {}
    for _ in range(rounds):
        for who, connections in clients.items():
            for name, data in READS.items():
                ns = await measure(connections, data, reads)
                key = (who, name)
                best[key] = min(best.get(key, ns), ns)
    for (who, name), ns in sorted(best.items()):
        print(f"{who:9s} {name:5s} {ns:7.0f} ns/request")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--reads", type=int, default=20000)
    parser.add_argument("--user", action="store_true")
    ns = parser.parse_args()
    uvloop.run(main(ns.rounds, ns.reads, ns.user))
