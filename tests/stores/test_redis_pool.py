"""Connections and the pool against the real Redis (and tiny misbehaving servers).

Connections are found on the shared server by a unique ``client_name`` and
killed by id only, so other users of that server are never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from polling import until, wait_blocked

import stores
from stores import create_store
from stores.redis import RedisStore

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


class FakeServer:
    """A TCP server on 127.0.0.1 with a test-defined ``handler(reader, writer, n)``.

    ``n`` counts connections from 0; ``eof`` gets the index of every
    connection whose client closed its side.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.port = 0
        self.accepted = 0
        self.eof: list[int] = []
        self._server: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._writers: list[asyncio.StreamWriter] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.append(task)
        self._writers.append(writer)
        n = self.accepted
        self.accepted += 1
        with contextlib.suppress(ConnectionError):
            await self.handler(reader, writer, n)
            while await reader.read(65536):  # drain until the client closes
                pass
            self.eof.append(n)

    async def __aenter__(self) -> FakeServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def url(self, query: str = "") -> str:
        return f"redis://127.0.0.1:{self.port}/0{query}"


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
    """Accept, read, never answer."""
    await asyncio.Event().wait()


async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
    """Accept and never answer, but notice when the client closes (``eof``)."""


def _host_port(redis_url: str) -> str:
    parts = urlsplit(redis_url)
    return f"{parts.hostname}:{parts.port or 6379}"


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def named_store(redis_url: str) -> AsyncIterator[tuple[RedisStore, str]]:
    """A store on the test database whose connections carry a unique name."""
    name = _unique("arbiter-stores-test")
    s = create_store(redis_url, client_name=name, pool_size=3, wait_timeout=0.5)
    assert isinstance(s, RedisStore)
    try:
        yield s, name
    finally:
        await s.close()


def _ids(redis_py: Any, name: str, cmd: str | None = None) -> list[int]:
    return [int(c["id"]) for c in redis_py.client_list()
            if c["name"] == name and (cmd is None or c["cmd"] == cmd)]


# ------------------------------------------------------------------------ pool
@pytest.mark.timeout(10)
async def test_stream_reads_hold_a_connection_only_with_block(
        named_store: tuple[RedisStore, str], store: RedisStore) -> None:
    s, _ = named_store  # pool_size=3
    c = s.client()
    await store.execute("XADD", "st", "1-0", "f", "v")
    # Without BLOCK, XREAD answers at once: many at a time share the pipeline.
    replies = await asyncio.gather(*(c.execute_command("XREAD", "COUNT", 1, "STREAMS",
                                                       "st", "0") for _ in range(50)))
    assert all(r == [[b"st", [[b"1-0", [b"f", b"v"]]]]] for r in replies)
    assert s.pool.in_use == 1
    # With BLOCK it waits on a connection of its own, the shared one stays free.
    waiting = asyncio.ensure_future(c.execute_command("XREAD", "BLOCK", 5000, "STREAMS",
                                                      "st", "$"))
    await until(lambda: s.pool.in_use == 2)
    assert await c.ping() is True
    await store.execute("XADD", "st", "2-0", "f", "w")
    assert await asyncio.wait_for(waiting, 5) == [[b"st", [[b"2-0", [b"f", b"w"]]]]]


@pytest.mark.timeout(10)
async def test_pool_exhaustion_raises_pool_timeout(
        named_store: tuple[RedisStore, str], store: RedisStore) -> None:
    s, _ = named_store  # pool_size=3, wait_timeout=0.5
    c = s.client()
    assert await c.ping() is True  # the shared connection: 1 of 3
    holders = [asyncio.ensure_future(c.blpop(f"hold{i}", 5)) for i in range(2)]
    try:
        await until(lambda: s.pool.in_use == 3)
        started = time.monotonic()
        with pytest.raises(stores.PoolTimeout):
            await c.blpop("third", 5)
        waited = time.monotonic() - started
        assert 0.4 <= waited < 4.0
        # Ordinary commands still flow on the shared connection meanwhile.
        assert await c.set("k", "v") is True
        assert s.pool.in_use <= 3
    finally:
        await store.execute("RPUSH", "hold0", "x")
        await store.execute("RPUSH", "hold1", "y")
        results = await asyncio.gather(*holders)
    assert sorted(results) == [[b"hold0", b"x"], [b"hold1", b"y"]]
    # Released connections are reused: a new blocking pop gets one.
    await store.execute("RPUSH", "third", "z")
    assert await c.blpop("third", 1) == [b"third", b"z"]
    assert s.pool.in_use <= 3


