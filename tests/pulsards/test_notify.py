"""Keyspace events: pulsards publishes what Redis publishes, in the same order.

Each test runs the same commands on a private redis-server (CONFIG SET
notify-keyspace-events is not for the shared one) and on pulsards, with a
subscriber on ``__key*__:*``, and compares the messages.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
from polling import wait_for

from .conftest import AGREE_DB, start_pulsards

pytestmark = pytest.mark.timeout(60)

# Every write command family, with the cases where nothing changes (no event),
# containers emptied (a del after the command's event) and STOREs of nothing.
SCRIPT = """
SET s 1|SET s 2 EX 100|SET s 3 PX 100000 GET|SET s 4 KEEPTTL|SET s 5 NX|SETNX s 4|SETNX s2 4
SETEX s3 100 x|PSETEX s4 100000 x|GETSET s 5|MSET a 1 b 2|MSETNX c 1 d 2|MSETNX c 1 e 2
APPEND a xx|SETRANGE a 1 yy|INCR n|DECR n|INCRBY n 5|DECRBY n 2|INCRBYFLOAT n 1.5|GETDEL a
GETDEL nosuch|GETEX b EX 100|GETEX b PERSIST|GETEX b|GETEX b PXAT 1|SETBIT bits 3 1
BITFIELD bf SET u8 0 5 GET u8 0|BITFIELD bf GET u8 0|BITOP OR dest bits bf
BITOP AND dest2 nosuch nosuch2|PFADD h1 a b|PFADD h1 a|PFMERGE h3 h1|PFCOUNT h1
DEL s s2 nosuch|UNLINK s3|RENAME s4 s5|SET t 1|RENAMENX s5 t|RENAMENX s5 t2|COPY t2 t3
MOVE t3 3|EXPIRE t 100|PEXPIRE t 100000|EXPIREAT t 1|SET t 1|PERSIST t|PERSIST t
EXPIRE t 100 NX|EXPIRE t 100 NX|RPUSH l a b c d e|LPUSH l z|LPUSHX nol a|RPUSHX l f
LINSERT l BEFORE a q|LSET l 0 w|LPOP l|RPOP l 2|LREM l 1 q|LREM l 1 nope|LTRIM l 0 1
LMOVE l l2 LEFT RIGHT|RPOPLPUSH l l2|LMPOP 1 l2 RIGHT COUNT 5|RPUSH l3 a|LMOVE l3 l3 LEFT LEFT
SORT nol STORE sorted|RPUSH nums 3 1 2|SORT nums STORE sorted|SORT nums
HSET h a 1 b 2|HMSET h c 3|HSETNX h a 9|HSETNX h z 9|HDEL h a|HDEL h nope|HINCRBY h b 1
HINCRBYFLOAT h b 1.5|HDEL h b c z|SADD st a b c|SADD st a|SREM st a|SREM st nope|SPOP st
SMOVE st st2 c|SMOVE st st2 b|SADD x1 a b|SADD x2 b|SINTERSTORE si x1 x2|SUNIONSTORE su x1 x2
SDIFFSTORE sd x2 x1|SDIFFSTORE su x2 x1|SPOP x1 5|ZADD z 1 a 2 b 3 c|ZADD z 1 a
ZADD z INCR 5 a|ZADD z XX 1 nope|ZINCRBY z 1 b|ZREM z a|ZREMRANGEBYSCORE z 0 2
ZADD z 1 a 2 b 3 c|ZREMRANGEBYRANK z 0 0|ZREMRANGEBYLEX z - +|ZADD z 1 a 2 b 3 c 4 d
ZPOPMIN z|ZPOPMAX z|ZMPOP 1 z MIN COUNT 5|ZADD z1 1 a|ZADD z2 1 b|ZUNIONSTORE zu 2 z1 z2
ZINTERSTORE zi 2 z1 z2|ZDIFFSTORE zd 2 z1 z2|ZRANGESTORE zr z1 0 -1|ZRANGESTORE zu z1 5 6
GEOADD g 13.361389 38.115556 Palermo|GEOSEARCHSTORE gs g FROMLONLAT 15 37 BYRADIUS 200 km
GEORADIUS g 15 37 200 km STORE gr|XADD x 1-1 a 1|XADD x MAXLEN 1 2-1 b 2|XTRIM x MAXLEN 0
XADD x 5-1 c 3|XDEL x 5-1|XSETID x 10-1|XGROUP CREATE x g1 $|XGROUP CREATE x2 g1 $ MKSTREAM
XGROUP CREATECONSUMER x g1 c1|XGROUP CREATECONSUMER x g1 c1|XADD x 11-1 d 4
XREADGROUP GROUP g1 c2 STREAMS x >|XREADGROUP GROUP g1 c2 STREAMS x >
XGROUP DELCONSUMER x g1 c1|XGROUP DELCONSUMER x g1 nobody|XGROUP SETID x g1 0
XCLAIM x g1 c3 0 0-0|XAUTOCLAIM x g1 c4 0 0|XACK x g1 11-1|XGROUP DESTROY x g1
XGROUP DESTROY x g1|MULTI|SET m 1|LPUSH ml a|EXEC
XADD x MAXLEN 100 12-1 e 5|XADD x MINID 0 13-1 e 5|XTRIM x MAXLEN 100|XDEL x 99-1
SET p v|SET p w EX 100 GET|SET p2 v KEEPTTL|SET p2 w PX 100000 GET|SETEX p3 -1 v
EXPIRE m 100 GT|EXPIRE m 100 LT|EXPIRE m 0|PEXPIREAT nosuch 1|PERSIST ml
LTRIM ml 0 -1|LSET ml 5 x|LINSERT ml BEFORE nope x|LREM ml 0 nope|LPOP nosuch
HSET hh f v|HSET hh f v|HINCRBY hh f 1|SMOVE st2 st2 c|SADD ss a|SMOVE ss ss a
ZADD zz 1 a|ZADD zz GT 0 a|ZADD zz CH 2 a|ZADD zz NX 3 a|ZREMRANGEBYSCORE zz 5 6
RENAME zz zz|SET cp 1|COPY cp cp2|COPY cp cp2 REPLACE|COPY cp cp2 DB 4|MOVE cp 12
SPOP ss 0|SADD ss2 a|SINTERSTORE ss2 nosuch ss|SET b1 x|BITOP AND b1 nosuch nosuch2
SETRANGE sr 0 ""|APPEND ap ""|PFADD pf|PFADD pf a|PFADD pf a|PFMERGE pf|PFMERGE pf2
GEOADD g XX 1 1 nobody|RPUSH srt 2 1|SORT srt ALPHA LIMIT 0 1 STORE srt2|BITFIELD bf2 INCRBY u2 0 1
HINCRBYFLOAT hh f 0.5|INCRBYFLOAT fl 0|SETNX m 1|MSETNX m 1 new 2|LPUSHX ml2 a
EVAL "redis.call('set', KEYS[1], 'v'); redis.call('del', KEYS[1]); return 1" 1 lua
"""
COMMANDS = [cmd for line in SCRIPT.strip().splitlines() for cmd in line.split("|")]


def _split(cmd: str) -> list[str]:
    if cmd.startswith("EVAL "):
        _, script, rest = cmd.split('"')
        return ["EVAL", script, *rest.split()]
    return cmd.split()


def _events(address: tuple[str, int], flags: str,
            play: Callable[[redis.Redis], None]) -> list[tuple[str, str]]:
    """The keyspace messages ``play`` caused, with ``flags`` on."""
    with redis.Redis(*address, db=AGREE_DB) as client:
        client.flushall()
        client.config_set("notify-keyspace-events", flags)
        sub = client.pubsub()
        try:
            sub.psubscribe("__key*__:*")
            sub.subscribe("done")
            for _ in range(2):  # the two confirmations
                confirmation = sub.get_message(timeout=5)
                assert confirmation is not None and "subscribe" in confirmation["type"]
            play(client)
            client.publish("done", "")
            seen = []
            while (message := sub.get_message(timeout=5)) is not None:
                if message["channel"] == b"done":
                    return seen
                seen.append((message["channel"].decode(), message["data"].decode()))
            raise AssertionError(f"no end marker after {seen}")
        finally:
            sub.close()
            client.config_set("notify-keyspace-events", "")


def _both(private_redis: tuple[str, int], pulsards: Any, flags: str,
          play: Callable[[redis.Redis], None]) -> tuple[list[Any], list[Any]]:
    return (_events(private_redis, flags, play),
            _events((pulsards.host, pulsards.port), flags, play))


def _diff(real: list[tuple[str, str]], ours: list[tuple[str, str]]) -> str:
    return "\n".join(difflib.unified_diff([f"{c} {m}" for c, m in real],
                                         [f"{c} {m}" for c, m in ours],
                                         "redis", "pulsards", lineterm=""))


def _run_script(client: redis.Redis) -> None:
    for cmd in COMMANDS:
        with contextlib.suppress(redis.ResponseError):  # the same on both (test_agree)
            client.execute_command(*_split(cmd))


@pytest.mark.parametrize("flags", ["KEA", "KEAn", "Kl", "E$g", "Kzt"])
def test_events_of_every_write_family_agree(private_redis: tuple[str, int], pulsards: Any,
                                           flags: str) -> None:
    real, ours = _both(private_redis, pulsards, flags, _run_script)
    assert len(real) > 8
    assert ours == real, _diff(real, ours)


BLOCKING = [
    (("BLPOP", "k", "5"), ("RPUSH", "k", "x")),
    (("BRPOP", "k", "5"), ("RPUSH", "k", "x")),
    (("BLMOVE", "k", "d", "RIGHT", "LEFT", "5"), ("RPUSH", "k", "x")),
    (("BRPOPLPUSH", "k", "d", "5"), ("LPUSH", "k", "x")),
    (("BLMPOP", "5", "1", "k", "LEFT"), ("RPUSH", "k", "x")),
    (("BZPOPMIN", "k", "5"), ("ZADD", "k", "1", "m")),
    (("BZMPOP", "5", "1", "k", "MAX"), ("ZADD", "k", "1", "m", "2", "n")),
    (("XREADGROUP", "GROUP", "g", "c", "BLOCK", "5000", "STREAMS", "s", ">"),
     ("XADD", "s", "1-1", "f", "v")),
]


def test_served_blocking_commands_publish_as_redis(private_redis: tuple[str, int],
                                                   pulsards: Any) -> None:
    """A pop served by another client's push publishes when it is served."""
    def play(client: redis.Redis) -> None:
        kw = client.connection_pool.connection_kwargs
        client.xgroup_create("s", "g", "$", mkstream=True)
        for wait, push in BLOCKING:
            with redis.Redis(kw["host"], kw["port"], db=AGREE_DB, socket_timeout=10) as waiter, \
                    ThreadPoolExecutor(1) as pool:
                reply = pool.submit(waiter.execute_command, *wait)
                wait_for(lambda: client.info("clients")["blocked_clients"] == 1,
                         what="the command to block")
                client.execute_command(*push)
                assert reply.result(timeout=10)

    real, ours = _both(private_redis, pulsards, "KEA", play)
    assert ("__keyevent@12__:lpop", "k") in real
    assert ours == real


