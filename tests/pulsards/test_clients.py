"""pulsards driven by three independent clients: ours, redis-py and redis-cli."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import subprocess
import threading
import time
from typing import Any

import pytest
import redis
from polling import wait_for
from redis.backoff import NoBackoff
from redis.retry import Retry

import stores
from stores import create_store
from stores.pulsards import PulsarStore
from stores.redis.commands import COMMANDS

from .conftest import ServerProcess, start_pulsards

pytestmark = pytest.mark.timeout(30)

# redis-py retries connection errors (AUTH failures included) with backoff by default.
NO_RETRY = Retry(NoBackoff(), 0)


# ------------------------------------------------------------- our client
async def test_our_client(pulsards: ServerProcess) -> None:
    store = create_store(f"pulsar://127.0.0.1:{pulsards.port}/3")
    assert isinstance(store, PulsarStore)
    try:
        c = store.client()
        assert await store.ping()
        assert await c.set("k", "v", ex=100) is True
        assert await c.get("k") == b"v"
        assert 0 < await c.ttl("k") <= 100
        assert await c.incrby("n", 5) == 5
        assert await c.rpush("l", "a", "b", "c") == 3
        assert await c.lrange("l", 0, -1) == [b"a", b"b", b"c"]
        assert await c.hset("h", "f", "1") == 1
        assert await c.hgetall("h") == {b"f": b"1"}
        assert await c.sadd("s", "x", "y") == 2
        assert await c.smembers("s") == {b"x", b"y"}
        assert await c.dbsize() == 5
        with pytest.raises(stores.ResponseError, match="WRONGTYPE"):
            await c.get("l")
        pipe = c.pipeline()
        for i in range(50):
            pipe.set(f"p{i}", i)
        pipe.get("p7")
        assert (await pipe.commit())[-1] == b"7"
        async with c.pipeline(transaction=True) as tx:
            tx.incr("n")
            tx.incr("n")
            assert await tx.commit() == [6, 7]
    finally:
        await store.close()
    # The store used database 3: db 0 is empty.
    assert redis.Redis(port=pulsards.port).dbsize() == 0


async def test_our_client_watch_conflict(pulsards: ServerProcess) -> None:
    store = create_store(f"pulsar://127.0.0.1:{pulsards.port}/0")
    other = redis.Redis(port=pulsards.port)
    try:
        c = store.client()
        await c.set("balance", 10)
        attempts = 0

        async def spend(pipe: Any) -> None:
            nonlocal attempts
            attempts += 1
            value = int(await pipe.immediate.get("balance"))
            if attempts == 1:
                other.set("balance", 100)  # a concurrent writer breaks the first try
            pipe.set("balance", value - 1)

        assert await c.transaction(spend, "balance") == [True]
        assert attempts == 2
        assert await c.get("balance") == b"99"
    finally:
        other.close()
        await store.close()


# ---------------------------------------------------------------- redis-py
def test_redis_py_families(rp: redis.Redis) -> None:
    assert rp.ping()
    assert rp.set("a", "1") and rp.get("a") == b"1"
    rp.mset({"x": "1", "y": "2"})
    assert rp.mget("x", "y", "z") == [b"1", b"2", None]
    pipe = rp.pipeline()  # MULTI/EXEC by default in redis-py
    pipe.incr("x").incrbyfloat("y", 0.5).lpush("q", "a", "b").hset("h", mapping={"f": "v"})
    assert pipe.execute() == [2, 2.5, 2, 1]
    assert rp.hgetall("h") == {b"f": b"v"}
    assert sorted(rp.scan_iter(match="*")) == [b"a", b"h", b"q", b"x", b"y"]
    assert rp.type("q") == b"list"
    assert rp.client_setname("tester") and rp.client_getname() == "tester"
    assert any(c["name"] == "tester" for c in rp.client_list())
    info = rp.info()
    assert info["redis_version"] == "7.0.15" and info["connected_clients"] >= 1
    assert rp.info("keyspace") == {"db0": {"keys": 5, "expires": 0, "avg_ttl": 0}}
    assert rp.config_get("maxclients") == {"maxclients": "10000"}
    assert rp.config_set("timeout", 0)
    with pytest.raises(redis.ResponseError, match="immutable"):
        rp.config_set("databases", 4)


def test_scan_returns_every_key_once_with_writes_between(rp: redis.Redis) -> None:
    rp.mset({f"key:{i}": i for i in range(500)})
    rp.rpush("other", "x")
    seen: list[bytes] = []
    cursor = 0
    while True:
        cursor, keys = rp.scan(cursor, match="key:*", count=37)
        seen.extend(keys)
        rp.set(f"new:{len(seen)}", 1)  # keys added meanwhile may or may not show
        if cursor == 0:
            break
    assert sorted(seen) == sorted(f"key:{i}".encode() for i in range(500))
    assert list(rp.scan_iter(_type="list")) == [b"other"]


def test_command_list_is_redis_list_of_what_pulsards_implements(
        private_redis: tuple[str, int], pulsards: Any) -> None:
    """COMMAND LIST (subcommands included) and its filters give Redis' names,
    less the commands pulsards does not have."""
    address = (pulsards.host, pulsards.port)
    real = redis.Redis(*private_redis)
    ours = redis.Redis(*address)
    try:
        ours_all = set(ours.command_list())
        assert b"client|list" in ours_all and b"get" in ours_all
        assert ours_all <= set(real.command_list())
        for filters in [{"pattern": "xgroup*"}, {"pattern": "CLIENT|*"},
                        {"category": "hyperloglog"}, {"category": "Keyspace"},
                        {"category": "nosuch"}, {"module": "x"}]:
            assert set(ours.command_list(**filters)) == \
                set(real.command_list(**filters)) & ours_all, filters
    finally:
        real.close()
        ours.close()


def test_info_sections_and_cpu_as_redis(private_redis: tuple[str, int], pulsards: Any,
                                       rp: redis.Redis) -> None:
    """INFO's sections are Redis' (but the per-command and per-error counters,
    which pulsards does not keep), CPU times included."""
    with redis.Redis(*private_redis) as real, \
            redis.Redis(pulsards.host, pulsards.port) as raw:
        real.response_callbacks.clear()  # the text, not redis-py's dict
        raw.response_callbacks.clear()
        for section in ("default", "everything"):
            theirs = [line for line in real.execute_command("INFO", section).splitlines()
                      if line.startswith(b"# ")]
            ours = [line for line in raw.execute_command("INFO", section).splitlines()
                    if line.startswith(b"# ")]
            not_kept = {b"# Commandstats", b"# Errorstats", b"# Latencystats"}
            assert ours == [name for name in theirs if name not in not_kept]
        fields = [{line.split(b":")[0] for line in client.execute_command("INFO", "cpu")
                   .splitlines()[1:] if line} for client in (real, raw)]
        assert fields[1] == fields[0]
    cpu = rp.info("cpu")
    assert cpu["used_cpu_user"] > 0 and cpu["used_cpu_user_main_thread"] <= cpu["used_cpu_user"]
    assert rp.info("cluster") == {"cluster_enabled": 0}


def test_client_list_names_commands_as_redis(private_redis: tuple[str, int],
                                             pulsards: Any) -> None:
    """``cmd=``: a subcommand as ``config|get``; the caller's own, the
    CLIENT LIST or INFO it is running."""
    seen = []
    for address in (private_redis, (pulsards.host, pulsards.port)):
        with redis.Redis(*address) as one, redis.Redis(*address) as two:
            one.config_get("port")
            own = one.client_id()
            one.client_getname()
            lines = {c["id"]: c["cmd"] for c in two.client_list()}
            seen.append([lines[str(own)], lines[str(two.client_id())],
                         two.client_info()["cmd"]])
    assert seen[1] == seen[0] == ["client|getname", "client|list", "client|info"]


def test_command_table_is_the_shared_one(rp: redis.Redis) -> None:
    from stores.pulsards.table import implemented

    count = rp.command_count()
    assert count == len(implemented()) > 100
    info = rp.execute_command("COMMAND", "INFO", "mset", "blpop")
    assert info["mset"]["arity"] == COMMANDS["MSET"].arity
    assert info["blpop"]["last_key_pos"] == COMMANDS["BLPOP"].last_key
    assert rp.command_getkeys("MSET", "a", "1", "b", "2") == ["a", "b"]


def test_expiry_lazy_and_active(rp: redis.Redis) -> None:
    rp.set("lazy", "v", px=50)
    rp.set("keep", "v")
    for i in range(200):
        rp.set(f"active:{i}", "v", px=60)
    time.sleep(0.1)
    assert rp.get("lazy") is None  # expired on access
    deadline = time.monotonic() + 3
    while rp.dbsize() > 1 and time.monotonic() < deadline:
        time.sleep(0.05)  # the active cycle removes the rest without any access
    assert rp.dbsize() == 1
    assert rp.info("stats")["expired_keys"] >= 200


# ---------------------------------------------------------------- blocking
def test_blocking_pops_fifo_and_timeouts(pulsards: ServerProcess) -> None:
    results: dict[str, Any] = {}

    def waiter(name: str, timeout: float) -> None:
        client = redis.Redis(port=pulsards.port)
        results[name] = client.blpop(["q1", "q2"], timeout=timeout)
        client.close()

    first = threading.Thread(target=waiter, args=("first", 5))
    first.start()
    control = redis.Redis(port=pulsards.port)
    _wait_blocked(control, 1)
    second = threading.Thread(target=waiter, args=("second", 5))
    second.start()
    _wait_blocked(control, 2)
    assert control.info("clients")["blocked_clients"] == 2
    # One push of two elements inside MULTI/EXEC serves both, oldest first.
    pipe = control.pipeline(transaction=True)
    pipe.rpush("q2", "a", "b")
    pipe.execute()
    first.join(5)
    second.join(5)
    assert results == {"first": (b"q2", b"a"), "second": (b"q2", b"b")}
    start = time.monotonic()
    assert control.brpop(["nothing"], timeout=0.2) is None
    assert 0.15 < time.monotonic() - start < 2
    assert control.exists("q2") == 0
    # BLMOVE is woken by a push and moves the element.
    mover = threading.Thread(target=lambda: results.update(
        moved=redis.Redis(port=pulsards.port).blmove("src", "dst", 5)))
    mover.start()
    _wait_blocked(control, 1)
    control.lpush("src", "x")
    mover.join(5)
    assert results["moved"] == b"x" and control.lrange("dst", 0, -1) == [b"x"]
    control.close()


def _wait_blocked(client: redis.Redis, count: int) -> None:
    deadline = time.monotonic() + 5
    while client.info("clients")["blocked_clients"] < count:
        assert time.monotonic() < deadline, "client did not block"
        time.sleep(0.01)


def test_disconnected_waiter_is_forgotten(pulsards: ServerProcess) -> None:
    import socket

    sock = socket.create_connection((pulsards.host, pulsards.port))
    sock.sendall(b"BLPOP gone 0\r\n")
    control = redis.Redis(port=pulsards.port)
    _wait_blocked(control, 1)
    sock.close()
    deadline = time.monotonic() + 5
    while control.info("clients")["blocked_clients"]:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert control.rpush("gone", "v") == 1 and control.llen("gone") == 1
    control.close()


# ---------------------------------------------------------------- redis-cli
needs_cli = pytest.mark.skipif(shutil.which("redis-cli") is None, reason="no redis-cli")


def cli(port: int, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(["redis-cli", "-p", str(port), *args], input=stdin,
                          capture_output=True, text=True, timeout=10)
    return done.stdout


@needs_cli
def test_redis_cli(pulsards: ServerProcess) -> None:
    port = pulsards.port
    assert cli(port, "PING") == "PONG\n"
    assert cli(port, "SET", "greeting", "hello world") == "OK\n"
    assert cli(port, "GET", "greeting") == "hello world\n"
    assert cli(port, "RPUSH", "l", "a", "b") == "2\n"
    assert cli(port, "LRANGE", "l", "0", "-1") == "a\nb\n"
    assert cli(port, "GET", "l").startswith("WRONGTYPE")
    assert cli(port, "NOSUCH").startswith("ERR unknown command 'NOSUCH', with args beginning")
    assert cli(port, "-n", "2", "INCR", "c") == "1\n"
    # Piped commands go as one batch (--pipe mode speaks raw RESP).
    out = cli(port, "--pipe", stdin="SET a 1\r\nINCR a\r\nGET a\r\n")
    assert "errors: 0, replies: 3" in out
    assert cli(port, "GET", "a") == "2\n"


# ------------------------------------------------------ own server processes
def test_requirepass_and_auth() -> None:
    server = start_pulsards("--requirepass", "s3cret")
    try:
        plain = redis.Redis(port=server.port, retry=NO_RETRY)
        with pytest.raises(redis.AuthenticationError):
            plain.get("x")
        good = redis.Redis(port=server.port, password="s3cret")
        assert good.set("x", "1")
        named = redis.Redis(port=server.port, username="default", password="s3cret")
        assert named.get("x") == b"1"
        resp3 = redis.Redis(port=server.port, password="s3cret", protocol=3)
        assert resp3.get("x") == b"1"
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=server.port, password="wrong", retry=NO_RETRY).ping()
        import socket

        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            # Unauthenticated clients may not send big requests (Redis' limits).
            sock.sendall(b"*20\r\n")
            assert sock.recv(100) == b"-ERR Protocol error: unauthenticated multibulk length\r\n"
        for client in (plain, good, named, resp3):
            client.close()
    finally:
        assert server.stop() == 0


def test_cli_flags_sigint_and_maxclients() -> None:
    server = start_pulsards("--databases", "2", "--maxclients", "2", "--bind", "127.0.0.1")
    try:
        first = redis.Redis(port=server.port)
        assert first.config_get("databases") == {"databases": "2"}
        with pytest.raises(redis.ResponseError, match="out of range"):
            first.execute_command("SELECT", "2")
        second = redis.Redis(port=server.port, single_connection_client=True)
        assert second.ping()
        third = redis.Redis(port=server.port, retry=NO_RETRY)
        with pytest.raises(redis.ConnectionError, match="max number of clients"):
            third.ping()
        for client in (first, second, third):
            client.close()
    finally:
        assert server.stop(signal.SIGINT) == 0  # Ctrl-C exits cleanly too


def test_sigterm_with_clients_connected_and_blocked() -> None:
    server = start_pulsards()
    clients = [redis.Redis(port=server.port) for _ in range(3)]
    for c in clients:
        c.ping()
    import socket

    blocked = socket.create_connection(("127.0.0.1", server.port))
    blocked.sendall(b"BLPOP never 0\r\n")
    wait_for(lambda: clients[0].info("clients")["blocked_clients"] == 1,
             what="the BLPOP blocked")
    start = time.monotonic()
    assert server.stop(signal.SIGTERM) == 0
    assert time.monotonic() - start < 5
    assert blocked.recv(10) == b""  # closed by the server
    blocked.close()
    for c in clients:
        c.close()


async def test_in_process_server_with_asyncio() -> None:
    from stores.pulsards.config import Config
    from stores.pulsards.server import Server

    async with Server(Config(port=0)) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"SET a 1\r\nGET a\r\nCLIENT ID\r\nQUIT\r\n")
        assert await reader.read() == b"+OK\r\n$1\r\n1\r\n:1\r\n+OK\r\n"
        writer.close()


def test_client_kill_reset_quit_and_idle_timeout(pulsards: ServerProcess) -> None:
    import socket

    admin = redis.Redis(port=pulsards.port)
    victim = socket.create_connection((pulsards.host, pulsards.port))
    victim.sendall(b"CLIENT SETNAME victim\r\nCLIENT ID\r\n")
    reply = victim.recv(100)
    victim_id = int(reply.split(b":")[1].split(b"\r\n")[0])
    assert admin.client_kill_filter(_id=victim_id) == 1
    assert victim.recv(100) == b""
    victim.close()
    with socket.create_connection((pulsards.host, pulsards.port)) as sock:
        sock.sendall(b"SELECT 3\r\nHELLO 3\r\nCLIENT SETNAME x\r\nRESET\r\nCLIENT INFO\r\n"
                     b"QUIT\r\nPING\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    assert b"+RESET\r\n" in data and b" db=0 " in data and b" resp=2" in data
    assert b" name= " in data and data.endswith(b"+OK\r\n")  # nothing after QUIT
    try:
        admin.config_set("timeout", 1)
        idle = socket.create_connection((pulsards.host, pulsards.port))
        idle.settimeout(5)
        start = time.monotonic()
        assert idle.recv(10) == b""  # closed by the server's cron
        assert 0.5 < time.monotonic() - start < 4
        idle.close()
    finally:
        admin.config_set("timeout", 0)
        admin.close()


async def test_a_client_not_reading_replies_is_paused() -> None:
    import socket

    from stores.pulsards.config import Config
    from stores.pulsards.server import Server

    async with Server(Config(port=0)) as server:
        server.keyspace[0].data[b"k"] = b"x" * 1000
        flood = socket.create_connection(("127.0.0.1", server.port))
        flood.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        requests = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n" * 50000  # 50 MB of replies
        sender = threading.Thread(target=lambda: _send_quietly(flood, requests), daemon=True)
        sender.start()
        deadline = time.monotonic() + 5
        while not server.clients or next(iter(server.clients.values())).transport.is_reading():
            assert time.monotonic() < deadline, "the server kept reading"
            await asyncio.sleep(0.01)
        processed = server.stats.commands
        await asyncio.sleep(0.2)
        assert server.stats.commands == processed < 50000  # nothing read while paused
        flood.close()


def _send_quietly(sock: Any, data: bytes) -> None:
    with contextlib.suppress(OSError):  # closed by the test
        sock.sendall(data)


# ------------------------------------------------------------------ pub/sub
@pytest.mark.parametrize("protocol", [2, 3])
def test_pubsub_with_redis_py(either: tuple[str, int], protocol: int) -> None:
    host, port = either
    publisher = redis.Redis(host, port, protocol=protocol)
    sub = redis.Redis(host, port, protocol=protocol).pubsub()
    sub.subscribe("pds:news")
    sub.psubscribe("pds:n*")
    assert sub.get_message(timeout=1)["type"] == "subscribe"
    assert sub.get_message(timeout=1)["type"] == "psubscribe"
    assert publisher.publish("pds:news", "hello") == 2
    got = [sub.get_message(timeout=1) for _ in range(2)]
    assert {(m["type"], m["channel"], m["data"]) for m in got} == {
        ("message", b"pds:news", b"hello"), ("pmessage", b"pds:news", b"hello")}
    assert publisher.pubsub_numsub("pds:news") == [(b"pds:news", 1)]
    assert publisher.pubsub_numpat() >= 1
    sub.unsubscribe()
    sub.punsubscribe()
    sub.close()
    publisher.close()


async def test_pubsub_with_our_store(pulsards: ServerProcess) -> None:
    store = create_store(f"pulsar://127.0.0.1:{pulsards.port}/0")
    try:
        pubsub = store.pubsub()
        received: list[Any] = []
        done = asyncio.Event()

        def listener(channel: Any, message: Any) -> None:
            received.append((channel, message))
            done.set()

        pubsub.add_client(listener)
        await pubsub.subscribe("pds:events")
        counts = await pubsub.count("pds:events")
        assert list(counts.values()) == [1]
        assert await pubsub.publish("pds:events", "ping") == 1
        await asyncio.wait_for(done.wait(), 5)
        assert received and received[0][1] in (b"ping", "ping")
        await pubsub.unsubscribe()
        await pubsub.close()
    finally:
        await store.close()


async def test_slow_subscriber_is_disconnected(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from stores.pulsards.commands import pubsub
    from stores.pulsards.config import Config
    from stores.pulsards.server import Server

    monkeypatch.setattr(pubsub, "PUBSUB_OUTPUT_LIMIT", 256 * 1024)
    async with Server(Config(port=0)) as server:
        slow = socket.create_connection(("127.0.0.1", server.port))
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.sendall(b"SUBSCRIBE pds:firehose\r\n")
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        while not server.channels:
            await asyncio.sleep(0.01)
        payload = b"x" * 10000
        for _ in range(3000):  # up to 30 MB to a subscriber that reads nothing
            writer.write(b"PUBLISH pds:firehose " + payload + b"\r\n")
            await writer.drain()
            if not server.channels:
                break
        deadline = asyncio.get_running_loop().time() + 5
        while server.channels:  # unsubscribed because disconnected
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        writer.write(b"PING\r\n")
        await asyncio.wait_for(reader.readuntil(b"+PONG\r\n"), 5)  # the publisher is fine
        writer.close()
        slow.close()


@pytest.mark.parametrize("container", ["CLIENT", "COMMAND", "CONFIG", "MEMORY", "PUBSUB",
                                       "SCRIPT", "OBJECT", "XGROUP", "XINFO"])
def test_help_lists_every_subcommand(rp: redis.Redis, container: str) -> None:
    """The errors for unknown subcommands say "Try <X> HELP": it answers, and
    names every subcommand pulsards has."""
    from stores.pulsards.table import build_dispatch

    conn = rp.connection_pool.get_connection()
    try:  # the raw reply: redis-py parses COMMAND's as command descriptions
        conn.send_command(container, "HELP")
        lines = [line.decode() for line in conn.read_response()]
    finally:
        rp.connection_pool.release(conn)
    assert lines[0].startswith(f"{container} <subcommand>")
    named = {line.split()[0] for line in lines[1:] if not line.startswith(" ")}
    implemented = {sub.decode() for sub in build_dispatch()[container.encode()].subcommands}
    assert implemented <= named
