"""Streams on the real Redis and on pulsards: the same scripts, the same replies.

Covers XADD (IDs, NOMKSTREAM, trimming), ranges, XDEL, XTRIM (exact and
approximate, whose result depends on Redis' node boundaries: checked with
small and large entries), XREAD and its BLOCK form, XSETID, XINFO, and the
errors of each.  Scripts use explicit IDs; ``*`` IDs are checked apart.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis

from .test_agree import Script, agree, run
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
    # an empty stream is still a key, of type stream
    ("EXISTS", "x"), ("TYPE", "x"), ("LCS", "x", "x"), ("SORT", "x"), ("STRLEN", "x"),
    ("BITCOUNT", "x"), ("PFCOUNT", "x"), ("LLEN", "x"), ("SCARD", "x"), ("DBSIZE",),
    ("SCAN", "0", "TYPE", "stream"),
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


# ------------------------------------------------------------ consumer groups
GROUPS: Script = [
    ("XADD", "s", "1-1", "f", "1"), ("XADD", "s", "2-1", "f", "2"), ("XADD", "s", "3-1", "f", "3"),
    ("XGROUP", "CREATE", "s", "g", "0"), ("XGROUP", "CREATE", "s", "g", "0"),
    ("XGROUP", "CREATE", "s", "last", "$"), ("XGROUP", "CREATE", "s", "mid", "1-1",
                                              "ENTRIESREAD", "1"),
    ("XGROUP", "CREATE", "nokey", "g", "0"), ("XGROUP", "CREATE", "new", "g", "$", "MKSTREAM"),
    ("XGROUP", "CREATE", "s", "x", "0", "FOO"), ("XGROUP", "CREATE", "s", "x", "0", "ENTRIESREAD"),
    ("XGROUP", "CREATE", "s", "x", "0", "ENTRIESREAD", "-2"),
    ("XGROUP", "CREATE", "s", "x", "bad"), ("XGROUP", "CREATE", "s", "x", "-"),
    ("XGROUP", "CREATE", "s", "y", "0", "MKSTREAM", "MKSTREAM", "ENTRIESREAD", "1"),
    ("XGROUP", "FOO", "s", "g"), ("XGROUP", "HELP"), ("XINFO", "HELP"),
    ("XINFO", "GROUPS", "s"), ("XINFO", "GROUPS", "new"), ("XINFO", "STREAM", "s"),
    ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "s", ">"),
    ("XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"),
    ("XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"),
    ("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"),
    ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "s", "1-1"),
    ("XREADGROUP", "GROUP", "g", "carol", "STREAMS", "s", "0"),
    ("XREADGROUP", "GROUP", "nog", "c", "STREAMS", "s", ">"),
    ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "nokey", ">"),
    ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "$"),
    ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "-"),
    ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "x", "y"),
    ("XREADGROUP", "COUNT", "1", "STREAMS", "s", "x", "y", "z"),
    ("XREADGROUP", "GROUP", "g", "c", "FOO", "STREAMS", "s", ">"),
    ("XREAD", "GROUP", "g", "c", "STREAMS", "s", ">"),
    ("XINFO", "GROUPS", "s"), ("XINFO", "CONSUMERS", "s", "g"), ("XINFO", "CONSUMERS", "s", "x"),
    ("XPENDING", "s", "g"), ("XPENDING", "s", "last"), ("XPENDING", "s", "nog"),
    ("XPENDING", "nokey", "g"), ("XPENDING", "s", "g", "-", "+", "10"),
    ("XPENDING", "s", "g", "-", "+", "1"), ("XPENDING", "s", "g", "(1-1", "+", "10"),
    ("XPENDING", "s", "g", "-", "+", "10", "bob"), ("XPENDING", "s", "g", "-", "+", "10", "zed"),
    ("XPENDING", "s", "g", "IDLE", "100000", "-", "+", "10"),
    ("XPENDING", "s", "g", "IDLE", "0", "-", "+", "10", "alice"),
    ("XPENDING", "s", "g", "-", "+"), ("XPENDING", "s", "g", "-", "+", "x"),
    ("XPENDING", "s", "g", "IDLE", "10", "-", "+"), ("XPENDING", "s", "g", "x", "+", "1"),
    ("XPENDING", "s", "g", "-", "+", "-5"),
    ("XACK", "s", "g", "1-1", "9-9"), ("XACK", "s", "g", "1-1"), ("XACK", "s", "nog", "bad"),
    ("XACK", "nokey", "g", "1-1"), ("XACK", "s", "g", "bad"), ("XPENDING", "s", "g"),
    ("XCLAIM", "s", "g", "dave", "0", "2-1"), ("XCLAIM", "s", "g", "dave", "0", "2-1", "JUSTID"),
    ("XCLAIM", "s", "g", "dave", "1000000", "3-1"),
    ("XCLAIM", "s", "g", "erin", "0", "1-1", "FORCE", "RETRYCOUNT", "7"),
    ("XCLAIM", "s", "g", "erin", "0", "9-9", "FORCE"),
    ("XCLAIM", "s", "g", "erin", "0", "3-1", "IDLE", "5000", "LASTID", "3-1"),
    ("XCLAIM", "s", "g", "erin", "0", "3-1", "FOO"), ("XCLAIM", "s", "g", "erin", "x", "3-1"),
    ("XCLAIM", "s", "g", "erin", "0", "3-1", "IDLE", "x"),
    ("XCLAIM", "s", "g", "erin", "0", "3-1", "TIME", "x"),
    ("XCLAIM", "s", "g", "erin", "0", "3-1", "LASTID", "bad"),
    ("XCLAIM", "s", "nog", "erin", "0", "3-1"), ("XCLAIM", "str", "g", "erin", "0", "3-1"),
    ("XPENDING", "s", "g", "-", "+", "10"), ("XPENDING", "s", "g"),
    ("XDEL", "s", "2-1"), ("XREADGROUP", "GROUP", "g", "dave", "STREAMS", "s", "0"),
    ("XAUTOCLAIM", "s", "g", "frank", "0", "0", "COUNT", "1"),
    ("XAUTOCLAIM", "s", "g", "frank", "0", "0"), ("XAUTOCLAIM", "s", "g", "frank", "0", "0",
                                                   "JUSTID"),
    ("XAUTOCLAIM", "s", "g", "frank", "0", "(1-1", "COUNT", "5"),
    ("XAUTOCLAIM", "s", "g", "frank", "100000", "0"),
    ("XAUTOCLAIM", "s", "g", "frank", "0", "0", "COUNT", "0"),
    ("XAUTOCLAIM", "s", "g", "frank", "0", "0", "COUNT", "x"),
    ("XAUTOCLAIM", "s", "g", "frank", "x", "0"), ("XAUTOCLAIM", "s", "g", "frank", "0", "bad"),
    ("XAUTOCLAIM", "s", "g", "frank", "0", "0", "FOO"), ("XAUTOCLAIM", "s", "nog", "f", "0", "0"),
    ("XPENDING", "s", "g"), ("XINFO", "GROUPS", "s"),
    ("XGROUP", "SETID", "s", "g", "0"), ("XINFO", "GROUPS", "s"),
    ("XREADGROUP", "GROUP", "g", "zoe", "NOACK", "STREAMS", "s", ">"), ("XPENDING", "s", "g"),
    ("XGROUP", "SETID", "s", "g", "$", "ENTRIESREAD", "2"), ("XINFO", "GROUPS", "s"),
    ("XGROUP", "SETID", "s", "g", "-"), ("XGROUP", "SETID", "s", "g", "bad"),
    ("XGROUP", "SETID", "s", "nog", "0"), ("XGROUP", "SETID", "nokey", "g", "0"),
    ("XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD"),
    ("XGROUP", "SETID", "s", "g", "0", "FOO", "1"),
    ("XGROUP", "CREATECONSUMER", "s", "g", "newbie"),
    ("XGROUP", "CREATECONSUMER", "s", "g", "newbie"), ("XGROUP", "CREATECONSUMER", "s", "nog", "n"),
    ("XGROUP", "DELCONSUMER", "s", "g", "frank"), ("XGROUP", "DELCONSUMER", "s", "g", "nobody"),
    ("XPENDING", "s", "g"), ("XGROUP", "DESTROY", "s", "mid"), ("XGROUP", "DESTROY", "s", "mid"),
    ("XGROUP", "DESTROY", "nokey", "g"), ("XINFO", "GROUPS", "s"), ("XINFO", "STREAM", "s"),
    ("XINFO", "STREAM", "s", "FULL"), ("XINFO", "STREAM", "s", "FULL", "COUNT", "1"),
    ("XINFO", "STREAM", "s", "FULL", "COUNT", "-1"), ("COPY", "s", "s2"), ("XINFO", "GROUPS", "s2"),
    ("SET", "str", "v"), ("XGROUP", "CREATE", "str", "g", "0"), ("XINFO", "GROUPS", "str"),
    ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "str", ">"),
]

# Lag and entries-read across deletions, trims and XSETID (Redis 7.0's estimates).
LAG: Script = [
    *[("XADD", "l", f"{i}-0", "f", "v") for i in range(1, 11)],
    ("XGROUP", "CREATE", "l", "a", "0"), ("XGROUP", "CREATE", "l", "b", "5-0"),
    ("XGROUP", "CREATE", "l", "c", "$"), ("XGROUP", "CREATE", "l", "d", "0", "ENTRIESREAD", "0"),
    ("XINFO", "GROUPS", "l"), ("XREADGROUP", "GROUP", "a", "x", "COUNT", "3", "STREAMS", "l", ">"),
    ("XREADGROUP", "GROUP", "d", "x", "COUNT", "3", "STREAMS", "l", ">"), ("XINFO", "GROUPS", "l"),
    ("XDEL", "l", "7-0"), ("XINFO", "GROUPS", "l"),
    ("XREADGROUP", "GROUP", "a", "x", "COUNT", "5", "STREAMS", "l", ">"),
    ("XREADGROUP", "GROUP", "b", "x", "STREAMS", "l", ">"), ("XINFO", "GROUPS", "l"),
    ("XTRIM", "l", "MAXLEN", "3"), ("XINFO", "GROUPS", "l"), ("XDEL", "l", "1-0", "10-0"),
    ("XINFO", "GROUPS", "l"), ("XADD", "l", "11-0", "f", "v"), ("XINFO", "GROUPS", "l"),
    ("XSETID", "l", "20-0", "ENTRIESADDED", "30"), ("XINFO", "GROUPS", "l"),
    ("XTRIM", "l", "MAXLEN", "0"), ("XINFO", "GROUPS", "l"), ("XINFO", "STREAM", "l", "FULL"),
]


def _timeless(command: tuple[Any, ...], reply: Any) -> Any:
    """A reply with its clock readings (idle times, delivery and seen times) blanked."""
    if command[:1] == ("XPENDING",) and len(command) > 3 and isinstance(reply, list):
        return [[*row[:2], "t", *row[3:]] for row in reply]
    if isinstance(reply, dict):
        return {k: "t" if k in (b"idle", b"seen-time") else _timeless((), v)
                for k, v in reply.items()}
    if isinstance(reply, list):
        out = [_timeless((), item) for item in reply]
        for i in range(len(out) - 1):
            if out[i] in (b"idle", b"seen-time"):
                out[i + 1] = "t"
        return [("t" if isinstance(x, int) and x > 10**12 else x) for x in out]
    return reply


@pytest.mark.parametrize("script", [GROUPS, LAG], ids=["groups", "lag"])
def test_consumer_groups_as_on_redis(both: tuple[redis.Redis, redis.Redis],
                                     script: Script) -> None:
    real, ours = both
    expected = [_timeless(c, r) for c, r in zip(script, run(real, script), strict=True)]
    got = [_timeless(c, r) for c, r in zip(script, run(ours, script), strict=True)]
    wrong = [f"{command}: pulsards {have!r} != redis {want!r}"
             for command, want, have in zip(script, expected, got, strict=True) if have != want]
    assert not wrong, "\n".join(wrong)


async def test_xreadgroup_block_delivers_each_entry_to_one_consumer(
        either: tuple[str, int]) -> None:
    clients = await _clients(either, 4)
    admin, first, second, doomed = clients
    try:
        await admin.execute_command("XGROUP", "CREATE", "q", "workers", "$", "MKSTREAM")
        await admin.execute_command("XGROUP", "CREATE", "q", "gone", "$")
        one = asyncio.ensure_future(first.execute_command(
            "XREADGROUP", "GROUP", "workers", "w1", "BLOCK", "5000", "STREAMS", "q", ">"))
        await _blocked_count(admin, 1)
        two = asyncio.ensure_future(second.execute_command(
            "XREADGROUP", "GROUP", "workers", "w2", "BLOCK", "5000", "STREAMS", "q", ">"))
        await _blocked_count(admin, 2)
        three = asyncio.ensure_future(doomed.execute_command(
            "XREADGROUP", "GROUP", "gone", "w3", "BLOCK", "5000", "STREAMS", "q", ">"))
        await _blocked_count(admin, 3)
        await admin.execute_command("XGROUP", "DESTROY", "q", "gone")
        with pytest.raises(redis.ResponseError, match="NOGROUP the consumer group this "
                                                      "client was blocked on no longer exists"):
            await asyncio.wait_for(three, 5)
        await admin.xadd("q", {"job": "a"}, id="1-0")
        assert await asyncio.wait_for(one, 5) == [[b"q", [(b"1-0", {b"job": b"a"})]]]
        assert not two.done()  # the first waiter took it; the second still waits
        await admin.xadd("q", {"job": "b"}, id="2-0")
        assert await asyncio.wait_for(two, 5) == [[b"q", [(b"2-0", {b"job": b"b"})]]]
        pending = await admin.xpending("q", "workers")
        assert (pending["pending"], pending["min"], pending["max"]) == (2, b"1-0", b"2-0")
        assert pending["consumers"] == [{"name": b"w1", "pending": 1},
                                        {"name": b"w2", "pending": 1}]
    finally:
        await _close(clients)


async def test_idle_times_decide_what_is_claimed(either: tuple[str, int]) -> None:
    """min-idle-time and IDLE read the clock: the same on both servers."""
    clients = await _clients(either, 1)
    (c,) = clients
    c.response_callbacks.clear()  # the raw replies
    try:
        for i in (1, 2, 3):
            await c.xadd("jobs", {"n": i}, id=f"{i}-0")
        await c.xgroup_create("jobs", "g", id="0")
        await c.xreadgroup("g", "slow", {"jobs": ">"}, count=2)
        # Make 1-0 and 2-0 look delivered 5 s ago (IDLE, JUSTID: no delivery
        # counted), instead of waiting for their idle time to grow.
        await c.xclaim("jobs", "g", "slow", 0, ["1-0", "2-0"], idle=5000, justid=True)
        await c.xreadgroup("g", "slow", {"jobs": ">"})  # 3-0: just delivered
        # Only the entries idle for 1 s or more are listed, or claimed.
        idle = await c.execute_command("XPENDING", "jobs", "g", "IDLE", "1000", "-", "+", "10")
        assert [row[0] for row in idle] == [b"1-0", b"2-0"]
        assert all(row[2] >= 5000 for row in idle)
        claimed = await c.xclaim("jobs", "g", "fast", 1000, ["1-0", "3-0"], justid=True)
        assert claimed == [b"1-0"]
        cursor, taken, deleted = await c.execute_command(
            "XAUTOCLAIM", "jobs", "g", "fast", "1000", "0", "JUSTID")
        assert (cursor, taken, deleted) == (b"0-0", [b"2-0"], [])
        # IDLE sets the idle time a claim leaves; RETRYCOUNT the delivery count.
        await c.xclaim("jobs", "g", "fast", 0, ["3-0"], idle=5000, retrycount=9, justid=True)
        rows = await c.execute_command("XPENDING", "jobs", "g", "-", "+", "10", "fast")
        by_id = {row[0]: row for row in rows}
        assert by_id[b"3-0"][2] >= 5000 and by_id[b"3-0"][3] == 9
        assert by_id[b"1-0"][3] == 1  # JUSTID does not count a delivery
    finally:
        await _close(clients)


# What a client blocked in XREADGROUP on stream "s" (group "g") hears when
# another client does this to the key: Redis 7 answers it -UNBLOCKED when the
# stream is deleted or replaced by another type (whatever deleted it), NOGROUP
# when a stream without the group stands there when it is served.
GONE: list[tuple[str, list[tuple[Any, ...]]]] = [
    ("del", [("DEL", "s")]), ("unlink", [("UNLINK", "s")]), ("set", [("SET", "s", "v")]),
    ("set-with-ttl", [("SET", "s", "v", "EX", "100")]),
    ("store-over", [("SINTERSTORE", "s", "nosuch")]), ("rename-away", [("RENAME", "s", "t")]),
    ("rename-a-stream-over", [("XADD", "t", "1-1", "f", "v"), ("RENAME", "t", "s")]),
    ("rename-a-string-over", [("SET", "t", "v"), ("RENAME", "t", "s")]),
    ("move-away", [("MOVE", "s", "3")]), ("flushdb", [("FLUSHDB",)]),
    ("active-expiry", [("PEXPIRE", "s", "1")]),
    ("lua-del", [("EVAL", "redis.call('del', KEYS[1]) return 1", "1", "s")]),
    ("del-then-xadd", [("DEL", "s"), ("XADD", "s", "1-1", "f", "v")]),
    ("in-multi", [("MULTI",), ("DEL", "s"), ("XADD", "s", "1-1", "f", "v"), ("EXEC",)]),
    ("swap-in-nothing", [("SWAPDB", "12", "11")]),
    ("swap-in-a-string", [("SET", "s", "v", "@11"), ("SWAPDB", "12", "11")]),
    ("destroy", [("XGROUP", "DESTROY", "s", "g")]),
]


def _blocked_reply(client: redis.Redis, other: redis.Redis,
                   acts: list[tuple[Any, ...]]) -> Any:
    from concurrent.futures import ThreadPoolExecutor

    from polling import wait_for

    kw = client.connection_pool.connection_kwargs
    client.flushall()
    client.xgroup_create("s", "g", "$", mkstream=True)
    with redis.Redis(kw["host"], kw["port"], db=kw["db"], socket_timeout=10) as waiter, \
            ThreadPoolExecutor(1) as pool:
        reply = pool.submit(waiter.execute_command, "XREADGROUP", "GROUP", "g", "c",
                            "BLOCK", "4000", "STREAMS", "s", ">")
        wait_for(lambda: client.info("clients")["blocked_clients"] == 1,
                 what="XREADGROUP to block")
        with client.pipeline(transaction=False) as pipe:  # MULTI/EXEC sent as they are
            for act in acts:
                target = other if act[-1] == "@11" else pipe
                target.execute_command(*[a for a in act if a != "@11"])
            pipe.execute(raise_on_error=False)
        try:
            return reply.result(timeout=10)
        except redis.ResponseError as exc:
            return str(exc)


@pytest.mark.parametrize(("name", "acts"), GONE, ids=[name for name, _ in GONE])
def test_xreadgroup_hears_its_stream_go_as_on_redis(private_redis: tuple[str, int],
                                                    pulsards: Any, name: str,
                                                    acts: list[tuple[Any, ...]]) -> None:
    replies = []
    for address in (private_redis, (pulsards.host, pulsards.port)):
        with redis.Redis(*address, db=12) as client, redis.Redis(*address, db=11) as other:
            replies.append(_blocked_reply(client, other, acts))
    assert replies[1] == replies[0]
    assert "no longer exists" in replies[0]