@pytest.mark.timeout(10)
async def test_pool_waiter_gets_a_released_connection(
        named_store: tuple[RedisStore, str], store: RedisStore, redis_py: Any) -> None:
    s, name = named_store
    c = s.client()
    await c.ping()
    holders = [asyncio.ensure_future(c.blpop(f"w{i}", 5)) for i in range(2)]
    await until(lambda: s.pool.in_use == 3)
    waiting = asyncio.ensure_future(c.blpop("w2", 5))
    await wait_blocked("blpop", count=2)
    for _ in range(10):  # let the third caller run as far as it can: into the pool's wait
        await asyncio.sleep(0)
    assert not waiting.done()
    await store.execute("RPUSH", "w0", "a")  # frees one connection for the waiter
    assert await holders[0] == [b"w0", b"a"]
    await store.execute("RPUSH", "w2", "b")
    assert await asyncio.wait_for(waiting, 5) == [b"w2", b"b"]
    await store.execute("RPUSH", "w1", "c")
    assert await holders[1] == [b"w1", b"c"]
    assert len(_ids(redis_py, name)) <= 3


@pytest.mark.timeout(10)
async def test_killed_shared_connection_is_replaced(
        named_store: tuple[RedisStore, str], redis_py: Any) -> None:
    s, name = named_store
    c = s.client()
    await c.set("k", "v")
    old_id = await c.client_id()
    assert _ids(redis_py, name) == [old_id]
    assert redis_py.client_kill_filter(_id=old_id) == 1
    await until(lambda: s.pool.shared_now() is None)
    assert await c.get("k") == b"v"
    new_id = await c.client_id()
    assert new_id != old_id
    assert _ids(redis_py, name) == [new_id]


@pytest.mark.timeout(10)
async def test_commands_in_flight_on_a_killed_connection_fail(
        named_store: tuple[RedisStore, str], redis_py: Any) -> None:
    s, name = named_store
    c = s.client()
    pop = asyncio.ensure_future(c.blpop("nothing", 5))
    await until(lambda: bool(_ids(redis_py, name, "blpop")))
    [conn_id] = _ids(redis_py, name, "blpop")
    redis_py.client_kill_filter(_id=conn_id)
    with pytest.raises(stores.ConnectionError):
        await asyncio.wait_for(pop, 5)
    # The broken connection was not given back to the pool: a new one serves.
    await s.execute("RPUSH", "nothing", "x")
    assert await c.blpop("nothing", 1) == [b"nothing", b"x"]
    assert conn_id not in _ids(redis_py, name)


@pytest.mark.timeout(10)
async def test_killed_idle_connection_is_discarded(
        named_store: tuple[RedisStore, str], redis_py: Any) -> None:
    s, name = named_store
    c = s.client()
    assert await c.blpop("empty", 0.01) is None  # leaves an idle exclusive connection
    [idle_id] = _ids(redis_py, name, "blpop")
    redis_py.client_kill_filter(_id=idle_id)
    await until(lambda: all(conn.closed for conn in s.pool._idle))
    await s.execute("RPUSH", "empty", "x")
    assert await c.blpop("empty", 1) == [b"empty", b"x"]
    assert idle_id not in _ids(redis_py, name)


# ----------------------------------------------------------- handshake, names
async def test_select_database_from_url(store: RedisStore, redis_py: Any) -> None:
    import redis

    key = _unique("select")
    assert store.database != "0"
    assert await store.client().set(key, "here") is True
    assert redis_py.get(key) == b"here"  # redis-py on the same database number
    other = redis.Redis.from_url(f"redis://{_host_port(store.dns)}/0")
    try:
        assert other.exists(key) == 0  # and not on database 0
    finally:
        other.close()


async def test_client_name_is_set_on_every_connection(
        named_store: tuple[RedisStore, str], redis_py: Any, store: RedisStore) -> None:
    s, name = named_store
    c = s.client()
    assert await c.client_getname() == name.encode()
    pop = asyncio.ensure_future(c.blpop("named", 2))
    await until(lambda: len(_ids(redis_py, name)) == 2)
    entries = [e for e in redis_py.client_list() if e["name"] == name]
    assert {e["db"] for e in entries} == {store.database}
    await store.execute("RPUSH", "named", 1)
    await pop


