"""Client benchmark: our Redis client against redis-py asyncio and a raw floor.

Run ``.venv/bin/python benchmarks/client_bench.py [--quick]`` (``make bench``).
The server comes from ``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``), but
the benchmark always works in database 14 (``--db``) and flushes it at the end.

Three clients talk to the same server, all on uvloop:

* **ours**: ``stores.create_store(url)``; ``store.client()`` methods,
  ``client.pipeline()`` + ``await pipe.commit()``, ``store.pubsub()`` +
  ``add_client``;
* **redis-py**: ``redis.asyncio.Redis`` (hiredis parser, its default pool, so
  50 tasks open 50 connections); RESP2 like the two others (redis-py 8
  defaults to RESP3);
* **floor**: ``FloorProtocol`` below, a minimal asyncio Protocol around
  ``hiredis.Reader`` with commands encoded once up front by
  ``hiredis.pack_command``, one future per command, replies matched in order,
  writes made while replies are outstanding coalesced into one write per loop
  iteration, a pipeline written in one write.  No Python client can do much
  less work per command: it is the floor of what Python + uvloop costs.

Scenarios (each counts Redis commands; pubsub counts messages received):

* ``sequential``: one task, ``SET k v`` then ``GET k``, awaiting each;
* ``50 tasks``: 50 concurrent tasks doing the same, each on its own key;
* ``pipeline x100``: one task sending pipelines of 100 commands (50 SET + 50 GET);
* ``pubsub``: one subscriber connection; the same client publishes 20k
  messages in pipelined batches of 100 PUBLISH; timed from the first publish
  until the subscriber has received the last message.

The first three are time-boxed (0.1 s per measurement, 24 rounds; 0.08 s and
8 rounds with ``--quick``); a pubsub measurement is 20k messages (8 rounds, 3
with ``--quick``).  A round measures every contender once, one after the other,
in an order that rotates each round (A,B,C then B,C,A ...), after one untimed
warm-up round.  Short, many, interleaved measurements are what keeps other
load on the machine from favouring one contender.  Reading the table:

* ``ops/s``: median over rounds of commands (or messages) per wall second;
* ``ours/redis-py`` and ``ours/floor``: median over rounds of the per-round
  ratio (contenders of one round ran a fraction of a second apart, so load
  mostly cancels out); higher is better for us, and ``ours/floor`` is
  normally below 1 since the floor is the ceiling;
* ``CPU µs/op``: median process CPU time (``time.process_time``: this process
  only, not the server) per operation, i.e. the client's cost of a command.
  Sequentially, wall time also holds the server and two socket wake-ups, so
  the wall ratio to the floor is closer to 1 than the CPU ratio;
* ``target``: the goals of issue 3 (>= 0.9x floor sequentially, >= 3x
  redis-py at 50 tasks, pipelined and pubsub) and whether the median ratio
  meets them.

Below the table: our client through ``store.execute`` (what the ``client()``
method layer costs), the CPU-only ratio to the floor, the round-to-round
spread (a large spread means a noisy machine: read the ratios, not the
absolute numbers), redis-py's connection count and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import statistics
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import hiredis
import redis
import redis.asyncio
import uvloop

import stores

DEFAULT_URL = "redis://127.0.0.1:6379/0"
VALUE = b"v" * 32
PIPELINE = 100
TASKS = 50
PUBSUB_MESSAGES = 20_000
PUBSUB_BATCH = 100

Timed = Callable[[], Awaitable[int]]  # runs one measurement, returns the op count


def pack(*args: Any) -> bytes:
    """One command as RESP bytes (hiredis.pack_command)."""
    return hiredis.pack_command(args)  # type: ignore[no-any-return]


# ----------------------------------------------------------------- the floor
class FloorProtocol(asyncio.Protocol):
    """The least a Python Redis client can do: write bytes, match replies in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._reader = hiredis.Reader()
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self._buffer: list[bytes] = []
        self._transport: asyncio.Transport | None = None
        self.on_message: Callable[[Any], None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        while self._waiters:
            future = self._waiters.popleft()
            if not future.done():
                future.set_exception(ConnectionError("floor connection lost"))

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        reader.feed(data)
        on_message = self.on_message
        waiters = self._waiters
        while (reply := reader.gets()) is not False:
            if on_message is not None:
                on_message(reply)
            elif reply.__class__ is hiredis.ReplyError:
                waiters.popleft().set_exception(reply)
            else:
                waiters.popleft().set_result(reply)

    def _write(self, data: bytes) -> None:
        if self._buffer:
            self._buffer.append(data)
        elif self._waiters:  # replies outstanding: coalesce this iteration's writes
            self._buffer.append(data)
            self._loop.call_soon(self._flush)
        else:
            assert self._transport is not None
            self._transport.write(data)

    def _flush(self) -> None:
        assert self._transport is not None
        self._transport.write(b"".join(self._buffer))
        self._buffer.clear()

    def request(self, data: bytes) -> asyncio.Future[Any]:
        """Send one pre-encoded command; the future gets its reply."""
        self._write(data)
        future = self._loop.create_future()
        self._waiters.append(future)
        return future

    def request_many(self, data: bytes, count: int) -> list[asyncio.Future[Any]]:
        """Send ``count`` pre-encoded commands in one write; one future each."""
        self._write(data)
        create = self._loop.create_future
        futures = [create() for _ in range(count)]
        self._waiters.extend(futures)
        return futures

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def floor_connect(url: str) -> FloorProtocol:
    """Open a floor connection: AUTH and SELECT as the URL says."""
    parts = urlsplit(url)
    if parts.scheme != "redis":
        raise SystemExit(f"the floor client speaks plain redis:// only, not {parts.scheme}://")
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(
        lambda: FloorProtocol(loop), parts.hostname or "127.0.0.1", parts.port or 6379)
    setup: list[tuple[Any, ...]] = []
    if parts.password is not None:
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password)
        setup.append(("AUTH", user, password) if user else ("AUTH", password))
    setup.append(("SELECT", parts.path.lstrip("/") or "0"))
    for command in setup:
        reply = await proto.request(pack(*command))
        assert reply == b"OK", reply
    return proto