def test_expiry_publishes_expired(private_redis: tuple[str, int], pulsards: Any) -> None:
    """Lazy (a read of the key) and active (the expiry cycle) expiries."""
    def play(client: redis.Redis) -> None:
        client.set("lazy", "v", px=1)
        client.set("active", "v", px=1)
        wait_for(lambda: client.pttl("lazy") == -2, what="the key to pass its deadline")
        client.get("lazy")
        wait_for(lambda: client.dbsize() == 0, what="the expiry cycle")

    real, ours = _both(private_redis, pulsards, "Kx", play)
    assert sorted(ours) == sorted(real) == [("__keyspace@12__:active", "expired"),
                                            ("__keyspace@12__:lazy", "expired")]


@pytest.mark.parametrize("given", ["KEA", "Kg", "Ex", "AKEn", "g$lshzxetdKE", "Em", "KEAmn",
                                   "", "nK", "AA", "tdn"])
def test_config_spells_flags_as_redis(private_redis: tuple[str, int], pulsards: Any,
                                      given: str) -> None:
    spelled = []
    for address in (private_redis, (pulsards.host, pulsards.port)):
        with redis.Redis(*address) as client:
            client.config_set("notify-keyspace-events", given)
            spelled.append(client.config_get("notify-keyspace-events"))
            client.config_set("notify-keyspace-events", "")
    assert spelled[1] == spelled[0]


