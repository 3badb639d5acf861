"""Bookkeeping for supervised children: records, exit reasons, restart budget."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from actors import Connection

from .spec import ChildSpec

__all__ = ["Child", "RestartBudget", "describe_status"]

STARTING, RUNNING, STOPPING = "starting", "running", "stopping"


@dataclass(eq=False)
class Child:
    """One child process as the arbiter sees it."""

    spec: ChildSpec
    index: int
    aid: str
    pid: int
    started: float
    name: str = ""
    state: str = STARTING
    address: str = ""
    conn: Connection | None = None
    last_seen: float = 0.0
    #: When to SIGKILL if it has not exited (set by terminate).
    kill_at: float | None = None
    #: Why the arbiter itself wants it gone: None (unexpected exit), "stop"
    #: (do not replace) or "restart" (replace without charging the budget).
    intent: str | None = None
    #: Reason reported by the child or the arbiter (boot error, heartbeat...).
    failure: str = ""
    ready: asyncio.Future[None] | None = None
    #: Linux pidfd watched by the loop (-1: none, poll on each tick).
    pidfd: int = -1

    def __post_init__(self) -> None:
        self.name = self.name or self.spec.member_name(self.index)
        self.last_seen = self.started

    @property
    def key(self) -> tuple[str, int]:
        return (self.spec.name, self.index)

    def info(self) -> dict[str, Any]:
        return {"name": self.name, "aid": self.aid, "address": self.address, "pid": self.pid}


def describe_status(status: int | None) -> tuple[str, bool]:
    """``(reason, abnormal)`` for a ``waitpid`` status (None: unknown)."""
    if status is None:
        return "exit status unknown (reaped elsewhere)", True
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"killed by {name}", True
    code = os.waitstatus_to_exitcode(status)
    return f"exit code {code}", code != 0


@dataclass
class RestartBudget:
    """OTP's restart intensity: at most ``intensity`` restarts per ``period``.

    Sans-I/O: callers pass the monotonic time.  ``charge`` returns False when
    the restart would exceed the budget (the supervisor must give up).
    """

    intensity: int
    period: float
    _times: deque[float] = field(default_factory=deque)

    def charge(self, now: float) -> bool:
        self._times.append(now)
        while self._times and self._times[0] <= now - self.period:
            self._times.popleft()
        return len(self._times) <= self.intensity


def backoff(failures: int) -> float:
    """Delay before restarting a slot after its ``failures``-th quick failure."""
    if failures <= 1:
        return 0.0  # the first replacement must be serving within a second
    return float(min(0.1 * 2 ** (failures - 2), 5.0))