@pytest.fixture
def acl_user(redis_py: Any) -> Any:
    """A temporary ACL user (name, password), deleted after the test."""
    user, password = _unique("arbiter-test-user"), uuid.uuid4().hex
    redis_py.execute_command("ACL", "SETUSER", user, "on", f">{password}", "~*", "&*",
                             "+@all")
    try:
        yield user, password
    finally:
        redis_py.execute_command("ACL", "DELUSER", user)


@pytest.mark.parametrize("protocol", [2, 3])
async def test_auth_with_user_and_password(acl_user: tuple[str, str], redis_url: str,
                                           protocol: int) -> None:
    user, password = acl_user
    s = create_store(redis_url, user=user, password=password, protocol=protocol)
    try:
        c = s.client()
        assert (await c.acl_whoami()) in (user.encode(), user)
        assert await c.set("authed", 1) is True
        assert await c.get("authed") == b"1"
    finally:
        await s.close()


@pytest.mark.parametrize("protocol", [2, 3])
async def test_auth_with_wrong_password(acl_user: tuple[str, str], redis_url: str,
                                        protocol: int) -> None:
    user, _ = acl_user
    s = create_store(redis_url, user=user, password="wrong", protocol=protocol)
    try:
        with pytest.raises(stores.AuthenticationError) as info:
            await s.ping()
        assert info.value.code == "WRONGPASS"
        with pytest.raises(stores.AuthenticationError):  # every attempt, no leak
            await s.execute("GET", "k")
        assert s.pool.in_use == 0
    finally:
        await s.close()


async def test_acl_denied_command_is_no_permission(acl_user: tuple[str, str], redis_url: str,
                                                   redis_py: Any) -> None:
    user, password = acl_user
    redis_py.execute_command("ACL", "SETUSER", user, "-flushall")
    s = create_store(redis_url, user=user, password=password)
    try:
        with pytest.raises(stores.NoPermissionError):
            await s.execute("FLUSHALL")
        assert await s.ping()
    finally:
        await s.close()


# ------------------------------------------------------------ connect failures
async def test_connection_refused_is_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on that port now.
    s = create_store(f"redis://127.0.0.1:{port}/0", connect_timeout=2)
    try:
        started = time.monotonic()
        with pytest.raises(stores.ConnectionError) as info:
            await s.ping()
        assert f"127.0.0.1:{port}" in str(info.value)
        assert time.monotonic() - started < 2
        with pytest.raises(stores.ConnectionError):
            await s.client().get("k")
        assert s.pool.in_use == 0
    finally:
        await s.close()


@pytest.mark.timeout(10)
async def test_connect_timeout_when_the_handshake_gets_no_answer() -> None:
    async with FakeServer(silent) as server:
        # The client name makes the connection wait for a handshake reply.
        s = create_store(server.url("?client_name=x&connect_timeout=0.2"))
        try:
            started = time.monotonic()
            with pytest.raises(stores.TimeoutError):
                await s.ping()
            assert time.monotonic() - started < 4
            assert s.pool.in_use == 0
        finally:
            await s.close()


@pytest.mark.timeout(10)
async def test_connect_timeout_closes_the_socket() -> None:
    async with FakeServer(mute) as server:
        s = create_store(server.url("?client_name=x&connect_timeout=0.2"))
        try:
            with pytest.raises(stores.TimeoutError):
                await s.ping()
            await until(lambda: server.eof == [0], deadline=2.0)
        finally:
            await s.close()


# ------------------------------------------------------------ command timeouts
@pytest.mark.timeout(10)
async def test_command_timeout_from_the_url() -> None:
    async with FakeServer(silent) as server:
        s = create_store(server.url("?timeout=0.2"))
        try:
            started = time.monotonic()
            with pytest.raises(stores.TimeoutError) as info:
                await s.execute("GET", "k")
            assert "GET" in str(info.value)
            with pytest.raises(stores.TimeoutError):
                await s.client().get("k")
            assert time.monotonic() - started < 4
            with pytest.raises(TimeoutError):  # the builtin catches it too
                await s.execute("PING")
        finally:
            await s.close()


@pytest.mark.timeout(10)
async def test_command_timeout_per_call() -> None:
    async with FakeServer(silent) as server:
        s = create_store(server.url())
        try:
            with pytest.raises(stores.TimeoutError):
                await s.execute("GET", "k", timeout=0.1)
        finally:
            await s.close()


