"""Streams on the real Redis and on pulsards: the same scripts, the same replies.

Covers XADD (IDs, NOMKSTREAM, trimming), ranges, XDEL, XTRIM (exact and
approximate, whose result depends on Redis' node boundaries: checked with
small and large entries), XREAD and its BLOCK form, XSETID, XINFO, and the
errors of each.  Scripts use explicit IDs; ``*`` IDs are checked apart.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import redis

from .test_agree import Script, agree
from .test_agree_zsets import _blocked_count, _clients, _close

pytestmark = pytest.mark.timeout(30)

BASICS: Script = [
    ("XADD", "s", "1-1", "f", "v"), ("XADD", "s", "1-2", "f", "v2", "g", "w"),
    ("XADD", "s", "1-2", "f", "v"), ("XADD", "s", "1-1", "f", "v"), ("XADD", "s", "0-1", "f", "v"),
    ("XADD", "s", "2", "a", "b"), ("XADD", "s", "2-*", "a", "b"), ("XADD", "s", "3-*", "a", "b"),
    ("XADD", "s", "1-*", "a", "b"), ("XADD", "new", "0-*", "a", "b"),
    ("XADD", "zero", "0-0", "a", "b"), ("XADD", "zero", "0", "a", "b"), ("EXISTS", "zero"),
    ("XADD", "s", "4-1", "f"), ("XADD", "s", "4-1"), ("XADD", "s", "abc", "f", "v"),
    ("XADD", "s", "4-x", "f", "v"), ("XADD", "s", "-", "f", "v"), ("XADD", "s", "+", "f", "v"),
    ("XADD", "s", " 5-1", "f", "v"), ("XADD", "s", "+6-01", "f", "v"),
    ("XADD", "s", "7-1-1", "f", "v"), ("XADD", "s", "18446744073709551616-0", "f", "v"),
    ("XADD", "nomk", "NOMKSTREAM", "1-1", "f", "v"), ("EXISTS", "nomk"),
    ("XADD", "s", "NOMKSTREAM", "8-1", "f", "v"), ("XLEN", "s"), ("XLEN", "nope"),
    ("SET", "str", "x"), ("XADD", "str", "1-1", "f", "v"), ("XLEN", "str"),
    ("XRANGE", "str", "-", "+"), ("TYPE", "s"), ("OBJECT", "ENCODING", "s"),
    ("XRANGE", "s", "-", "+"), ("XREVRANGE", "s", "+", "-"),
    ("XRANGE", "s", "1", "2"), ("XRANGE", "s", "(1-1", "+"), ("XRANGE", "s", "-", "(3-0"),
    ("XRANGE", "s", "(-", "+"), ("XRANGE", "s", "-", "(+"), ("XRANGE", "s", "(", "+"),
    ("XRANGE", "s", "(18446744073709551615-18446744073709551615", "+"),
    ("XRANGE", "s", "-", "(0-0"), ("XRANGE", "s", "-", "+", "COUNT", "2"),
    ("XRANGE", "s", "-", "+", "COUNT", "0"), ("XRANGE", "s", "-", "+", "COUNT", "-3"),
    ("XRANGE", "s", "-", "+", "COUNT"), ("XRANGE", "s", "-", "+", "COUNT", "x"),
    ("XRANGE", "s", "-", "+", "LIMIT", "1"), ("XRANGE", "nope", "-", "+", "COUNT", "0"),
    ("XRANGE", "s", "3", "1"), ("XRANGE", "s", "x", "+"), ("XREVRANGE", "s", "3", "1-2"),
    ("XREVRANGE", "s", "+", "-", "COUNT", "1"), ("XREVRANGE", "s", "(3-0", "(1-1"),
    ("XRANGE", "s", "2-0", "2-0"), ("XRANGE", "s", "1-2", "1-2"),
    ("XDEL", "s", "1-2", "1-2", "9-9"), ("XDEL", "s", "bad"), ("XDEL", "nope", "bad"),
    ("XDEL", "nope", "1-1"), ("XDEL", "str", "1-1"), ("XRANGE", "s", "-", "+"),
    ("XDEL", "s", "1-1", "2-0", "2-1", "3-0", "8-1"), ("XLEN", "s"), ("EXISTS", "s"),
    ("XRANGE", "s", "-", "+"), ("XADD", "s", "8-1", "f", "v"), ("XADD", "s", "8-2", "f", "v"),
    ("XINFO", "STREAM", "s"),
]

TRIMS: Script = [
    *[("XADD", "t", f"{i}-1", "f", "v") for i in range(1, 251)],
    ("XINFO", "STREAM", "t"), ("XTRIM", "t", "MAXLEN", "~", "1"), ("XLEN", "t"),
    ("XTRIM", "t", "MAXLEN", "~", "10", "LIMIT", "0"), ("XDEL", "t", "240-1"),
    ("XTRIM", "t", "MAXLEN", "5"), ("XRANGE", "t", "-", "+"), ("XINFO", "STREAM", "t"),
    ("XTRIM", "t", "MINID", "248"), ("XRANGE", "t", "-", "+"), ("XTRIM", "t", "MAXLEN", "0"),
    ("XINFO", "STREAM", "t"), ("XADD", "t", "251-1", "f", "v"), ("XINFO", "STREAM", "t"),
    ("XTRIM", "t", "MAXLEN", "-1"), ("XTRIM", "t", "MAXLEN", "x"), ("XTRIM", "t"),
    ("XTRIM", "t", "FOO", "1"), ("XTRIM", "t", "MAXLEN", "1", "LIMIT", "10"),
    ("XTRIM", "t", "MAXLEN", "~", "1", "LIMIT", "-1"), ("XTRIM", "t", "LIMIT", "1"),
    ("XTRIM", "t", "MAXLEN", "1", "MINID", "1"), ("XTRIM", "t", "MINID", "~", "x"),
    ("XTRIM", "nope", "MAXLEN", "1"), ("XTRIM", "str", "MAXLEN", "1"),
    *[("XADD", "u", f"{i}-1", "f", "v") for i in range(1, 351)],
    ("XTRIM", "u", "MINID", "~", "250"), ("XLEN", "u"), ("XRANGE", "u", "-", "+", "COUNT", "1"),
    ("XTRIM", "u", "MAXLEN", "~", "0", "LIMIT", "100"), ("XLEN", "u"),
    ("XTRIM", "u", "MAXLEN", "~", "0", "LIMIT", "99"), ("XLEN", "u"),
    ("XADD", "u", "MAXLEN", "~", "10", "400-1", "f", "v"), ("XLEN", "u"),
    ("XADD", "u", "MAXLEN", "=", "10", "LIMIT", "5", "401-1", "f", "v"),
    ("XADD", "u", "MAXLEN", "2", "402-1", "f", "v"), ("XRANGE", "u", "-", "+"),
    ("XADD", "u", "MINID", "402", "403-1", "f", "v"), ("XRANGE", "u", "-", "+"),
    ("XADD", "u", "MAXLEN", "-1", "404-1", "f", "v"), ("XADD", "u", "MAXLEN", "404-1", "f", "v"),
    ("XADD", "u", "LIMIT", "5", "404-1", "f", "v"), ("XINFO", "STREAM", "u"),
]

# Entries big enough for the 4096-byte node limit to cut nodes before 100 entries,
# integers stored as integers, fields that differ from the node's first.
BIG: Script = [
    *[("XADD", "b", f"{i}-{i % 3}", "field", "x" * (i % 90), "n", str(i * 7919))
      for i in range(1, 400)],
    *[("XADD", "b", f"{i}-0", f"k{i % 4}", "-12345", "big", "9" * 19)
      for i in range(400, 700)],
    ("XINFO", "STREAM", "b"), ("XTRIM", "b", "MAXLEN", "~", "500"), ("XLEN", "b"),
    ("XINFO", "STREAM", "b"), ("XTRIM", "b", "MINID", "~", "600"), ("XLEN", "b"),
    ("XRANGE", "b", "-", "+", "COUNT", "3"), ("XINFO", "STREAM", "b"),
]

READS: Script = [
    ("XADD", "r", "1-1", "a", "1"), ("XADD", "r", "2-1", "b", "2"), ("XADD", "q", "5-5", "c", "3"),
    ("XREAD", "STREAMS", "r", "0"), ("XREAD", "COUNT", "1", "STREAMS", "r", "q", "0", "0"),
    ("XREAD", "STREAMS", "r", "q", "1-1", "5-5"), ("XREAD", "STREAMS", "r", "$"),
    ("XREAD", "STREAMS", "nope", "0"), ("XREAD", "STREAMS", "r", "nope", "0", "0"),
    ("XREAD", "COUNT", "0", "STREAMS", "r", "0-0"), ("XREAD", "COUNT", "-1", "STREAMS", "r", "0"),
    ("XREAD", "STREAMS", "r"), ("XREAD", "STREAMS", "r", "q", "0"), ("XREAD", "r", "0"),
    ("XREAD", "COUNT", "x", "STREAMS", "r", "0"), ("XREAD", "STREAMS", "r", ">"),
    ("XREAD", "STREAMS", "r", "-"), ("XREAD", "STREAMS", "r", "bad"),
    ("XREAD", "GROUP", "g", "c", "STREAMS", "r", "0"), ("XREAD", "NOACK", "STREAMS", "r", "0"),
    ("XREAD", "BLOCK", "-1", "STREAMS", "r", "0"), ("XREAD", "BLOCK", "x", "STREAMS", "r", "0"),
    ("XREAD", "BLOCK", "1", "STREAMS", "r", "0"), ("XREAD", "BLOCK", "1", "STREAMS", "r", "$"),
    ("SET", "str", "x"), ("XREAD", "STREAMS", "str", "0"),
    ("XREAD", "STREAMS", "r", "str", "0", "x"),
    ("MULTI",), ("XREAD", "BLOCK", "0", "STREAMS", "r", "$"), ("EXEC",),
    ("XDEL", "r", "2-1"), ("XREAD", "STREAMS", "r", "1-1"), ("XREAD", "STREAMS", "r", "0"),
]

SETID_INFO: Script = [
    ("XADD", "x", "5-5", "f", "v"), ("XSETID", "x", "5-4"), ("XSETID", "x", "5-5"),
    ("XSETID", "x", "10-0", "ENTRIESADDED", "0"), ("XSETID", "x", "10-0", "ENTRIESADDED", "-1"),
    ("XSETID", "x", "10-0", "ENTRIESADDED", "7", "MAXDELETEDID", "3-0"),
    ("XSETID", "x", "10-0", "MAXDELETEDID", "11-0"), ("XSETID", "x", "10-0", "FOO", "1"),
    ("XSETID", "x", "10-0", "ENTRIESADDED"), ("XSETID", "x", "bad"), ("XSETID", "nope", "1-1"),
    ("XSETID", "nope", "bad"), ("XSETID", "str", "1-1"), ("SET", "str", "v"),
    ("XSETID", "str", "1-1"), ("XINFO", "STREAM", "x"), ("XADD", "x", "10-0", "f", "v"),
    ("XADD", "x", "10-*", "f", "v"), ("XDEL", "x", "5-5"), ("XSETID", "x", "4-0"),
    ("XSETID", "x", "10-1", "MAXDELETEDID", "0-0"), ("XINFO", "STREAM", "x"),
    ("XINFO", "STREAM", "x", "FULL"), ("XINFO", "STREAM", "x", "FULL", "COUNT", "1"),
    ("XINFO", "STREAM", "x", "FULL", "COUNT", "0"), ("XINFO", "STREAM", "x", "FULL", "COUNT"),
    ("XINFO", "STREAM", "x", "FOO"), ("XINFO", "STREAM", "x", "FULL", "LIMIT", "1"),
    ("XINFO", "STREAM", "nope"), ("XINFO", "STREAM", "str"), ("XINFO", "GROUPS", "x"),
    ("XINFO", "GROUPS", "nope"), ("XINFO", "CONSUMERS", "x", "g"),
    ("XINFO", "CONSUMERS", "nope", "g"), ("XINFO", "FOO"), ("XTRIM", "x", "MAXLEN", "0"),
    ("XINFO", "STREAM", "x"), ("XINFO", "STREAM", "x", "FULL"),
    ("XSETID", "x", "18446744073709551615-18446744073709551615"), ("XADD", "x", "*", "f", "v"),
    ("XADD", "x", "18446744073709551615-*", "f", "v"), ("COPY", "x", "x2"),
    ("XINFO", "STREAM", "x2"), ("RENAME", "x2", "x3"), ("XLEN", "x3"),
]


@pytest.mark.parametrize("script", [BASICS, TRIMS, BIG, READS, SETID_INFO],
                         ids=["basics", "trims", "big", "reads", "setid-info"])
def test_same_replies_as_redis(both: tuple[redis.Redis, redis.Redis], script: Script) -> None:
    agree(both, script)


def test_auto_ids_follow_the_clock_and_never_go_back(rp: redis.Redis) -> None:
    before = int(time.time() * 1000)
    first = rp.xadd("auto", {"f": "v"}).decode()
    ms, seq = map(int, first.split("-"))
    assert before <= ms <= int(time.time() * 1000) and seq >= 0
    rp.xadd("future", {"f": "v"}, id=f"{ms + 10**9}-5")
    assert rp.xadd("future", {"f": "v"}) == f"{ms + 10**9}-6".encode()
    ids = [rp.xadd("auto", {"i": i}) for i in range(200)]
    assert ids == sorted(ids, key=lambda x: tuple(map(int, x.split(b"-"))))


async def test_xread_block_is_woken_by_xadd_with_the_new_entries(
        either: tuple[str, int]) -> None:
    clients = await _clients(either, 4)
    admin, first, second, late = clients
    try:
        await admin.xadd("w", {"old": "1"}, id="1-1")
        waiter = asyncio.ensure_future(first.execute_command(
            "XREAD", "COUNT", "1", "BLOCK", "5000", "STREAMS", "w", "other", "$", "$"))
        await _blocked_count(admin, 1)
        other = asyncio.ensure_future(second.execute_command(
            "XREAD", "BLOCK", "5000", "STREAMS", "w", "1-1"))
        await _blocked_count(admin, 2)
        await admin.execute_command("XADD", "w", "2-1", "n", "1", "x", "y")
        await admin.xadd("w", {"n": "2"}, id="2-2")  # after the wake-up: COUNT 1 holds
        woken = [[b"w", [(b"2-1", {b"n": b"1", b"x": b"y"})]]]  # as redis-py parses it
        assert await asyncio.wait_for(waiter, 5) == woken
        assert await asyncio.wait_for(other, 5) == woken
        late.response_callbacks.clear()  # the raw reply: nil, not redis-py's []
        assert await late.execute_command("XREAD", "BLOCK", "50", "STREAMS", "w", "$") is None
    finally:
        await _close(clients)


def test_node_size_option_moves_the_node_boundaries(rp: redis.Redis) -> None:
    assert rp.config_get("stream-node-max-entries") == {"stream-node-max-entries": "100"}
    rp.config_set("stream-node-max-entries", "7")
    try:
        for i in range(1, 40):
            rp.xadd("c", {"f": "v"}, id=f"{i}-0")
    finally:
        rp.config_set("stream-node-max-entries", "100")
    assert rp.xinfo_stream("c")["radix-tree-keys"] == 6
    assert rp.xtrim("c", 20, approximate=True) == 14  # two whole nodes of 7
