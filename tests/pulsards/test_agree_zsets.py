"""Sorted sets on the real Redis and on pulsards: the same scripts, the same replies.

Covers the set algebra (ZUNION/ZINTER/ZDIFF, STORE forms, ZINTERCARD),
ZRANGESTORE, ZMPOP and the blocking pops, ZRANDMEMBER, ZSCAN and ranges over
sets big enough to span several runs of ``zset.ZSet``.  Blocking behaviour
(FIFO waiters, timeouts, wake-ups by EXEC) runs against both servers too.
"""

from __future__ import annotations

import asyncio
import bisect
import random
from typing import Any
from unittest import mock

import pytest
import redis
import redis.asyncio as aioredis
from hypothesis import given, settings
from hypothesis import strategies as st

from stores.pulsards import zset
from stores.pulsards.zset import ZSet

from .conftest import AGREE_DB
from .test_agree import Script, agree

pytestmark = pytest.mark.timeout(30)

ALGEBRA: Script = [
    ("ZADD", "a", "1", "x", "2", "y", "3", "z"), ("ZADD", "b", "10", "y", "20", "z", "30", "w"),
    ("SADD", "s", "x", "w", "q"), ("ZADD", "inf", "inf", "x", "-inf", "y"),
    ("ZUNION", "2", "a", "b"), ("ZUNION", "2", "a", "b", "WITHSCORES"),
    ("ZUNION", "3", "a", "b", "s", "WITHSCORES"),
    ("ZUNION", "2", "a", "b", "WEIGHTS", "2", "0.5", "WITHSCORES"),
    ("ZUNION", "2", "a", "b", "AGGREGATE", "MIN", "WITHSCORES"),
    ("ZUNION", "2", "a", "b", "AGGREGATE", "max", "WEIGHTS", "1", "-1", "WITHSCORES"),
    ("ZUNION", "2", "a", "inf", "WITHSCORES"), ("ZUNION", "2", "inf", "inf", "WITHSCORES"),
    ("ZUNION", "2", "inf", "a", "WEIGHTS", "0", "1", "WITHSCORES"),
    ("ZUNION", "2", "inf", "inf", "WEIGHTS", "1", "-1", "WITHSCORES"),
    ("ZUNION", "2", "a", "b", "WEIGHTS", "0.1", "0.2", "WITHSCORES"),
    ("ZUNION", "3", "a", "b", "nope", "WITHSCORES"), ("ZUNION", "1", "nope"),
    ("ZINTER", "2", "a", "b", "WITHSCORES"), ("ZINTER", "3", "a", "b", "s"),
    ("ZINTER", "2", "a", "s", "WITHSCORES"), ("ZINTER", "2", "a", "a", "WITHSCORES"),
    ("ZINTER", "2", "a", "b", "AGGREGATE", "MAX", "WITHSCORES"),
    ("ZINTER", "2", "a", "b", "WEIGHTS", "-1", "2", "AGGREGATE", "MIN", "WITHSCORES"),
    ("ZINTER", "2", "a", "nope"), ("ZINTER", "2", "inf", "inf", "WITHSCORES"),
    ("ZINTER", "2", "inf", "inf", "WEIGHTS", "1", "0", "WITHSCORES"),
    ("ZINTER", "2", "inf", "inf", "WEIGHTS", "0", "1", "AGGREGATE", "MAX", "WITHSCORES"),
    ("ZINTER", "2", "inf", "inf", "WEIGHTS", "1", "0", "AGGREGATE", "MIN", "WITHSCORES"),
    ("ZDIFF", "2", "a", "b", "WITHSCORES"), ("ZDIFF", "3", "a", "b", "s", "WITHSCORES"),
    ("ZDIFF", "1", "a"), ("ZDIFF", "2", "nope", "a"), ("ZDIFF", "2", "a", "nope"),
    ("ZDIFF", "2", "s", "a", "WITHSCORES"),
    ("ZUNIONSTORE", "dst", "2", "a", "b"), ("ZRANGE", "dst", "0", "-1", "WITHSCORES"),
    ("ZUNIONSTORE", "dst", "2", "a", "b", "WEIGHTS", "1", "2", "AGGREGATE", "MIN"),
    ("ZRANGE", "dst", "0", "-1", "WITHSCORES"), ("ZINTERSTORE", "dst", "2", "a", "b"),
    ("ZRANGE", "dst", "0", "-1", "WITHSCORES"), ("ZDIFFSTORE", "dst", "2", "a", "b"),
    ("ZRANGE", "dst", "0", "-1", "WITHSCORES"), ("EXPIRE", "dst", "100"),
    ("ZUNIONSTORE", "dst", "1", "a"), ("TTL", "dst"), ("ZINTERSTORE", "dst", "2", "a", "nope"),
    ("EXISTS", "dst"), ("SET", "str", "v"), ("ZDIFFSTORE", "str", "1", "a"), ("TYPE", "str"),
    ("ZUNIONSTORE", "a", "2", "a", "b"), ("ZRANGE", "a", "0", "-1", "WITHSCORES"),
    ("ZUNIONSTORE", "set2", "1", "s"), ("TYPE", "set2"), ("OBJECT", "ENCODING", "set2"),
    ("ZINTERCARD", "2", "a", "b"), ("ZINTERCARD", "2", "a", "b", "LIMIT", "1"),
    ("ZINTERCARD", "2", "a", "b", "LIMIT", "0"), ("ZINTERCARD", "3", "a", "b", "s"),
    ("ZINTERCARD", "1", "nope"), ("ZINTERCARD", "2", "a", "str"),
    ("ZINTERCARD", "1", "str", "LIMIT", "-1"), ("ZINTERCARD", "1", "a", "LIMIT"),
    ("ZINTERCARD", "1", "a", "FOO", "1"), ("ZINTERCARD", "0", "a"), ("ZINTERCARD", "x", "a"),
    ("ZINTERCARD", "5", "a"), ("ZINTERCARD", "1", "a", "LIMIT", "x"),
    # errors, in Redis' order of checks
    ("ZUNION", "0", "a"), ("ZUNION", "-1", "a"), ("ZUNION", "x", "a"), ("ZUNION", "3", "a"),
    ("ZUNION", "2", "a", "str"), ("ZUNION", "2", "str", "a", "FOO"),
    ("ZUNION", "2", "a", "b", "FOO"), ("ZUNION", "2", "a", "b", "WEIGHTS", "1"),
    ("ZUNION", "2", "a", "b", "WEIGHTS", "1", "x"),
    ("ZUNION", "2", "a", "b", "WEIGHTS", "1", "nan"),
    ("ZUNION", "2", "a", "b", "AGGREGATE", "AVG"), ("ZUNION", "2", "a", "b", "AGGREGATE"),
    ("ZDIFF", "2", "a", "b", "AGGREGATE", "SUM"), ("ZDIFF", "2", "a", "b", "WEIGHTS", "1", "1"),
    ("ZUNIONSTORE", "d", "2", "a", "b", "WITHSCORES"), ("ZUNIONSTORE", "d", "0", "a"),
    ("ZINTERSTORE", "d", "x", "a"), ("ZDIFFSTORE", "d", "2", "a"),
]