def test_a_bad_class_is_refused_as_redis(private_redis: tuple[str, int], pulsards: Any) -> None:
    errors = []
    for address in (private_redis, (pulsards.host, pulsards.port)):
        with redis.Redis(*address) as client:
            with pytest.raises(redis.ResponseError) as caught:
                client.config_set("notify-keyspace-events", "KEQ")
            errors.append(str(caught.value))
            assert client.config_get("notify-keyspace-events") == {
                "notify-keyspace-events": ""}
    assert errors[1] == errors[0]


def test_events_turned_off_publish_nothing(pulsards: Any) -> None:
    """Turned off again, writes publish nothing (the plain handlers are back)."""
    def play(client: redis.Redis) -> None:
        client.config_set("notify-keyspace-events", "")
        client.set("k", "v")
        client.lpush("l", "x")

    assert _events((pulsards.host, pulsards.port), "KEA", play) == []


def test_events_and_the_aof_together(tmp_path: Any) -> None:
    """Both wrap the write commands: each keeps working as the other comes and goes."""
    server = start_pulsards("--appendonly", "yes", "--appendfsync", "always",
                            "--dir", str(tmp_path), "--notify-keyspace-events", "KEA")
    try:
        address = (server.host, server.port)

        def play(client: redis.Redis) -> None:
            client.set("a", "1")
            client.config_set("appendonly", "no")
            client.set("b", "2")  # events on, AOF off
            client.config_set("appendonly", "yes")
            wait_for(lambda: client.info("persistence")["aof_rewrite_in_progress"] == 0,
                     what="the AOF's first rewrite")
            client.config_set("notify-keyspace-events", "")
            client.set("c", "3")  # AOF on, events off
            client.config_set("notify-keyspace-events", "Kg$")
            client.incr("d")

        with redis.Redis(*address) as client:
            assert client.config_get("notify-keyspace-events") == {
                "notify-keyspace-events": "AKE"}
        # _events sets its flags first and clears them at the end.
        seen = _events(address, "KEA", play)
        assert seen == [("__keyspace@12__:a", "set"), ("__keyevent@12__:set", "a"),
                        ("__keyspace@12__:b", "set"), ("__keyevent@12__:set", "b"),
                        ("__keyspace@12__:d", "incrby")]
    finally:
        assert server.stop() == 0
    server = start_pulsards("--appendonly", "yes", "--dir", str(tmp_path))
    try:
        with redis.Redis(server.host, server.port, db=AGREE_DB) as client:
            assert client.mget("a", "b", "c", "d") == [b"1", b"2", b"3", b"1"]
    finally:
        assert server.stop() == 0