# ------------------------------------------------------------------ clients
@dataclass
class Clients:
    """One connection set per client kind, opened once and reused by every round."""

    url: str
    store: Any = None
    ours: Any = None
    rpy: Any = None
    floor: FloorProtocol | None = None
    floor_pub: FloorProtocol | None = None

    async def open(self) -> None:
        self.store = stores.create_store(self.url)
        self.ours = self.store.client()
        await self.store.ping()
        self.rpy = redis.asyncio.Redis.from_url(self.url, protocol=2)
        await self.rpy.ping()
        self.floor = await floor_connect(self.url)
        self.floor_pub = await floor_connect(self.url)

    async def close(self) -> None:
        await self.store.execute("FLUSHDB")
        await self.store.close()
        await self.rpy.aclose()
        for proto in (self.floor, self.floor_pub):
            if proto is not None:
                proto.close()


# --------------------------------------------------- (a) and (b): SET + GET
# A SET+GET loop runs until ``deadline`` (perf_counter) and returns its command count.
SetGet = Callable[[Clients, str, float], Awaitable[int]]


async def ours_setget(c: Clients, key: str, deadline: float) -> int:
    client, clock, pairs = c.ours, time.perf_counter, 0
    while clock() < deadline:
        await client.set(key, VALUE)
        await client.get(key)
        pairs += 1
    return 2 * pairs


async def ours_execute_setget(c: Clients, key: str, deadline: float) -> int:
    execute, clock, pairs = c.store.execute, time.perf_counter, 0
    while clock() < deadline:
        await execute("SET", key, VALUE)
        await execute("GET", key)
        pairs += 1
    return 2 * pairs


async def rpy_setget(c: Clients, key: str, deadline: float) -> int:
    r, clock, pairs = c.rpy, time.perf_counter, 0
    while clock() < deadline:
        await r.set(key, VALUE)
        await r.get(key)
        pairs += 1
    return 2 * pairs


async def floor_setget(c: Clients, key: str, deadline: float) -> int:
    proto, clock, pairs = c.floor, time.perf_counter, 0
    assert proto is not None
    set_cmd = pack("SET", key, VALUE)
    get_cmd = pack("GET", key)
    while clock() < deadline:
        await proto.request(set_cmd)
        await proto.request(get_cmd)
        pairs += 1
    return 2 * pairs


def setget(c: Clients, name: str, run: SetGet, tasks: int, seconds: float) -> Timed:
    """``tasks`` concurrent tasks doing SET+GET on their own key for ``seconds``."""

    async def timed() -> int:
        deadline = time.perf_counter() + seconds
        counts = await asyncio.gather(
            *(run(c, f"bench:{name}:{i}", deadline) for i in range(tasks)))
        return sum(counts)

    return timed


