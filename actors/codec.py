"""Sans-I/O mailbox codec: msgpack-rpc frames in, Python lists out.

Wire format (msgpack arrays, self-delimiting on a byte stream)::

    request       [0, id, method, args, kwargs]
    response      [1, id, error, result]      error: nil or [type, message, detail]
    notification  [2, method, args]

Codec rules:

* ``feed`` accepts any slicing of the stream and returns the complete frames
  seen so far, in order; partial frames wait for more bytes.
* At most ``max_frame`` bytes are buffered for one unfinished frame; a longer
  frame, undecodable bytes, an ext type or a frame of the wrong shape raise
  :class:`ProtocolError`.  After an error the codec is dead: the stream has lost
  its framing, so the only safe move is to close that one connection.
* ``bin`` stays ``bytes``, ``str`` stays ``str`` (``raw=False``), ints stay ints.
"""

from __future__ import annotations

from typing import Any

import msgpack

__all__ = [
    "NOTIFICATION",
    "REQUEST",
    "RESPONSE",
    "Codec",
    "ProtocolError",
    "encode",
]

REQUEST = 0
RESPONSE = 1
NOTIFICATION = 2

#: Default bound on one frame (and on the decoder's buffer): 64 MiB.
DEFAULT_MAX_FRAME = 64 * 1024 * 1024

# One shared packer: Packer.pack() with autoreset returns fresh bytes, so no
# state leaks between messages, and building a Packer per message costs more.
_packer = msgpack.Packer(use_bin_type=True, autoreset=True)


class ProtocolError(ValueError):
    """The peer sent bytes that are not a valid mailbox frame.

    ``frames`` holds the valid frames decoded before the bad one, so that a
    caller can still deliver them before closing the connection.
    """

    frames: list[list[Any]] = []


def _no_ext(code: int, data: bytes) -> Any:
    # Ext types would let a peer smuggle in custom decoding; refuse them all.
    raise ProtocolError(f"msgpack ext type {code} is not allowed on a mailbox")


def encode(message: list[Any] | tuple[Any, ...]) -> bytes:
    """Encode one frame.  Raises ``TypeError`` for values msgpack cannot carry."""
    return _packer.pack(message)  # type: ignore[no-any-return]


def check(message: Any) -> list[Any]:
    """Return ``message`` if it has one of the three frame shapes, else raise."""
    # Hot path: one branch per shape, cheapest tests first; details on failure.
    if type(message) is list:
        size = len(message)
        if size == 4:
            error = message[2]
            if message[0] == RESPONSE and type(message[1]) is int and (
                error is None or (type(error) is list and len(error) == 3)
            ):
                return message
        elif size == 5:
            if (
                message[0] == REQUEST
                and type(message[1]) is int
                and type(message[2]) is str
                and type(message[3]) is list
                and type(message[4]) is dict
            ):
                return message
        elif size == 3 and (
            message[0] == NOTIFICATION and type(message[1]) is str and type(message[2]) is list
        ):
            return message
    raise ProtocolError(_why(message))


def _why(message: Any) -> str:
    if type(message) is not list or not message:
        return f"frame is not a non-empty array: {message!r:.80}"
    kind = message[0]
    names = {REQUEST: "request", RESPONSE: "response", NOTIFICATION: "notification"}
    if kind not in names or type(kind) is not int:
        return f"unknown frame type {kind!r:.20}"
    if kind == RESPONSE and len(message) == 4 and type(message[1]) is int:
        return f"malformed error in response: {message[2]!r:.80}"
    return f"malformed {names[kind]} frame: {message!r:.80}"


class Codec:
    """Incremental decoder plus encoder for one mailbox connection."""

    __slots__ = ("_dead", "_fed", "_unpacker", "max_frame")

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._unpacker = msgpack.Unpacker(
            raw=False,
            use_list=True,
            strict_map_key=False,
            max_buffer_size=max_frame,
            ext_hook=_no_ext,
        )
        self._fed = 0
        self._dead = False

    @staticmethod
    def encode(message: list[Any] | tuple[Any, ...]) -> bytes:
        """Encode one frame (see :func:`encode`)."""
        return _packer.pack(message)  # type: ignore[no-any-return]

    def feed(self, data: bytes) -> list[list[Any]]:
        """Add bytes from the stream; return the frames now complete."""
        if self._dead:
            raise ProtocolError("codec already failed")
        out: list[list[Any]] = []
        unpacker = self._unpacker
        view = memoryview(data)
        try:
            while view:
                # The unpacker refuses a feed that would push its buffer past
                # max_frame, so feed only what fits and drain between slices:
                # a big read of many small frames is fine, one big frame is not.
                room = self.max_frame - (self._fed - unpacker.tell())
                if room <= 0:
                    raise ProtocolError(f"frame larger than {self.max_frame} bytes")
                chunk = view[:room]
                view = view[room:]
                unpacker.feed(chunk)
                self._fed += len(chunk)
                out += map(check, unpacker)
        except ProtocolError as exc:
            self._dead = True
            exc.frames = out
            raise
        except (ValueError, msgpack.UnpackException, TypeError) as exc:
            # FormatError/StackError/UnpackValueError/BufferFull and friends.
            self._dead = True
            error = ProtocolError(f"undecodable msgpack: {type(exc).__name__}: {exc}")
            error.frames = out
            raise error from exc
        return out
