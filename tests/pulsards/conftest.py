"""Fixtures: real pulsards servers (processes and in-process), the real Redis.

``pulsards`` is one server process for the whole session (``python -m
stores.pulsards --port 0``), flushed before each test that uses it; tests
needing special options start their own with ``start_pulsards``.  ``either``
runs a test against the real Redis (db 12 of ``REDIS_URL``) and pulsards, to
show that both answer alike; ``private_redis`` is a redis-server of the
session's own, for what must not run on a shared one (FLUSHALL, SWAPDB).
Every process started here is stopped here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
import redis

from actors.process import set_pdeathsig

AGREE_DB = 12


@dataclass
class ServerProcess:
    """A running ``python -m stores.pulsards`` and how to reach it."""

    proc: subprocess.Popen[str]
    port: int
    host: str = "127.0.0.1"
    stderr: list[str] = field(default_factory=list)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode


def start_pulsards(*flags: str) -> ServerProcess:
    """Start a pulsards process on a free port; return once it listens."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "stores.pulsards", "--port", "0", "--loglevel", "warning",
         *flags],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        preexec_fn=set_pdeathsig,  # a killed test run leaves no server behind
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "pulsards ready port=N"
    if not line.startswith("pulsards ready port="):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"pulsards did not start: {line!r}")
    return ServerProcess(proc, int(line.strip().split("=")[1]))


@pytest.fixture(scope="session")
def pulsards_server() -> Iterator[ServerProcess]:
    server = start_pulsards()
    try:
        yield server
    finally:
        assert server.stop() == 0


@pytest.fixture
def pulsards(pulsards_server: ServerProcess) -> Iterator[ServerProcess]:
    """The session's pulsards server, every database flushed first."""
    client = redis.Redis(port=pulsards_server.port)
    client.flushall()
    client.close()
    yield pulsards_server


@pytest.fixture
def rp(pulsards: ServerProcess) -> Iterator[redis.Redis]:
    """redis-py on pulsards' db 0."""
    client = redis.Redis(port=pulsards.port)
    try:
        yield client
    finally:
        client.close()


def _redis_address() -> tuple[str, int]:
    parts = urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    return parts.hostname or "127.0.0.1", parts.port or 6379


@pytest.fixture(scope="session")
def private_redis() -> Iterator[tuple[str, int]]:
    """A redis-server of the session's own on a free port (FLUSHALL and SWAPDB
    are not for the shared one), stopped at the end."""
    with redis_server() as address:
        yield address


@contextlib.contextmanager
def redis_server(*options: str) -> Iterator[tuple[str, int]]:
    """A redis-server of the test's own (``options``: redis.conf ones as
    flags) on a free port, stopped at the end."""
    import shutil

    from with_redis import free_port, start_server

    if shutil.which("redis-server") is None:  # REDIS_URL may name a remote server
        pytest.skip("redis-server is not on PATH")
    port = free_port()
    proc, workdir = start_server("127.0.0.1", port, *options)
    try:
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(params=["redis", "pulsards"])
def either(request: pytest.FixtureRequest,
           pulsards_server: ServerProcess) -> Iterator[tuple[str, int]]:
    """(host, port) of the real Redis or of pulsards; db 12 flushed before and after."""
    if request.param == "redis":
        address = _redis_address()
    else:
        address = (pulsards_server.host, pulsards_server.port)
    client = redis.Redis(*address, db=AGREE_DB)
    client.flushdb()
    try:
        yield address
    finally:
        client.flushdb()
        client.close()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def both(request: pytest.FixtureRequest,
         pulsards_server: ServerProcess) -> Iterator[tuple[redis.Redis, redis.Redis]]:
    """redis-py on the real Redis and on pulsards (db 12, flushed), same protocol."""
    host, port = _redis_address()
    real = redis.Redis(host, port, db=AGREE_DB, protocol=request.param)
    ours = redis.Redis(pulsards_server.host, pulsards_server.port, db=AGREE_DB,
                       protocol=request.param)
    for client in (real, ours):
        client.flushdb()
        client.response_callbacks.clear()  # compare the raw replies
    try:
        yield real, ours
    finally:
        for client in (real, ours):
            client.flushdb()
            client.close()
