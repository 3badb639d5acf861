"""SLOWLOG and LATENCY: what took long (``slowlog`` and ``latency`` keep it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ..reply import OK, CommandError, bulk, integer
from ..table import command
from .args import subcommand_error, to_int

if TYPE_CHECKING:
    from ..protocol import Client

__all__: list[str] = []


@command("SLOWLOG|GET")
def slowlog_get(c: Client, args: list[bytes]) -> bytes:
    if len(args) > 3:
        raise subcommand_error(args, "SLOWLOG")
    count = 10
    if len(args) == 3:
        count = to_int(args[2], _SLOWLOG_COUNT)
        if count < -1:
            raise _SLOWLOG_COUNT
    return c.server.slowlog.reply(count)


_SLOWLOG_COUNT: Final = CommandError("ERR count should be greater than or equal to -1")


@command("SLOWLOG|LEN")
def slowlog_len(c: Client, args: list[bytes]) -> bytes:
    return integer(len(c.server.slowlog.entries))


@command("SLOWLOG|RESET")
def slowlog_reset(c: Client, args: list[bytes]) -> bytes:
    c.server.slowlog.entries.clear()
    return OK


# ----------------------------------------------------------------- LATENCY
@command("LATENCY|LATEST")
def latency_latest(c: Client, args: list[bytes]) -> bytes:
    rows = [b"*4\r\n%s%s%s%s" % (bulk(name.encode()), integer(series.samples[-1][0]),
                                    integer(series.samples[-1][1]), integer(series.max))
            for name, series in c.server.latency.events.items()]
    return b"*%d\r\n%s" % (len(rows), b"".join(rows))


@command("LATENCY|HISTORY")
def latency_history(c: Client, args: list[bytes]) -> bytes:
    series = c.server.latency.events.get(args[2].decode("utf-8", "replace"))
    samples = list(series.samples) if series is not None else []
    rows = [b"*2\r\n%s%s" % (integer(when), integer(ms)) for when, ms in samples]
    return b"*%d\r\n%s" % (len(rows), b"".join(rows))


@command("LATENCY|RESET")
def latency_reset(c: Client, args: list[bytes]) -> bytes:
    return integer(c.server.latency.reset([a.decode("utf-8", "replace") for a in args[2:]]))


@command("LATENCY|GRAPH")
def latency_graph(c: Client, args: list[bytes]) -> bytes:
    name = args[2].decode("utf-8", "replace")
    if name not in c.server.latency.events:
        raise CommandError(f"ERR No samples available for event '{name}'")
    return _verbatim(c, c.server.latency.graph(name))


@command("LATENCY|DOCTOR")
def latency_doctor(c: Client, args: list[bytes]) -> bytes:
    return _verbatim(c, c.server.latency.doctor())


def _verbatim(c: Client, text: str) -> bytes:
    data = text.encode()
    if c.resp3:
        return b"=%d\r\ntxt:%s\r\n" % (len(data) + 4, data)
    return bulk(data)


@command("LATENCY|HISTOGRAM")
def latency_histogram(c: Client, args: list[bytes]) -> bytes:
    # No per-command histograms are kept (latency-tracking no): none to show.
    return b"%0\r\n" if c.resp3 else b"*0\r\n"
