"""The runtime with real actor processes and real unix sockets."""

from __future__ import annotations

import asyncio
import os
import socket
import stat

import pytest
from actors_testlib import Echo, RegisteredError

import actors
import arbiter
from actors import Connection, RemoteError, UnknownMethodError, encode
from actors.process import connect, split_address

pytestmark = [pytest.mark.processes, pytest.mark.timeout(30)]


async def test_values_cross_the_wire_unchanged(tree: arbiter.Arbiter) -> None:
    echo = await actors.spawn(Echo, name="echo")
    for value in [b"\x00\xffbytes", "text", 2**64 - 1, -(2**63), 1.5, None, True,
                  [1, [b"x", {"k": b"v"}]], {1: b"int key"}]:
        assert await echo.call("echo", value) == value
        assert type(await echo.call("echo", value)) is type(value)


async def test_deadline_raises_timeout_and_late_reply_is_dropped(tree: arbiter.Arbiter) -> None:
    echo = await actors.spawn(Echo, name="echo")
    with pytest.raises(TimeoutError, match="slow"):
        await echo.call("slow", 0.5, "late", timeout=0.1)
    await asyncio.sleep(0.6)  # the late reply arrives now and must go nowhere
    assert await echo.call("echo", "fresh") == "fresh"
    assert echo.connection is not None and echo.connection.inflight == 0


async def test_default_deadline_applies(tree: arbiter.Arbiter) -> None:
    echo = await actors.spawn(Echo, name="echo")
    conn = await connect(echo.address, lambda: Connection(timeout=0.2))
    try:
        with pytest.raises(TimeoutError):
            await conn.call("slow", 1.0)
    finally:
        conn.close()


@pytest.mark.parametrize("kind", ["KeyError", "ValueError", "TimeoutError", "RegisteredError"])
async def test_remote_exception_class_preserved(tree: arbiter.Arbiter, kind: str) -> None:
    echo = await actors.spawn(Echo, name="echo")
    expected = {"KeyError": KeyError, "ValueError": ValueError, "TimeoutError": TimeoutError,
                "RegisteredError": RegisteredError}[kind]
    with pytest.raises(expected) as info:
        await echo.call("fail", kind, "boom")
    assert type(info.value) is expected
    assert info.value.args == ("boom",)
    assert "in fail" in info.value.remote_traceback  # type: ignore[attr-defined]


async def test_unknown_exception_becomes_remote_error(tree: arbiter.Arbiter) -> None:
    echo = await actors.spawn(Echo, name="echo")
    with pytest.raises(RemoteError) as info:
        await echo.call("fail", "UnregisteredError", "kaput")
    assert info.value.type_name == "actors_testlib.UnregisteredError"
    assert info.value.message == "kaput"
    assert "UnregisteredError: kaput" in info.value.remote_traceback


@pytest.mark.parametrize("method", ["nope", "on_start", "__init__", "params", "_stop_event"])
async def test_unknown_or_unexposed_method_is_a_clear_error(
    tree: arbiter.Arbiter, method: str
) -> None:
    echo = await actors.spawn(Echo, name="echo")
    with pytest.raises(UnknownMethodError, match=f"no method '{method}'"):
        await echo.call(method)
    assert isinstance(UnknownMethodError("x"), AttributeError)
    assert await echo.call("ping") == "pong"


async def test_ordering_preserved_under_10k_messages(tree: arbiter.Arbiter) -> None:
    echo = await actors.spawn(Echo, name="echo")
    for i in range(5000):
        echo.notify("record", i)
    results = await asyncio.gather(*(echo.call("record", i) for i in range(5000, 10000)))
    assert results == [None] * 5000
    assert await echo.call("get_seen") == list(range(10000))


async def test_caller_backpressure_bounds_inflight(tree: arbiter.Arbiter) -> None:
    echo = await actors.spawn(Echo, name="echo")
    conn = await connect(echo.address, lambda: Connection(max_inflight=8))
    try:
        peak = 0

        async def one() -> None:
            nonlocal peak
            task = conn.call("tracked", 0.005)
            peak = max(peak, conn.inflight)
            await task

        await asyncio.gather(*(one() for _ in range(300)))
        assert peak <= 8
        assert await conn.call("max_concurrency") <= 8
    finally:
        conn.close()


async def test_flooding_peer_is_paused_not_buffered(tree: arbiter.Arbiter) -> None:
    """A raw client that ignores replies and floods requests: the actor stops
    reading once max_inflight handlers run, so its memory stays bounded."""
    echo = await actors.spawn(Echo, name="echo")
    _, path, _ = split_address(echo.address)
    _, writer = await asyncio.open_unix_connection(path)
    frames = b"".join(encode([0, i, "tracked", [0.3], {}]) for i in range(3000))
    writer.write(frames)
    await asyncio.sleep(0.2)
    # The default bound is 1024 unfinished requests per connection.
    assert await echo.call("max_concurrency") <= actors.defaults.max_inflight
    writer.close()


async def _expect_closed(path: str, payload: bytes) -> tuple[bytes, bool]:
    """Send payload on a raw connection; return what came back and whether the
    actor reset the connection (it may, while we still write a big frame)."""
    reader, writer = await asyncio.open_unix_connection(path)
    data = b""
    try:
        writer.write(payload)
        await writer.drain()
        async with asyncio.timeout(5.0):
            while chunk := await reader.read(65536):
                data += chunk
    except ConnectionError:
        return data, True
    finally:
        writer.close()
    return data, False