async def test_late_replies_after_a_timeout_stay_in_order() -> None:
    """A reply that arrives after its caller gave up is dropped, not given to the next."""
    release = asyncio.Event()

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await reader.readuntil(b"first\r\n")
        await release.wait()
        writer.write(b"$5\r\nfirst\r\n")
        await reader.readuntil(b"second\r\n")
        writer.write(b"$6\r\nsecond\r\n")

    async with FakeServer(slow) as server:
        s = create_store(server.url())
        try:
            with pytest.raises(stores.TimeoutError):
                await s.execute("ECHO", "first", timeout=0.05)
            release.set()
            assert await asyncio.wait_for(s.execute("ECHO", "second"), 5) == b"second"
        finally:
            await s.close()


async def test_blocking_commands_are_exempt_from_the_command_timeout(redis_url: str) -> None:
    s = create_store(redis_url, timeout=0.05)
    try:
        assert await s.client().blpop("never", 0.3) is None
        assert await s.execute("BLPOP", "never", 0.2) is None
    finally:
        await s.close()


# ------------------------------------------------------------- bad replies
@pytest.mark.timeout(10)
async def test_malformed_reply_closes_only_that_connection(store: RedisStore) -> None:
    async def garbage_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                            n: int) -> None:
        await reader.read(1024)
        if n == 0:
            writer.write(b"?this is not RESP\r\n")
            return
        writer.write(b"+PONG\r\n")

    async with FakeServer(garbage_first) as server:
        s = create_store(server.url())
        try:
            with pytest.raises(stores.ProtocolError):
                await s.execute("PING")
            await until(lambda: server.eof == [0], deadline=2.0)  # closed by the client
            # The good server, through another store, never noticed.
            assert await store.ping()
            # The bad store recovers with a fresh connection.
            assert await s.execute("PING") == b"PONG"
            assert server.accepted == 2
        finally:
            await s.close()


@pytest.mark.timeout(10)
async def test_malformed_reply_fails_every_waiter_of_that_connection() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      n: int) -> None:
        await reader.readuntil(b"c\r\n")  # all three commands arrived
        writer.write(b"+OK\r\n:notanumber\r\n")

    async with FakeServer(garbage) as server:
        s = create_store(server.url())
        try:
            a, b, c = await asyncio.gather(
                s.execute("ECHO", "a"), s.execute("ECHO", "b"), s.execute("ECHO", "c"),
                return_exceptions=True)
            assert a == b"OK"
            assert isinstance(b, stores.ProtocolError)
            assert isinstance(c, stores.ProtocolError)
        finally:
            await s.close()


@pytest.mark.timeout(10)
async def test_malformed_reply_inside_a_pipeline_fails_it_and_the_store_recovers() -> None:
    async def garbage_mid_pipeline(reader: asyncio.StreamReader,
                                   writer: asyncio.StreamWriter, n: int) -> None:
        if n == 0:
            await reader.readuntil(b"c\r\n")
            writer.write(b"+OK\r\n+OK\r\n:notanumber\r\n")
            return
        await reader.read(1024)
        writer.write(b"+PONG\r\n")

    async with FakeServer(garbage_mid_pipeline) as server:
        s = create_store(server.url())
        try:
            pipe = s.client().pipeline()
            pipe.execute_command("ECHO", "a").execute_command("ECHO", "b")
            pipe.execute_command("ECHO", "c")
            with pytest.raises(stores.ProtocolError):
                await pipe.commit()
            await until(lambda: server.eof == [0], deadline=2.0)  # closed by the client
            assert await s.execute("PING") == b"PONG"  # a fresh connection
        finally:
            await s.close()


async def test_server_closing_mid_command_is_connection_error() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      n: int) -> None:
        await reader.read(1024)
        writer.close()

    async with FakeServer(hang_up) as server:
        s = create_store(server.url())
        try:
            with pytest.raises(stores.ConnectionError):
                await asyncio.wait_for(s.execute("PING"), 5)
        finally:
            await s.close()


async def test_close_then_reuse(redis_url: str) -> None:
    async with create_store(redis_url) as s:
        assert await s.ping()
    assert s.pool.in_use == 0
    assert await s.ping()  # a closed store opens again on demand
    await s.close()
