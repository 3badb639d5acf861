"""A Redis server going away and coming back: the proxy behaves like the direct client.

Each test runs its own ``redis-server`` on a free port (never the shared one),
stops it under a subscriber and a command loop, and starts it again.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from proxy_testlib import until

import arbiter
import stores
from actors.process import set_pdeathsig
from stores import create_store

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="needs the redis-server binary")


class RedisServer:
    """A throwaway redis-server on ``port``, no persistence."""

    def __init__(self, port: int, workdir: str) -> None:
        self.port = port
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.workdir],
            stdout=subprocess.DEVNULL, preexec_fn=set_pdeathsig)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def server(tmp_path: object) -> Iterator[RedisServer]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    srv = RedisServer(port, str(tmp_path))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.processes
@pytest.mark.timeout(40)
@pytest.mark.parametrize("proxy", [False, True], ids=["direct", "proxy"])
async def test_server_restart(tree: arbiter.Arbiter, server: RedisServer, proxy: bool) -> None:
    store = create_store(f"redis://127.0.0.1:{server.port}/0?connect_timeout=1", proxy=proxy)
    pubsub = store.pubsub()
    events: list[str] = []
    received: list[bytes] = []
    pubsub.add_status_listener(lambda event, info: events.append(event))
    pubsub.add_client(lambda channel, message: received.append(message))
    try:
        await pubsub.subscribe("news")
        assert await store.execute("SET", "k", "1") == b"OK"

        server.stop()
        # While it is down, commands fail with the stores error, not a hang.
        with pytest.raises(stores.ConnectionError):
            for _ in range(50):
                await store.execute("PING")
                await asyncio.sleep(0.02)
        await until(lambda: "connection_lost" in events, what="connection_lost")

        server.start()
        # Commands work again by themselves, and so does the subscription.
        async def pings() -> bool:
            try:
                return bool(await store.ping())
            except stores.ConnectionError:
                return False
        await until(pings, deadline=10, what="a PONG after the restart")
        await until(lambda: "reconnected" in events, deadline=10, what="resubscription")
        assert await store.execute("PUBLISH", "news", "back") == 1
        await until(lambda: received == [b"back"], what="the message after the restart")
    finally:
        await pubsub.close()
        await store.close()
