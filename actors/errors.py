"""Exceptions of the runtime and their trip across a mailbox.

An error travels as ``[type, message, detail]``: the registered type name, the
message and the remote traceback text.  The receiver rebuilds the same class
when the name is in the allow-list (:func:`register_error`), otherwise a
:class:`RemoteError` carrying all three.  Nothing is ever unpickled, so a peer
can only make us build classes we chose.
"""

from __future__ import annotations

import traceback
from typing import Any

__all__ = [
    "ActorError",
    "ConnectionLost",
    "RemoteError",
    "UnknownMethodError",
    "decode_error",
    "encode_error",
    "register_error",
]


class ActorError(Exception):
    """Base class of the runtime's own errors."""


class RemoteError(ActorError):
    """An exception raised by a remote actor whose class is not known here.

    ``type_name`` is the remote class (``module.QualName``), ``message`` its
    text and ``remote_traceback`` the formatted traceback from the remote side.
    """

    def __init__(self, type_name: str, message: str, remote_traceback: str = "") -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message
        self.remote_traceback = remote_traceback


class ConnectionLost(ActorError, ConnectionError):
    """The mailbox connection closed before the reply arrived."""


class UnknownMethodError(ActorError, AttributeError):
    """The remote actor does not expose the requested method."""


_by_name: dict[str, type[BaseException]] = {}
_names: dict[type[BaseException], str] = {}


def _type_name(cls: type[BaseException]) -> str:
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def register_error(cls: type[BaseException], name: str | None = None) -> type[BaseException]:
    """Allow ``cls`` to be rebuilt from a remote error (usable as a decorator).

    The class must accept a single message string as its constructor argument.
    Subclasses are not registered implicitly: an unregistered subclass of a
    registered class arrives as a :class:`RemoteError` naming the subclass.
    """
    key = name or _type_name(cls)
    _by_name[key] = cls
    _names[cls] = key
    return cls


for _cls in (
    ArithmeticError, AssertionError, AttributeError, ConnectionError, FileExistsError,
    FileNotFoundError, IndexError, KeyError, LookupError, NotImplementedError,
    OverflowError, PermissionError, RuntimeError, TimeoutError, TypeError,
    UnicodeError, ValueError, ZeroDivisionError,
    ActorError, ConnectionLost, UnknownMethodError,
):
    register_error(_cls)


def _message(exc: BaseException) -> str:
    # KeyError('x') prints as "'x'"; send the argument itself so the rebuilt
    # exception compares and prints like the original.
    if len(exc.args) == 1:
        return str(exc.args[0])
    return str(exc)


def encode_error(exc: BaseException) -> list[str]:
    """``[type, message, detail]`` for the response frame."""
    if isinstance(exc, RemoteError):
        # Relay: keep the original remote identity instead of "RemoteError".
        return [exc.type_name, exc.message, exc.remote_traceback]
    detail = "".join(traceback.format_exception(exc))
    cls = type(exc)
    return [_names.get(cls) or _type_name(cls), _message(exc), detail]


def decode_error(error: Any) -> BaseException:
    """Rebuild an exception from ``[type, message, detail]``; never ``None``."""
    try:
        type_name, message, detail = error
        type_name, message, detail = str(type_name), str(message), str(detail)
    except (TypeError, ValueError):
        return RemoteError("<unknown>", repr(error)[:200], "")
    cls = _by_name.get(type_name)
    if cls is not None and cls is not RemoteError:
        try:
            exc = cls(message)
        except Exception:
            exc = None
        if exc is not None:
            exc.remote_traceback = detail  # type: ignore[attr-defined]
            if detail:
                exc.add_note(f"Remote traceback:\n{detail.rstrip()}")
            return exc
    return RemoteError(type_name, message, detail)


