"""``rediss://``: TLS to a throwaway redis-server with a self-signed certificate."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import stores
from actors.process import set_pdeathsig
from stores import create_store

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None or shutil.which("openssl") is None,
    reason="needs redis-server (built with TLS) and openssl")


def make_cert(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True)
    return cert, key


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path, Path]]:
    """(port, the server's certificate, another CA's certificate)."""
    cert, key = make_cert(tmp_path, "server")
    other, _ = make_cert(tmp_path, "other")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(cert), "--tls-key-file", str(key),
         "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no",
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, preexec_fn=set_pdeathsig)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "TLS redis-server did not start"
                time.sleep(0.05)
        yield port, cert, other
    finally:
        proc.kill()
        proc.wait(10)


@pytest.mark.timeout(30)
async def test_rediss_verifies_the_server(tls_server: tuple[int, Path, Path]) -> None:
    port, cert, _ = tls_server
    store = create_store(f"rediss://127.0.0.1:{port}/2?ssl_ca_certs={cert}")
    try:
        assert await store.execute("SET", "k", "secret") == b"OK"
        assert await store.client().get("k") == b"secret"
        pubsub = store.pubsub()
        got: list[bytes] = []
        pubsub.add_client(lambda channel, message: got.append(message))
        await pubsub.subscribe("c")
        assert await pubsub.publish("c", "over tls") == 1
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert got == [b"over tls"]
        await pubsub.close()
    finally:
        await store.close()


@pytest.mark.timeout(30)
async def test_rediss_refuses_a_server_it_cannot_verify(
        tls_server: tuple[int, Path, Path]) -> None:
    port, _, other = tls_server
    store = create_store(f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={other}")
    with pytest.raises(stores.ConnectionError, match="certificate verify failed"):
        await store.ping()
    await store.close()
    unchecked = create_store(f"rediss://127.0.0.1:{port}/0?ssl_cert_reqs=none")
    try:
        assert await unchecked.ping()
    finally:
        await unchecked.close()