RANGESTORE: Script = [
    ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"),
    ("ZRANGESTORE", "d", "z", "0", "-1"), ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
    ("ZRANGESTORE", "d", "z", "1", "2"), ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
    ("ZRANGESTORE", "d", "z", "0", "1", "REV"), ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
    ("ZRANGESTORE", "d", "z", "(1", "4", "BYSCORE", "LIMIT", "1", "2"),
    ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
    ("ZRANGESTORE", "d", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "0", "2"),
    ("ZRANGE", "d", "0", "-1", "WITHSCORES"), ("ZADD", "lex", "0", "a", "0", "b", "0", "c"),
    ("ZRANGESTORE", "d", "lex", "[b", "+", "BYLEX"), ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
    ("ZRANGESTORE", "d", "lex", "+", "-", "BYLEX", "REV", "LIMIT", "1", "1"),
    ("ZRANGE", "d", "0", "-1"), ("EXPIRE", "d", "50"), ("ZRANGESTORE", "d", "z", "0", "0"),
    ("TTL", "d"), ("ZRANGESTORE", "d", "z", "5", "9"), ("EXISTS", "d"),
    ("ZRANGESTORE", "d", "z", "0", "-1"), ("ZRANGESTORE", "d", "nope", "0", "-1"),
    ("EXISTS", "d"), ("ZRANGESTORE", "d", "z", "0", "-1", "WITHSCORES"),
    ("ZRANGESTORE", "d", "z", "0", "-1", "LIMIT", "0", "1"),
    ("ZRANGESTORE", "d", "z", "x", "1", "BYSCORE"), ("ZRANGESTORE", "d", "nope", "x", "1"),
    ("ZRANGESTORE", "d", "nope", "a", "b", "BYLEX"), ("SET", "str", "v"),
    ("ZRANGESTORE", "d", "str", "0", "-1"), ("ZRANGESTORE", "str", "z", "0", "0"),
    ("TYPE", "str"), ("ZRANGESTORE", "d", "z", "0"), ("ZRANGE", "nope", "x", "1"),
    ("ZRANGE", "z", "0", "-1", "REV", "REV"), ("ZRANGE", "z", "0", "-1", "BYSCORE", "BYLEX"),
    ("ZRANGEBYSCORE", "z", "0", "1", "REV"), ("ZRANGE", "lex", "[c", "-", "BYLEX", "REV"),
    ("ZRANGE", "lex", "-", "+", "BYLEX", "LIMIT", "-1", "2"),
    ("ZRANGEBYSCORE", "z", "-inf", "+inf", "WITHSCORES", "LIMIT", "1", "2", "LIMIT", "0", "1"),
]

