"""Functions (FUNCTION, FCALL, FCALL_RO) on pulsards, compared with a real Redis.

Libraries are server state that FLUSHALL leaves, so every test empties them
on both servers first (``FUNCTION FLUSH``), on a redis-server of the
session's own (``private_redis``): the shared one is not ours to flush.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from polling import wait_for

from stores.pulsards.rdb import crc64, dump_functions, load_functions

from .conftest import ServerProcess, start_pulsards
from .test_scripting import outcome

# FUNCTION LOAD after FUNCTION LOAD, in order: the errors of metadata,
# compilation and registration, and what loads (some loads depend on earlier ones).
LOADS: list[tuple[str, ...]] = [
    ("return 1",),
    ("#!lua",),
    ("#!lua name=",),
    ("#!lua\nredis.register_function('f', function() return 1 end)",),
    ("#!lua name=\nredis.register_function('f', function() return 1 end)",),
    ("#!lua name=a-b\nredis.register_function('f', function() return 1 end)",),
    ("#!js name=x\nredis.register_function('f', function() return 1 end)",),
    ("#!lua name=x foo=bar\nredis.register_function('f', function() return 1 end)",),
    ("#!lua name=x name=y\nredis.register_function('f', function() return 1 end)",),
    ("#!lua name='x y'\nredis.register_function('f', function() return 1 end)",),
    ("#!lua name=\"unbalanced\nredis.register_function('f', function() return 1 end)",),
    ("#!lua name=x\nreturn 1",),
    ("#!lua name=x\nif (",),
    ("#!lua name=x\nredis.register_function('f', function() end)\n"
     "redis.register_function('f', function() end)",),
    ("#!lua name=x\nredis.call('set', 'a', 'b')",),
    ("#!lua name=x\nlocal s = string.format('%d', 1)",),
    ("#!lua name=x\nerror('boom')",),
    ("#!lua name=x\nx = 1",),
    ("#!lua name=x\nlocal a = nil + 1",),
    ("#!lua name=x\nredis.setresp(3)",),
    ("#!lua name=x\nredis.register_function('f-g', function() return 1 end)",),
    ("#!lua name=x\nredis.register_function('', function() return 1 end)",),
    ("#!lua name=x\nredis.register_function('f', 1)",),
    ("#!lua name=x\nredis.register_function({}, function() end)",),
    ("#!lua name=x\nredis.register_function()",),
    ("#!lua name=x\nredis.register_function('a')",),
    ("#!lua name=x\nredis.register_function(1)",),
    ("#!lua name=x\nredis.register_function('f', function() end, 3)",),
    ("#!lua name=x\nredis.register_function{function_name='f', callback=function() end, "
     "flags={'bad'}}",),
    ("#!lua name=x\nredis.register_function{function_name='f', callback=function() end, "
     "flags='x'}",),
    ("#!lua name=x\nredis.register_function{function_name='f', callback=function() end, "
     "flags={1}}",),
    ("#!lua name=x\nredis.register_function{function_name='f', callback=function() end, "
     "flags={'no-writes', {}}}",),
    ("#!lua name=x\nredis.register_function{function_name='f'}",),
    ("#!lua name=x\nredis.register_function{callback=function() end}",),
    ("#!lua name=x\nredis.register_function{function_name='f', callback=function() end, foo=1}",),
    ("#!lua name=x\nredis.register_function{[1]='f', callback=function() end}",),
    ("#!lua name=x\nredis.register_function{function_name={}, callback=function() end}",),
    ("#!lua name=x\nredis.register_function{function_name='f', callback=1}",),
    ("#!lua name=x\nredis.register_function{function_name='f', callback=function() end, "
     "description={}}",),
    ("#!lua name=x\nredis.register_function{function_name=1.5, callback=function() end}",),
    ("#!lua name=x\nwhile true do end",),
    # what loads
    ("#!lua name=lib1\nredis.register_function('one', function() return 1 end)",),
    ("#!lua name=lib1\nredis.register_function('one', function() return 1 end)",),
    ("REPLACE", "#!lua name=lib1\nredis.register_function('one', function() return 11 end)"),
    ("#!lua name=lib2\nredis.register_function('ONE', function() return 2 end)",),
    ("#!LUA  NAME=Lib2\nredis.register_function{FUNCTION_NAME='two', CallBack=function() "
     "return 2 end, FLAGS={'NO-WRITES', 'allow-oom'}, description='the second'}",),
    ("#!lua name=lib3\nredis.log(redis.LOG_WARNING, 'loading') "
     "redis.register_function(3, function() return redis.REDIS_VERSION_NUM end)",),
    ("#!lua name=lib4\nredis.register_function{function_name='four', callback=function() end, "
     "flags={'no-writes', 'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys'}}",),
    ("BOGUS", "#!lua name=lib5\nredis.register_function('five', function() end)"),
    ("REPLACE", "REPLACE", "#!lua name=lib5\nredis.register_function('five', function() end)"),
]

LIBRARY = """#!lua name=calls
redis.register_function('args', function(keys, args) return {keys[1], args[1], #keys, #args} end)
redis.register_function('incr', function(keys, args) return redis.call('incr', keys[1]) end)
redis.register_function('fails', function(keys, args) error('oops') end)
redis.register_function('pcalls', function(keys, args) return redis.pcall('incr', 's') end)
redis.register_function('raises', function(keys, args) return redis.call('incr', 's') end)
redis.register_function('globals', function(keys, args) return KEYS end)
redis.register_function('registers', function() redis.register_function('m', function() end) end)
redis.register_function('strings', function() return string.format('%d', 5) end)
redis.register_function('assigns', function() x = 5 end)
redis.register_function{function_name='ro_write', flags={'no-writes'},
  callback=function() return redis.call('set', 's', 'v') end}
redis.register_function{function_name='ro_read', flags={'no-writes'},
  callback=function(keys) return redis.call('get', keys[1]) end}
redis.register_function('nested', function() return redis.call('fcall', 'args', 0) end)
redis.register_function('evals', function() return redis.call('eval', 'return 1', 0) end)
redis.register_function('custom', function() error({err='MY custom'}) end)
redis.register_function('hgetall', function()
  redis.setresp(3) return redis.call('hgetall', 'h') end)
redis.register_function('lists', function() return redis.call('function', 'list') end)
redis.register_function('env', function() return type(_G) end)
redis.register_function('many', function() return 1, 2 end)
local api = redis
redis.register_function('kept', function() api.register_function('m', function() end) end)
"""

SETUP: list[tuple[Any, ...]] = [("SET", "s", "abc"), ("SET", "n", "10"), ("HSET", "h", "f", "v")]

CALLS: list[tuple[Any, ...]] = [
    ("FCALL", "args", 2, "a", "b", "c", "d"),
    ("FCALL", "ARGS", 0),
    ("FCALL", "incr", 1, "n"),
    ("FCALL", "fails", 0),
    ("FCALL", "pcalls", 0),
    ("FCALL", "raises", 0),
    ("FCALL", "globals", 0),
    ("FCALL", "registers", 0),
    ("FCALL", "strings", 0),
    ("FCALL", "assigns", 0),
    ("FCALL", "ro_write", 0),
    ("FCALL", "ro_read", 1, "s"),
    ("FCALL_RO", "ro_read", 1, "s"),
    ("FCALL_RO", "incr", 1, "n"),
    ("FCALL", "nested", 0),
    ("FCALL", "evals", 0),
    ("FCALL", "custom", 0),
    ("FCALL", "hgetall", 0),
    ("FCALL", "lists", 0),
    ("FCALL", "env", 0),
    ("FCALL", "many", 0),
    ("FCALL", "kept", 0),
    ("FCALL", "missing", 0),
    ("FCALL", "args", 3, "a"),
    ("FCALL", "args", -1),
    ("FCALL", "args", "x"),
    ("FCALL", "args", " 1", "a"),
    ("FCALL", "args"),
    ("EVAL", "return redis.call('fcall', 'args', 0)", 0),
    ("FUNCTION", "DELETE", "nolib"),
    ("FUNCTION", "KILL"),
    ("FUNCTION", "FLUSH", "bogus"),
    ("FUNCTION", "FLUSH", "async", "extra"),
    ("FUNCTION", "LIST", "withcode", "withcode"),
    ("FUNCTION", "LIST", "libraryname"),
    ("FUNCTION", "LIST", "foo"),
    ("FUNCTION", "LIST", "libraryname", "nomatch*"),
    ("FUNCTION", "RESTORE", "bad"),
    ("FUNCTION", "RESTORE", "bad", "bogus"),
    ("FUNCTION", "RESTORE", "bad", "replace", "extra"),
    ("FUNCTION", "LOAD"),
    ("FUNCTION", "NOPE"),
]


@pytest.fixture
def servers(private_redis: tuple[str, int], pulsards: ServerProcess
            ) -> Iterator[tuple[redis.Redis, redis.Redis]]:
    """redis-py on the private Redis and on pulsards, libraries flushed before and after."""
    real = redis.Redis(*private_redis, db=12)
    ours = redis.Redis(pulsards.host, pulsards.port, db=12)
    clients = (real, ours)
    for client in clients:
        client.response_callbacks.clear()  # compare the raw replies
        client.function_flush()
        client.flushdb()
    try:
        yield clients
    finally:
        for client in clients:
            client.function_flush()
            client.flushdb()
            client.close()


def _compare(results: list[tuple[Any, Any, Any]]) -> None:
    wrong = [f"{command!r}: pulsards {o!r} != redis {r!r}" for command, r, o in results
             if r != o]
    assert not wrong, "\n".join(wrong)


def _as_dict(reply: Any) -> Any:
    """A map reply as a dict, whether RESP3 or the flat list of RESP2."""
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2], strict=True))


def _library_list(client: redis.Redis, *args: str) -> Any:
    """FUNCTION LIST, libraries and functions sorted by name (Redis lists them
    in hash order)."""
    libraries = []
    for library in client.execute_command("FUNCTION", "LIST", *args):
        fields = _as_dict(library)
        fields[b"functions"] = sorted(map(_as_dict, fields[b"functions"]),
                                      key=lambda function: function[b"name"])
        libraries.append(fields)
    return sorted(libraries, key=lambda fields: fields[b"library_name"])


def test_function_load_checks_and_registers_as_redis(
        servers: tuple[redis.Redis, redis.Redis]) -> None:
    real, ours = servers
    _compare([(load, outcome(real, ("FUNCTION", "LOAD", *load)),
               outcome(ours, ("FUNCTION", "LOAD", *load))) for load in LOADS])
    assert _library_list(ours, "WITHCODE") == _library_list(real, "WITHCODE")
    assert _library_list(ours, "LIBRARYNAME", "lib[12]") == \
        _library_list(real, "LIBRARYNAME", "lib[12]")
    assert ours.execute_command("FUNCTION", "STATS") == \
        real.execute_command("FUNCTION", "STATS")
    assert ours.execute_command("FCALL", "one", 0) == 11  # the replaced library's
    assert ours.execute_command("FCALL", "3", 0) == real.execute_command("FCALL", "3", 0)


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_fcall_answers_as_on_redis(private_redis: tuple[str, int], pulsards: ServerProcess,
                                   protocol: int) -> None:
    results = []
    clients = [redis.Redis(*private_redis, db=12, protocol=protocol),
               redis.Redis(pulsards.host, pulsards.port, db=12, protocol=protocol)]
    try:
        for client in clients:
            client.response_callbacks.clear()
            client.function_flush()
            client.function_load(LIBRARY)
        for command in CALLS:
            got = []
            for client in clients:
                client.flushdb()
                for setup in SETUP:
                    client.execute_command(*setup)
                got.append(outcome(client, command))
            results.append((command, *got))
    finally:
        for client in clients:
            client.function_flush()
            client.flushdb()
            client.close()
    _compare(results)


def test_fcall_in_multi_and_functions_survive_flushall(
        servers: tuple[redis.Redis, redis.Redis]) -> None:
    for client in servers:
        client.function_load(LIBRARY)
        pipe = client.pipeline(transaction=True)
        pipe.fcall("incr", 1, "n").fcall("incr", 1, "n").fcall_ro("ro_read", 1, "n")
        assert pipe.execute() == [1, 2, b"2"]
        client.flushall() if client is servers[1] else client.flushdb()
        assert client.fcall("incr", 1, "n") == 1
        assert client.function_delete("calls") == b"OK"
        with pytest.raises(redis.ResponseError, match="Function not found"):
            client.fcall("incr", 1, "n")


def test_function_dump_and_restore_between_redis_and_pulsards(
        servers: tuple[redis.Redis, redis.Redis]) -> None:
    real, ours = servers
    ours.function_load(LIBRARY)
    ours.function_load("#!lua name=lib2\nredis.register_function{function_name='two', "
                       "callback=function() return 2 end, flags={'no-writes'}, "
                       "description='described'}")
    payload = ours.function_dump()
    assert real.function_restore(payload) == b"OK"  # Redis takes pulsards' payload
    assert _library_list(real, "WITHCODE") == _library_list(ours, "WITHCODE")
    assert real.function_dump() != b""
    ours.function_flush()
    assert ours.function_restore(real.function_dump()) == b"OK"  # and the other way
    assert _library_list(ours, "WITHCODE") == _library_list(real, "WITHCODE")
    assert ours.fcall_ro("two", 0) == 2

    one = dump_functions([b"#!lua name=lib2\nredis.register_function('other', "
                          b"function() return 3 end)"])
    clash = dump_functions([b"#!lua name=lib9\nredis.register_function('two', "
                            b"function() return 9 end)"])
    twice = dump_functions([b"#!lua name=d\nredis.register_function('d1', function() end)",
                            b"#!lua name=d\nredis.register_function('d2', function() end)"])
    broken = dump_functions([b"#!lua name=b\nif ("])
    body = b"\x00\x03abc" + (10).to_bytes(2, "little")
    not_function = body + crc64(body).to_bytes(8, "little")
    body = b"\xf5\x40" + (10).to_bytes(2, "little")
    cut = body + crc64(body).to_bytes(8, "little")
    cases: list[tuple[Any, ...]] = [
        ("FUNCTION", "RESTORE", one), ("FUNCTION", "RESTORE", one, "APPEND"),
        ("FUNCTION", "RESTORE", clash, "REPLACE"), ("FUNCTION", "RESTORE", twice),
        ("FUNCTION", "RESTORE", broken), ("FUNCTION", "RESTORE", not_function),
        ("FUNCTION", "RESTORE", cut), ("FUNCTION", "RESTORE", payload[:-1]),
        ("FUNCTION", "RESTORE", one, "replace"), ("FCALL", "other", 0),
        ("FCALL", "two", 0), ("FUNCTION", "RESTORE", clash, "FLUSH"), ("FCALL", "two", 0),
        ("FCALL", "args", 0, "x"),
    ]
    _compare([(command[:2] + command[3:], outcome(real, command), outcome(ours, command))
              for command in cases])
    assert _library_list(ours, "WITHCODE") == _library_list(real, "WITHCODE")


def test_function_payload_round_trip() -> None:
    codes = [b"#!lua name=a\n" + b"x" * 70_000, b"#!lua name=b\nredis.register_function()"]
    assert load_functions(dump_functions(codes)) == codes
    assert load_functions(dump_functions([])) == []


def _rewritten(path: Path) -> bool:
    """Whether the AOF is BGREWRITEAOF's: the library's FUNCTION LOAD first."""
    return path.read_bytes().startswith(b"*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n")


def test_libraries_survive_kill9_and_rewrite_and_snapshot(tmp_path: Path) -> None:
    flags = ("--dir", str(tmp_path), "--appendonly", "yes", "--appendfsync", "always")
    code = LIBRARY.replace("name=calls", "name=persisted")

    def restart(*extra: str) -> tuple[ServerProcess, redis.Redis]:
        server = start_pulsards(*extra)
        return server, redis.Redis(server.host, server.port)

    server, client = restart(*flags)
    try:
        client.function_load(code)
        client.function_load("#!lua name=gone\nredis.register_function('g', function() end)")
        assert client.fcall("incr", 1, "n") == 1
        client.function_delete("gone")
        server.stop(signal.SIGKILL)
        server, client = restart(*flags)
        assert [lib[1] for lib in client.function_list()] == [b"persisted"]
        assert client.get("n") == b"1"  # the function's write, replayed as its effect
        aof = (tmp_path / "appendonly.aof").read_bytes()
        assert b"$4\r\nincr\r\n" in aof and b"FCALL" not in aof  # effects, not the call
        assert client.bgrewriteaof()
        wait_for(lambda: _rewritten(tmp_path / "appendonly.aof"), 10, "the rewrite")
        assert client.save()
        server.stop(signal.SIGKILL)
        server, client = restart(*flags)
        assert client.fcall("incr", 1, "n") == 2
        server.stop()
        server, client = restart("--dir", str(tmp_path))  # the snapshot, no AOF
        assert [lib[1] for lib in client.function_list()] == [b"persisted"]
        assert client.fcall("incr", 1, "n") == 2
    finally:
        client.close()
        server.stop()
