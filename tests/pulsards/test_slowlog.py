"""SLOWLOG on pulsards, compared with a real Redis (a redis-server of the
session's own: CONFIG SET and SLOWLOG RESET are not for the shared one)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from polling import wait_for

from .conftest import ServerProcess
from .test_tracking import Conn

# Sent one by one with the threshold at 0 (every command is logged).
SCRIPT: list[tuple[Any, ...]] = [
    ("SET", "k", "v"),
    ("EVAL", "return redis.call('get', 'k')", 0),
    ("AUTH", "not-the-password"),
    ("AUTH", "someone", "secret"),
    ("HELLO", "2", "AUTH", "default", "secret"),
    ("CLIENT", "SETNAME", "logged"),
    ("MULTI",), ("INCR", "n"), ("GET", "k"), ("EXEC",),
    ("BLPOP", "nothing", "0.01"),
    ("MSET", *[str(i) for i in range(40)]),
    ("SET", "long", "x" * 200),
    ("RPUSH", "l", "a", "b"),
    ("LRANGE", "l", "0", "-1"),
    ("MIGRATE", "127.0.0.1", "1", "k", "0", "10", "AUTH", "pw"),
    ("MIGRATE", "127.0.0.1", "1", "", "0", "10", "COPY", "AUTH2", "u", "pw", "KEYS", "AUTH", "k"),
    ("ACL", "SETUSER", "slowlogged", "on", ">topsecret"), ("ACL", "DELUSER", "slowlogged"),
    ("CONFIG", "SET", "requirepass", "hunter2", "maxclients", "100"),
    ("AUTH", "hunter2"), ("CONFIG", "SET", "requirepass", "", "maxclients", "10000"),
    ("HELLO", "2", "SETNAME", "auth", "AUTH", "default", "pw"),
    ("NOSUCH", "command"),
    ("GET",),
    ("SLOWLOG", "LEN"),
]

ERRORS: list[tuple[Any, ...]] = [
    ("SLOWLOG", "GET", "-2"), ("SLOWLOG", "GET", "x"), ("SLOWLOG", "GET", "1", "2"),
    ("SLOWLOG", "LEN", "x"), ("SLOWLOG", "RESET", "x"), ("SLOWLOG", "NOPE"),
    ("CONFIG", "SET", "slowlog-log-slower-than", "-2"),
    ("CONFIG", "SET", "slowlog-max-len", "-1"),
    ("CONFIG", "SET", "slowlog-max-len", "x"),
]


def outcome(client: redis.Redis, command: tuple[Any, ...]) -> Any:
    try:
        return client.execute_command(*command)
    except (redis.ResponseError, redis.AuthenticationError) as exc:
        return ("error", str(exc))


@pytest.fixture
def clients(private_redis: tuple[str, int], pulsards: ServerProcess
            ) -> Iterator[list[redis.Redis]]:
    """redis-py on both servers (one connection each, made before the
    threshold changes); the options put back and the log emptied at the end."""
    made = [redis.Redis(*address, db=12)
            for address in (private_redis, (pulsards.host, pulsards.port))]
    try:
        yield made
    finally:
        for client in made:
            client.config_set("slowlog-log-slower-than", 10000)
            client.config_set("slowlog-max-len", 128)
            client.slowlog_reset()
            client.flushdb()
            client.close()


def _logged(client: redis.Redis) -> list[tuple[Any, ...]]:
    """The log, oldest first, without what differs by nature: ids, times,
    durations and port numbers."""
    entries = client.execute_command("SLOWLOG", "GET", "-1")
    return [(args, address == b"?:0", name) for _id, _when, _micros, args, address, name
            in reversed(entries)]


def test_slowlog_logs_what_redis_logs(clients: list[redis.Redis]) -> None:
    logs = []
    for client in clients:
        client.slowlog_reset()
        # A raw connection: redis-py would retry (and wait) after a failed AUTH.
        conn = Conn((client.connection_pool.connection_kwargs["host"],
                     client.connection_pool.connection_kwargs["port"]))
        for command in [("SELECT", "12"), ("CONFIG", "SET", "slowlog-log-slower-than", "0"),
                        *SCRIPT, ("CONFIG", "SET", "slowlog-log-slower-than", "10000")]:
            conn.send([str(arg).encode() for arg in command])
        conn.sync()
        conn.sock.close()
        client.response_callbacks.clear()
        logs.append(_logged(client))
    real, ours = logs
    assert ours == real
    # the summaries: 31 arguments and a count, 128 bytes and a count
    assert [b"MSET", *[b"%d" % i for i in range(30)], b"... (10 more arguments)"] in \
        [args for args, _, _ in ours]
    assert [b"SET", b"long", b"x" * 128 + b"... (72 more bytes)"] in [args for args, _, _ in ours]


def test_slowlog_length_reset_get_count_and_errors(clients: list[redis.Redis]) -> None:
    results = []
    for client in clients:
        client.response_callbacks.clear()
        client.slowlog_reset()
        client.config_set("slowlog-log-slower-than", 0)
        client.config_set("slowlog-max-len", 3)
        for i in range(5):
            client.set(f"k{i}", i)
        got = [client.slowlog_len(), [e[3] for e in client.execute_command("SLOWLOG", "GET")],
               [e[3] for e in client.execute_command("SLOWLOG", "GET", "1")],
               client.execute_command("SLOWLOG", "GET", "0")]
        client.config_set("slowlog-max-len", 1)  # trims at once
        got.append(client.slowlog_len())
        got += [outcome(client, command) for command in ERRORS]
        client.config_set("slowlog-log-slower-than", -1)  # nothing is logged
        client.slowlog_reset()
        client.set("k", "v")
        got.append(client.slowlog_len())
        got.append(client.config_get("slowlog*"))
        results.append(got)
    assert results[1] == results[0]


def test_a_slow_command_is_logged_at_the_default_threshold(clients: list[redis.Redis]) -> None:
    ours = clients[1]
    ours.slowlog_reset()
    # KEYS over 100,000 keys takes pulsards well over 10 ms; GETs never do.
    ours.mset({f"key:{i}": i for i in range(100_000)})
    ours.get("key:1")
    assert len(ours.keys("key:*")) == 100_000
    entries = ours.slowlog_get()
    assert [entry["command"] for entry in entries][:1] == [b"KEYS key:*"]
    assert entries[0]["duration"] >= 10_000
    assert b"GET key:1" not in [entry["command"] for entry in entries]


def test_a_served_blocking_command_is_logged_as_redis_logs_it(
        clients: list[redis.Redis]) -> None:
    logs = []
    for client in clients:
        kwargs = client.connection_pool.connection_kwargs
        address = (kwargs["host"], kwargs["port"])
        client.slowlog_reset()
        waiter, pusher = Conn(address), Conn(address)
        for conn in (waiter, pusher):
            conn.send([b"SELECT", b"12"])
            conn.sync()
        client.config_set("slowlog-log-slower-than", 0)
        waiter.send([b"BLPOP", b"q", b"5"])
        waiter.send([b"BLPOP", b"nothing", b"0.01"])  # times out: not logged
        wait_for(lambda c=client: c.info("clients")["blocked_clients"] == 1, 5, "the BLPOP")
        pusher.send([b"LPUSH", b"q", b"x"])
        pusher.sync()
        assert waiter.sync() == [[b"q", b"x"], None]
        client.config_set("slowlog-log-slower-than", 10000)
        client.response_callbacks.clear()
        # (the polls of INFO are logged too, as many as each server took)
        logs.append([args for args, _, _ in _logged(client) if args[0] != b"INFO"])
        for conn in (waiter, pusher):
            conn.sock.close()
    assert logs[1] == logs[0]
    assert [b"BLPOP", b"q", b"5"] in logs[0]