POPS: Script = [
    ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"), ("ZADD", "y", "9", "q"),
    ("ZMPOP", "1", "z", "MIN"), ("ZMPOP", "1", "z", "MAX", "COUNT", "2"),
    ("ZMPOP", "2", "nope", "y", "MIN", "COUNT", "10"), ("EXISTS", "y"),
    ("ZMPOP", "2", "nope", "y", "MAX"), ("ZMPOP", "1", "z", "min", "count", "1"),
    ("ZMPOP", "0", "z", "MIN"), ("ZMPOP", "x", "z", "MIN"), ("ZMPOP", "-1", "z", "MIN"),
    ("ZMPOP", "1", "z", "MIDDLE"), ("ZMPOP", "1", "z", "MIN", "COUNT", "0"),
    ("ZMPOP", "1", "z", "MIN", "COUNT", "-1"), ("ZMPOP", "1", "z", "MIN", "COUNT"),
    ("ZMPOP", "1", "z", "MIN", "FOO"), ("ZMPOP", "1", "z", "MIN", "COUNT", "1", "COUNT", "1"),
    ("ZMPOP", "3", "z", "MIN"), ("ZMPOP", "1", "z"), ("SET", "str", "v"),
    ("ZMPOP", "2", "str", "z", "MIN"), ("ZADD", "z", "1", "a"), ("ZMPOP", "2", "z", "str", "MIN"),
    ("ZADD", "z", "1", "a", "2", "b", "3", "c"), ("BZPOPMIN", "nope", "z", "0"),
    ("BZPOPMAX", "z", "0"), ("BZPOPMIN", "str", "z", "0"), ("BZPOPMIN", "z", "str", "0"),
    ("BZPOPMIN", "z", "x"), ("BZPOPMIN", "z", "-1"), ("BZPOPMIN", "z", "inf"),
    ("BZPOPMIN", "nope", "0.01"), ("BZPOPMAX", "nope", "0.01"),
    ("ZADD", "z", "1", "a", "2", "b", "3", "c"),
    ("BZMPOP", "0", "2", "nope", "z", "MAX", "COUNT", "2"),
    ("BZMPOP", "0.01", "1", "nope", "MIN"), ("BZMPOP", "x", "1", "z", "MIN"),
    ("BZMPOP", "x", "0", "z", "MIN"), ("BZMPOP", "-1", "1", "z", "MIN"),
    ("BZMPOP", "0", "1", "z", "SIDEWAYS"), ("BZMPOP", "0", "1", "z", "MIN", "COUNT", "0"),
    ("BZMPOP", "0", "1", "str", "MIN"), ("ZPOPMIN", "z", "5"), ("EXISTS", "z"),
]

