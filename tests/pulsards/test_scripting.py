"""Scripting (EVAL, EVALSHA, SCRIPT) on pulsards, compared with a real Redis.

The scripts are compared with a redis-server of the session's own
(``private_redis``): a script's errors are an easy way to crash Redis 7.0
(``error({})`` does), and ``SCRIPT FLUSH`` would empty the shared server's
cache under other users.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from typing import Any

import pytest
import redis
from polling import wait_for

import stores
from stores.pulsards.server import Server

from .conftest import ServerProcess, start_pulsards

SETUP: list[tuple[Any, ...]] = [
    ("SET", "s", "abc"), ("SET", "n", "10"), ("RPUSH", "l", "a", "b", "c"),
    ("HSET", "h", "f", "v"), ("ZADD", "z", "1", "a", "2", "b"), ("SADD", "set", "x"),
]

# Each case is one command, run after SETUP on a flushed database.
CASES: list[tuple[Any, ...]] = [
    # replies, Lua to RESP
    ("EVAL", "return 1", 0),
    ("EVAL", "return 3.99", 0),
    ("EVAL", "return -3.99", 0),
    ("EVAL", "return {2^53 + 1, 2^63, -2^63, 1/0, -1/0, 0/0, 1e30}", 0),
    ("EVAL", "return redis.call('incrby', 'n', '9223372036854775797')", 0),
    ("EVAL", "return 'text'", 0),
    ("EVAL", "return true", 0),
    ("EVAL", "return false", 0),
    ("EVAL", "return nil", 0),
    ("EVAL", "return {1, 'two', 3.5, {4, {5}}, false, 6}", 0),
    ("EVAL", "return {1, 2, nil, 4}", 0),
    ("EVAL", "return {}", 0),
    ("EVAL", "return {ok='fine'}", 0),
    ("EVAL", "return {ok='a\\r\\nb'}", 0),
    ("EVAL", "return {err='MYERR custom'}", 0),
    ("EVAL", "return redis.status_reply('STATUS')", 0),
    ("EVAL", "return redis.error_reply('plain')", 0),
    ("EVAL", "return redis.error_reply('-CODE with code')", 0),
    ("EVAL", "return {double=0.1}", 0),
    ("EVAL", "return {map={a=1}}", 0),
    ("EVAL", "return {set={a=true}}", 0),
    ("EVAL", "return redis.sha1hex('')", 0),
    ("EVAL", "return redis.sha1hex(12)", 0),
    # KEYS, ARGV, numkeys
    ("EVAL", "return {KEYS[1], KEYS[2], ARGV[1], #KEYS, #ARGV}", 2, "k1", "k2", "a1"),
    ("EVAL", "return #ARGV", 0, "a", "b", "c"),
    ("EVAL", "return 1", -1),
    ("EVAL", "return 1", 3, "a"),
    ("EVAL", "return 1", "x"),
    # RESP to Lua, through redis.call
    ("EVAL", "return redis.call('get', KEYS[1])", 1, "s"),
    ("EVAL", "return redis.call('get', 'missing')", 0),
    ("EVAL", "return type(redis.call('get', 'missing'))", 0),
    ("EVAL", "return redis.call('incr', 'n')", 0),
    ("EVAL", "return redis.call('lrange', 'l', 0, -1)", 0),
    ("EVAL", "return redis.call('hgetall', 'h')", 0),
    ("EVAL", "return redis.call('zrange', 'z', 0, -1, 'withscores')", 0),
    ("EVAL", "return redis.call('ping')", 0),
    ("EVAL", "return type(redis.call('ping'))", 0),
    ("EVAL", "return redis.call('ping').ok", 0),
    ("EVAL", "return redis.call('SeT', 'k', 'v')", 0),
    ("EVAL", "return redis.call('set', 'k', 1e15) and redis.call('get', 'k')", 0),
    ("EVAL", "return redis.call('set', 'k', 0.1) and redis.call('get', 'k')", 0),
    ("EVAL", "return redis.call('exists', 's', 'missing', 'n')", 0),
    ("EVAL", "redis.setresp(3); return redis.call('hgetall', 'h')", 0),
    ("EVAL", "redis.setresp(3); return redis.call('hgetall', 'h').map.f", 0),
    ("EVAL", "redis.setresp(3); return redis.call('zscore', 'z', 'b')", 0),
    ("EVAL", "redis.setresp(3); return redis.call('zscore', 'z', 'b').double", 0),
    ("EVAL", "redis.setresp(3); return type(redis.call('get', 'missing'))", 0),
    ("EVAL", "redis.setresp(3); return {true, false}", 0),
    ("EVAL", "return {type(true), true}", 0),
    ("EVAL", "return redis.call('blmpop', 0, 1, 'empty', 'left')", 0),
    ("EVAL", "return redis.call('lpop', 'l', 2)", 0),
    # errors: from commands, from the script, from the library
    ("EVAL", "return redis.call('incr', 's')", 0),
    ("EVAL", "return redis.call('lpush', 's', 1)", 0),
    ("EVAL", "local x = 1\nreturn redis.call('incr', 's')", 0),
    ("EVAL", "return redis.pcall('incr', 's')", 0),
    ("EVAL", "local ok, e = pcall(redis.call, 'incr', 's'); return {tostring(ok), type(e), e}", 0),
    ("EVAL", "return {pcall(error, {err='E caught'})}", 0),
    ("EVAL", "return redis.call('nosuch')", 0),
    ("EVAL", "return redis.call('get')", 0),
    ("EVAL", "return redis.call()", 0),
    ("EVAL", "return redis.call('get', {})", 0),
    ("EVAL", "return redis.call('blpop', 'l', 0)", 0),
    ("EVAL", "return redis.call('xread', 'block', 0, 'streams', 's', '$')", 0),
    ("EVAL", "return redis.pcall('xread', 'count', 1, 'block', 0, 'streams', 'x', '$')", 0),
    ("EVAL", "redis.call('xadd', 'x', '1-1', 'f', 'v') "
             "return redis.call('xread', 'streams', 'x', 0)", 0),
    ("EVAL", "return redis.call('eval', 'return 1', 0)", 0),
    ("EVAL", "return redis.call('multi')", 0),
    ("EVAL", "return redis.call('subscribe', 'c')", 0),
    ("EVAL", "return redis.call('client', 'list')", 0),
    ("EVAL", "return nil + 1", 0),
    ("EVAL", "error('boom')", 0),
    ("EVAL", "error('ERR boom', 0)", 0),
    ("EVAL", "local a = 1\nlocal b = 2\nerror('line three')", 0),
    ("EVAL", "error({err='MYERR raised'})", 0),
    ("EVAL", "error(nil)", 0),
    ("EVAL", "error({err=5})", 0),
    ("EVAL", "return redis.setresp(4)", 0),
    ("EVAL", "return redis.log(1)", 0),
    ("EVAL", "return (", 0),
    ("EVAL", "return undefined_name", 0),
    ("EVAL", "x = 1", 0),
    ("EVAL", "redis.call = nil", 0),
    ("EVAL", "string.rep = nil", 0),
    ("EVAL", "return os", 0),
    ("EVAL", "return io", 0),
    # the standard library Redis loads
    ("EVAL", "return string.rep('ab', 3) .. string.format('%05.1f', 3.14159)", 0),
    ("EVAL", "return table.concat({1, 2, 3}, ',')", 0),
    ("EVAL", "return math.floor(2.5) + math.max(1, 7)", 0),
    ("EVAL", "return tonumber('12') + #tostring(123)", 0),
    ("EVAL", "local t = {3, 1, 2}; table.sort(t); return t", 0),
    ("EVAL", "return {string.byte('A'), string.char(66), ('abc'):upper()}", 0),
    # cjson
    ("EVAL", "return cjson.encode({1, 2, 'a/b', true, false})", 0),
    ("EVAL", "return cjson.encode({a={b={}}})", 0),
    ("EVAL", "return cjson.encode({0.1, 1e20, 3, -2.5, 1/3})", 0),
    ("EVAL", "return cjson.encode('q\"uote\\\\ \\n \\1')", 0),
    ("EVAL", "return cjson.encode({[1]=1, [3]=3})", 0),
    ("EVAL", "return cjson.encode({[1]=1, [30]=3})", 0),
    ("EVAL", "return cjson.encode(cjson.null)", 0),
    ("EVAL", "return cjson.encode(function() end)", 0),
    ("EVAL", "return cjson.encode(1/0)", 0),
    ("EVAL", "local t = cjson.decode('{\"a\":[1,2,{\"b\":null}],\"c\":\"\\\\u00e9\"}') "
             "return {t.a[1], t.a[2], type(t.a[3].b), t.c, tostring(t.a[3].b == cjson.null)}", 0),
    ("EVAL", "return cjson.decode('[1,2,3]')", 0),
    ("EVAL", "return cjson.encode(cjson.decode('{\"k\":[true,{\"x\":\"y\"}]}'))", 0),
    ("EVAL", "local ok, e = pcall(cjson.encode, function() end); return e", 0),
    ("EVAL", "local t = {} local c = t for i = 1, 900 do c[1] = {} c = c[1] end "
             "return #cjson.encode(t)", 0),
    ("EVAL", "local t = {} local c = t for i = 1, 1001 do c[1] = {} c = c[1] end "
             "return cjson.encode(t)", 0),
    ("EVAL", "return type(cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000)))", 0),
    ("EVAL", "local t = {} local c = t for i = 1, 400 do c[1] = {} c = c[1] end return t", 0),
    # Redis' rand48 for math.random; the EVAL shebang; arguments of the helpers
    ("EVAL", "math.randomseed(5) return {math.random(1000), math.random(3, 9), "
             "tostring(math.random())}", 0),
    ("EVAL", "return math.random(0)", 0), ("EVAL", "return math.random(5, 1)", 0),
    ("EVAL", "return math.random(1, 2, 3)", 0), ("EVAL", "return math.random('x')", 0),
    ("EVAL", "#!lua flags=no-writes\nreturn redis.call('set', 'x', '1')", 0),
    ("EVAL", "#!lua flags=no-writes,allow-stale\nreturn redis.call('get', 's')", 0),
    ("EVAL", "#!lua\nerror('l2')", 0), ("EVAL", "#!lua flags=bogus\nreturn 1", 0),
    ("EVAL", "#!python\nreturn 1", 0), ("EVAL", "#!lua name=x\nreturn 1", 0),
    ("EVAL", "return redis.error_reply(1)", 0), ("EVAL", "return redis.error_reply('x\r\n')", 0),
    ("EVAL", "return redis.status_reply(1)", 0),
    # a script's tables and functions: metatables run no code in the conversion
    ("EVAL", "return type(redis.call)", 0),
    ("EVAL", "return tostring(getmetatable(redis.call))", 0),
    ("EVAL", "return setmetatable({}, {__index=function(t, k) return 'x' end})", 0),
    ("EVAL", "return setmetatable({}, {__index=function() foo() end})", 0),
    ("EVAL", "return setmetatable({1, 2}, {__index=function() redis.call('ping') end})", 0),
    ("EVAL", "local ok, e = xpcall(function() redis.call('nosuch') end, "
             "function(e) return type(e) .. ':' .. e.err end) return e", 0),
    # read-only scripts, the cache
    ("EVAL_RO", "return redis.call('get', 's')", 0),
    ("EVAL_RO", "return redis.call('set', 's', 'x')", 0),
    ("EVALSHA", "0" * 40, 0),
    ("EVALSHA", "short", 0),
    ("SCRIPT", "LOAD", "return 'loaded'"),
    ("SCRIPT", "LOAD", "return ("),
    ("SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0" * 40),
    ("SCRIPT", "FLUSH", "BOGUS"),
    ("SCRIPT", "KILL"),
]


def outcome(client: redis.Redis, command: tuple[Any, ...]) -> Any:
    try:
        return typed(client.execute_command(*command))
    except redis.ResponseError as exc:
        return ("error", str(exc))


def typed(reply: Any) -> Any:
    """``reply`` with booleans told from integers (True == 1 in Python)."""
    if isinstance(reply, bool):
        return ("bool", reply)
    if isinstance(reply, list):
        return [typed(item) for item in reply]
    return reply


def play(address: tuple[str, int], protocol: int) -> list[Any]:
    with redis.Redis(*address, db=12, protocol=protocol) as client:
        client.response_callbacks.clear()  # compare the raw replies
        client.script_flush()
        results = []
        for command in CASES:
            client.flushdb()
            for setup in SETUP:
                client.execute_command(*setup)
            results.append((command, outcome(client, command)))
        client.flushdb()
        return results


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_scripts_answer_as_on_redis(private_redis: tuple[str, int], pulsards: ServerProcess,
                                    protocol: int) -> None:
    real = play(private_redis, protocol)
    ours = play((pulsards.host, pulsards.port), protocol)
    wrong = [f"{command!r}: pulsards {o!r} != redis {r!r}"
             for (command, r), (_, o) in zip(real, ours, strict=True) if r != o]
    assert not wrong, "\n".join(wrong)


def test_evalsha_runs_what_eval_and_script_load_cached(rp: redis.Redis) -> None:
    sha = rp.script_load("return ARGV[1] .. '!'")
    assert rp.evalsha(sha, 0, "hi") == b"hi!"
    assert rp.evalsha(sha.upper(), 0, "up") == b"up!"  # case does not matter
    assert rp.eval("return 7", 0) == 7
    assert rp.script_exists(sha, "e8a2ff5b5d5a3e2ab0e7c2e1fe1d9e1ac28e9b4d") == [True, False]
    assert rp.evalsha(hashlib.sha1(b"return 7").hexdigest(), 0) == 7  # EVAL cached it
    assert rp.script_flush() is True
    assert rp.script_exists(sha) == [False]
    with pytest.raises(redis.exceptions.NoScriptError):
        rp.evalsha(sha, 0, "gone")


def test_redis_py_lock_and_registered_scripts_work(rp: redis.Redis) -> None:
    lock = rp.lock("resource", timeout=5)
    assert lock.acquire(blocking=False)
    assert not rp.lock("resource").acquire(blocking=False)
    assert lock.extend(5)  # a Lua script
    lock.release()  # a Lua script: EVALSHA, EVAL when the cache misses
    assert rp.get("resource") is None
    rp.script_flush()
    counter = rp.register_script("return redis.call('incrby', KEYS[1], ARGV[1])")
    assert counter(keys=["c"], args=[5]) == 5  # NOSCRIPT, then EVAL
    assert counter(keys=["c"], args=[2]) == 7  # EVALSHA


def test_a_script_runs_in_the_callers_database_and_leaves_it_there(
        pulsards: ServerProcess) -> None:
    with redis.Redis(port=pulsards.port, db=3) as client:
        assert client.eval("redis.call('set', KEYS[1], 'here'); "
                           "redis.call('select', 5); redis.call('set', KEYS[1], 'there'); "
                           "return redis.call('get', KEYS[1])", 1, "k") == b"there"
        assert client.get("k") == b"here"  # still database 3 for the caller
    with redis.Redis(port=pulsards.port, db=5) as other:
        assert other.get("k") == b"there"


def test_a_script_in_multi_runs_at_exec_and_wakes_blocked_pops(
        pulsards: ServerProcess) -> None:
    with redis.Redis(port=pulsards.port) as client, redis.Redis(port=pulsards.port) as waiter:
        pipe = client.pipeline(transaction=True)
        pipe.set("a", "1")
        pipe.eval("return redis.call('incr', KEYS[1])", 1, "a")
        assert pipe.execute() == [True, 2]
        # A push made by a script wakes a client blocked on the list.
        result: list[Any] = []
        thread = threading.Thread(target=lambda: result.append(waiter.blpop(["q"], 5)))
        thread.start()
        wait_for(lambda: b"cmd=blpop" in client.execute_command("CLIENT", "LIST"),
                 what="the BLPOP parked")
        client.eval("redis.call('rpush', KEYS[1], 'job')", 1, "q")
        thread.join(5)
        assert result == [(b"q", b"job")]


def test_a_script_that_does_not_end_is_ended_and_the_server_goes_on(
        pulsards: ServerProcess) -> None:
    with redis.Redis(port=pulsards.port) as client:
        client.config_set("busy-reply-threshold", 200)
        try:
            started = time.monotonic()
            with pytest.raises(redis.ResponseError, match="Script killed"):
                client.eval("while true do end", 0)
            assert time.monotonic() - started < 5
            assert client.ping()
        finally:
            client.config_set("busy-reply-threshold", 5000)


def test_an_error_table_without_text_is_an_error(rp: redis.Redis) -> None:
    # Redis 7.0.15 crashes on these (not compared with it): pulsards answers.
    for script in ("error({})", "error({x=1})", "error({err={}})"):
        with pytest.raises(redis.ResponseError, match=r"^table: 0x"):
            rp.eval(script, 0)
    assert rp.ping()


def test_a_busy_script_is_ended_through_pcall_and_xpcall(pulsards: ServerProcess) -> None:
    with redis.Redis(port=pulsards.port) as client:
        client.config_set("busy-reply-threshold", 100)
        try:
            for script in ("while true do pcall(function() while true do end end) end",
                           "while true do xpcall(function() while true do end end, "
                           "function(e) return e end) end"):
                with pytest.raises(redis.ResponseError, match="Script killed"):
                    client.eval(script, 0)
            assert client.ping()
        finally:
            client.config_set("busy-reply-threshold", 5000)


def test_a_script_cannot_change_what_the_next_one_sees(rp: redis.Redis) -> None:
    for script in ("getmetatable(redis.call).__call = 1",
                   "local ok, e = xpcall(function() redis.call('nosuch') end, "
                   "function(e) return e end) getmetatable(e).__index = nil",
                   "local ok, e = pcall(redis.call, 'nosuch') getmetatable(e).__index = nil",
                   "math.random = nil", "redis.call = nil", "cjson.null = 1"):
        with pytest.raises(redis.ResponseError):
            rp.eval(script, 0)
    assert rp.eval("return redis.call('ping')", 0) == b"PONG"
    assert rp.eval("return type(math.random())", 0) == b"number"


def test_scripts_cannot_reach_python_or_the_os(rp: redis.Redis) -> None:
    for script in ("return redis.call.__self__", "return redis.call.__class__",
                   "return loadstring('return 1')()", "return rawset(_G, 'x', 1)",
                   "return require('os')", "return debug.getinfo(1)",
                   "return getfenv(1)", "return newproxy(true)"):
        with pytest.raises(redis.ResponseError):
            rp.eval(script, 0)
    assert rp.eval("return tostring(getmetatable(''))", 0) == b"false"
    # One script cannot change what the next one sees.
    with pytest.raises(redis.ResponseError, match="readonly table"):
        rp.eval("string.upper = nil", 0)
    assert rp.eval("return ('a'):upper()", 0) == b"A"


def test_script_writes_reach_the_aof_as_one_transaction(tmp_path: Any) -> None:
    server = start_pulsards("--appendonly", "yes", "--appendfsync", "always",
                            "--dir", str(tmp_path))
    try:
        with redis.Redis(port=server.port) as client:
            client.eval("redis.call('set', KEYS[1], '1'); redis.call('rpush', KEYS[2], 'x')",
                        2, "a", "b")
            client.eval("return redis.call('get', KEYS[1])", 1, "a")  # writes nothing
    finally:
        assert server.stop() == 0
    files = [p for p in tmp_path.rglob("*") if p.is_file() and b"rpush" in p.read_bytes().lower()]
    data = files[0].read_bytes()
    assert b"EVAL" not in data.upper().replace(b"EXEC", b"")
    assert data.count(b"MULTI") == 1 and data.count(b"EXEC") == 1
    again = start_pulsards("--appendonly", "yes", "--dir", str(tmp_path))
    try:
        with redis.Redis(port=again.port) as client:
            assert client.get("a") == b"1" and client.lrange("b", 0, -1) == [b"x"]
    finally:
        assert again.stop() == 0


class _Transport:
    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1)

    def close(self) -> None:
        pass


async def test_without_lupa_scripting_commands_say_what_is_missing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from stores.pulsards.protocol import Client

    monkeypatch.setitem(sys.modules, "lupa", None)  # import lupa raises ImportError
    server = Server()
    client = Client(server)
    transport = _Transport()
    client.connection_made(transport)  # type: ignore[arg-type]
    client.data_received(b"EVAL \"return 1\" 0\r\nPING\r\n")
    server.write_pending()
    assert transport.data == (b"-ERR scripting needs the lupa package: "
                              b"pip install 'arbiter-stores[lua]'\r\n+PONG\r\n")


async def test_our_client_runs_scripts_and_locks_on_pulsards(pulsards: ServerProcess) -> None:
    store = stores.create_store(f"pulsar://127.0.0.1:{pulsards.port}/0")
    try:
        c = store.client()
        script = c.register_script("return redis.call('incrby', KEYS[1], ARGV[1])")
        assert await script(keys=["n"], args=[5]) == 5  # NOSCRIPT, then EVAL
        assert await script(keys=["n"], args=[1]) == 6  # EVALSHA
        async with c.lock("resource", timeout=5) as lock:
            assert await lock.locked()
            await lock.extend(5)  # a script too
        assert await store.execute("EXISTS", "resource") == 0
    finally:
        await store.close()
