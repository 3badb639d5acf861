"""Process helpers for the arbiter tests (a module of its own: test modules
cannot import conftest reliably when several test directories have one)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from procs import group_members

from actors import Connection
from actors.process import connect

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent




class Tree:
    """A running ``python -m arbiter`` in its own session (so its pgid finds
    every process of the tree, even after re-parenting)."""

    def __init__(self, app: str, *flags: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="arb-", dir="/tmp")
        self.runtime_dir = os.path.join(self.dir, "rt")
        self.log_path = os.path.join(self.dir, "log")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), str(ROOT)]))
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in kill()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "arbiter", app, "--runtime-dir", self.runtime_dir, *flags],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.proc.pid

    @property
    def log(self) -> str:
        return Path(self.log_path).read_text(errors="replace")

    async def call(self, method: str, *args: Any, timeout: float = 5.0) -> Any:
        """Call the arbiter's hub over its real mailbox."""
        conn = await connect(f"unix:{self.runtime_dir}/arbiter.sock", Connection)
        try:
            return await conn.call(method, *args, timeout=timeout)
        finally:
            conn.close()

    async def children(self) -> dict[str, dict[str, Any]]:
        return {c["name"]: c for c in await self.call("children")}

    async def wait_running(self, names: set[str], timeout: float = 15.0,
                           exclude_pids: set[int] = frozenset()) -> dict[str, dict[str, Any]]:
        """Wait until exactly ``names`` are running (with pids not in ``exclude_pids``)."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"arbiter exited {self.proc.returncode}:\n{self.log}")
            try:
                last = await self.children()
            except (OSError, ConnectionError):
                await asyncio.sleep(0.05)
                continue
            running = {n: c for n, c in last.items() if c["state"] == "running"}
            if set(last) == names and set(running) == names and not (
                    {c["pid"] for c in running.values()} & exclude_pids):
                return running
            await asyncio.sleep(0.02)
        raise AssertionError(f"tree never reached {names}: {last}\n{self.log}")

    def wait_exit(self, timeout: float = 20.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"arbiter did not exit:\n{self.log}") from None

    def kill(self) -> None:
        """SIGKILL the whole group, reap the arbiter, check nothing survives."""
        try:
            if self.proc.poll() is None:
                os.killpg(self.pid, signal.SIGKILL)
            else:
                # The arbiter is gone; its children must be too.  Kill any
                # survivor so the test run stays clean, then fail below.
                for pid in group_members(self.pid):
                    os.kill(pid, signal.SIGKILL)
            self.proc.wait(10)
        except ProcessLookupError:
            pass
        finally:
            self._log.close()
        deadline = time.monotonic() + 5
        while group_members(self.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        shutil.rmtree(self.dir, ignore_errors=True)
