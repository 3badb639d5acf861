"""Run a command with a Redis server answering at ``REDIS_URL``.

``python tests/with_redis.py -- CMD ...``: if a server already answers PING at
``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``) the command simply runs.
Otherwise, when ``redis-server`` is on PATH, one is started on that host and
port with persistence off, the command runs, and the server is stopped after.
If no server can be had, exit 2 with a one-line message saying how to get one.
The command's exit code is this script's exit code.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit

DEFAULT_URL = "redis://127.0.0.1:6379/0"


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 6379


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when something at host:port replies to an inline PING like Redis."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError:
        return False
    # "-NOAUTH" still means a Redis server is there.
    return reply.startswith((b"+PONG", b"-NOAUTH"))


def start_server(host: str, port: int, *options: str) -> tuple[subprocess.Popen[bytes], str]:
    """A redis-server on host:port (more redis.conf ``options`` as flags)."""
    workdir = tempfile.mkdtemp(prefix="arbiter-stores-redis-")
    proc = subprocess.Popen(
        [
            "redis-server", "--bind", host, "--port", str(port),
            "--save", "", "--appendonly", "no", "--dir", workdir, *options,
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if answers(host, port, timeout=0.2):
            return proc, workdir
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    sys.exit(f"with_redis: redis-server did not come up on {host}:{port}")


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1:]
    if not argv:
        sys.exit("usage: with_redis.py -- COMMAND [ARGS...]")
    url = os.environ.setdefault("REDIS_URL", DEFAULT_URL)
    host, port = _address(url)
    proc = workdir = None
    if not answers(host, port):
        if shutil.which("redis-server") is None:
            print(
                f"with_redis: no Redis answers at {url} and redis-server is not on PATH; "
                "install it (apt-get install redis-server) or set REDIS_URL to a running server",
                file=sys.stderr,
            )
            return 2
        print(f"with_redis: starting redis-server on {host}:{port}", file=sys.stderr)
        proc, workdir = start_server(host, port)
    try:
        return subprocess.call(argv)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
            shutil.rmtree(workdir or "", ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
