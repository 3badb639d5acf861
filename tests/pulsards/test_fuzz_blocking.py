"""Random blocking pops woken by random writes, on the real Redis and on pulsards.

One or two waiter connections, one after the other, send a blocking command
over a keyspace that a random setup script filled (each blocks when its keys
hold nothing it can take); once the server shows a waiter blocked
(``CLIENT LIST`` flag ``b``), the next comes, then another connection runs
one to three random writes, alone or in MULTI/EXEC.  A waiter nothing woke
is ended with CLIENT UNBLOCK, as a timeout.  The waiters' replies, the
writer's replies and what the keys hold afterwards must be the same on both
servers: which write wakes whom, with what, and what is left.  Set
``FUZZ_EXAMPLES`` to explore, as for the other fuzzer.
"""

from __future__ import annotations

import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polling import wait_for

from .test_agree import Script, run
from .test_fuzz_agree import (
    _EXPLORE,
    COMMANDS,
    INT,
    KEY,
    MEMBER,
    SCORE,
    SIDE,
    VALUE,
    _c,
    _in_transaction,
)

pytestmark = pytest.mark.timeout(120 + _EXPLORE // 10)

# A waiter that nothing wakes is ended with CLIENT UNBLOCK (as a timeout)
# once the writes are done, so a slow machine cannot time it out early.
WAIT = "10"

BLOCKING = [
    _c("BLPOP", KEY, KEY, WAIT), _c("BRPOP", KEY, WAIT),
    _c("BLMOVE", KEY, KEY, SIDE, SIDE, WAIT), _c("BRPOPLPUSH", KEY, KEY, WAIT),
    _c("BLMPOP", WAIT, "2", KEY, KEY, SIDE, "COUNT", st.sampled_from(["1", "2", "5"])),
    _c("BZPOPMIN", KEY, KEY, WAIT), _c("BZPOPMAX", KEY, WAIT),
    _c("BZMPOP", WAIT, "2", KEY, KEY, st.sampled_from(["MIN", "MAX"]), "COUNT", "2"),
]

# Writes that can wake a waiter, drawn more often than the rest of COMMANDS.
PUSHES = [
    _c("LPUSH", KEY, VALUE), _c("RPUSH", KEY, VALUE, VALUE), _c("LPUSHX", KEY, VALUE),
    _c("LMOVE", KEY, KEY, SIDE, SIDE), _c("ZADD", KEY, SCORE, MEMBER),
    _c("ZADD", KEY, SCORE, MEMBER, SCORE, MEMBER), _c("ZINCRBY", KEY, SCORE, MEMBER),
    _c("ZUNIONSTORE", KEY, "2", KEY, KEY), _c("ZRANGESTORE", KEY, KEY, INT, INT),
    _c("RENAME", KEY, KEY), _c("COPY", KEY, KEY, "REPLACE"), _c("SET", KEY, VALUE),
    _c("DEL", KEY), _c("LPOP", KEY), _c("SADD", KEY, MEMBER),
]

STATE: Script = [cmd for key in ("a", "b", "c") for cmd in (
    ("TYPE", key), ("LRANGE", key, "0", "-1"), ("ZRANGE", key, "0", "-1", "WITHSCORES"))]


def _blocked(client: redis.Redis, name: str) -> bool:
    """Whether the connection named ``name`` is parked (raw CLIENT LIST: the
    fixture's clients parse no replies)."""
    listing = client.execute_command("CLIENT", "LIST")
    for line in listing.decode().splitlines():
        fields = dict(field.split("=", 1) for field in line.split(" ") if "=" in field)
        if fields.get("name") == name:
            return "b" in fields.get("flags", "")
    return False


def _wait_blocked(client: redis.Redis, name: str, reply: Future[Any]) -> bool:
    """Whether the waiter is parked (False: it was answered at once)."""
    wait_for(lambda: reply.done() or _blocked(client, name), what="the waiter to block or return")
    return not reply.done()


def _play(client: redis.Redis, pool: ThreadPoolExecutor, setup: Script,
          blocking: Script, writes: Script, in_multi: bool) -> Any:
    """Run ``setup``, park one waiter per ``blocking`` command (in that order),
    run ``writes``: whether each waiter parked, their replies, the writes'
    replies, and what the keys hold after."""
    kw = client.connection_pool.connection_kwargs
    waiters = []
    try:
        client.flushdb()
        run(client, setup)
        parked, replies = [], []
        for command in blocking:
            name = f"pds-fuzz-{uuid.uuid4().hex[:8]}"
            waiter = redis.Redis(kw["host"], kw["port"], db=kw["db"],
                                 protocol=kw.get("protocol", 2), client_name=name,
                                 socket_timeout=20)
            waiters.append(waiter)
            waiter_id = waiter.client_id()  # connected and named before it blocks
            reply = pool.submit(run, waiter, [command])
            parked.append((name, waiter_id, _wait_blocked(client, name, reply)))
            replies.append(reply)
        done = _in_transaction(client, writes) if in_multi else run(client, writes)
        # A woken waiter was served before the writer got its replies.
        for name, waiter_id, _ in parked:
            if _blocked(client, name):
                client.execute_command("CLIENT", "UNBLOCK", waiter_id)
        return ([p[2] for p in parked], [r.result(timeout=10) for r in replies], done,
                run(client, STATE))
    finally:
        for waiter in waiters:
            waiter.close()


@settings(max_examples=_EXPLORE or 60, derandomize=not _EXPLORE, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_blocked_pops_woken_as_on_redis(both: tuple[redis.Redis, redis.Redis],
                                        data: Any) -> None:
    setup = [t(data) for t in data.draw(st.lists(st.sampled_from(PUSHES + COMMANDS),
                                                 max_size=4))]
    blocking = [t(data) for t in data.draw(st.lists(st.sampled_from(BLOCKING), min_size=1,
                                                    max_size=2))]
    writes = [t(data) for t in data.draw(st.lists(
        st.one_of(st.sampled_from(PUSHES), st.sampled_from(COMMANDS)), min_size=1, max_size=3))]
    in_multi = data.draw(st.booleans())
    with ThreadPoolExecutor(2) as pool:
        want, have = (_play(client, pool, setup, blocking, writes, in_multi) for client in both)
    assert have == want, (f"pulsards {have!r} != redis {want!r}\nsetup: {setup}\n"
                          f"blocking: {blocking}\nwrites: {writes} in MULTI: {in_multi}")


# (setup, blocking command, writes, in MULTI): cases the fuzzer found, and the
# rules around them.
CASES = [
    ([], [("BLMOVE", "a", "a", "LEFT", "LEFT", WAIT)], [("ZADD", "a", "0", "x")], False),
    ([], [("BLMOVE", "a", "b", "LEFT", "LEFT", WAIT)], [("ZADD", "a", "0", "x")], False),
    ([("SET", "b", "s")], [("BLMOVE", "a", "b", "LEFT", "RIGHT", WAIT)], [("LPUSH", "a", "x")],
     False),
    ([], [("BRPOPLPUSH", "a", "a", WAIT)], [("RPUSH", "a", "x", "y")], False),
    ([], [("BLPOP", "a", WAIT)], [("ZADD", "a", "1", "x")], False),
    ([], [("BZPOPMIN", "a", WAIT)], [("LPUSH", "a", "x")], False),
    ([], [("BLPOP", "a", "b", WAIT)], [("RPUSH", "b", "1"), ("LPUSH", "a", "2")], True),
    ([], [("BLMPOP", WAIT, "2", "a", "b", "RIGHT", "COUNT", "5")],
     [("RPUSH", "b", "1", "2"), ("DEL", "b"), ("RPUSH", "a", "3")], True),
    ([], [("BZMPOP", WAIT, "1", "a", "MAX", "COUNT", "2")],
     [("ZADD", "a", "1", "x", "2", "y", "3", "z")], False),
    # Redis 7.0 wakes waiters when a STORE makes a new key, not when it
    # overwrites one of another type.
    ([], [("BZPOPMIN", "a", "a", WAIT)], [("SADD", "a", "x"), ("ZUNIONSTORE", "a", "2", "a", "a")],
     False),
    ([("ZADD", "b", "1", "x")], [("BZPOPMIN", "a", WAIT)], [("ZUNIONSTORE", "a", "1", "b")], False),
    ([("ZADD", "b", "1", "x"), ("SET", "a", "s")], [("BZPOPMIN", "a", WAIT)],
     [("ZRANGESTORE", "a", "b", "0", "-1")], False),
    ([("ZADD", "b", "1", "x"), ("SET", "a", "s")], [("BZPOPMIN", "a", WAIT)],
     [("RENAME", "b", "a")], False),
    # Two waiters: first come, first served; one of another kind is skipped.
    ([], [("BLPOP", "a", WAIT), ("BRPOP", "a", "b", WAIT)], [("RPUSH", "a", "1", "2", "3")],
     False),
    ([], [("BZPOPMIN", "a", WAIT), ("BLPOP", "a", WAIT)], [("RPUSH", "a", "1")], False),
    ([], [("BLMOVE", "a", "b", "LEFT", "LEFT", WAIT), ("BLPOP", "b", WAIT)],
     [("RPUSH", "a", "x")], False),
]


@pytest.mark.parametrize("case", CASES, ids=range(len(CASES)))
def test_blocked_pops_as_on_redis(both: tuple[redis.Redis, redis.Redis],
                                  case: tuple[Script, Script, Script, bool]) -> None:
    with ThreadPoolExecutor(2) as pool:
        want, have = (_play(client, pool, *case) for client in both)
    assert have == want, f"pulsards {have!r} != redis {want!r}"


@pytest.mark.parametrize("reason", [(), ("TIMEOUT",), ("ERROR",)], ids=["none", "timeout", "error"])
def test_client_unblock_as_on_redis(both: tuple[redis.Redis, redis.Redis],
                                    reason: tuple[str, ...]) -> None:
    """CLIENT UNBLOCK ends a wait as a timeout would, or with an UNBLOCKED error."""
    outcomes = []
    with ThreadPoolExecutor(2) as pool:
        for client in both:
            kw = client.connection_pool.connection_kwargs
            name = f"pds-unblock-{uuid.uuid4().hex[:8]}"
            waiter = redis.Redis(kw["host"], kw["port"], db=kw["db"], client_name=name,
                                 socket_timeout=20)
            try:
                waiter_id = waiter.client_id()
                reply = pool.submit(run, waiter, [("BLPOP", "nolist", "10")])
                assert _wait_blocked(client, name, reply)
                first = client.execute_command("CLIENT", "UNBLOCK", waiter_id, *reason)
                again = client.execute_command("CLIENT", "UNBLOCK", waiter_id, *reason)
                outcomes.append((first, again, reply.result(timeout=10)))
            finally:
                waiter.close()
    real, ours = outcomes
    assert ours == real
    assert real[:2] == (1, 0)
