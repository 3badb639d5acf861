"""Reads that are runs of one request shape (``stores.pulsards.runs``): split
without a parser only when that split is what a parser returns, answered
as the one-by-one path answers, and as Redis does."""

from __future__ import annotations

from typing import Any

import hiredis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stores.pulsards.config import Config
from stores.pulsards.runs import columns, shape
from stores.pulsards.server import Server

from .conftest import ServerProcess, _redis_address
from .test_batch import _counting_batches, _reads
from .test_protocol import connect, feed, pack

pytestmark = pytest.mark.timeout(60)


def split(data: bytes) -> list[list[bytes]] | None:
    run = shape(data)
    return None if run is None else columns(data, run)


def parsed(data: bytes) -> list[Any] | None:
    """What hiredis reads in ``data``; None unless it is whole requests."""
    reader = hiredis.Reader()
    reader.feed(data)
    requests = []
    try:
        while (request := reader.gets()) is not False:
            requests.append(request)
    except hiredis.ProtocolError:
        return None
    return None if reader.has_data() or data.count(b"*") < len(requests) else requests


def test_uniform_runs_are_split_into_their_columns() -> None:
    keys = [b"key:%012d" % i for i in range(16)]
    assert split(pack(*[("GET", k) for k in keys])) == [keys]
    assert split(pack(*[("SET", k, b"x" * 3) for k in keys])) == [keys, [b"xxx"] * 16]
    assert split(pack(*[("SET", k, b"") for k in keys[:2]])) == [keys[:2], [b""] * 2]
    assert split(pack(("GET", b""), ("GET", b""))) == [[b"", b""]]


@pytest.mark.parametrize("data", [
    pack(("GET", "a")),  # one request is not a run
    pack(("GET", "a"), ("GET", "bb")),  # keys of two lengths
    pack(("SET", "a", "1"), ("SET", "b", "22")),  # values of two lengths
    pack(("GET", "a"), ("get", "b")),  # two names
    pack(("GET", "a"), ("DEL", "b")),
    pack(("GET", "a"), ("GET", "b"))[:-1],  # cut short
    pack(("GET", "a"), ("GET", "b")) + b"*",  # more follows
    pack(("GET", "a"), ("GET", "b"))[:-2] + b"xx",  # no CRLF at the end
    pack(("SET", "kk", "v")) + pack(("SET", "kk", "v")).replace(b"$1", b"%1"),
    pack(("GET", "a"), ("GET", "b"), ("GET", "a", "b")),
    pack(("GET", "ab"), ("SET", "ab", "c")),
    pack(("PING",), ("PING",)), pack(("MGET", "a", "b", "c"), ("MGET", "a", "b", "c")),
    b"*2\r\n$3\r\nGET\r\n$01\r\na\r\n" * 2,  # not canonical
    b"*2\r\n$3\r\nGET\r\n$+1\r\na\r\n" * 2,
    b"*2\r\n$03\r\nGET\r\n$1\r\na\r\n" * 2,
    b"*2\r\n$3\r\nGET\r\n$1024\r\n" + b"k" * 1024 + b"\r\n",  # over 1 KiB: parsed
    # A key that holds CRLF and the header: the pieces come out short.
    pack(("GET", b"ab\r\n*2\r\n$3\r\nGET\r\n$14\r\ncd"), ("GET", b"x" * 32)),
    pack(("SET", b"k\r\n$1\r\n", "v"), ("SET", b"kkkkkkk", "v")),
])
def test_other_reads_are_refused(data: bytes) -> None:
    assert split(data) is None


# Pieces that look like framing, so that random keys and values collide with it.
PIECES = st.sampled_from([b"a", b"bb", b"\r\n", b"$", b"*2", b"*3", b"$1", b"$2", b"GET",
                          b"SET", b"\r\n$1\r\n", b"\r\n*2\r\n$3\r\nGET\r\n$2\r\n", b"0"])
ARG = st.lists(PIECES, max_size=4).map(b"".join)
REQUEST = st.one_of(st.tuples(st.sampled_from([b"GET", b"get", b"SET"]), ARG),
                    st.tuples(st.sampled_from([b"SET", b"GET"]), ARG, ARG))


