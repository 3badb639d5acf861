"""Sans-I/O request framing with Redis' exact rules and error texts.

pulsards parses most traffic with ``hiredis.Reader`` (see ``protocol``); this
parser is the slow path it falls back to for inline commands, requests split
across reads, and malformed input, because it knows what hiredis does not:
inline commands, Redis' wording of protocol errors, ``proto-max-bulk-len``
and the limits for unauthenticated clients.

``feed(data)`` then ``gets()`` until it returns ``None`` (need more data).
``gets`` returns a request (a list of ``bytes``, possibly empty for blank
lines and ``*0``, which Redis ignores) or raises ``ProtocolError``.
"""

from __future__ import annotations

import re
from typing import Final

from .reply import ProtocolError

__all__ = ["INLINE_MAX", "RequestParser", "needs_sdssplitargs", "split_args", "string2ll"]

INLINE_MAX: Final = 64 * 1024  # PROTO_INLINE_MAX_SIZE
_INT: Final = re.compile(rb"(?:0|-?[1-9][0-9]{0,18})\Z")  # Redis' string2ll (no "-0")
_INT_MAX: Final = 2**31 - 1
_ESCAPES: Final = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t",
                   ord("b"): b"\b", ord("a"): b"\a"}
_HEX: Final = frozenset(b"0123456789abcdefABCDEF")
_ISSPACE: Final = frozenset(b" \t\n\v\f\r")  # C's isspace(): skipped between arguments
_ENDS_ARG: Final = frozenset(b" \n\r\t")  # what ends an unquoted argument (not \v, \f)


def string2ll(text: bytes) -> int | None:
    """``text`` as Redis' ``string2ll`` reads it (a 64-bit integer in canonical
    form: no sign but "-", no leading zeros, no spaces), else ``None``."""
    if _INT.match(text) is None:
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


def needs_sdssplitargs(data: bytes) -> bool:
    """Whether ``data.split()`` could split inline lines differently from Redis:
    quotes, NULs, and \\v or \\f (skipped before an argument, kept inside one)."""
    return 34 in data or 39 in data or 0 in data or 11 in data or 12 in data


def split_args(line: bytes) -> list[bytes] | None:
    """Split an inline command as Redis' ``sdssplitargs``; ``None`` if quotes are unbalanced."""
    if not needs_sdssplitargs(line):
        return line.split()
    nul = line.find(b"\0")
    if nul >= 0:
        line = line[:nul]  # Redis splits a C string: a NUL ends the line
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in _ISSPACE:
            i += 1
        if i >= n:
            return args
        current = bytearray()
        inq = insq = False
        while True:
            if inq:
                if i >= n:
                    return None
                c = line[i]
                if (c == 92 and i + 3 < n and line[i + 1] == ord("x")
                        and line[i + 2] in _HEX and line[i + 3] in _HEX):
                    current.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == 92 and i + 1 < n:
                    i += 1
                    current += _ESCAPES.get(line[i], bytes((line[i],)))
                elif c == 34:
                    # A closing quote must be followed by a space or the end.
                    if i + 1 < n and line[i + 1] not in _ISSPACE:
                        return None
                    inq = False
                    i += 1
                    break
                else:
                    current.append(c)
            elif insq:
                if i >= n:
                    return None
                c = line[i]
                if c == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    current.append(39)
                elif c == 39:
                    if i + 1 < n and line[i + 1] not in _ISSPACE:
                        return None
                    insq = False
                    i += 1
                    break
                else:
                    current.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in _ENDS_ARG:
                    break
                if c == 34:
                    inq = True
                elif c == 39:
                    insq = True
                else:
                    current.append(c)
            i += 1
        args.append(bytes(current))


class RequestParser:
    """Resumable parser of client requests (multibulk and inline)."""

    __slots__ = ("_args", "_buf", "_bulklen", "_pos", "_remaining", "auth_required",
                 "max_bulk_len")

    def __init__(self, max_bulk_len: int = 512 * 1024 * 1024) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._remaining = 0  # bulk strings still expected by the current multibulk
        self._bulklen = -1  # length of the bulk being read, -1 before its header
        self._args: list[bytes] = []
        self.max_bulk_len = max_bulk_len
        self.auth_required = False

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        self._buf += data

    def pending(self) -> int:
        """Bytes received and not yet part of a returned request."""
        return len(self._buf) - self._pos

    def idle(self) -> bool:
        """True at a request boundary with nothing buffered."""
        return self._remaining == 0 and self._pos == len(self._buf)

    def gets(self) -> list[bytes] | None:
        """The next complete request, ``None`` when more data is needed."""
        buf = self._buf
        if self._remaining == 0:
            if self._pos >= len(buf):
                self._compact()
                return None
            if buf[self._pos] != 42:  # '*'
                return self._inline()
            eol = buf.find(b"\r", self._pos)
            if eol < 0 or eol + 1 >= len(buf):
                if len(buf) - self._pos > INLINE_MAX:
                    raise ProtocolError("too big mbulk count string")
                return None
            count = string2ll(bytes(buf[self._pos + 1:eol]))
            if count is None or count > _INT_MAX:
                raise ProtocolError("invalid multibulk length")
            if count > 10 and self.auth_required:
                raise ProtocolError("unauthenticated multibulk length")
            self._pos = eol + 2
            if count <= 0:
                return []
            self._remaining = count
            self._args = []
        while self._remaining:
            if self._bulklen < 0:
                eol = buf.find(b"\r", self._pos)
                if eol < 0 or eol + 1 >= len(buf):
                    if len(buf) - self._pos > INLINE_MAX:
                        raise ProtocolError("too big bulk count string")
                    self._compact()
                    return None
                if buf[self._pos] != 36:  # '$'
                    got = chr(buf[self._pos])
                    raise ProtocolError(f"expected '$', got '{got}'")
                size = string2ll(bytes(buf[self._pos + 1:eol]))
                if size is None or size < 0 or size > self.max_bulk_len:
                    raise ProtocolError("invalid bulk length")
                if size > 16384 and self.auth_required:
                    raise ProtocolError("unauthenticated bulk length")
                self._pos = eol + 2
                self._bulklen = size
            end = self._pos + self._bulklen
            if len(buf) < end + 2:
                self._compact()
                return None
            self._args.append(bytes(buf[self._pos:end]))
            self._pos = end + 2  # Redis skips the CRLF without looking at it
            self._bulklen = -1
            self._remaining -= 1
        args, self._args = self._args, []
        self._compact()
        return args

    def _inline(self) -> list[bytes] | None:
        buf = self._buf
        eol = buf.find(b"\n", self._pos)
        if eol < 0:
            if len(buf) - self._pos > INLINE_MAX:
                raise ProtocolError("too big inline request")
            return None
        line = bytes(buf[self._pos:eol])
        self._pos = eol + 1
        if line.endswith(b"\r"):
            line = line[:-1]
        args = split_args(line)
        if args is None:
            raise ProtocolError("unbalanced quotes in request")
        self._compact()
        return args

    def _compact(self) -> None:
        # Drop consumed bytes only when it is cheap relative to what is kept.
        pos = self._pos
        if pos and (pos == len(self._buf) or pos > 65536):
            del self._buf[:pos]
            self._pos = 0
