"""DEBUG, MODULE, LOLWUT and the cluster commands on pulsards, compared byte
for byte with Redis: refused under the default options (cluster support
disabled), and what DEBUG answers once enabled."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from polling import wait_for

from .conftest import ServerProcess, redis_server, start_pulsards

# Sent raw, one by one, on a flushed database; the replies must be Redis' bytes.
DEFAULT = [b"DEBUG SLEEP 0", b"DEBUG HELP", b"DEBUG", b"MODULE LIST", b"MODULE LOAD x",
           b"MODULE LOADEX x", b"MODULE UNLOAD x", b"MODULE", b"MODULE NOPE",
           b"LOLWUT VERSION x", b"CONFIG SET enable-debug-command yes",
           b"CONFIG SET enable-module-command yes", b"CLUSTER INFO", b"CLUSTER HELP",
           b"CLUSTER SLOTS", b"CLUSTER KEYSLOT k", b"CLUSTER BOGUS", b"CLUSTER",
           b"CLUSTER INFO extra", b"READONLY", b"READWRITE", b"ASKING", b"ASKING x",
           # (a transaction is one line here: its replies end at EXEC's)
           b"MULTI\r\nMODULE LOAD /x\r\nPING\r\nEXEC",
           b"MULTI\r\nDEBUG SLEEP 0\r\nEXEC", b"MULTI\r\nMODULE LIST\r\nEXEC"]

ENABLED = [
    b"DEBUG POPULATE 3", b"DEBUG POPULATE 2 pre 10", b"MGET key:0 key:2 pre:1",
    b"DEBUG POPULATE 2 pre 3", b"MGET pre:0", b"DEBUG POPULATE x", b"DEBUG POPULATE -1",
    b"DEBUG POPULATE 2 key 0 extra", b"DBSIZE", b"DEBUG POPULATE 1 popk 3", b"GET popk:0",
    # DEBUG RELOAD empties the databases as FLUSHALL does: a WATCH fails.
    b"WATCH wk\r\nDEBUG RELOAD\r\nMULTI\r\nSET wk v\r\nEXEC", b"GET popk:0",
    b"DEBUG RELOAD NOSAVE NOFLUSH MERGE", b"DBSIZE",
    b"DEBUG ERROR hello", b"DEBUG ERROR -CODE x", b"DEBUG ERROR hello world",
    b"DEBUG LOG", b"DEBUG LOG hi", b"DEBUG SLEEP", b"DEBUG SLEEP 0.01", b"DEBUG SLEEP x",
    b"DEBUG OBJECT", b"DEBUG OBJECT nokey", b"DEBUG CHANGE-REPL-ID", b"DEBUG PROTOCOL",
    b"DEBUG PROTOCOL nope", b"DEBUG SET-ACTIVE-EXPIRE", b"DEBUG SET-ACTIVE-EXPIRE x",
    b"DEBUG RELOAD bogus", b"DEBUG bogus", b"DEBUG",
    *[b"DEBUG PROTOCOL " + kind for kind in (b"string", b"integer", b"double", b"bignum",
                                             b"null", b"array", b"set", b"map", b"attrib",
                                             b"push", b"verbatim", b"true", b"false")],
    b"HELLO 3",
    *[b"DEBUG PROTOCOL " + kind for kind in (b"double", b"bignum", b"null", b"set", b"map",
                                             b"attrib", b"push", b"verbatim", b"true")],
]


def _replies(address: tuple[str, int], commands: list[bytes]) -> list[bytes]:
    """Each command's reply bytes (read until the next command's PING answers)."""
    out = []
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(b"FLUSHALL\r\n")
        assert sock.recv(100) == b"+OK\r\n"
        for line in commands:
            sock.sendall(line + b"\r\nECHO end-of-reply\r\n")
            data = b""
            while not data.endswith(b"$12\r\nend-of-reply\r\n"):
                data += sock.recv(65536)
            out.append(data[:-len(b"$12\r\nend-of-reply\r\n")])
        sock.sendall(b"FLUSHALL\r\n")
        assert sock.recv(100).endswith(b"OK\r\n")
    return out


def _compare(commands: list[bytes], real: list[bytes], ours: list[bytes]) -> None:
    wrong = [f"{c!r}: pulsards {o!r} != redis {r!r}"
             for c, r, o in zip(commands, real, ours, strict=True)
             if r != o and not c.startswith(b"HELLO")]  # (the client ids differ)
    assert not wrong, "\n".join(wrong)


def test_debug_and_module_are_refused_by_default_as_in_redis(
        private_redis: tuple[str, int], pulsards: ServerProcess) -> None:
    real = _replies(private_redis, DEFAULT)
    ours = _replies((pulsards.host, pulsards.port), DEFAULT)
    lolwut = DEFAULT.index(b"LOLWUT VERSION x")
    _compare(DEFAULT, real, ours)
    assert b"not allowed" in ours[0] and ours[lolwut].startswith(b"-ERR value is not")


@pytest.fixture(scope="module")
def debugging(tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[tuple[tuple[str, int], ServerProcess]]:
    """A redis-server and a pulsards with ``enable-debug-command yes``."""
    directory = tmp_path_factory.mktemp("debug")
    with redis_server("--enable-debug-command", "yes") as address:
        server = start_pulsards("--enable-debug-command", "yes", "--dir", str(directory))
        try:
            yield address, server
        finally:
            server.stop()


def test_debug_answers_as_redis_once_enabled(
        debugging: tuple[tuple[str, int], ServerProcess]) -> None:
    address, server = debugging
    real = _replies(address, ENABLED)
    ours = _replies((server.host, server.port), ENABLED)
    _compare(ENABLED, real, ours)


def test_debug_sleep_object_reload_and_active_expire(
        debugging: tuple[tuple[str, int], ServerProcess]) -> None:
    _, server = debugging
    client = redis.Redis(server.host, server.port)
    try:
        client.flushall()
        client.rpush("list", "a", "b")
        assert client.debug_object("list")["encoding"] == "quicklist"
        client.set("kept", "v")
        assert client.execute_command("DEBUG", "RELOAD") == b"OK"  # save, empty, load
        assert client.lrange("list", 0, -1) == [b"a", b"b"] and client.get("kept") == b"v"
        assert Path(client.config_get("dir")["dir"], "dump.pdb").exists()
        # (That SET-ACTIVE-EXPIRE 0 stops the expiry cycle: test_pause runs
        # the cycle by hand.)  Switched back on, it removes a lapsed key.
        assert client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"OK"
        client.set("lapsed", "v", px=1)
        assert client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1") == b"OK"
        wait_for(lambda: client.dbsize() == 2, 2, "the expiry cycle")
        # DEBUG SLEEP holds the loop for its seconds (no test waits for time
        # to pass: 0 checks the command and that the server serves on).
        with redis.Redis(server.host, server.port, socket_timeout=5) as other:
            assert client.execute_command("DEBUG", "SLEEP", "0") == b"OK"
            assert other.ping()
    finally:
        client.flushall()
        client.close()