RANDOM: Script = [
    ("ZADD", "z", "1", "a", "2", "b", "3", "c"), ("ZRANDMEMBER", "nope"),
    ("ZRANDMEMBER", "nope", "5"), ("ZRANDMEMBER", "nope", "-5", "WITHSCORES"),
    ("ZRANDMEMBER", "z", "0"), ("ZRANDMEMBER", "z", "0", "WITHSCORES"),
    ("~", "ZRANDMEMBER", "z", "3"), ("~", "ZRANDMEMBER", "z", "10"),
    ("~", "ZRANDMEMBER", "z", "10", "WITHSCORES"), ("ZRANDMEMBER", "z", "x"),
    ("ZRANDMEMBER", "z", "1", "FOO"), ("ZRANDMEMBER", "z", "1", "WITHSCORES", "x"),
    ("ZRANDMEMBER", "z", "-9223372036854775808"),
    ("ZRANDMEMBER", "z", "-9223372036854775807", "WITHSCORES"),
    ("ZRANDMEMBER", "z", "4611686018427387904", "WITHSCORES"),
    ("ZADD", "one", "5", "only"), ("ZRANDMEMBER", "one"), ("ZRANDMEMBER", "one", "-3"),
    ("ZRANDMEMBER", "one", "-2", "WITHSCORES"), ("ZRANDMEMBER", "one", "1", "WITHSCORES"),
    ("SET", "str", "v"), ("ZRANDMEMBER", "str"), ("ZRANDMEMBER", "str", "1"),
]

SCAN: Script = [
    ("ZADD", "z", "1", "a", "2.5", "b", "-3", "c", "inf", "top", "-inf", "bottom", "1e20", "big"),
    ("ZSCAN", "z", "0"), ("ZSCAN", "z", "0", "MATCH", "b*"), ("ZSCAN", "z", "0", "COUNT", "1"),
    ("ZSCAN", "nope", "0"), ("ZSCAN", "nope", "0", "FOO"), ("ZSCAN", "z", "x"),
    ("ZSCAN", "z", "-1"), ("ZSCAN", "z", ""), ("ZSCAN", "z", "-"), ("ZSCAN", "z", "+0"),
    ("ZSCAN", "z", " 1"), ("ZSCAN", "z", "18446744073709551616"), ("ZSCAN", "z", "0", "COUNT", "0"),
    ("ZSCAN", "z", "0", "FOO", "1"),
    ("ZSCAN", "z", "0", "MATCH"), ("ZSCAN", "z", "0", "TYPE", "zset"), ("SET", "str", "v"),
    ("ZSCAN", "str", "0"), ("ZSCAN", "str", "0", "FOO"),
]

