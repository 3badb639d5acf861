"""DUMP and RESTORE: payloads cross between Redis and pulsards both ways.

Values of every type, in every encoding Redis 7 writes (integer and LZF
strings, quicklists, intsets, listpacks, plain sets, hashes and skiplists),
are made on one server, DUMPed, RESTOREd on the other and read back.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stores.pulsards.rdb import PayloadError, crc64, dump_payload, load_payload, lzf_decompress
from stores.pulsards.zset import ZSet

from .conftest import start_pulsards
from .test_agree import agree, run

pytestmark = pytest.mark.timeout(60)

HELLO = bytes.fromhex("000568656c6c6f0a006372df766534200a")  # Redis 7.0's DUMP of "hello"


def _fill(c: redis.Redis) -> None:
    c.set("s:int", "12345")
    c.set("s:neg", "-7")
    c.set("s:wide", "2147483647")
    c.set("s:long", "x" * 100)  # LZF-compressed by Redis
    c.set("s:bin", bytes(range(256)))
    c.set("s:empty", "")
    c.rpush("l:small", 1, "two", -3, 70000, 2**40, -(2**40), 100, -100, 5000)
    c.rpush("l:many", *[f"element-{i}" * 3 for i in range(1500)])
    c.rpush("l:plain", "x" * 20000, "y", "z" * 70000)
    c.sadd("set:int", 1, 2, -5, 100000, 2**40)
    c.sadd("set:str", "a", "b")
    c.sadd("set:many", *range(1000))
    c.sadd("set:strs", *[f"m{i}" for i in range(300)])
    c.hset("h:small", mapping={"a": 1, "b": "x" * 100, "c": ""})
    c.hset("h:many", mapping={f"f{i}": i for i in range(600)})
    c.zadd("z:small", {"a": 1.5, "b": -2, "c": 3e10, "d": float("inf"), "e": float("-inf")})
    c.zadd("z:many", {f"m{i}": i / 3 for i in range(300)})


def _contents(c: redis.Redis, keys: list[bytes]) -> dict[bytes, Any]:
    out: dict[bytes, Any] = {}
    for key in keys:
        kind = c.type(key)
        if kind == b"string":
            out[key] = c.get(key)
        elif kind == b"list":
            out[key] = c.lrange(key, 0, -1)
        elif kind == b"set":
            out[key] = sorted(c.smembers(key))
        elif kind == b"hash":
            pairs = c.hgetall(key)  # a flat list in RESP2 (the fixture's raw replies)
            if not isinstance(pairs, dict):
                pairs = dict(zip(pairs[::2], pairs[1::2], strict=True))
            out[key] = pairs
        else:
            out[key] = c.zrange(key, 0, -1, withscores=True)
        out[key] = (kind, out[key], c.ttl(key) > 0)
    return out


def _copy(source: redis.Redis, target: redis.Redis) -> list[bytes]:
    keys = sorted(source.keys())
    for key in keys:
        target.restore(key, 0, source.dump(key))
    return keys


@pytest.mark.parametrize("direction", ["redis-to-pulsards", "pulsards-to-redis"])
def test_payloads_cross_between_the_servers(both: tuple[redis.Redis, redis.Redis],
                                            direction: str) -> None:
    real, ours = both
    source, target = (real, ours) if direction == "redis-to-pulsards" else (ours, real)
    _fill(source)
    keys = _copy(source, target)
    assert len(keys) == 17
    assert _contents(target, keys) == _contents(source, keys)


def test_a_string_dumps_to_redis_bytes(rp: redis.Redis) -> None:
    rp.set("k", "hello")
    assert rp.dump("k") == HELLO
    assert rp.dump("missing") is None


def _bad_version() -> bytes:
    body = HELLO[:-10] + (12).to_bytes(2, "little")
    return body + crc64(body).to_bytes(8, "little")


def _payload(raw: bytes) -> bytes:
    body = raw + (10).to_bytes(2, "little")
    return body + crc64(body).to_bytes(8, "little")


RESTORES: list[tuple[Any, ...]] = [
    ("RESTORE", "k", "0", HELLO), ("GET", "k"), ("TTL", "k"),
    ("RESTORE", "k", "0", HELLO), ("RESTORE", "k", "0", HELLO, "REPLACE"),
    ("RESTORE", "t", "100000", HELLO), ("TTL", "t"),
    ("RESTORE", "t", "1", HELLO, "REPLACE", "ABSTTL"), ("EXISTS", "t"),
    ("RESTORE", "u", "1", HELLO, "ABSTTL"), ("EXISTS", "u"),
    ("RESTORE", "a", "9999999999999", HELLO, "ABSTTL"), ("EXPIRETIME", "a"),
    ("RESTORE", "b", "-1", HELLO), ("RESTORE", "b", "x", HELLO),
    ("RESTORE", "b", "0", HELLO[:-1] + b"\x00"), ("RESTORE", "b", "0", b"short"),
    ("RESTORE", "b", "0", _bad_version()),
    ("RESTORE", "b", "0", _payload(b"\x09\x00")), ("RESTORE", "b", "0", _payload(b"\x00")),
    ("RESTORE", "b", "0", _payload(b"\x01\x00")), ("RESTORE", "b", "0", _payload(b"\x01\x02\x01a")),
    ("RESTORE", "b", "0", _payload(b"\x00\x01ab")),
    ("RESTORE", "b", "0", HELLO, "IDLETIME", "10"), ("RESTORE", "c", "0", HELLO, "FREQ", "5"),
    ("RESTORE", "d", "0", HELLO, "IDLETIME", "-1"), ("RESTORE", "d", "0", HELLO, "FREQ", "256"),
    ("RESTORE", "d", "0", HELLO, "IDLETIME", "1", "FREQ", "1"),
    ("RESTORE", "d", "0", HELLO, "IDLETIME"), ("RESTORE", "d", "0", HELLO, "BOGUS"),
    ("RESTORE", "d", "0", HELLO, "IDLETIME", "x"), ("RESTORE", "k", "x", b"junk"),
    ("RESTORE", "d"), ("DUMP",), ("DUMP", "nosuch"), ("SET", "w", "v"),
    ("RESTORE", "w", "-5", b"junk", "REPLACE"), ("RESTORE", "w", "0", b"junk", "REPLACE"),
    ("GET", "w"),
]


def test_restore_answers_as_redis(both: tuple[redis.Redis, redis.Redis]) -> None:
    agree(both, RESTORES)


def test_streams_travel_between_pulsards_servers_only(both: tuple[redis.Redis, redis.Redis]
                                                       ) -> None:
    real, ours = both
    ours.xadd("s", {"f": "v"}, id="1-1")
    ours.xadd("s", {"g": "w"}, id="2-1")
    ours.xgroup_create("s", "g", id="0")
    ours.xreadgroup("g", "c", {"s": ">"}, count=1)
    payload = ours.dump("s")
    ours.restore("copy", 0, payload)
    assert ours.xrange("copy") == ours.xrange("s")
    assert ours.xinfo_groups("copy") == ours.xinfo_groups("s")
    assert ours.xpending("copy", "g") == ours.xpending("s", "g")
    with pytest.raises(redis.ResponseError, match="Bad data format"):
        real.restore("s", 0, payload)  # Redis does not know pulsards' stream encoding
    real.xadd("r", {"f": "v"})
    with pytest.raises(redis.ResponseError, match="Bad data format"):
        ours.restore("r", 0, real.dump("r"))  # nor pulsards Redis' one


def test_restore_with_a_ttl_survives_a_kill(tmp_path: Any) -> None:
    """The AOF holds the value and its deadline, not the relative TTL."""
    server = start_pulsards("--appendonly", "yes", "--appendfsync", "always",
                            "--dir", str(tmp_path))
    try:
        with redis.Redis(server.host, server.port) as c:
            c.restore("k", 100_000, HELLO)
            c.restore("k", 0, HELLO, replace=True)  # no TTL any more
            c.restore("t", 100_000, HELLO)
            deadline = c.pexpiretime("t")
    finally:
        server.stop(signal.SIGKILL)
    server = start_pulsards("--appendonly", "yes", "--dir", str(tmp_path))
    try:
        with redis.Redis(server.host, server.port) as c:
            assert c.mget("k", "t") == [b"hello", b"hello"]
            assert c.ttl("k") == -1
            assert c.pexpiretime("t") == deadline
    finally:
        assert server.stop() == 0


# ---------------------------------------------------------------- payloads
def test_crc64_is_redis_crc64_jones() -> None:
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA


def test_lzf_back_references_may_overlap() -> None:
    # "a", then a back reference of length 9 at distance 1: nine more "a".
    assert lzf_decompress(bytes([0, ord("a"), 7 << 5, 0, 0]), 10) == b"a" * 10
    with pytest.raises(PayloadError):
        lzf_decompress(bytes([7 << 5, 0, 5]), 10)  # a reference before the start


def _listpack(entries: list[bytes]) -> bytes:
    body = b"".join(entries)
    blob = (len(body) + 7).to_bytes(4, "little") + len(entries).to_bytes(2, "little")
    return blob + body + b"\xff"


def _entry(encoded: bytes) -> bytes:
    return encoded + bytes((len(encoded),))  # the back length (< 128 here)


def test_listpack_integer_and_string_encodings() -> None:
    entries = [
        _entry(b"\x05"),                                   # 7-bit: 5
        _entry(bytes((0xC0 | 0x1F, 0xFF))),                # 13-bit: -1
        _entry(b"\x83abc"),                                # 6-bit length string
        _entry(bytes((0xE0, 3)) + b"xyz"),                 # 12-bit length string
        _entry(b"\xf0" + (2).to_bytes(4, "little") + b"hi"),  # 32-bit length string
        _entry(b"\xf1" + (-300).to_bytes(2, "little", signed=True)),
        _entry(b"\xf2" + (-70000).to_bytes(3, "little", signed=True)),
        _entry(b"\xf3" + (2**31 - 1).to_bytes(4, "little", signed=True)),
        _entry(b"\xf4" + (-(2**62)).to_bytes(8, "little", signed=True)),
    ]
    blob = _listpack(entries)
    payload = _payload(b"\x14" + bytes((len(blob),)) + blob)  # a set as a listpack (7.2)
    assert load_payload(payload) == {b"5", b"-1", b"abc", b"xyz", b"hi", b"-300", b"-70000",
                                     b"2147483647", b"-4611686018427387904"}


def test_dump_payloads_load_back() -> None:
    zs = ZSet.from_scores({b"a": 1.0, b"b": float("-inf")})
    assert list(load_payload(dump_payload(zs))) == list(zs)
    assert load_payload(dump_payload({b"f": b"v"})) == {b"f": b"v"}


PAYLOADS = [dump_payload(v) for v in (b"hello", {b"a", b"b"}, {b"f": b"v"})] + [HELLO]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(PAYLOADS), st.integers(0, 200), st.binary(min_size=1, max_size=3))
def test_damaged_payloads_raise_payload_error_only(payload: bytes, at: int,
                                                   junk: bytes) -> None:
    """Past the checksum (a payload whose CRC was recomputed), bad contents are
    a PayloadError, never an IndexError or a wrong value of another type."""
    at %= len(payload) - 10
    body = payload[:at] + junk + payload[at + len(junk):-10]
    with contextlib.suppress(PayloadError):
        load_payload(_payload(body))


def _migrations(source: redis.Redis, target: redis.Redis) -> list[Any]:
    kw = target.connection_pool.connection_kwargs
    host, port, db = kw["host"], str(kw["port"]), str(kw["db"])
    to = ("MIGRATE", host, port)
    script: list[tuple[Any, ...]] = [
        ("SET", "k1", "v"), ("SET", "k2", "v", "PX", "100000"), ("RPUSH", "l", "a", "b"),
        (*to, "k1", db, "5000"), (*to, "", db, "5000", "KEYS", "k2", "l", "gone"),
        (*to, "nosuch", db, "5000"), ("SET", "k1", "v2"), (*to, "k1", db, "5000"),
        ("SET", "k3", "v3"), (*to, "", db, "5000", "KEYS", "k1", "k3"),
        (*to, "k1", db, "5000", "REPLACE", "COPY"), ("GET", "k1"),
        (*to, "k1", db, "5000", "KEYS", "x"), (*to, "k1", db, "5000", "BOGUS"),
        (*to, "k1", db, "x"), (*to, "k1", db, "5000", "AUTH", "secret"),
        (*to, "k1", db, "5000", "AUTH2", "default", "secret"),
        ("MIGRATE", host, "1", "k1", db, "200"),
        ("EXISTS", "k1", "k2", "k3", "l"),
    ]
    replies = run(source, script)
    moved = [target.get("k1"), target.get("k3"), target.lrange("l", 0, -1),
             0 < target.pttl("k2") <= 100_000]
    return [*replies, *moved]


def test_migrate_moves_keys_as_redis(both: tuple[redis.Redis, redis.Redis]) -> None:
    """Redis migrates to pulsards, pulsards to Redis: the same replies and results."""
    real, ours = both
    from_redis = _migrations(real, ours)
    for client in both:
        client.flushdb()
    from_pulsards = _migrations(ours, real)
    wrong = [f"{i}: pulsards {o!r} != redis {r!r}"
             for i, (r, o) in enumerate(zip(from_redis, from_pulsards, strict=True)) if r != o]
    assert not wrong, "\n".join(wrong)
    assert from_redis[3] == b"OK" and from_redis[-4:-1] == [b"v2", b"v3", [b"a", b"b"]]
