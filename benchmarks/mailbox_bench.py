"""Mailbox benchmark: actor calls between two actor processes vs a raw echo floor.

Run: ``python benchmarks/mailbox_bench.py`` (about 20 s).

Three actor processes are started by an embedded arbiter:

* ``server``  an :class:`Echo` actor (exposes ``echo``),
* ``raw``     a raw unix-socket echo server (started in ``on_start``; it
  writes back every byte it reads, no decoding),
* ``client``  drives both from one process with the same caller pattern.

Measured: latency with one caller, one request at a time (p50/p99); pipelined
throughput with ``CONCURRENCY`` tasks calling in a loop.

The raw floor uses the same callers (one future per message, resolved in
order as the echo comes back, one write per message) without msgpack, ids or
dispatch, so the ratio is the cost of the runtime.  Two more floors give the
scale: the same with the writes of a loop turn coalesced (as the mailbox does
it), and a bulk echo of fixed windows of bytes with no per-message Python work.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import actors
from actors import Actor, expose

PAYLOAD = b"x" * 16
CONCURRENCY = 256


class Echo(Actor):
    @expose
    def echo(self, value: Any) -> Any:
        return value


class _EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


class RawEcho(Actor):
    """Runs a plain unix-socket echo server next to its mailbox."""

    async def on_start(self) -> None:
        self.path = os.path.join(os.path.dirname(self.address[5:]), "raw-echo.sock")
        self.server = await asyncio.get_running_loop().create_unix_server(
            _EchoProtocol, self.path)

    async def on_stop(self) -> None:
        self.server.close()

    @expose
    def path_(self) -> str:
        return self.path


class _FloorClient(asyncio.Protocol):
    """One future per fixed-size message, resolved in FIFO order.

    ``coalesce=False``: one ``write`` per message (a plain echo client).
    ``coalesce=True``: the writes of one loop turn leave as one, as the
    mailbox does, so the floor is as smart about syscalls as the runtime.
    """

    def __init__(self, size: int, coalesce: bool) -> None:
        self.size = size
        self.coalesce = coalesce
        self.waiting: deque[asyncio.Future[None]] = deque()
        self.buffered = 0
        self.loop = asyncio.get_running_loop()
        self.out: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport

    def data_received(self, data: bytes) -> None:
        self.buffered += len(data)
        while self.buffered >= self.size:
            self.buffered -= self.size
            self.waiting.popleft().set_result(None)

    def send(self, frame: bytes) -> asyncio.Future[None]:
        fut = self.loop.create_future()
        self.waiting.append(fut)
        if not self.coalesce:
            self.transport.write(frame)
            return fut
        self.out.append(frame)
        if len(self.out) == 1:
            self.loop.call_soon(self.flush)
        return fut

    def flush(self) -> None:
        out, self.out = self.out, []
        self.transport.write(b"".join(out))


def _percentiles(samples: list[float]) -> tuple[float, float]:
    qs = statistics.quantiles(samples, n=100)
    return qs[49] * 1e6, qs[98] * 1e6


class Client(Actor):
    @expose
    async def actor_latency(self, n: int) -> tuple[float, float]:
        server = await actors.lookup("server")
        call = server.call
        samples = []
        for _ in range(n):
            t = time.perf_counter()
            await call("echo", PAYLOAD)
            samples.append(time.perf_counter() - t)
        return _percentiles(samples)

    @expose
    async def actor_throughput(self, n: int, concurrency: int) -> float:
        server = await actors.lookup("server")

        async def worker(count: int) -> None:
            call = server.call
            for _ in range(count):
                await call("echo", PAYLOAD)

        t = time.perf_counter()
        await asyncio.gather(*(worker(n // concurrency) for _ in range(concurrency)))
        return (n // concurrency * concurrency) / (time.perf_counter() - t)

    async def _floor(self, path: str, coalesce: bool = False) -> tuple[Any, _FloorClient]:
        frame = actors.encode([0, 1, "echo", [PAYLOAD], {}])  # same bytes as a request
        transport, proto = await asyncio.get_running_loop().create_unix_connection(
            lambda: _FloorClient(len(frame), coalesce), path)
        proto.frame = frame  # type: ignore[attr-defined]
        return transport, proto

    @expose
    async def floor_latency(self, path: str, n: int) -> tuple[float, float]:
        transport, proto = await self._floor(path)
        frame = proto.frame  # type: ignore[attr-defined]
        samples = []
        for _ in range(n):
            t = time.perf_counter()
            await proto.send(frame)
            samples.append(time.perf_counter() - t)
        transport.close()
        return _percentiles(samples)

    @expose
    async def floor_throughput(
        self, path: str, n: int, concurrency: int, coalesce: bool
    ) -> float:
        transport, proto = await self._floor(path, coalesce)
        frame = proto.frame  # type: ignore[attr-defined]

        async def worker(count: int) -> None:
            send = proto.send
            for _ in range(count):
                await send(frame)

        t = time.perf_counter()
        await asyncio.gather(*(worker(n // concurrency) for _ in range(concurrency)))
        rate = (n // concurrency * concurrency) / (time.perf_counter() - t)
        transport.close()
        return rate

    @expose
    async def bulk_floor(self, path: str, n: int, window: int) -> float:
        frame = actors.encode([0, 1, "echo", [PAYLOAD], {}])
        done = asyncio.get_running_loop().create_future()
        total = len(frame) * n

        class Bulk(asyncio.Protocol):
            got = 0

            def connection_made(self, transport: Any) -> None:
                self.transport = transport

            def data_received(self, data: bytes) -> None:
                before = self.got // (len(frame) * window)
                self.got += len(data)
                if self.got >= total:
                    done.set_result(None)
                elif self.got // (len(frame) * window) > before:
                    self.transport.write(frame * window)

        transport, _ = await asyncio.get_running_loop().create_unix_connection(Bulk, path)
        t = time.perf_counter()
        transport.write(frame * window * 2)
        await done
        transport.close()
        return n / (time.perf_counter() - t)


async def main(scale: float) -> None:
    import arbiter

    lat_n, thr_n = int(5000 * scale), int(200_000 * scale)
    async with arbiter.embedded(arbiter.Config(log_level="warning")):
        await actors.spawn(Echo, name="server")
        raw = await actors.spawn(RawEcho, name="raw")
        client = await actors.spawn(Client, name="client")
        path = await raw.call("path_")
        t = 120.0

        async def best(method: str, *args: Any) -> float:
            return max([await client.call(method, *args, timeout=t) for _ in range(3)])

        await client.call("actor_throughput", 20_000, CONCURRENCY, timeout=t)  # warm up
        await client.call("floor_throughput", path, 20_000, CONCURRENCY, False, timeout=t)
        a_p50, a_p99 = await client.call("actor_latency", lat_n, timeout=t)
        f_p50, f_p99 = await client.call("floor_latency", path, lat_n, timeout=t)
        a_rate = await best("actor_throughput", thr_n, CONCURRENCY)
        f_rate = await best("floor_throughput", path, thr_n, CONCURRENCY, False)
        c_rate = await best("floor_throughput", path, thr_n * 2, CONCURRENCY, True)
        bulk = await client.call("bulk_floor", path, thr_n * 5, 256, timeout=t)
    rows = [
        ("round trip p50 (us)", a_p50, f_p50, f_p50 / a_p50),
        ("round trip p99 (us)", a_p99, f_p99, f_p99 / a_p99),
        ("pipelined calls/s", a_rate, f_rate, a_rate / f_rate),
        ("  floor with coalesced writes", None, c_rate, a_rate / c_rate),
        ("  bulk socket echo (no futures)", None, bulk, a_rate / bulk),
    ]
    print(f"mailbox benchmark: 2 actor processes, {len(PAYLOAD)}-byte payload, "
          f"{CONCURRENCY} concurrent callers (python {sys.version.split()[0]}, uvloop)")
    print(f"{'measure':<34}{'actors':>12}{'raw floor':>14}{'ratio':>8}")
    for label, mine, floor, ratio in rows:
        fmt = ",.0f" if floor > 10_000 else ".1f"
        shown = "" if mine is None else format(mine, fmt)
        print(f"{label:<34}{shown:>12}{format(floor, fmt):>14}{ratio:>8.2f}")
    print("ratio: actors/floor for rates, floor/actors for latencies (1.0 = as fast as the "
          "floor).\nraw floor: same callers, one future and one write per message; "
          "target: pipelined ratio >= 0.5")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply message counts")
    args = parser.parse_args()
    from actors.boot import new_event_loop

    loop = new_event_loop()
    try:
        loop.run_until_complete(main(args.scale))
    finally:
        loop.close()