# Several 512-pair runs: positions, LIMIT and lex bisection across runs.
_BIG = [x for i in range(1500) for x in (str(i % 97), f"m{i:05d}")]
_LEX = [x for i in range(1300) for x in ("0", f"k{i:05d}")]
BIG: Script = [
    ("ZADD", "big", *_BIG), ("ZADD", "lex", *_LEX), ("ZCARD", "big"),
    ("ZRANGE", "big", "600", "620", "WITHSCORES"), ("ZRANGE", "big", "-1030", "-1000"),
    ("ZRANGE", "big", "(10", "20", "BYSCORE", "LIMIT", "700", "15", "WITHSCORES"),
    ("ZRANGE", "big", "50", "(30", "BYSCORE", "REV", "LIMIT", "100", "20"),
    ("ZRANGE", "big", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1490", "-1"),
    ("ZCOUNT", "big", "10", "(60"), ("ZRANK", "big", "m01234"), ("ZREVRANK", "big", "m00007"),
    ("ZRANGEBYLEX", "lex", "[k00510", "(k00530"),
    ("ZRANGEBYLEX", "lex", "(k01020", "+", "LIMIT", "5", "4"),
    ("ZREVRANGEBYLEX", "lex", "[k01030", "-", "LIMIT", "0", "3"),
    ("ZLEXCOUNT", "lex", "[k00100", "(k01200"),
    ("ZLEXCOUNT", "lex", "-", "+"), ("ZLEXCOUNT", "lex", "+", "-"),
    ("ZLEXCOUNT", "lex", "(k01299", "+"),
    ("ZRANGE", "lex", "[k0051", "[k0052", "BYLEX"), ("ZREMRANGEBYLEX", "lex", "[k00500", "[k00999"),
    ("ZCARD", "lex"), ("ZRANGE", "lex", "498", "503"), ("ZREMRANGEBYRANK", "big", "100", "1100"),
    ("ZREMRANGEBYSCORE", "big", "(5", "90"), ("ZRANGE", "big", "0", "-1", "WITHSCORES"),
    ("ZRANGESTORE", "part", "lex", "[k01100", "[k01150", "BYLEX"), ("ZCARD", "part"),
    ("ZUNIONSTORE", "u", "2", "big", "lex", "WEIGHTS", "2", "3"),
    ("ZRANGE", "u", "0", "30", "WITHSCORES"),
    ("ZINTERCARD", "2", "lex", "part"), ("ZDIFFSTORE", "df", "2", "lex", "part"), ("ZCARD", "df"),
    ("ZMPOP", "1", "lex", "MAX", "COUNT", "3"), ("BZPOPMIN", "lex", "0"),
]


# Gaps of other families closed alongside: random counts, *SCAN argument
# order and cursors, SINTERCARD errors, SUBSTR, OBJECT FREQ/HELP.
OTHERS: Script = [
    ("HSET", "h", "a", "1", "b", "2"), ("SADD", "s", "a", "b", "c"), ("SET", "str", "hello"),
    ("HRANDFIELD", "h", "-9223372036854775808"), ("HRANDFIELD", "h", "x"),
    ("HRANDFIELD", "h", "-9223372036854775807", "WITHVALUES"), ("HRANDFIELD", "h", "1", "FOO"),
    ("~", "HRANDFIELD", "h", "5"), ("HRANDFIELD", "nope", "-3", "WITHVALUES"),
    ("SRANDMEMBER", "s", "-9223372036854775808"), ("~", "SRANDMEMBER", "s", "9"),
    ("HSCAN", "nope", "0", "FOO"), ("SSCAN", "nope", "0", "FOO"), ("HSCAN", "h", "-1"),
    ("SSCAN", "s", "+0", "MATCH", "a"), ("HSCAN", "h", "0", "COUNT", "0"), ("SSCAN", "s", "x"),
    ("SCAN", "18446744073709551616"), ("SCAN", " 0"),
    ("SINTERCARD", "x", "s"), ("SINTERCARD", "0", "s"), ("SINTERCARD", "2", "s"),
    ("SINTERCARD", "1", "s", "LIMIT", "x"), ("SINTERCARD", "1", "s", "LIMIT", "-1"),
    ("SINTERCARD", "1", "s", "LIMIT", "1", "LIMIT", "2"), ("SINTERCARD", "1", "s", "LIMIT"),
    ("SUBSTR", "str", "1", "3"), ("SUBSTR", "str", "-3", "-1"), ("SUBSTR", "nope", "0", "1"),
    ("SUBSTR", "s", "0", "1"), ("SUBSTR", "str", "x", "1"), ("OBJECT", "FREQ", "str"),
    ("OBJECT", "FREQ", "nope"), ("OBJECT", "HELP"), ("OBJECT", "HELP", "x"),
]


# Scores are read by C's strtod: hexadecimal floats, out of range, -0, and the
# looser rules of range bounds (spaces, "", out of range).
SCORES: Script = [
    ("ZADD", "z", "0x10", "hex", "-0x1.8p1", "neg", "0X1p3", "p"), ("ZADD", "z", "1e400", "x"),
    ("ZADD", "z", "1e-400", "x"), ("ZADD", "z", "4.9e-324", "tiny"), ("ZADD", "z", "-0", "nz"),
    ("ZADD", "z", "1" * 400, "x"), ("ZADD", "z", " 1", "x"), ("ZADD", "z", "", "x"),
    ("ZADD", "z", "0x", "x"), ("ZADD", "z", "infinity", "inf"), ("ZADD", "z", "nan", "x"),
    ("ZADD", "z", "INCR", "0x1p1", "hex"), ("ZADD", "z", "ch", "gt", "20", "hex"),
    ("ZRANGE", "z", "0", "-1", "WITHSCORES"), ("ZSCORE", "z", "nz"),
    ("ZRANGEBYSCORE", "z", " 1", "1e400"), ("ZRANGEBYSCORE", "z", "", "(0x11"),
    ("ZCOUNT", "z", "-1e999", "+inf"), ("ZRANGEBYSCORE", "z", "nan", "1"),
    ("ZRANGEBYSCORE", "z", "1 ", "2"), ("ZUNIONSTORE", "u", "1", "z", "WEIGHTS", "0x2"),
    ("ZRANGE", "u", "0", "-1", "WITHSCORES"), ("ZUNIONSTORE", "u", "1", "z", "WEIGHTS", "1e400"),
]

# Lex ranges over members of different scores follow the walk of a small
# Redis set: from the first member >= min while members are <= max (reverse:
# mirrored), a LIMIT offset skipping members unchecked.
MIXED_LEX: Script = [
    ("ZADD", "z", "1", "b", "2", "z", "3", "c"), ("ZRANGEBYLEX", "z", "[a", "[d"),
    ("ZRANGEBYLEX", "z", "[a", "[d", "LIMIT", "2", "10"), ("ZREVRANGEBYLEX", "z", "[d", "[a"),
    ("ZREVRANGEBYLEX", "z", "[d", "[a", "LIMIT", "1", "1"), ("ZLEXCOUNT", "z", "[a", "[d"),
    ("ZRANGE", "z", "[d", "[a", "BYLEX", "REV"), ("ZRANGEBYLEX", "z", "-", "+"),
    ("ZRANGEBYLEX", "z", "(b", "+"), ("ZRANGEBYLEX", "z", "[c", "[d"),
    ("ZRANGEBYLEX", "z", "+", "-"), ("ZRANGEBYLEX", "z", "-", "-"),
    ("ZRANGEBYLEX", "z", "[c", "(c"),
    ("ZRANGEBYLEX", "z", "[c", "[c"), ("ZRANGESTORE", "d", "z", "[a", "[z", "BYLEX"),
    ("ZRANGE", "d", "0", "-1"), ("ZADD", "y", "0", "x", "1", "y"),
    ("ZRANGE", "y", "-", "[x", "BYLEX"), ("ZREMRANGEBYLEX", "z", "[a", "[c"),
    ("ZRANGE", "z", "0", "-1"),
]


@pytest.mark.parametrize("script", [ALGEBRA, RANGESTORE, POPS, RANDOM, SCAN, BIG, OTHERS, SCORES,
                                    MIXED_LEX],
                         ids=["algebra", "rangestore", "pops", "random", "scan", "big", "others",
                              "scores", "mixed-lex"])
def test_same_replies_as_redis(both: tuple[redis.Redis, redis.Redis], script: Script) -> None:
    agree(both, script)


# --------------------------------------------------------- properties
def test_zrandmember_shapes(both: tuple[redis.Redis, redis.Redis]) -> None:
    """Random replies differ, their shapes must not: sizes, uniqueness, pairs."""
    members = {f"m{i}".encode(): float(i) for i in range(300)}
    for client in both:
        client.execute_command("ZADD", "z", *[x for m, s in members.items() for x in (s, m)])
        resp3 = client.get_connection_kwargs().get("protocol") == 3
        for count in (1, 5, 150, 299, 300, 1000):
            reply = client.execute_command("ZRANDMEMBER", "z", count)
            assert len(reply) == min(count, 300) and len(set(reply)) == len(reply)
            assert set(reply) <= members.keys()
        reply = client.execute_command("ZRANDMEMBER", "z", -500)
        assert len(reply) == 500 and set(reply) <= members.keys()
        reply = client.execute_command("ZRANDMEMBER", "z", -7, "WITHSCORES")
        pairs = reply if resp3 else list(zip(reply[::2], reply[1::2], strict=True))
        assert len(pairs) == 7
        for member, score in pairs:
            assert float(score) == members[member]
        assert client.execute_command("ZRANDMEMBER", "z") in members


def test_zscan_big_set_returns_every_member(both: tuple[redis.Redis, redis.Redis]) -> None:
    """Cursor iteration over a big set: every member present throughout, once at least."""
    expected = {f"member:{i}".encode(): float(i) / 4 for i in range(1000)}
    for client in both:
        client.execute_command("ZADD", "big", *[x for m, s in expected.items() for x in (s, m)])
        seen: dict[bytes, float] = {}
        cursor = b"0"
        rounds = 0
        while True:
            cursor, flat = client.execute_command("ZSCAN", "big", cursor, "COUNT", "50")
            for member, score in zip(flat[::2], flat[1::2], strict=True):
                seen[member] = float(score)
            rounds += 1
            if cursor == b"0":
                break
            if rounds == 3:  # changes during the iteration do not hide the others
                client.execute_command("ZADD", "big", "1", "newcomer")
                client.execute_command("ZREM", "big", "member:999")
        assert rounds > 2
        seen.pop(b"newcomer", None)
        seen.pop(b"member:999", None)
        del expected[b"member:999"]
        assert seen == expected
        expected[b"member:999"] = 999 / 4


# ------------------------------------------------------------ blocking
async def _clients(address: tuple[str, int], n: int) -> list[aioredis.Redis]:
    host, port = address
    clients = [aioredis.Redis(host=host, port=port, db=AGREE_DB) for _ in range(n)]
    for client in clients[1:]:
        await client.client_setname("waiter")
    return clients


async def _close(clients: list[aioredis.Redis]) -> None:
    for client in clients:
        await client.aclose()


async def _blocked_count(admin: aioredis.Redis, want: int) -> None:
    """Wait until ``want`` of this test's clients (named ``waiter``) are blocked.

    The real Redis is shared: INFO's ``blocked_clients`` may count others'.
    """
    for _ in range(300):
        clients = await admin.client_list()
        mine = [c for c in clients if c.get("name") == "waiter" and "b" in c.get("flags", "")]
        if len(mine) >= want:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never saw {want} blocked clients")


async def test_bzpopmin_waiters_served_first_come_first_served(either: tuple[str, int]) -> None:
    clients = await _clients(either, 4)
    admin, waiters = clients[0], clients[1:]
    try:
        tasks = []
        for i, client in enumerate(waiters):
            tasks.append(asyncio.ensure_future(
                client.execute_command("BZPOPMIN", "nope", "q", "5")))
            await _blocked_count(admin, i + 1)
        await admin.execute_command("ZADD", "q", "3", "c", "1", "a", "2", "b")
        replies = await asyncio.wait_for(asyncio.gather(*tasks), 5)
        assert replies == [(b"q", b"a", 1.0), (b"q", b"b", 2.0), (b"q", b"c", 3.0)]
        assert await admin.exists("q") == 0
    finally:
        await _close(clients)


async def test_bzmpop_woken_after_exec_and_times_out(either: tuple[str, int]) -> None:
    clients = await _clients(either, 3)
    admin, first, second = clients
    try:
        popped = asyncio.ensure_future(
            first.execute_command("BZMPOP", "5", "2", "k1", "k2", "MAX", "COUNT", "2"))
        await _blocked_count(admin, 1)
        pipe = admin.pipeline(transaction=True)
        pipe.zadd("k2", {"x": 1, "y": 2, "z": 3})
        pipe.zadd("k2", {"w": 4})
        pipe.zcard("k2")
        assert await pipe.execute() == [3, 1, 4]  # nothing popped inside the transaction
        assert await asyncio.wait_for(popped, 5) == [b"k2", [[b"w", b"4"], [b"z", b"3"]]]
        assert await admin.zrange("k2", 0, -1) == [b"x", b"y"]
        timed = await second.execute_command("BZPOPMAX", "empty", "0.05")
        assert timed is None
        # Inside MULTI/EXEC a blocking pop does not block: it answers null.
        pipe = second.pipeline(transaction=True)
        pipe.execute_command("BZPOPMIN", "empty", "0")
        pipe.execute_command("BZMPOP", "0", "1", "empty", "MIN")
        assert await pipe.execute() == [None, None]
    finally:
        await _close(clients)


async def test_bzpopmin_woken_by_store_commands(either: tuple[str, int]) -> None:
    clients = await _clients(either, 3)
    admin, first, second = clients
    try:
        await admin.zadd("src", {"m": 7})
        one = asyncio.ensure_future(first.execute_command("BZPOPMIN", "d1", "5"))
        await _blocked_count(admin, 1)
        two = asyncio.ensure_future(second.execute_command("BZPOPMAX", "d2", "5"))
        await _blocked_count(admin, 2)
        await admin.execute_command("ZUNIONSTORE", "d1", "1", "src")
        await admin.execute_command("ZRANGESTORE", "d2", "src", "0", "-1")
        replies = await asyncio.wait_for(asyncio.gather(one, two), 5)
        assert replies == [(b"d1", b"m", 7.0), (b"d2", b"m", 7.0)]
        three = asyncio.ensure_future(first.execute_command("BZPOPMIN", "d3", "5"))
        await _blocked_count(admin, 1)
        await admin.execute_command("RENAME", "src", "d3")  # a sorted set arriving by name
        assert await asyncio.wait_for(three, 5) == (b"d3", b"m", 7.0)
    finally:
        await _close(clients)


def test_algebra_matches_a_model(both: tuple[redis.Redis, redis.Redis]) -> None:
    """Random inputs, every option: pulsards' results equal Redis' exactly."""
    rng = random.Random(12)
    script: list[tuple[Any, ...]] = []
    for key in ("r1", "r2", "r3"):
        members = rng.sample(range(40), rng.randrange(1, 30))
        script.append(("ZADD", key, *[x for m in members
                                      for x in (repr(rng.choice([rng.uniform(-5, 5), 1, 0.1])),
                                                f"e{m}")]))
    script.append(("SADD", "rs", *[f"e{m}" for m in rng.sample(range(40), 12)]))
    for _ in range(40):
        op = rng.choice(["ZUNION", "ZINTER", "ZDIFF"])
        keys = rng.sample(["r1", "r2", "r3", "rs", "none"], rng.randrange(1, 5))
        command: list[Any] = [op, str(len(keys)), *keys]
        if op != "ZDIFF" and rng.random() < 0.5:
            command += ["WEIGHTS", *[repr(rng.choice([1, -1, 0.3, 2.5])) for _ in keys]]
        if op != "ZDIFF" and rng.random() < 0.5:
            command += ["AGGREGATE", rng.choice(["SUM", "MIN", "MAX"])]
        script.append((*command, "WITHSCORES"))
    agree(both, script)


# ------------------------------------------------ ZSet helpers, in process
@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 300), unique=True, max_size=200),
       st.lists(st.integers(0, 300), max_size=20), st.lists(st.integers(0, 50), max_size=30))
