"""``tests/with_redis.py``: what ``make test`` does to have a Redis server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from with_redis import free_port

SCRIPT = Path(__file__).with_name("with_redis.py")


def run(port: int, path: str, *command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{port}/0", "PATH": path}
    return subprocess.run([sys.executable, str(SCRIPT), "--", *command], env=env,
                          capture_output=True, text=True, timeout=30)


@pytest.mark.timeout(30)
def test_fails_with_one_line_hint_when_no_server_can_be_had(tmp_path: Path) -> None:
    result = run(free_port(), str(tmp_path), sys.executable, "-c", "print('ran')")
    assert result.returncode == 2
    assert "ran" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "redis-server is not on PATH" in lines[0]
    assert "apt-get install redis-server" in lines[0]


@pytest.mark.timeout(30)
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server binary")
def test_starts_a_server_runs_the_command_and_stops_it() -> None:
    port = free_port()
    probe = (
        f"import socket,sys; s=socket.create_connection(('127.0.0.1', {port}));"
        "s.sendall(b'PING\\r\\n'); sys.exit(0 if s.recv(16).startswith(b'+PONG') else 1)"
    )
    result = run(port, os.environ["PATH"], sys.executable, "-c", probe)
    assert result.returncode == 0, result.stderr
    assert "starting redis-server" in result.stderr
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass  # stopped afterwards


@pytest.mark.timeout(30)
def test_exit_code_of_the_command_is_kept(redis_url: str) -> None:
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    result = run(port, os.environ["PATH"], sys.executable, "-c", "raise SystemExit(5)")
    assert result.returncode == 5
