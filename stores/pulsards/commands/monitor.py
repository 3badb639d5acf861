"""MONITOR: a line for every command the server runs, sent to each monitoring
client (``+<seconds>.<micros> [<db> <addr>] "arg" "arg" ...``).

Rules (Redis 7.0's ``call()`` and ``replicationFeedMonitors``):

* a command is shown after it ran (SELECT shows its new database), error
  replies included, but not when it was refused before running (unknown
  name, wrong arity, NOAUTH, queued inside MULTI: shown when EXEC runs it);
  commands flagged ``admin`` (CONFIG, CLIENT LIST, MONITOR...) are never
  shown; EVAL and its siblings are shown before their script runs, and the
  commands the script calls after, from ``lua``;
* secrets (AUTH's arguments, HELLO's and MIGRATE's passwords) show as
  ``(redacted)`` (``slowlog.redacted``, as in the slow log);
* while a client monitors, every client is *gated* (``Client.update_gate``):
  requests leave the fast path for ``gate.special``, which feeds the
  monitors, so a server nobody monitors pays nothing per request;
* a monitoring client may not run commands that read or write keys ("Replica
  can't interact with the keyspace"), gets no reply to a second MONITOR, and
  leaves monitor mode with RESET or by disconnecting; one whose unsent output
  passes the pub/sub limit is disconnected.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Final

from ..reply import OK, CommandError
from ..slowlog import redacted
from ..table import command
from .pubsub import PUBSUB_OUTPUT_LIMIT

if TYPE_CHECKING:
    from ..protocol import Client
    from ..table import Entry

__all__ = ["feed", "forbidden", "shown_before", "stop_monitoring"]

_ESCAPES: Final = {ord("\\"): b"\\\\", ord('"'): b'\\"', ord("\n"): b"\\n", ord("\r"): b"\\r",
                   ord("\t"): b"\\t", 7: b"\\a", 8: b"\\b"}
_PLAIN: Final = re.compile(rb"[ !#-\[\]-~]*\Z").match  # printable, no quote or backslash
_KEYSPACE: Final = frozenset({"write", "readonly", "may_replicate"})
_SHOWN_BEFORE: Final = frozenset({"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall",
                                  "fcall_ro"})


def _repr(arg: bytes) -> bytes:
    """``arg`` quoted as Redis' ``sdscatrepr`` quotes it."""
    if _PLAIN(arg):
        return b'"%s"' % arg
    out = bytearray(b'"')
    for ch in arg:
        escaped = _ESCAPES.get(ch)
        if escaped is not None:
            out += escaped
        elif 32 <= ch <= 126:
            out.append(ch)
        else:
            out += b"\\x%02x" % ch
    out.append(34)
    return bytes(out)


def forbidden(entry: Entry, argv: list[bytes]) -> bool:
    """Whether a monitoring client is refused this command (it touches keys)."""
    return not _KEYSPACE.isdisjoint(entry.spec_of(argv).flags)


def shown_before(entry: Entry) -> bool:
    """EVAL and its siblings are shown before their script runs."""
    return entry.name in _SHOWN_BEFORE


def feed(c: Client, argv: list[bytes], entry: Entry, source: str | None = None) -> bytes:
    """Send the line of ``argv``, run by ``c`` (or its script), to every other
    monitor; the line itself when ``c`` monitors too (it goes out with the
    reply, as Redis' output buffer orders them), else nothing."""
    if "admin" in entry.spec_of(argv).flags:
        return b""
    micros = time.time_ns() // 1000
    if source is None:
        source = f"unix:{c.server.config.unixsocket}" if c.unix else c.addr
    head = b"+%d.%06d [%d %s] " % (*divmod(micros, 1_000_000), c.db.index, source.encode())
    line = head + b" ".join(map(_repr, redacted(argv))) + b"\r\n"
    for monitor in list(c.server.monitors):
        transport = monitor.transport
        if monitor is c or transport is None or monitor.closing:
            continue
        if transport.get_write_buffer_size() > PUBSUB_OUTPUT_LIMIT:
            monitor.abort()
            continue
        monitor.send(line)
    return line if c.monitor else b""


def stop_monitoring(c: Client) -> None:
    """``c`` leaves monitor mode (RESET, disconnection)."""
    monitors = c.server.monitors
    if c.monitor:
        c.monitor = False
        monitors.remove(c)
        if not monitors:
            for client in c.server.clients.values():
                client.update_gate()


@command("MONITOR")
def monitor(c: Client, args: list[bytes]) -> bytes:
    if c.in_exec:
        raise CommandError("ERR MONITOR isn't allowed for DENY BLOCKING client")
    if c.monitor:
        return b""  # already monitoring: Redis ignores it, with no reply
    c.monitor = True
    monitors = c.server.monitors
    monitors.append(c)
    if len(monitors) == 1:
        for client in c.server.clients.values():
            client.update_gate()
    return OK