def test_zset_bulk_build_lex_positions_and_picks(ids: list[int], probes: list[int],
                                                 later: list[int]) -> None:
    """``from_scores``, ``member_position`` and ``pick`` against a sorted list, with
    runs of 4 pairs so a few hundred members span many runs."""
    with mock.patch.object(zset, "RUN", 4):
        zs = ZSet.from_scores({b"m%03d" % i: 0.0 for i in ids})
        expected = sorted((0.0, b"m%03d" % i) for i in ids)
        assert list(zs) == expected
        members = [m for _, m in expected]
        for probe in probes:
            text = b"m%03d" % probe
            assert zs.member_position(text) == bisect.bisect_left(members, text)
            assert zs.member_position(text, right=True) == bisect.bisect_right(members, text)
        if members:
            positions = sorted(p % len(members) for p in probes)
            assert zs.pick(positions) == [expected[p] for p in positions]
        model = {m: s for s, m in expected}
        for i in later:  # a bulk-built set keeps working as an index
            zs.add(b"n%d" % i, float(i % 7))
            model[b"n%d" % i] = float(i % 7)
        expected = sorted((s, m) for m, s in model.items())
        assert list(zs) == expected
        assert [zs.rank(m) for _, m in expected] == list(range(len(expected)))


async def test_a_waiter_of_another_kind_is_skipped(either: tuple[str, int]) -> None:
    """BZPOPMIN blocked first, BLPOP second on one key: a push serves the BLPOP."""
    clients = await _clients(either, 3)
    admin, zwaiter, lwaiter = clients
    try:
        zpop = asyncio.ensure_future(zwaiter.execute_command("BZPOPMIN", "k", "2"))
        await _blocked_count(admin, 1)
        lpop = asyncio.ensure_future(lwaiter.execute_command("BLPOP", "k", "5"))
        await _blocked_count(admin, 2)
        await admin.execute_command("RPUSH", "k", "v")
        assert list(await asyncio.wait_for(lpop, 5)) == [b"k", b"v"]
        assert await asyncio.wait_for(zpop, 5) is None  # it timed out, untouched
    finally:
        await _close(clients)