@pytest.mark.parametrize("payload", [
    b"\xc1\xc1\xc1",                                  # never-used msgpack byte
    encode({"not": "an array"}),
    encode([7, 1, 2]),                                # unknown frame type
    encode([0, "id", "echo", [], {}]),                # bad request shape
    b"\xd4\x05\x00",                                  # ext type
    encode([0, 1, "echo", [b"x" * (2 << 20)], {}]),   # 2 MiB > 1 MiB limit
], ids=["garbage", "map", "type", "shape", "ext", "oversized"])
async def test_bad_frames_close_only_that_connection(
    tree: arbiter.Arbiter, payload: bytes, capfd: pytest.CaptureFixture[str]
) -> None:
    echo = await actors.spawn(Echo, name="echo")
    _, path, _ = split_address(echo.address)
    assert await echo.call("echo", 1) == 1
    # A good request before the bad bytes is still answered, then EOF.
    reply, reset = await _expect_closed(path, encode([0, 9, "echo", ["ok"], {}]) + payload)
    # (If the actor closed while the 2 MiB frame was still in flight, the
    # kernel may discard its reply and report a reset instead of EOF.)
    if not reset:
        assert actors.Codec().feed(reply) == [[1, 9, None, "ok"]]
    assert await echo.call("echo", 2) == 2  # the actor and other connections live on
    assert "WARNING actors.mailbox: closing mailbox connection echo" in capfd.readouterr().err


async def test_mailbox_dir_is_private(tree: arbiter.Arbiter) -> None:
    echo = await actors.spawn(Echo, name="echo")
    assert stat.S_IMODE(os.stat(tree.runtime_dir).st_mode) == 0o700
    _, path, _ = split_address(echo.address)
    assert os.path.dirname(path) == tree.runtime_dir
    assert stat.S_ISSOCK(os.stat(path).st_mode)


def test_default_runtime_dir_is_private() -> None:
    from actors.process import make_runtime_dir

    path, created = make_runtime_dir()
    try:
        assert created and stat.S_IMODE(os.stat(path).st_mode) == 0o700
    finally:
        os.rmdir(path)


async def test_spawn_from_inside_an_actor_and_direct_calls(tree: arbiter.Arbiter) -> None:
    echo = await actors.spawn(Echo, name="echo")
    info = await echo.call("spawn_child", "kid")
    assert info["name"] == "kid" and info["pid"] != await echo.call("pid")
    kid = await actors.lookup("kid")
    assert kid.address == info["address"]
    # echo reaches kid over its own connection, not through the arbiter.
    assert await echo.call("call_peer", "kid", "echo", b"hi") == b"hi"
    with pytest.raises(KeyError):
        await actors.lookup("nobody")
    with pytest.raises(ValueError, match="already exists"):
        await actors.spawn(Echo, name="kid")
    same, other = await asyncio.gather(actors.spawn(Echo, name="one", exist_ok=True),
                                       actors.spawn(Echo, name="one", exist_ok=True))
    assert same.aid == other.aid
    assert await actors.stop("kid") is True
    assert await actors.stop("kid") is False
    with pytest.raises(KeyError):
        await actors.lookup("kid")


async def test_notifications_reach_registered_handler(tree: arbiter.Arbiter) -> None:
    echo = await actors.spawn(Echo, name="echo")
    got: list[tuple[int, bytes]] = []
    done = asyncio.Event()

    def on_tick(i: int, payload: bytes) -> None:
        got.append((i, payload))
        if len(got) == 3:
            done.set()

    echo.on_notification("tick", on_tick)
    assert await echo.call("subscribe", 3) == "subscribed"
    await asyncio.wait_for(done.wait(), 5.0)
    assert got == [(0, b"\xff"), (1, b"\xff"), (2, b"\xff")]


async def test_function_target_and_failed_start(tree: arbiter.Arbiter) -> None:
    proxy = await actors.spawn("actors_testlib:main_function", name="fn", value=0.2)
    assert await proxy.call("ping") == "pong"
    with pytest.raises(actors.ActorError, match="exited before ready"):
        await actors.spawn("actors_testlib:DoesNotExist", name="broken")


async def test_restarted_actor_is_found_again_by_name(tree: arbiter.Arbiter) -> None:
    echo = await actors.spawn(Echo, name="echo", restart="permanent")
    old = await echo.call("pid")
    os.kill(old, 9)
    for _ in range(100):
        await asyncio.sleep(0.05)
        try:
            new = await echo.call("pid")
        except ConnectionError:
            continue
        if new != old:
            break
    assert new != old


def test_tcp_mailboxes(short_tmp: str) -> None:
    async def main() -> None:
        config = arbiter.Config(runtime_dir=os.path.join(short_tmp, "rt"), bind="tcp:127.0.0.1:0")
        async with arbiter.embedded(config):
            echo = await actors.spawn(Echo, name="echo")
            assert echo.address.startswith("tcp:127.0.0.1:")
            assert await echo.call("echo", b"tcp") == b"tcp"
            host, port = echo.address.split(":")[1:]
            with socket.create_connection((host, int(port))) as sock:
                sock.sendall(encode([0, 1, "ping", [], {}]))
                assert actors.Codec().feed(sock.recv(100)) == [[1, 1, None, "pong"]]

    asyncio.run(main())


@pytest.mark.timeout(10)
async def test_drain_waits_for_a_slow_reader() -> None:
    loop = asyncio.get_running_loop()
    left, right = socket.socketpair()
    _, sender = await loop.create_unix_connection(Connection, sock=left)
    reader_transport, _ = await loop.create_unix_connection(Connection, sock=right)
    reader_transport.pause_reading()  # a consumer that does not read
    try:
        chunk = b"x" * 65536
        for _ in range(100):  # 6.5 MB: far above the write buffer's high-water mark
            sender.notify("data", chunk)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(sender.drain(), 0.3)
        reader_transport.resume_reading()
        await asyncio.wait_for(sender.drain(), 5)
    finally:
        sender.close()
        reader_transport.close()
