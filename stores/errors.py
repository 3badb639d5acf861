"""Exceptions of the ``stores`` package.

``ConnectionError`` and ``TimeoutError`` also derive from the builtins of the
same name, so ``except ConnectionError`` works whichever one is in scope.
"""

from __future__ import annotations

import builtins
from typing import Final

__all__ = [
    "AuthenticationError",
    "ConnectionError",
    "ExecAbortError",
    "InvalidURL",
    "LockError",
    "NamespaceError",
    "NoPermissionError",
    "NoScriptError",
    "NoSuchStore",
    "PoolTimeout",
    "ProtocolError",
    "ResponseError",
    "StoreError",
    "TimeoutError",
    "WatchError",
    "WrongTypeError",
    "response_error",
]


class StoreError(Exception):
    """Base class of every error raised by ``stores``."""


class InvalidURL(StoreError, ValueError):
    """A connection string that cannot be parsed; the message names the bad part."""


class NoSuchStore(InvalidURL):
    """No store is registered for the URL's scheme."""


class ConnectionError(StoreError, builtins.ConnectionError):
    """The connection to the server could not be made or was lost."""


class ProtocolError(ConnectionError):
    """The server sent bytes that are not valid RESP; that connection is closed."""


class TimeoutError(StoreError, builtins.TimeoutError):
    """A connect, command or pool wait went past its deadline."""


class PoolTimeout(TimeoutError):
    """Every connection of the pool was busy for the whole wait timeout."""


class NamespaceError(StoreError, ValueError):
    """A command whose keys cannot be located was run under a namespace."""


class WatchError(StoreError):
    """A watched key changed: the transaction was not executed."""


class LockError(StoreError):
    """A lock could not be acquired in time, or was released by someone else."""


class ResponseError(StoreError):
    """The server replied with an error (``-ERR ...``)."""

    @property
    def code(self) -> str:
        """The error's first word: ``ERR``, ``WRONGTYPE``, ``NOSCRIPT`` ..."""
        message = str(self.args[0]) if self.args else ""
        return message.split(" ", 1)[0]


class WrongTypeError(ResponseError):
    """``WRONGTYPE``: the key holds another kind of value."""


class NoScriptError(ResponseError):
    """``NOSCRIPT``: the script's SHA1 is not in the server's cache."""


class ExecAbortError(ResponseError):
    """``EXECABORT``: a queued command was rejected, the transaction was discarded."""


class AuthenticationError(ResponseError):
    """``NOAUTH`` / ``WRONGPASS``: authentication needed or refused."""


class NoPermissionError(AuthenticationError):
    """``NOPERM``: the user may not run this command or touch this key."""


_BY_CODE: Final[dict[str, type[ResponseError]]] = {
    "WRONGTYPE": WrongTypeError,
    "NOSCRIPT": NoScriptError,
    "EXECABORT": ExecAbortError,
    "NOAUTH": AuthenticationError,
    "WRONGPASS": AuthenticationError,
    "NOPERM": NoPermissionError,
}


def response_error(message: str) -> ResponseError:
    """The ``ResponseError`` subclass instance for a server error message."""
    return _BY_CODE.get(message.split(" ", 1)[0], ResponseError)(message)
