"""Run an example app as a real process tree (``python -m arbiter examples.NAME``).

A module of its own, not conftest: test modules cannot import conftest
reliably when several test directories have one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from procs import group_members

ROOT = Path(__file__).resolve().parents[2]




class ExampleTree:
    """``python -m arbiter APP FLAGS`` in its own session, its output in a file.

    The session makes the arbiter's pid the process group of every process of
    the tree, so ``group_members(tree.pid)`` finds them all, even re-parented.
    """

    def __init__(self, app: str, *flags: str, env: dict[str, str]) -> None:
        self.dir = tempfile.mkdtemp(prefix="example-", dir="/tmp")
        self.log_path = os.path.join(self.dir, "log")
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in kill()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "arbiter", app,
             "--runtime-dir", os.path.join(self.dir, "rt"), *flags],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.pid = self.proc.pid

    @property
    def log(self) -> str:
        return Path(self.log_path).read_text(errors="replace")

    async def wait_for(self, pattern: str, timeout: float = 15.0, count: int = 1
                       ) -> list[re.Match[str]]:
        """Wait until the log matches ``pattern`` ``count`` times; the matches."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            matches = list(regex.finditer(self.log))
            if len(matches) >= count:
                return matches
            if self.proc.poll() is not None:
                raise AssertionError(f"arbiter exited {self.proc.returncode} before "
                                     f"{pattern!r}:\n{self.log}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} x{count} within {timeout}s:\n{self.log}")
            await asyncio.sleep(0.05)

    def pid_of(self, name: str) -> int:
        """Pid of the last incarnation of actor ``name`` (from the arbiter's log)."""
        return int(re.findall(rf"{re.escape(name)} ready: pid (\d+)", self.log)[-1])

    def stop(self, sig: int = signal.SIGTERM, group: bool = False, timeout: float = 15.0
             ) -> int:
        """Send ``sig`` to the arbiter (or, with ``group``, to every process of
        the tree, like a terminal's Ctrl-C); wait for its exit code and for the
        whole group to be gone; fail if anything is left behind."""
        if group:
            os.killpg(self.pid, sig)
        else:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"arbiter did not exit on SIGTERM:\n{self.log}") from None
        deadline = time.monotonic() + 2.0
        while (left := group_members(self.pid)) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not left, f"processes left behind: {left}\n{self.log}"
        return code

    def kill(self) -> None:
        """SIGKILL whatever is left of the group and remove the files."""
        for pid in group_members(self.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            self.proc.wait(10)
        finally:
            self._log.close()
            shutil.rmtree(self.dir, ignore_errors=True)
