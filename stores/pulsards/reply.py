"""Reply encoding for pulsards handlers, and the errors handlers raise.

Handlers return ready RESP bytes: encoding happens once, where the value is
made, and the connection joins a whole batch of replies into one write.  The
helpers here are small on purpose: the hot commands inline the formats.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

__all__ = [
    "EMPTY_ARRAY",
    "NIL2",
    "NIL3",
    "OK",
    "ONE",
    "PONG",
    "QUEUED",
    "WRONGTYPE",
    "ZERO",
    "Blocked",
    "CommandError",
    "ProtocolError",
    "array",
    "bulk",
    "bulks",
    "double",
    "error",
    "help_reply",
    "integer",
    "map_reply",
    "set_reply",
    "simple",
]

OK: Final = b"+OK\r\n"
PONG: Final = b"+PONG\r\n"
QUEUED: Final = b"+QUEUED\r\n"
NIL2: Final = b"$-1\r\n"
NIL3: Final = b"_\r\n"
NIL_ARRAY2: Final = b"*-1\r\n"
ZERO: Final = b":0\r\n"
ONE: Final = b":1\r\n"
EMPTY_ARRAY: Final = b"*0\r\n"


class CommandError(Exception):
    """A command failed: the connection gets ``-<message>`` and goes on.

    ``message`` starts with the error code (``ERR``, ``WRONGTYPE``, ...), as
    Redis' error replies do.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def reply(self) -> bytes:
        return error(self.message)


class ProtocolError(Exception):
    """Malformed request framing: reply ``-ERR Protocol error: ...`` and close."""


class Blocked(Exception):
    """Raised by a handler that parked its client (BLPOP and friends)."""


WRONGTYPE: Final = CommandError(
    "WRONGTYPE Operation against a key holding the wrong kind of value")
NOT_INTEGER: Final = CommandError("ERR value is not an integer or out of range")
NOT_FLOAT: Final = CommandError("ERR value is not a valid float")
SYNTAX: Final = CommandError("ERR syntax error")


def error(message: str) -> bytes:
    """``-message\\r\\n`` with CR/LF replaced as Redis does."""
    text = message.replace("\r", " ").replace("\n", " ")
    return b"-%s\r\n" % text.encode("utf-8", "replace")


def simple(text: str | bytes) -> bytes:
    """A simple string reply."""
    data = text.encode() if isinstance(text, str) else text
    return b"+%s\r\n" % data


def help_reply(lines: list[str]) -> bytes:
    """A HELP subcommand's reply: its lines as simple strings."""
    return b"*%d\r\n" % len(lines) + b"".join(simple(line) for line in lines)


def integer(value: int) -> bytes:
    """An integer reply."""
    return b":%d\r\n" % value


def bulk(value: bytes | None, resp3: bool = False) -> bytes:
    """A bulk string reply, or the protocol's null for ``None``."""
    if value is None:
        return NIL3 if resp3 else NIL2
    return b"$%d\r\n%s\r\n" % (len(value), value)


# "$<n>" for the lengths most values have: indexing beats formatting, and a
# list's __getitem__ is a fast C call for ``map`` (a tuple's is not).
_HEADS: Final = [b"$%d" % n for n in range(1024)]
_CRLF_JOIN: Final = b"\r\n".join


def bulks(values: Iterable[bytes | None], resp3: bool = False) -> bytes:
    """An array of bulk strings (``None`` items become nulls)."""
    # Any: a null fails len() and lands in the except clause, on purpose.
    items: list[Any] = values if values.__class__ is list else list(values)
    try:
        # Values of one length (LRANGE of fixed-size ids, say) share one
        # header: a single join, no header per value.  The first and last
        # lengths decide whether counting them all is worth it.
        size = len(items[0])
        if len(items[-1]) == size and list(map(len, items)).count(size) == len(items):
            return b"*%d\r\n$%d\r\n%s\r\n" % (
                len(items), size, (b"\r\n$%d\r\n" % size).join(items))
        heads = list(map(_HEADS.__getitem__, map(len, items)))
    except (TypeError, IndexError):  # empty, a null, or a value of 1 KiB or more
        nil = NIL3 if resp3 else NIL2
        return b"*%d\r\n%s" % (len(items), b"".join(
            [nil if v is None else b"$%d\r\n%s\r\n" % (len(v), v) for v in items]))
    # "*<n>", then "$<len>" and the value for each, CRLF after every part: one join.
    parts: list[bytes] = [b""] * (2 * len(items) + 2)
    parts[0] = b"*%d" % len(items)
    parts[1:-1:2] = heads
    parts[2:-1:2] = items
    return _CRLF_JOIN(parts)


def array(items: Iterable[bytes]) -> bytes:
    """An array of already encoded replies."""
    parts = list(items)
    return b"*%d\r\n%s" % (len(parts), b"".join(parts))


def set_reply(items: Iterable[bytes], resp3: bool) -> bytes:
    """A set of already encoded replies (``~`` in RESP3, an array in RESP2)."""
    parts = list(items)
    return b"%s%d\r\n%s" % (b"~" if resp3 else b"*", len(parts), b"".join(parts))


def map_reply(pairs: Iterable[tuple[bytes, bytes]], resp3: bool) -> bytes:
    """A map of already encoded (key, value) replies (a flat array in RESP2)."""
    flat: list[bytes] = []
    for key, value in pairs:
        flat.append(key)
        flat.append(value)
    count = len(flat) // 2
    head = b"%%%d\r\n" % count if resp3 else b"*%d\r\n" % (2 * count)
    return head + b"".join(flat)


def format_double(value: float) -> bytes:
    """A double as Redis 7.0 prints scores: ``%.17g``, ``inf`` and ``-inf``."""
    if value in (float("inf"), float("-inf")):
        return b"inf" if value > 0 else b"-inf"
    if value != value:
        return b"nan"
    return b"%.17g" % value


def double(value: float, resp3: bool) -> bytes:
    """A double reply: ``,x`` in RESP3, a bulk string in RESP2."""
    text = format_double(value)
    if resp3:
        return b",%s\r\n" % text
    return b"$%d\r\n%s\r\n" % (len(text), text)
