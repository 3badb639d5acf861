"""Replies across a mailbox: error replies nested in lists travel as paths.

A pipeline's replies can hold ``ResponseError`` instances at any depth (an
EXEC reply holds the errors of its commands).  msgpack carries no exceptions,
so ``pack_replies`` replaces each by ``None`` and lists ``[path, message]``
beside the data; ``unpack_replies`` puts them back as the same
``ResponseError`` subclasses.
"""

from __future__ import annotations

from typing import Any

from ..errors import response_error

__all__ = ["pack_replies", "unpack_replies"]

# A tuple: ``Exception | list`` would build a union object on every call.
_NESTED = (Exception, list)


def pack_replies(replies: list[Any]) -> list[Any]:
    """``[data, errors]`` for a list of raw replies."""
    errors: list[list[Any]] = []
    # One check per distinct type, not per reply: a batch's replies are mostly alike.
    if any(issubclass(kind, _NESTED) for kind in set(map(type, replies))):
        return [_strip(replies, [], errors), errors]
    return [replies, errors]  # flat and error-free, the common case: no copy


def _strip(value: Any, path: list[int], errors: list[list[Any]]) -> Any:
    if isinstance(value, Exception):
        errors.append([path, str(value)])
        return None
    if isinstance(value, list):
        return [_strip(item, [*path, i], errors) for i, item in enumerate(value)]
    return value


def unpack_replies(packed: list[Any]) -> list[Any]:
    """The replies ``pack_replies`` was given, errors rebuilt."""
    data, errors = packed
    for path, message in errors:
        target = data
        for index in path[:-1]:
            target = target[index]
        target[path[-1]] = response_error(message)
    return list(data)
