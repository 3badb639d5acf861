"""A read of pipelined GETs, SETs or INCRs is answered at once
(``table.batch``), exactly as one by one.

The batch handlers decline (and the requests run one by one) whenever a
request needs more than the common case: a missing or volatile key, another
type, a big value, an option, a count INCR might fail on, a watcher,
keyspace events, the AOF, MONITOR.
The differential test drives random states and runs through a server with
batches and one without and compares every byte; the socket test compares
with Redis.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import hiredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stores.pulsards.config import Config
from stores.pulsards.keyspace import now_ms
from stores.pulsards.server import Server

from .conftest import AGREE_DB, ServerProcess, _redis_address
from .test_protocol import connect, feed, pack

pytestmark = pytest.mark.timeout(60)

# Keys of two lengths: a run of one length is split without the parser (runs.py).
KEYS = [f"k{i}".encode() for i in range(6)] + [b"key6", b"key7"]


def _without_batches(server: Server) -> Server:
    for entry in server.dispatch.values():
        entry.batch = entry.batch_plain = None
    return server


def _counting_batches(server: Server) -> list[str]:
    """Names of the commands whose batch handler answered a read."""
    answered: list[str] = []
    for entry in {id(e): e for e in server.dispatch.values()}.values():
        plain = entry.batch_plain
        if plain is None:
            continue

        def counted(c: Any, reqs: Any, plain: Any = plain, name: str = entry.name) -> Any:
            reply = plain(c, reqs)
            if reply is not None:
                answered.append(name)
            return reply

        entry.batch = entry.batch_plain = counted
    return answered


# Mixed, or repeated in a run of their own: wrong arities and SET options, which
# the batch handlers must decline.
ODD = [(b"GET", KEYS[0]), (b"GET", KEYS[0], b"extra"), (b"SET", KEYS[1], b"v", b"EX", b"100"),
       (b"SET", KEYS[2], b"v", b"KEEPTTL"), (b"SET", KEYS[2]), (b"SET", KEYS[3], b"v", b"GET")]
VALUES = st.one_of(st.binary(max_size=8), st.sampled_from([b"x" * 1023, b"y" * 1024]))
# Counts INCR takes in a batch, and strings only its one-by-one path answers or refuses.
PLAIN_COUNTS = [b"0", b"7", b"42", b"999999999999999999"]
ODD_COUNTS = [b"-3", b"007", b"+1", b"9223372036854775806", b"9223372036854775807", b"1.5",
              b" 1", b""]
COUNTS = st.sampled_from(PLAIN_COUNTS + ODD_COUNTS)
STATE = st.lists(st.tuples(
    st.sampled_from(KEYS),
    st.one_of(VALUES, COUNTS, st.just("list")),
    st.sampled_from([None, "live", "expired"])), max_size=8)
RUN = st.one_of(
    st.lists(st.tuples(st.sampled_from([b"GET", b"get"]), st.sampled_from(KEYS)),
             min_size=2, max_size=20),
    st.lists(st.tuples(st.just(b"SET"), st.sampled_from(KEYS), VALUES), min_size=2, max_size=20),
    st.integers(0, 3).flatmap(lambda size: st.lists(st.tuples(  # values of one length
        st.just(b"SET"), st.sampled_from(KEYS), st.binary(min_size=size, max_size=size)),
        min_size=2, max_size=20)),
    st.lists(st.sampled_from(ODD), min_size=2, max_size=6),
    st.sampled_from(ODD).flatmap(lambda req: st.lists(st.just(req), min_size=2, max_size=4)))


def _load(server: Server, state: list[tuple[bytes, Any, str | None]]) -> None:
    db = server.keyspace[0]
    for key, value, ttl in state:
        db.data[key] = [b"a"] if value == "list" else value
        db.expires.pop(key, None)
        if ttl is not None:  # an expired key stays stored until it is looked up
            db.expires[key] = now_ms() + (100_000 if ttl == "live" else -10)


def _run(server: Server, state: list[Any], run: list[tuple[bytes, ...]],
         protocol: int) -> tuple[Any, ...]:
    _load(server, state)
    client, transport = connect(server)
    feed(client, pack(("HELLO", protocol)))
    transport.writes.clear()
    feed(client, pack(*run))
    db = server.keyspace[0]
    now = now_ms()  # (the two servers' clocks read apart: deadlines compare as live or not)
    return (transport.writes, dict(db.data), {k: when > now for k, when in db.expires.items()},
            server.stats.commands, client.last_command)


def _agree(state: list[Any], run: list[tuple[bytes, ...]], protocol: int) -> None:
    async def both() -> tuple[Any, Any]:
        return (_run(Server(Config(port=0)), state, run, protocol),
                _run(_without_batches(Server(Config(port=0))), state, run, protocol))

    batched, one_by_one = asyncio.run(both())
    assert batched == one_by_one


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(state=STATE, run=RUN, protocol=st.sampled_from([2, 3]))
def test_a_batched_read_is_answered_as_one_by_one(state: list[Any], run: list[tuple[bytes, ...]],
                                                   protocol: int) -> None:
    _agree(state, run, protocol)


# A batch of INCRs runs only when every key of the run holds a plain count (or
# nothing): three keys, mostly plain counts, make that common.
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(state=st.lists(st.tuples(st.sampled_from(KEYS[:3]),
                                st.sampled_from([*PLAIN_COUNTS * 4, *ODD_COUNTS, "list"]),
                                st.sampled_from([None, "live", "expired"])), max_size=4),
       run=st.lists(st.tuples(st.sampled_from([b"INCR", b"incr"]), st.sampled_from(KEYS[:3])),
                    min_size=2, max_size=12))
def test_a_batched_incr_run_is_answered_as_one_by_one(state: list[Any],
                                                      run: list[tuple[bytes, ...]]) -> None:
    _agree(state, run, 2)


@pytest.mark.parametrize("odd", [*ODD_COUNTS, "list"])
@pytest.mark.parametrize("ttl", [None, "live", "expired"])
def test_an_incr_run_over_an_odd_value_is_answered_as_one_by_one(odd: Any, ttl: str | None
                                                                 ) -> None:
    state = [(KEYS[0], odd, ttl), (KEYS[1], b"5", None)]
    _agree(state, [(b"INCR", KEYS[1]), (b"INCR", KEYS[0]), (b"INCR", KEYS[0])], 2)


async def test_runs_go_through_the_batch_handlers() -> None:
    server = Server(Config(port=0))
    answered = _counting_batches(server)
    client, transport = connect(server)
    feed(client, pack(*[("SET", f"k{i}", "v" * i) for i in range(8)]))
    feed(client, pack(*[("GET", f"k{i}") for i in range(8)]))  # sizes differ
    feed(client, pack(*[("GET", "k3")] * 4))  # one size
    feed(client, pack(("GET", "k3"), ("GET", "missing")))
    feed(client, pack(("LPUSH", "l", "x"), ("SET", "k3", "v", "EX", "100")))
    feed(client, pack(("GET", "k1"), ("GET", "l")))  # declined: another type
    feed(client, pack(("GET", "k1"), ("GET", "k3")))  # declined: a TTL
    feed(client, pack(*[("INCR", f"n{i % 2}") for i in range(5)]))
    feed(client, pack(("INCR", "n0"), ("INCR", "k1")))  # declined: not a count
    assert answered == ["set", "get", "get", "get", "incr"]
    assert transport.writes == [
        b"+OK\r\n" * 8,
        b"".join(b"$%d\r\n%s\r\n" % (i, b"v" * i) for i in range(8)),
        b"$3\r\nvvv\r\n" * 4,
        b"$3\r\nvvv\r\n$-1\r\n",
        b":1\r\n+OK\r\n",
        b"$1\r\nv\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        b"$1\r\nv\r\n$1\r\nv\r\n",
        b":1\r\n:1\r\n:2\r\n:2\r\n:3\r\n",
        b":4\r\n-ERR value is not an integer or out of range\r\n"]
    assert server.stats.commands == 35


@pytest.mark.parametrize("run", [[("SET", "k0", "a"), ("SET", "k1", "b")],
                                 [("INCR", "k0"), ("INCR", "k1")]])
async def test_a_watched_key_still_fails_the_transaction(run: list[tuple[str, ...]]) -> None:
    server = Server(Config(port=0))
    watcher, seen = connect(server)
    feed(watcher, pack(("WATCH", "k1")))
    writer, _ = connect(server)
    feed(writer, pack(*run))
    feed(watcher, pack(("MULTI",), ("GET", "k1"), ("EXEC",)))
    assert seen.writes[-1] == b"+OK\r\n+QUEUED\r\n*-1\r\n"


async def test_keyspace_events_and_monitor_see_every_command() -> None:
    server = Server(Config(port=0, notify_keyspace_events="KA"))
    answered = _counting_batches(server)
    subscriber, events = connect(server)
    feed(subscriber, pack(("PSUBSCRIBE", "__keyspace@0__:*")))
    monitor, shown = connect(server)
    feed(monitor, pack(("MONITOR",)))
    client, _ = connect(server)
    feed(client, pack(*[("SET", f"k{i}", "v") for i in range(3)]))
    feed(client, pack(*[("GET", f"k{i}") for i in range(3)]))
    assert answered == []
    assert b"".join(events.writes).count(b"\r\n$3\r\nset\r\n") == 3
    assert b"".join(shown.writes).count(b'"GET"') == 3


async def test_the_aof_logs_every_set_of_a_read(tmp_path: Path) -> None:
    server = Server(Config(port=0, dir=str(tmp_path), appendonly="yes", appendfsync="always"))
    answered = _counting_batches(server)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(pack(*[("SET", f"k{i}", "v") for i in range(5)]))
        assert await asyncio.wait_for(reader.readexactly(25), 5) == b"+OK\r\n" * 5
        writer.close()
    finally:
        await server.stop()
    assert answered == []
    logged = b"".join(path.read_bytes() for path in tmp_path.rglob("*.aof"))
    assert logged.count(b"$3\r\nSET\r\n") == 5


# ------------------------------------------------------------ with Redis
def _reads(address: tuple[str, int], reads: list[tuple[bytes, int]]) -> list[Any]:
    """Send each read (its bytes, how many replies it gets) in a write of its
    own, after the replies to the one before; all the replies."""
    with socket.create_connection(address, timeout=10) as sock:
        reader = hiredis.Reader()
        got: list[Any] = []
        for data, count in [(pack(("SELECT", AGREE_DB)), 1), *reads, (pack(("FLUSHDB",)), 1)]:
            sock.sendall(data)
            want = len(got) + count
            while len(got) < want:
                item = reader.gets()
                if item is False:
                    chunk = sock.recv(65536)
                    assert chunk, "connection closed"
                    reader.feed(chunk)
                    continue
                got.append(item if not isinstance(item, hiredis.ReplyError) else str(item))
    assert got[-1] == b"OK"
    return got[1:-1]


def _exchange(address: tuple[str, int], data: bytes, count: int) -> list[Any]:
    """Send ``data`` in one write; its ``count`` replies."""
    return _reads(address, [(data, count)])


@pytest.mark.parametrize("protocol", [2, 3])
def test_pipelined_gets_and_sets_answer_as_redis(pulsards_server: ServerProcess,
                                                  protocol: int) -> None:
    sizes = [0, 1, 3, 3, 100, 1023, 1024, 5000]
    runs = [
        ("HELLO", protocol),
        ("SET", "t", "old", "EX", 100), ("LPUSH", "l", "x"),
        *[("SET", f"k{i}", "v" * size) for i, size in enumerate(sizes)],
        ("SET", "t", "new"),  # a run's SET drops the TTL
        *[("GET", f"k{i}") for i in range(len(sizes))],
        *[("GET", "k2")] * 5,
        ("GET", "k2"), ("GET", "missing"), ("GET", "l"), ("GET", "t"),
        ("TTL", "t"), ("GET", "k2", "extra"), ("get", "k3"), ("GeT", "k3"),
    ]
    incrs = [
        *[("INCR", f"n{i % 3}") for i in range(7)],  # keys of one length
        ("INCR", "n0"), ("INCR", "count"), ("INCR", "n0"),  # two lengths
        ("INCR", "n1"), ("INCR", "k2"),  # not an integer
        ("SET", "big", "9223372036854775806"), ("INCR", "big"), ("INCR", "big"),  # overflow
        ("INCR", "l"), ("SET", "tc", "5", "EX", 100), ("INCR", "tc"), ("INCR", "tc"),
    ]
    runs += incrs
    data = pack(*runs)
    redis = _exchange(_redis_address(), data, len(runs))
    ours = _exchange((pulsards_server.host, pulsards_server.port), data, len(runs))
    assert ours[1:] == redis[1:]  # (HELLO's server fields differ)
    before = len(runs) - len(incrs)
    assert ours[before - 4:before] == [-1, "ERR wrong number of arguments for 'get' command",
                                       b"vvv", b"vvv"]
    assert ours[before:] == [
        1, 1, 1, 2, 2, 2, 3, 4, 1, 5, 3, "ERR value is not an integer or out of range",
        b"OK", 9223372036854775807, "ERR increment or decrement would overflow",
        "WRONGTYPE Operation against a key holding the wrong kind of value", b"OK", 6, 7]
