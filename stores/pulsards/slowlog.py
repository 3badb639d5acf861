"""SLOWLOG: the commands that took at least ``slowlog-log-slower-than`` µs.

Redis reads the clock around every command.  pulsards times a command by
wrapping its handler (``Server.rewire``), and only where the log could take
it: with a threshold above 0, the commands that are neither flagged ``fast``
nor documented O(1) by Redis (GET, SET, INCR... never take milliseconds),
so the hot path of those pays nothing; with 0, every command; with a
negative threshold, none.  With the latency monitor on (``latency.py``)
every command is timed, and the same wrapper reports its ``command`` and
``fast-command`` events.  As in Redis, EXEC (``skip_slowlog``) is not
logged but the commands it runs are, a blocking command that waited is
logged when it is served (for the serving, not the wait; never when it
times out), arguments past the 32nd and bytes past the 128th are
summarised, secrets are redacted, and a command run by a script is logged
as the script's (address ``?:0``).
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Final

from .reply import Blocked, CommandError, bulk, bulks, integer

if TYPE_CHECKING:
    from .protocol import Client
    from .server import Server, Waiter
    from .table import Entry, Handler

__all__ = ["SlowLog", "redacted"]

# Documented O(1) by Redis (COMMAND DOCS) though not flagged fast: timed
# only at threshold 0, so that SET's hot path pays nothing for the log.
_CONSTANT_TIME: Final = frozenset({"set", "setex", "psetex", "setbit", "lmove", "rpoplpush",
                                   "blmove", "brpoplpush", "randomkey"})
MAX_ARGS: Final = 32  # as Redis' SLOWLOG_ENTRY_MAX_ARGC
MAX_STRING: Final = 128  # SLOWLOG_ENTRY_MAX_STRING


class SlowLog:
    """The server's slow log, newest entry first."""

    def __init__(self, server: Server) -> None:
        self.server = server
        # (id, unix time, µs, args, address, name), encoded when asked for.
        self.entries: deque[tuple[int, int, int, list[bytes], bytes, bytes]] = deque()
        self.next_id = 0

    def wrap(self, entry: Entry, handler: Handler) -> Handler:
        """``handler`` timed, when the thresholds let ``entry`` be logged (they
        are read here: ``Server.rewire`` runs again when CONFIG SET changes them)."""
        config = self.server.config
        threshold = config.slowlog_log_slower_than
        monitored = config.latency_monitor_threshold
        flags = entry.spec.flags
        if entry.subcommands:  # a container: its subcommands are timed
            return handler
        loggable = threshold >= 0 and "skip_slowlog" not in flags
        cheap = "fast" in flags or entry.name in _CONSTANT_TIME
        # CONFIG SET may change the thresholds: it is judged by the new ones, as in Redis.
        dynamic = entry.name == "config|set"
        if not (loggable and (threshold == 0 or not cheap)) and not monitored and not dynamic:
            return handler
        never = 1 << 62
        least = threshold * 1000 if loggable else never  # ns
        spike = monitored * 1_000_000 if monitored else never
        first = 0 if dynamic else min(least, spike)
        clock = time.perf_counter_ns
        record = self.record
        latency = self.server.latency
        event = "fast-command" if "fast" in flags else "command"
        skip = "skip_slowlog" in flags

        def note(c: Client, args: list[bytes], elapsed: int) -> None:
            if 0 <= config.slowlog_log_slower_than * 1000 <= elapsed and not skip:
                record(c, args, elapsed // 1000)
            latency.add(event, elapsed // 1_000_000)  # when it reaches the threshold

        # No try/finally: a command that blocked is logged when it is served.
        def timed(c: Client, args: list[bytes]) -> bytes:
            start = clock()
            try:
                reply = handler(c, args)
            except CommandError:
                if (elapsed := clock() - start) >= first:
                    note(c, args, elapsed)
                raise
            except Blocked:
                c.blocked.argv = args  # for served()
                raise
            if (elapsed := clock() - start) >= first:
                note(c, args, elapsed)
            return reply

        return timed

    def served(self, waiter: Waiter, elapsed: int) -> None:
        """A blocking command served after it waited: logged when the serving
        (not the wait) took ``slowlog-log-slower-than``, as Redis 7.0 does."""
        threshold = self.server.config.slowlog_log_slower_than
        if 0 <= threshold * 1000 <= elapsed and waiter.argv is not None:
            self.record(waiter.client, waiter.argv, elapsed // 1000)

    def record(self, c: Client, args: list[bytes], micros: int) -> None:
        scripting = self.server.scripting
        if scripting is not None and scripting.caller is c:
            address, name = b"?:0", b""
        else:
            address, name = c.addr.encode(), c.name or b""
        self.entries.appendleft((self.next_id, int(time.time()), micros, _shown(args),
                                 address, name))
        self.next_id += 1
        self.trim()

    def trim(self) -> None:
        """Keep ``slowlog-max-len`` entries."""
        keep = self.server.config.slowlog_max_len
        while len(self.entries) > keep:
            self.entries.pop()

    def reply(self, count: int) -> bytes:
        """SLOWLOG GET ``count`` (-1: all)."""
        chosen = list(self.entries) if count < 0 else list(self.entries)[:count]
        parts = [b"*6\r\n%s%s%s%s%s%s" % (integer(i), integer(when), integer(micros),
                                          bulks(args), bulk(address), bulk(name))
                 for i, when, micros, args, address, name in chosen]
        return b"*%d\r\n%s" % (len(parts), b"".join(parts))


def _shown(args: list[bytes]) -> list[bytes]:
    """``args`` as the log keeps them: secrets redacted, long ones summarised."""
    args = redacted(args)
    if len(args) > MAX_ARGS:
        args = [*args[:MAX_ARGS - 1], b"... (%d more arguments)" % (len(args) - MAX_ARGS + 1)]
    return [arg if len(arg) <= MAX_STRING
            else arg[:MAX_STRING] + b"... (%d more bytes)" % (len(arg) - MAX_STRING)
            for arg in args]


def redacted(args: list[bytes]) -> list[bytes]:
    """``args`` with their secrets replaced, as Redis 7.0 shows them in the
    slow log and to MONITOR: AUTH's arguments, HELLO's and MIGRATE's
    passwords (their options read in order, as the commands read them), ACL
    SETUSER's arguments and the value of CONFIG SET requirepass/masterauth."""
    shown = list(args)

    def hide(start: int, count: int) -> None:
        shown[start:start + count] = [b"(redacted)"] * len(shown[start:start + count])

    name = args[0].upper()
    sub = args[1].upper() if len(args) > 1 else b""
    if name == b"AUTH":
        hide(1, len(args))
    elif name == b"HELLO":
        i = 2
        while i < len(args):
            word = args[i].upper()
            if word == b"AUTH" and i + 2 < len(args):
                hide(i + 1, 2)
                i += 3
            elif word == b"SETNAME" and i + 1 < len(args):
                i += 2
            else:
                break
    elif name == b"MIGRATE":
        i = 6
        while i < len(args):
            word = args[i].upper()
            if word == b"KEYS":  # keys follow, whatever their names
                break
            skip = {b"AUTH": 1, b"AUTH2": 2}.get(word, 0)
            hide(i + 1, skip)
            i += 1 + skip
    elif name == b"ACL" and sub == b"SETUSER":
        hide(2, len(args))
    elif name == b"CONFIG" and sub == b"SET":
        for i in range(2, len(args) - 1, 2):
            if args[i].lower() in (b"requirepass", b"masterauth"):
                hide(i + 1, 1)
    return shown