@settings(max_examples=500, deadline=None)
@given(st.lists(REQUEST, min_size=1, max_size=6), st.integers(-3, 3))
def test_a_split_is_what_a_parser_reads(requests: list[tuple[bytes, ...]], cut: int) -> None:
    data = pack(*requests)
    data = data[:cut] if cut < 0 else data + b"*2\r\n$3\r\n"[:cut]
    got = split(data)
    if got is None:
        return
    assert parsed(data) == [[requests[0][0], *args] for args in zip(*got, strict=True)]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 40), st.integers(0, 40), st.integers(2, 20), st.data())
def test_every_uniform_run_is_split(key_size: int, value_size: int, n: int,
                                    data: st.DataObject) -> None:
    keys = [data.draw(st.binary(min_size=key_size, max_size=key_size)) for _ in range(n)]
    values = [data.draw(st.binary(min_size=value_size, max_size=value_size)) for _ in range(n)]
    gets = pack(*[(b"GET", k) for k in keys])
    sets = pack(*[(b"SET", k, v) for k, v in zip(keys, values, strict=True)])
    for read, want in ((gets, [keys]), (sets, [keys, values])):
        got = split(read)
        # Only a key or value holding CRLF and the framing can refuse it.
        assert got == want or (got is None and b"\r\n" in b"".join(keys + values))


async def test_runs_are_answered_by_the_batch_handlers() -> None:
    server = Server(Config(port=0))
    answered = _counting_batches(server)
    client, transport = connect(server)
    sets = pack(*[("SET", f"k{i}", "vv") for i in range(4)])
    gets = pack(*[("GET", f"k{i}") for i in range(4)], ("GET", "k9"))
    assert split(sets) is not None and split(gets) is not None  # no parser for these
    feed(client, sets)
    feed(client, gets)
    feed(client, pack(("LPUSH", "l1", "x"), ("LPUSH", "l1", "y")))  # no batch handler
    feed(client, pack(("GET", "l1"), ("GET", "k1")))  # declined: the one-by-one path answers
    assert answered == ["set", "get"]
    assert transport.writes == [b"+OK\r\n" * 4, b"$2\r\nvv\r\n" * 4 + b"$-1\r\n",
                                b":1\r\n:2\r\n",
                                b"-WRONGTYPE Operation against a key holding the wrong kind of "
                                b"value\r\n$2\r\nvv\r\n"]
    assert server.stats.commands == 13
    assert client.last_command == [b"GET", b"k1"]
    feed(client, pack(("SET", "k1", "ab"), ("SET", "k2", "cd")))
    assert client.last_command == [b"SET", b"k2", b"cd"]
    # In a transaction the requests are queued, whatever their shape.
    transport.writes.clear()
    feed(client, pack(("MULTI",)))
    feed(client, pack(("GET", "k1"), ("GET", "k2")))
    feed(client, pack(("EXEC",)))
    assert transport.writes == [b"+OK\r\n", b"+QUEUED\r\n" * 2, b"*2\r\n$2\r\nab\r\n$2\r\ncd\r\n"]


@pytest.mark.parametrize("protocol", [2, 3])
def test_uniform_reads_answer_as_redis(pulsards_server: ServerProcess, protocol: int) -> None:
    tricky = b"ab\r\n*2\r\n$3\r\nGET\r\n$2\r\ncd"
    reads: list[list[tuple[Any, ...]]] = [
        [("HELLO", protocol), ("SET", "kk", "old", "EX", 100), ("RPUSH", "ll", "x")],
        [("SET", f"k{i}", f"v{i}") for i in range(10)],
        [("GET", f"k{i}") for i in range(10)],
        [("GET", "k1"), ("GET", "zz"), ("GET", "k2")],  # a miss
        [("GET", "kk"), ("GET", "k1")],  # a TTL
        [("GET", "ll"), ("GET", "k1")],  # a list
        [("SET", tricky, "v"), ("GET", tricky), ("GET", tricky)],
        [("GET", tricky[:2]), ("GET", "cd")],
        [("SET", "kk", "new"), ("SET", "ll", "new")],  # drops a TTL, replaces a list
        [("TTL", "kk"), ("TYPE", "ll")],
    ]
    assert all(split(pack(*read)) is not None for read in reads[1:5] + reads[7:9])
    sent = [(pack(*read), len(read)) for read in reads]
    redis = _reads(_redis_address(), sent)
    ours = _reads((pulsards_server.host, pulsards_server.port), sent)
    assert ours[1:] == redis[1:]  # (HELLO's server fields differ)
    assert ours[-2:] == [-1, b"string"]
