"""1,000 concurrent connections against one pulsards process.

All connections are open at the same time; each runs a command of its own
(a write, then a blocking pop served by another connection's push), every
one is answered correctly, and the server keeps answering a fresh client
while they are connected and after they leave.
"""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Iterator

import pytest
import redis

from .conftest import ServerProcess, start_pulsards

pytestmark = pytest.mark.timeout(60)

CLIENTS = 1000


def _command(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    """A pulsards of its own, started after making room for the descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 4 * CLIENTS))
    if wanted < 2 * CLIENTS + 100:
        pytest.skip(f"needs {2 * CLIENTS + 100} file descriptors, the limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))  # inherited by the server
    process = start_pulsards()
    try:
        yield process
    finally:
        assert process.stop() == 0
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    for attempt in range(5):  # a full accept backlog refuses for a moment
        try:
            return await asyncio.open_connection("127.0.0.1", port)
        except ConnectionRefusedError:
            await asyncio.sleep(0.05 * (attempt + 1))
    return await asyncio.open_connection("127.0.0.1", port)


async def test_a_thousand_connections_each_answered(server: ServerProcess) -> None:
    port = server.port
    admin = redis.Redis(port=port)
    connections = await asyncio.gather(*[_connect(port) for _ in range(CLIENTS)])
    try:
        info = admin.info("clients")
        assert info["connected_clients"] >= CLIENTS + 1
        assert admin.ping()  # responsive with a thousand others connected

        # Every connection writes its own key and reads its own reply.
        for i, (_, writer) in enumerate(connections):
            writer.write(_command(b"INCRBY", b"counter:%d" % i, b"%d" % i))
        replies = await asyncio.wait_for(
            asyncio.gather(*[reader.readline() for reader, _ in connections]), 20)
        assert replies == [b":%d\r\n" % i for i in range(CLIENTS)]
        assert admin.dbsize() == CLIENTS

        # Half block in BZPOPMIN, the other half feed them: all answered.
        half = CLIENTS // 2
        for i, (_, writer) in enumerate(connections[:half]):
            writer.write(_command(b"BZPOPMIN", b"queue:%d" % i, b"10"))
        for _ in range(200):
            if admin.info("clients")["blocked_clients"] == half:
                break
            await asyncio.sleep(0.02)
        assert admin.info("clients")["blocked_clients"] == half
        assert admin.ping()
        for i, (_, writer) in enumerate(connections[half:]):
            writer.write(_command(b"ZADD", b"queue:%d" % i, b"%d" % i, b"m%d" % i))
        pushed = await asyncio.wait_for(
            asyncio.gather(*[reader.readline() for reader, _ in connections[half:]]), 20)
        assert pushed == [b":1\r\n"] * half
        for i, (reader, _) in enumerate(connections[:half]):
            popped = await asyncio.wait_for(reader.readexactly(len(
                b"*3\r\n$%d\r\nqueue:%d\r\n$%d\r\nm%d\r\n$%d\r\n%d\r\n"
                % (len(b"queue:%d" % i), i, len(b"m%d" % i), i, len(b"%d" % i), i))), 10)
            assert popped.split(b"\r\n")[2] == b"queue:%d" % i
        assert admin.info("clients")["blocked_clients"] == 0
    finally:
        for _, writer in connections:
            writer.close()
        await asyncio.gather(*[writer.wait_closed() for _, writer in connections],
                             return_exceptions=True)
    for _ in range(200):
        if admin.info("clients")["connected_clients"] == 1:
            break
        await asyncio.sleep(0.02)
    assert admin.info("clients")["connected_clients"] == 1
    assert admin.get("counter:999") == b"999"
    admin.close()
