"""Sans-I/O RESP codec: commands to bytes, bytes to replies.

``encode_command(args) -> bytes`` packs one command as a RESP array of bulk
strings.  ``Reader`` parses replies: ``feed(bytes)`` then call ``gets()`` until
it returns the *not enough data* sentinel (``False`` unless told otherwise).
``Reader`` is ``hiredis.Reader`` when hiredis is importable and
``PythonReader`` otherwise; both take the same arguments and give the same
replies, so the rest of the client never knows which one it has.

Reply mapping (RESP2 and RESP3):

==========================  ===============================================
``+simple``                 ``bytes`` (``str`` with an encoding)
``-ERR msg`` / ``!len``     an instance of ``replyError`` (returned, not raised)
``:int``                    ``int``
``$len`` / ``=len``         ``bytes`` (verbatim strings lose their ``txt:`` tag)
``$-1`` / ``*-1`` / ``_``   ``None``
``*n`` / ``~n``             ``list``
``%n``                      ``dict``
``>n``                      ``Push`` (a ``list`` subclass; hiredis' own type
                            with hiredis — test with ``is_push``)
``#t`` / ``#f``             ``bool``
``,double``                 ``float``
``(bignum``                 ``bytes`` (as hiredis does)
``|n`` attributes           skipped by ``PythonReader``
==========================  ===============================================
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

hiredis: Any
try:  # pragma: no cover - exercised by whichever is installed
    import hiredis
except ImportError:  # pragma: no cover
    hiredis = None

__all__ = [
    "HAS_HIREDIS",
    "PythonReader",
    "Reader",
    "encode_command",
    "encode_commands",
    "encode_reply",
    "is_push",
    "python_encode_command",
]

CRLF: Final = b"\r\n"
HAS_HIREDIS: Final = hiredis is not None


class ReplyError(Exception):
    """Default ``replyError`` class of ``PythonReader`` (as hiredis')."""


class ParseError(Exception):
    """Default ``protocolError`` class of ``PythonReader`` (as hiredis')."""


class Push(list[Any]):
    """A RESP3 out-of-band push message (``>`` type)."""


_PUSH_TYPES: tuple[type, ...] = (Push,)
if hiredis is not None:
    _PUSH_TYPES = (Push, hiredis.PushNotification)


def is_push(reply: object) -> bool:
    """True for a RESP3 push message, whichever reader produced it."""
    return isinstance(reply, _PUSH_TYPES)


# --------------------------------------------------------------------- encoding
def _arg_bytes(arg: object, encoding: str) -> bytes:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str):
        return arg.encode(encoding)
    if isinstance(arg, bool):  # bool is an int: refuse before the int branch
        raise TypeError(_bad_type(arg))
    if isinstance(arg, int):
        return b"%d" % arg
    if isinstance(arg, float):
        return repr(arg).encode()
    if isinstance(arg, memoryview):
        return arg.tobytes()
    raise TypeError(_bad_type(arg))


def _bad_type(arg: object) -> str:
    return (
        f"invalid argument of type {type(arg).__name__}: "
        "Redis arguments must be bytes, str, int or float"
    )


