"""HyperLogLog on the real Redis and on pulsards: the same scripts, the same replies.

pulsards keeps Redis' HLL string format and algorithms, so besides the reply
types, errors and 0/1 results, the stored bytes (``GET``) and the estimates
are compared exactly; estimates are also checked against the true counts.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import pytest
import redis

from stores.pulsards import hll

from .test_agree import Script, agree

pytestmark = pytest.mark.timeout(30)


def _elements(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


BASICS: Script = [
    ("PFADD", "h", "a", "b", "c"), ("PFADD", "h", "a"), ("PFADD", "h"), ("PFADD", "new"),
    ("GET", "new"), ("PFCOUNT", "new"), ("GET", "new"), ("PFCOUNT", "h"), ("GET", "h"),
    ("PFADD", "h", "d"), ("GET", "h"), ("PFCOUNT", "h"), ("PFCOUNT", "nope"),
    ("PFCOUNT", "h", "nope"), ("PFCOUNT", "nope", "nope2"), ("TYPE", "h"), ("STRLEN", "h"),
    ("SET", "s", "foo"), ("PFADD", "s", "a"), ("PFCOUNT", "s"), ("PFCOUNT", "h", "s"),
    ("PFMERGE", "s", "h"), ("PFMERGE", "h", "s"), ("SET", "n", "123"), ("PFCOUNT", "n"),
    ("SET", "fake", b"HYLL\x00" + bytes(11)), ("PFCOUNT", "fake"),
    ("SET", "badenc", b"HYLL\x02" + bytes(20)), ("PFADD", "badenc", "x"),
    ("RPUSH", "l", "a"), ("PFADD", "l", "a"), ("PFCOUNT", "l"), ("PFCOUNT", "h", "l"),
    ("PFMERGE", "m", "l"), ("PFMERGE", "m", "h", "nope"), ("GET", "m"), ("PFCOUNT", "m"),
    ("PFMERGE", "empty"), ("GET", "empty"), ("PFMERGE", "m"), ("GET", "m"),
    ("PFADD", "t", "x"), ("EXPIRE", "t", "100"), ("PFADD", "t", "y"), ("TTL", "t"),
    ("PFMERGE", "t", "h"), ("TTL", "t"), ("PFCOUNT", "t"), ("TTL", "t"),
    ("OBJECT", "ENCODING", "h"), ("OBJECT", "ENCODING", "m"), ("TYPE", "m"),
    ("PFADD",), ("PFCOUNT",), ("PFMERGE",),
    # Redis' debugging subcommands
    ("PFDEBUG", "ENCODING", "h"), ("PFDEBUG", "DECODE", "h"), ("PFDEBUG", "FOO", "h"),
    ("PFDEBUG", "FOO", "nope"), ("PFDEBUG", "GETREG", "nope"), ("PFDEBUG", "ENCODING", "s"),
    ("PFDEBUG", "ENCODING", "l"), ("PFDEBUG", "todense", "h"), ("PFDEBUG", "TODENSE", "h"),
    ("PFDEBUG", "DECODE", "h"), ("PFDEBUG", "ENCODING", "h"), ("PFDEBUG", "GETREG", "h"),
    ("PFADD", "h3", "x", "y"), ("PFDEBUG", "GETREG", "h3"), ("PFDEBUG", "ENCODING", "h3"),
    ("PFDEBUG", "ENCODING"), ("PFSELFTEST", "x"),
]

# Enough elements to split and merge sparse opcodes, promote to dense past
# 3000 bytes, and merge sparse with dense.
GROWTH: Script = [
    ("PFADD", "g", *_elements("e", 50)), ("GET", "g"), ("PFCOUNT", "g"),
    *[("PFADD", "g", e) for e in _elements("one", 60)], ("GET", "g"), ("PFCOUNT", "g"),
    ("PFADD", "g", *_elements("many", 3000)), ("STRLEN", "g"), ("GET", "g"), ("PFCOUNT", "g"),
    ("PFADD", "small", *_elements("s", 20)), ("PFMERGE", "sm", "small"), ("GET", "sm"),
    ("PFMERGE", "sm", "g"), ("GET", "sm"), ("PFCOUNT", "sm", "small", "g"),
    ("PFADD", "other", *_elements("o", 200)), ("PFMERGE", "so", "small", "other"),
    ("GET", "so"), ("PFCOUNT", "so"), ("PFCOUNT", "small", "other"),
    ("SET", "copy", b"placeholder"),
]


def _digest(reply: Any) -> Any:
    """Long string replies (dense HLLs) compared by hash, to keep failures readable."""
    if isinstance(reply, bytes) and len(reply) > 200:
        return ("sha1", len(reply), hashlib.sha1(reply).hexdigest())
    return reply


def test_same_replies_and_bytes_as_redis(both: tuple[redis.Redis, redis.Redis]) -> None:
    agree(both, BASICS)


def test_growth_to_dense_same_bytes_as_redis(both: tuple[redis.Redis, redis.Redis]) -> None:
    real, ours = both
    for client in (real, ours):
        client.set_response_callback("GET", _digest)
    agree(both, GROWTH)


def test_a_redis_hll_loads_into_pulsards(both: tuple[redis.Redis, redis.Redis]) -> None:
    """An HLL written by Redis (sparse and dense) counts and grows alike in pulsards."""
    real, ours = both
    real.execute_command("PFADD", "sparse", *_elements("x", 100))
    real.execute_command("PFADD", "dense", *_elements("y", 5000))
    for key in ("sparse", "dense"):
        ours.set(key, real.get(key))
        assert ours.execute_command("PFCOUNT", key) == real.execute_command("PFCOUNT", key)
        for client in (real, ours):
            client.execute_command("PFADD", key, *_elements("z", 50))
        assert ours.get(key) == real.get(key)


@pytest.mark.parametrize("n", [0, 1, 10, 1000, 20000, 60000])
def test_estimates_within_hll_error(n: int) -> None:
    """The estimator (run in-process) stays within Redis' documented 0.81% standard error."""
    value = hll.add(hll.EMPTY, [b"k%d" % i for i in range(n)], force=True)
    assert value is not None
    estimate = hll.count_registers(hll.registers(value))
    assert abs(estimate - n) <= max(3, 4 * 0.0081 * n)  # 4 standard errors


def test_pfselftest(rp: redis.Redis) -> None:
    assert rp.execute_command("PFSELFTEST") == b"OK"


def test_merge_registers_is_the_maximum() -> None:
    rng = random.Random(5)
    a = bytes(rng.randrange(52) for _ in range(hll.REGISTERS))
    b = bytes(rng.randrange(52) for _ in range(hll.REGISTERS))
    assert hll.merge_registers(a, b) == bytes(map(max, a, b))
    assert hll.registers(b"HYLL\x00" + bytes(11) + hll.pack(a)) == a