def test_restore_publishes_as_redis(private_redis: tuple[str, int], pulsards: Any) -> None:
    def play(client: redis.Redis) -> None:
        client.set("a", "v")
        payload = client.dump("a")
        client.restore("b", 0, payload)
        client.restore("b", 100_000, payload, replace=True)
        client.restore("c", 1, payload, absttl=True)  # already expired: nothing
        client.restore("b", 1, payload, replace=True, absttl=True)  # deletes b

    real, ours = _both(private_redis, pulsards, "KEAn", play)
    assert ("__keyevent@12__:restore", "b") in real
    assert ours == real, _diff(real, ours)


MISSES = """
GET m|MGET m1 m2|EXISTS m m2 m|TYPE m|TTL m|STRLEN m|GETRANGE m 0 1|LRANGE m 0 1|LPOS m a
HGET m f|HGETALL m|HRANDFIELD m 2|SMEMBERS m|SISMEMBER m a|SINTER m m2|SDIFF m m2
ZSCORE m a|ZRANGE m 0 1|ZUNION 2 m m2|ZINTERCARD 1 m|SINTERCARD 1 m|GETBIT m 1|BITCOUNT m
PFCOUNT m|XLEN m|XRANGE m - +|XREAD STREAMS m 0|DUMP m|EXPIRETIME m|LCS m m2|SORT m
SORT_RO m|SINTERSTORE d m m2|SUNIONSTORE d m|ZUNIONSTORE d 2 m m2|ZRANGESTORE d m 0 1
SORT m STORE d|BITOP AND d m m2|COPY m n|GETDEL m|GETEX m|GETSET g v|SET m2 v GET|GEOPOS m a
GEORADIUS m 0 0 1 km|GEOSEARCHSTORE d m FROMLONLAT 0 0 BYRADIUS 1 km|TOUCH m m2|XINFO STREAM m
PFMERGE d2 m|SSCAN m 0|BITFIELD m GET u8 0|BITFIELD m SET u8 0 1|BITFIELD_RO m3 GET u8 0
XREADGROUP GROUP g c STREAMS m >|OBJECT ENCODING m|MEMORY USAGE m|RENAME m n|LMOVE m n LEFT LEFT
INCR c|APPEND a x|LPOP m|SPOP m|LMPOP 1 m LEFT|DEL m|ZRANGE m 0 1 BOGUS|LINDEX m x
SET t v PX 1|GET t|SET s v|GET s|HGET s f|EVAL_RO "return redis.call('get', KEYS[1])" 1 m
"""


def test_key_misses_as_redis(private_redis: tuple[str, int], pulsards: Any) -> None:
    """Class m: reads of missing keys publish keymiss (not in A: asked for apart)."""
    def play(client: redis.Redis) -> None:
        for line in MISSES.strip().splitlines():
            for cmd in line.split("|"):
                if cmd == "GET t":  # past the PX 1 deadline first: read, it expires
                    wait_for(lambda: client.pttl("t") == -2, what="t's deadline")
                with contextlib.suppress(redis.ResponseError):
                    client.execute_command(*_split(cmd))

    real, ours = _both(private_redis, pulsards, "KEmx", play)
    assert ("__keyspace@12__:m", "keymiss") in real
    assert ours == real, _diff(real, ours)
