"""The latency monitor (LATENCY LATEST/HISTORY/RESET/GRAPH/DOCTOR/HISTOGRAM).

With ``latency-monitor-threshold`` above 0 (ms), Redis 7.0's events that
took at least that long are kept: ``command`` and ``fast-command`` (the
slow log's timing wrapper reports them: with the monitor on every command is
timed), ``expire-cycle``, ``aof-write`` and ``aof-fsync-always``.  Each
event keeps its last 160 samples, one per second at most (the worst of
that second), and its all-time worst, as Redis does.

pulsards keeps no per-command latency histograms (``latency-tracking no``):
LATENCY HISTOGRAM answers an empty map, as Redis with tracking off and no
history.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .server import Server

__all__ = ["HISTORY_LEN", "LatencyMonitor", "Series"]

HISTORY_LEN: Final = 160  # Redis' LATENCY_TS_LEN


class Series:
    """One event's samples: (unix second, ms), oldest first, and its worst."""

    __slots__ = ("max", "samples")

    def __init__(self) -> None:
        self.samples: deque[list[int]] = deque(maxlen=HISTORY_LEN)
        self.max = 0

    def add(self, now: int, ms: int) -> None:
        last = self.samples[-1] if self.samples else None
        if last is not None and last[0] == now:
            last[1] = max(last[1], ms)  # one sample per second, the worst
        else:
            self.samples.append([now, ms])
        self.max = max(self.max, ms)


class LatencyMonitor:
    """The events a server recorded since start (or LATENCY RESET)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.events: dict[str, Series] = {}

    @property
    def threshold(self) -> int:
        """``latency-monitor-threshold`` in ms (0: off)."""
        return self.server.config.latency_monitor_threshold

    def add(self, event: str, ms: int) -> None:
        """Record ``ms`` for ``event`` when it reaches the threshold."""
        threshold = self.server.config.latency_monitor_threshold
        if threshold and ms >= threshold:
            self.events.setdefault(event, Series()).add(int(time.time()), ms)

    def reset(self, names: list[str]) -> int:
        """LATENCY RESET: forget ``names`` (all when empty); how many there were."""
        if not names:
            count = len(self.events)
            self.events.clear()
            return count
        return sum(self.events.pop(name, None) is not None for name in dict.fromkeys(names))

    def graph(self, name: str) -> str:
        """LATENCY GRAPH: the event's samples as a small bar chart (pulsards'
        drawing under Redis' header line)."""
        series = self.events[name]
        values = [ms for _, ms in series.samples]
        high, low = max(values), min(values)
        lines = [f"{name} - high {high} ms, low {low} ms (all time high {series.max} ms)",
                 "-" * 80]
        rows = 4
        for row in range(rows, 0, -1):
            lines.append("".join("#" if ms * rows >= row * high else " "
                                 for ms in values[-80:]).rstrip() or " ")
        now = int(time.time())
        ages = [now - when for when, _ in series.samples][-80:]
        lines.append("".join(_age_mark(age) for age in ages))
        lines.append("(one column per sample, newest right; the last line: how long ago, "
                     "s/m/h)")
        return "\n".join(lines) + "\n"

    def doctor(self) -> str:
        """LATENCY DOCTOR: a plain report of what was recorded."""
        if not self.threshold:
            return ("Latency monitoring is disabled in this pulsards instance: "
                    "CONFIG SET latency-monitor-threshold <milliseconds> to enable it.\n")
        if not self.events:
            return "No latency spike was recorded since the monitor was enabled.\n"
        lines = ["Latency spikes recorded:", ""]
        for number, (name, series) in enumerate(sorted(self.events.items()), 1):
            values = [ms for _, ms in series.samples]
            average = sum(values) // len(values)
            lines.append(f"{number}. {name}: {len(values)} latency spikes (average "
                         f"{average}ms, worst in history {max(values)}ms). Worst all time "
                         f"event {series.max}ms.")
        lines.append("")
        slowlog = self.server.config.slowlog_log_slower_than
        if "command" in self.events or "fast-command" in self.events:
            lines.append("- SLOWLOG GET lists the commands that took "
                         f"{slowlog} microseconds or more"
                         + (" (the slow log is off: CONFIG SET slowlog-log-slower-than)."
                            if slowlog < 0 else "."))
        if "expire-cycle" in self.events:
            lines.append("- Many keys expiring at once, or big values expiring, make the "
                         "expiry cycle slow: spread the deadlines or split the values.")
        if "aof-write" in self.events or "aof-fsync-always" in self.events:
            lines.append("- The disk under the append-only file is slow: appendfsync "
                         "everysec waits for it less.")
        return "\n".join(lines) + "\n"


def _age_mark(age: int) -> str:
    """One character for how long ago a sample was: 0-9 s, then tens of seconds..."""
    if age < 10:
        return str(age)
    if age < 60:
        return "s"
    if age < 3600:
        return "m"
    return "h"