# ---------------------------------------------------------- (c) pipelines
def pipeline_keys(name: str) -> list[str]:
    return [f"bench:{name}:p{i}" for i in range(PIPELINE // 2)]


def ours_pipelines(c: Clients, seconds: float) -> Timed:
    keys = pipeline_keys("ours")

    async def timed() -> int:
        client, clock, count = c.ours, time.perf_counter, 0
        deadline = clock() + seconds
        while clock() < deadline:
            pipe = client.pipeline()
            for key in keys:
                pipe.set(key, VALUE)
                pipe.get(key)
            await pipe.commit()
            count += 1
        return count * PIPELINE

    return timed


def rpy_pipelines(c: Clients, seconds: float) -> Timed:
    keys = pipeline_keys("rpy")

    async def timed() -> int:
        r, clock, count = c.rpy, time.perf_counter, 0
        deadline = clock() + seconds
        while clock() < deadline:
            pipe = r.pipeline(transaction=False)
            for key in keys:
                pipe.set(key, VALUE)
                pipe.get(key)
            await pipe.execute()
            count += 1
        return count * PIPELINE

    return timed


def floor_pipelines(c: Clients, seconds: float) -> Timed:
    data = b"".join(pack("SET", key, VALUE) + pack("GET", key)
                    for key in pipeline_keys("floor"))

    async def timed() -> int:
        proto, clock, count = c.floor, time.perf_counter, 0
        assert proto is not None
        deadline = clock() + seconds
        while clock() < deadline:
            futures = proto.request_many(data, PIPELINE)
            await futures[-1]  # replies come in order: the last one means all
            [f.result() for f in futures]
            count += 1
        return count * PIPELINE

    return timed


# -------------------------------------------------------------- (d) pubsub
class Counter:
    """Counts received messages; ``done`` is set at ``target``."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.done = asyncio.Event()

    def __call__(self, channel: Any = None, message: Any = None) -> None:
        self.count += 1
        if self.count == self.target:
            self.done.set()


_channel_ids = iter(range(1_000_000))


def channel_name(name: str) -> str:
    return f"bench:{name}:chan{next(_channel_ids)}"


async def deliver(publish: Callable[[], Awaitable[None]], counter: Counter) -> int:
    """Publish everything and wait until the subscriber has every message."""
    publisher = asyncio.ensure_future(publish())
    try:
        await asyncio.wait_for(counter.done.wait(), 60)
    finally:
        await publisher
    return counter.target


def ours_pubsub(c: Clients, messages: int) -> Timed:
    async def timed() -> int:
        channel = channel_name("ours")
        pubsub = c.store.pubsub()
        counter = Counter(messages)
        pubsub.add_client(counter)
        await pubsub.subscribe(channel)

        async def publish() -> None:
            for _ in range(messages // PUBSUB_BATCH):
                pipe = c.ours.pipeline()
                for _ in range(PUBSUB_BATCH):
                    pipe.publish(channel, VALUE)
                await pipe.commit()

        try:
            return await measure_inside(deliver(publish, counter))
        finally:
            await pubsub.close()

    return timed


def rpy_pubsub(c: Clients, messages: int) -> Timed:
    async def timed() -> int:
        channel = channel_name("rpy")
        pubsub = c.rpy.pubsub()
        await pubsub.subscribe(channel)
        while (await pubsub.get_message(timeout=1.0)) is None:
            pass  # the subscribe confirmation: the server has the subscription
        counter = Counter(messages)

        async def listen() -> None:
            async for message in pubsub.listen():
                if message["type"] == "message":
                    counter()
                    if counter.count == messages:
                        return

        async def publish() -> None:
            for _ in range(messages // PUBSUB_BATCH):
                pipe = c.rpy.pipeline(transaction=False)
                for _ in range(PUBSUB_BATCH):
                    pipe.publish(channel, VALUE)
                await pipe.execute()

        async def both() -> int:
            listener = asyncio.ensure_future(listen())
            try:
                return await deliver(publish, counter)
            finally:
                await listener

        try:
            return await measure_inside(both())
        finally:
            await pubsub.aclose()

    return timed


def floor_pubsub(c: Clients, messages: int) -> Timed:
    async def timed() -> int:
        channel = channel_name("floor")
        sub = await floor_connect(c.url)
        confirmed = sub.request(pack("SUBSCRIBE", channel))
        await confirmed
        counter = Counter(messages)

        def on_message(reply: Any) -> None:
            if reply[0] == b"message":
                counter()

        sub.on_message = on_message
        batch = pack("PUBLISH", channel, VALUE) * PUBSUB_BATCH
        pub = c.floor_pub
        assert pub is not None

        async def publish() -> None:
            for _ in range(messages // PUBSUB_BATCH):
                await pub.request_many(batch, PUBSUB_BATCH)[-1]

        try:
            return await measure_inside(deliver(publish, counter))
        finally:
            sub.close()

    return timed


# ------------------------------------------------------------- measuring
@dataclass
class Sample:
    wall: float
    cpu: float
    ops: int


_inside: list[Sample] = []


async def measure_inside(work: Awaitable[int]) -> int:
    """Time ``work`` alone (for measurements with untimed setup around them)."""
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    ops = await work
    _inside.append(Sample(time.perf_counter() - wall0, time.process_time() - cpu0, ops))
    return ops


async def measure(timed: Timed) -> Sample:
    """One measurement; pubsub measurements time themselves (``measure_inside``)."""
    _inside.clear()
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    ops = await timed()
    sample = Sample(time.perf_counter() - wall0, time.process_time() - cpu0, ops)
    return _inside.pop() if _inside else sample


@dataclass
class Result:
    """Samples of each contender; index ``i`` of every list is round ``i``."""

    samples: dict[str, list[Sample]] = field(default_factory=dict)

    def rates(self, who: str) -> list[float]:
        return [s.ops / s.wall for s in self.samples[who]]

    def ops(self, who: str) -> float:
        return statistics.median(self.rates(who))

    def ratio(self, who: str, other: str) -> float:
        """Median over rounds of the per-round ratio of ops/s (load cancels out)."""
        return statistics.median(
            a / b for a, b in zip(self.rates(who), self.rates(other), strict=True))

    def cpu_us(self, who: str) -> float:
        return statistics.median(1e6 * s.cpu / s.ops for s in self.samples[who])

    def spread(self, who: str) -> float:
        rates = self.rates(who)
        return (max(rates) - min(rates)) / statistics.median(rates)


async def run_rounds(contenders: dict[str, Timed], rounds: int) -> Result:
    """One warm-up round, then ``rounds`` interleaved rounds with rotating order."""
    names = list(contenders)
    for name in names:
        await contenders[name]()
    result = Result({name: [] for name in names})
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            result.samples[name].append(await measure(contenders[name]))
    return result


# ------------------------------------------------------------- scenarios
@dataclass
class Scenario:
    name: str
    target: str  # "floor" or "redis-py"
    goal: float
    contenders: dict[str, Timed]
    rounds: int


def scenarios(c: Clients, quick: bool, rounds: int | None) -> list[Scenario]:
    """The four scenarios; ``ours (execute)`` rides along as a footnote.

    Time-boxed measurements are short and many, so that load from other
    processes on the machine hits every contender alike; pubsub measurements
    are 20k messages each, so they get a third of the rounds.
    """
    secs = 0.08 if quick else 0.1
    short = rounds or (8 if quick else 24)
    long = max(3, short // 3)
    return [
        Scenario("sequential SET+GET", "floor", 0.9, {
            "ours": setget(c, "ours", ours_setget, 1, secs),
            "redis-py": setget(c, "rpy", rpy_setget, 1, secs),
            "floor": setget(c, "floor", floor_setget, 1, secs),
            "ours (execute)": setget(c, "ours", ours_execute_setget, 1, secs),
        }, short),
        Scenario(f"{TASKS} tasks SET+GET", "redis-py", 3.0, {
            "ours": setget(c, "ours", ours_setget, TASKS, secs),
            "redis-py": setget(c, "rpy", rpy_setget, TASKS, secs),
            "floor": setget(c, "floor", floor_setget, TASKS, secs),
            "ours (execute)": setget(c, "ours", ours_execute_setget, TASKS, secs),
        }, short),
        Scenario(f"pipeline x{PIPELINE}", "redis-py", 3.0, {
            "ours": ours_pipelines(c, secs),
            "redis-py": rpy_pipelines(c, secs),
            "floor": floor_pipelines(c, secs),
        }, short),
        Scenario(f"pubsub {PUBSUB_MESSAGES // 1000}k msgs", "redis-py", 3.0, {
            "ours": ours_pubsub(c, PUBSUB_MESSAGES),
            "redis-py": rpy_pubsub(c, PUBSUB_MESSAGES),
            "floor": floor_pubsub(c, PUBSUB_MESSAGES),
        }, long),
    ]


# ---------------------------------------------------------------- report
MAIN = ("ours", "redis-py", "floor")
HEADER = ("scenario", "ours ops/s", "redis-py ops/s", "floor ops/s", "ours/redis-py",
          "ours/floor", "CPU µs/op ours", "redis-py", "floor", "target")


def row(s: Scenario, r: Result) -> tuple[str, ...]:
    vs_rpy, vs_floor = r.ratio("ours", "redis-py"), r.ratio("ours", "floor")
    mark = "ok" if (vs_floor if s.target == "floor" else vs_rpy) >= s.goal else "MISS"
    return (f"{s.name} ({s.rounds}r)", f"{r.ops('ours'):,.0f}", f"{r.ops('redis-py'):,.0f}",
            f"{r.ops('floor'):,.0f}", f"{vs_rpy:.2f}x", f"{vs_floor:.2f}x",
            f"{r.cpu_us('ours'):.1f}", f"{r.cpu_us('redis-py'):.1f}",
            f"{r.cpu_us('floor'):.1f}", f">={s.goal:g}x {s.target}: {mark}")


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(line[i]) for line in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(w) if i == 0 or i == len(widths) - 1 else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(line, widths, strict=True)))
             for line in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def versions() -> str:
    return (f"Python {platform.python_version()} | uvloop {version('uvloop')} | "
            f"hiredis {hiredis.__version__} | redis-py {redis.__version__} | "
            f"{os.cpu_count()} CPUs")


# ------------------------------------------------------------------ main
def bench_url(db: int) -> str:
    parts = urlsplit(os.environ.get("REDIS_URL", DEFAULT_URL))
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", "", ""))


def extras(s: Scenario, r: Result) -> list[str]:
    """Footnotes for contenders beyond the three columns."""
    return [f"  {s.name}, {who}: {r.ops(who):,.0f} ops/s = {r.ratio(who, 'floor'):.2f}x floor, "
            f"{r.cpu_us(who):.1f} CPU µs/op" for who in s.contenders if who not in MAIN]


def cpu_ratio(s: Scenario, r: Result) -> str:
    """Floor CPU/op over ours: the ours/floor ratio if only client CPU counted."""
    return (f"  {s.name}: {r.cpu_us('floor') / r.cpu_us('ours'):.2f}x "
            f"(ours spends {r.cpu_us('ours') - r.cpu_us('floor'):.1f} µs more CPU per op)")


def spread(s: Scenario, r: Result) -> str:
    return f"  {s.name}: " + ", ".join(
        f"{who} {100 * r.spread(who):.0f}%" for who in s.contenders)


def rpy_connections(c: Clients) -> int:
    pool = c.rpy.connection_pool
    return len(getattr(pool, "_available_connections", ())) + len(
        getattr(pool, "_in_use_connections", ()))


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def report(rows: list[tuple[str, ...]], sections: dict[str, list[str]]) -> None:
    print()
    print(table(rows))
    for title, lines in sections.items():
        if lines:
            print(f"\n{title}")
            print("\n".join(lines))


async def main(quick: bool, rounds: int | None, db: int) -> None:
    url = bench_url(db)
    parts = urlsplit(url)
    print(versions())
    print(f"server {parts.hostname}:{parts.port or 6379} database {db}; interleaved rounds "
          f"(count in brackets) after 1 warm-up; medians{' (--quick)' if quick else ''}; "
          f"load average {load()}", flush=True)
    clients = Clients(url)
    await clients.open()
    rows: list[tuple[str, ...]] = [HEADER]
    sections: dict[str, list[str]] = {
        "our client through store.execute (no client() method layer):": [],
        "client CPU only: floor CPU µs/op / ours CPU µs/op:": [],
        "round-to-round spread of ops/s ((max - min) / median):": [],
    }
    notes, cpu, spreads = sections.values()
    started = time.perf_counter()
    try:
        for s in scenarios(clients, quick, rounds):
            result = await run_rounds(s.contenders, s.rounds)
            rows.append(row(s, result))
            notes += extras(s, result)
            cpu.append(cpu_ratio(s, result))
            spreads.append(spread(s, result))
            print(f"  .. {s.name} done ({time.perf_counter() - started:.0f}s)", flush=True)
        opened = rpy_connections(clients)
    finally:
        await clients.close()
    report(rows, sections)
    print(f"\nredis-py's pool holds {opened} connections (ours: 1 shared); load average "
          f"{load()} at the end; total {time.perf_counter() - started:.0f}s")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer rounds (~15 s instead of ~60 s)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="timed rounds per time-boxed scenario (pubsub: a third)")
    parser.add_argument("--db", type=int, default=14, help="database to use and flush (14)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args(sys.argv[1:])
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main(args.quick, args.rounds, args.db))