def python_encode_command(args: Sequence[Any], encoding: str = "utf-8") -> bytes:
    """Pure-Python RESP encoder, byte-for-byte equal to ``hiredis.pack_command``."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = _arg_bytes(arg, encoding)
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


if hiredis is not None:
    _pack = hiredis.pack_command

    def encode_command(args: Sequence[Any], encoding: str = "utf-8") -> bytes:
        """Encode one command (a sequence of bytes/str/int/float) as RESP."""
        if encoding != "utf-8":
            return python_encode_command(args, encoding)
        for arg in args:
            # hiredis packs bools as ints; refuse them as the pure encoder does.
            if arg is True or arg is False:
                raise TypeError(_bad_type(arg))
        try:
            return _pack(tuple(args))  # type: ignore[no-any-return]
        except TypeError:
            for arg in args:
                if not isinstance(arg, bytes | str | int | float | memoryview):
                    raise TypeError(_bad_type(arg)) from None
            raise
else:  # pragma: no cover
    encode_command = python_encode_command


def encode_commands(commands: Iterable[Sequence[Any]], encoding: str = "utf-8") -> bytes:
    """Encode several commands into one buffer (a pipeline)."""
    return b"".join([encode_command(args, encoding) for args in commands])


def encode_reply(value: Any, protocol: int = 2) -> bytes:
    """Encode a reply as a server sends it (RESP2, or RESP3 with ``protocol=3``).

    ``bytes``/``str`` become bulk strings, ``int`` integers, ``None`` a null,
    lists arrays, ``Push`` a push, exceptions error replies; with RESP3 also
    ``dict`` maps, ``set`` sets, ``bool`` booleans and ``float`` doubles (in
    RESP2 these fall back to arrays, integers and bulk strings as Redis does).
    """
    out: list[bytes] = []
    _encode_reply(value, protocol, out)
    return b"".join(out)


def _encode_reply(value: Any, protocol: int, out: list[bytes]) -> None:
    if isinstance(value, bytes):
        out.append(b"$%d\r\n%s\r\n" % (len(value), value))
    elif isinstance(value, str):
        _encode_reply(value.encode(), protocol, out)
    elif value is None:
        out.append(b"_\r\n" if protocol == 3 else b"$-1\r\n")
    elif isinstance(value, bool):
        out.append((b"#t\r\n" if value else b"#f\r\n") if protocol == 3
                   else (b":1\r\n" if value else b":0\r\n"))
    elif isinstance(value, int):
        out.append(b":%d\r\n" % value)
    elif isinstance(value, float):
        text = repr(value).encode()
        if protocol == 3:
            out.append(b",%s\r\n" % text)
        else:
            _encode_reply(text, protocol, out)
    elif isinstance(value, Exception):
        message = str(value).replace("\r", " ").replace("\n", " ")
        out.append(b"-%s\r\n" % message.encode())
    elif isinstance(value, dict):
        out.append((b"%%%d\r\n" if protocol == 3 else b"*%d\r\n")
                   % (len(value) if protocol == 3 else 2 * len(value)))
        for key, item in value.items():
            _encode_reply(key, protocol, out)
            _encode_reply(item, protocol, out)
    else:
        items = list(value)
        if isinstance(value, Push) and protocol == 3:
            head = b">"
        elif isinstance(value, set | frozenset) and protocol == 3:
            head = b"~"
        else:
            head = b"*"
        out.append(b"%s%d\r\n" % (head, len(items)))
        for item in items:
            _encode_reply(item, protocol, out)


# ---------------------------------------------------------------------- parsing
# PythonReader state machine.  Rules:
# * the buffer only grows by ``feed`` and only shrinks when a top-level reply is
#   complete, so a partial reply is re-entered at ``_pos`` with its containers
#   still on ``_stack``;
# * a container is ``[kind, remaining, items]``; a finished value is appended to
#   the innermost container, and finished containers pop and append upwards;
# * an attribute (``|``) container is dropped when complete: it decorates the
#   next value and never replaces it;
# * a protocol error is sticky: every later ``gets`` raises it again.

_AGGREGATES: Final = {ord("*"): "list", ord("~"): "list", ord("%"): "map", ord(">"): "push",
                      ord("|"): "attr"}


class PythonReader:
    """RESP2/RESP3 reply parser with the interface of ``hiredis.Reader``."""

    def __init__(
        self,
        protocolError: type[Exception] = ParseError,
        replyError: Any = ReplyError,
        encoding: str | None = None,
        errors: str | None = None,
        notEnoughData: Any = False,
    ) -> None:
        self._protocol_error = protocolError
        self._reply_error = replyError
        self._encoding = encoding
        self._errors = errors or "strict"
        self._not_enough = notEnoughData
        self._buf = bytearray()
        self._pos = 0
        self._stack: list[list[Any]] = []
        self._failed: Exception | None = None

    def feed(self, data: bytes | bytearray | memoryview, off: int = 0, length: int = -1) -> None:
        view = memoryview(data)
        end = len(view) if length < 0 else off + length
        self._buf += view[off:end]

    def set_encoding(self, encoding: str | None = None, errors: str | None = None) -> None:
        self._encoding = encoding
        self._errors = errors or "strict"

    def has_data(self) -> bool:
        return self._pos < len(self._buf)

    def len(self) -> int:
        return len(self._buf) - self._pos

    def gets(self) -> Any:
        if self._failed is not None:
            raise self._failed
        try:
            return self._gets()
        except self._protocol_error as exc:
            self._failed = exc
            raise

    def _fail(self, message: str) -> Exception:
        return self._protocol_error(message)

    def _gets(self) -> Any:
        buf = self._buf
        while True:
            pos = self._pos
            eol = buf.find(CRLF, pos)
            if eol < 0:
                return self._not_enough
            kind = buf[pos]
            line = bytes(buf[pos + 1:eol])
            after = eol + 2
            if kind in _AGGREGATES:
                count = self._length(line, "multibulk")
                self._pos = after
                if count < 0:
                    value: Any = None
                else:
                    name = _AGGREGATES[kind]
                    width = 2 if name in ("map", "attr") else 1
                    self._stack.append([name, width * count, []])
                    if count:
                        continue
                    value = self._close()
                    if value is _PENDING:  # an empty attribute decorates nothing
                        continue
            elif kind in (36, 61, 33):  # $ = ! : a length-prefixed string
                size = self._length(line, "bulk")
                if size < 0:
                    self._pos = after
                    value = None
                else:
                    if len(buf) < after + size + 2:
                        return self._not_enough
                    if buf[after + size:after + size + 2] != CRLF:
                        raise self._fail("bulk string not terminated by CRLF")
                    data = bytes(buf[after:after + size])
                    self._pos = after + size + 2
                    if kind == 33:
                        value = self._reply_error(data.decode("utf-8", "replace"))
                    elif kind == 61:
                        value = self._text(data[4:])
                    else:
                        value = self._text(data)
            else:
                self._pos = after
                value = self._simple(kind, line)
            result = self._attach(value)
            if result is not _PENDING:
                # Compact only between replies so partial replies keep offsets.
                if self._pos > 65536 or self._pos == len(buf):
                    del buf[:self._pos]
                    self._pos = 0
                return result

    def _simple(self, kind: int, line: bytes) -> Any:
        if kind == 43:  # +
            return self._text(line)
        if kind == 45:  # -
            return self._reply_error(line.decode("utf-8", "replace"))
        if kind == 58:  # :
            return self._integer(line)
        if kind == 95:  # _
            if line:
                raise self._fail("null with payload")
            return None
        if kind == 35:  # #
            if line == b"t":
                return True
            if line == b"f":
                return False
            raise self._fail("bad boolean")
        if kind == 44:  # ,
            try:
                return float(line)
            except ValueError:
                raise self._fail("bad double value") from None
        if kind == 40:  # ( big number, kept as text like hiredis
            self._integer(line)
            return line
        raise self._fail(f'Protocol error, got "{chr(kind)}" as reply type byte')

    def _integer(self, line: bytes) -> int:
        if not line or not (line.isdigit() or (line[:1] in (b"-", b"+") and line[1:].isdigit())):
            raise self._fail("Bad integer value")
        return int(line)

    def _length(self, line: bytes, what: str) -> int:
        if line == b"-1":
            return -1
        if not line.isdigit():
            raise self._fail(f"Bad {what} length")
        return int(line)

    def _text(self, data: bytes) -> Any:
        if self._encoding is None:
            return data
        return data.decode(self._encoding, self._errors)

    def _attach(self, value: Any) -> Any:
        stack = self._stack
        while stack:
            top = stack[-1]
            top[2].append(value)
            top[1] -= 1
            if top[1]:
                return _PENDING
            value = self._close()
            if value is _PENDING:  # a finished attribute: wait for the real value
                return _PENDING
        return value

    def _close(self) -> Any:
        kind, _, items = self._stack.pop()
        if kind == "list":
            return items
        if kind == "push":
            return Push(items)
        if kind == "map":
            it = iter(items)
            return dict(zip(it, it, strict=True))
        return _PENDING


_PENDING: Final = object()

Reader: Any = hiredis.Reader if hiredis is not None else PythonReader
