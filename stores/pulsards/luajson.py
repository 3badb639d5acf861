"""``cjson`` for pulsards' scripts: lua-cjson's encoding rules, in Python.

``encode`` writes what lua-cjson 2.1 (the one Redis bundles) writes: numbers
with ``%.14g``, ``/`` escaped, arrays for tables whose keys are 1..n (holes
as ``null``, refused when too sparse), ``{}`` for an empty table, ``null``
for ``cjson.null``.  ``decode`` parses with the standard ``json`` module and
builds Lua tables; its error texts name the character as lua-cjson's do but
are Python's descriptions.  Errors are ``ScriptError``\\ s whose text the
script's error handler prefixes with the position in the script.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["ScriptError", "decode", "deep_recursion", "encode"]

# Nesting lua-cjson refuses to go past (its encode_max_depth and decode_max_depth).
MAX_DEPTH = 1000


@contextlib.contextmanager
def deep_recursion(limit: int = 10_000) -> Iterator[None]:
    """Let the recursive conversions go ``limit`` calls deep: a script's
    tables nest as deep as it likes, and Python's default (1000) is less than
    lua-cjson's 1000 levels at two calls a level.  Python-to-Python calls take
    no C stack in CPython 3.11+, and the server runs one thread."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


class ScriptError(Exception):
    """An error raised into a script from Python (``err``: its text).

    ``positioned`` errors read like Lua's own (``user_script:1: ...``); the
    others (a command's error reply) are given as they are.
    """

    def __init__(self, err: bytes, positioned: bool = False) -> None:
        super().__init__(err)
        self.err = err
        self.positioned = positioned


_ESCAPES = {i: b"\\u%04x" % i for i in range(32)}
_ESCAPES.update({8: b"\\b", 9: b"\\t", 10: b"\\n", 12: b"\\f", 13: b"\\r",
                 34: b'\\"', 92: b"\\\\", 47: b"\\/", 127: b"\\u007f"})
_NEEDS_ESCAPE = re.compile(rb'[\x00-\x1f"\\/\x7f]')


def _string(value: bytes) -> bytes:
    return b'"%s"' % _NEEDS_ESCAPE.sub(lambda m: _ESCAPES[m.group()[0]], value)


def _number(value: float) -> bytes:
    if math.isinf(value) or math.isnan(value):
        raise ScriptError(b"Cannot serialise number: must not be NaN or Inf", True)
    return b"%.14g" % value


def encode(value: Any, lua_type: Callable[[Any], str | None]) -> bytes:
    """The JSON text of a Lua value (``lua_type`` tells Lua objects apart)."""
    out: list[bytes] = []
    _encode(value, lua_type, out, 0)
    return b"".join(out)


def _encode(value: Any, lua_type: Callable[[Any], str | None], out: list[bytes],
            depth: int) -> None:
    if value is None:
        out.append(b"null")
    elif value is True or value is False:
        out.append(b"true" if value else b"false")
    elif isinstance(value, int | float):
        out.append(_number(value))
    elif isinstance(value, bytes):
        out.append(_string(value))
    else:
        kind = lua_type(value)
        if kind == "userdata":  # cjson.null: the only Lua userdata a script can make
            out.append(b"null")
        elif kind == "table":
            _encode_table(value, lua_type, out, depth + 1)
        else:
            # A Python function (redis.call) is a function to the script.
            name = (kind or ("function" if callable(value) else "userdata")).encode()
            raise ScriptError(b"Cannot serialise %s: type not supported" % name, True)


def _encode_table(table: Any, lua_type: Callable[[Any], str | None], out: list[bytes],
                  depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ScriptError(b"Cannot serialise, excessive nesting (%d)" % depth, True)
    items = list(table.items())
    if not items:
        out.append(b"{}")
        return
    if all(k.__class__ is int and k > 0 for k, _ in items):
        top = max(k for k, _ in items)
        if top > len(items) * 2 and top > 10:
            raise ScriptError(b"Cannot serialise table: excessively sparse array", True)
        values = dict(items)
        out.append(b"[")
        for i in range(1, top + 1):
            if i > 1:
                out.append(b",")
            _encode(values.get(i), lua_type, out, depth)
        out.append(b"]")
        return
    out.append(b"{")
    for n, (key, item) in enumerate(items):
        if n:
            out.append(b",")
        if isinstance(key, bytes):
            out.append(_string(key))
        elif isinstance(key, int | float) and not isinstance(key, bool):
            out.append(b'"%s"' % _number(key))
        else:
            raise ScriptError(b"Cannot serialise table: table key must be a number or string",
                              True)
        out.append(b":")
        _encode(item, lua_type, out, depth)
    out.append(b"}")


def decode(text: bytes, table_from: Callable[[Any], Any], null: Any) -> Any:
    """The Lua value of a JSON text: objects and arrays as tables, null as ``null``."""
    try:
        # UTF-8 only: json.loads would guess UTF-16 and UTF-32 from bytes.
        parsed = json.loads(text.decode("utf-8", "surrogatepass"))
    except json.JSONDecodeError as exc:
        raise ScriptError(f"{exc.msg} at character {exc.pos + 1}".encode(), True) from None
    except (UnicodeDecodeError, RecursionError):
        raise ScriptError(b"Expected value but found invalid token at character 1",
                          True) from None
    return _to_lua(parsed, table_from, null, 0)


def _to_lua(value: Any, table_from: Callable[[Any], Any], null: Any, depth: int) -> Any:
    if value is None:
        return null
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 1 << 53:
        return float(value)  # a Lua number is a double
    if isinstance(value, list | dict):
        if depth >= MAX_DEPTH:
            raise ScriptError(b"Found too many nested data structures (%d)" % (depth + 1), True)
        if isinstance(value, list):
            return table_from([_to_lua(v, table_from, null, depth + 1) for v in value])
        return table_from({k.encode("utf-8", "surrogatepass"):
                           _to_lua(v, table_from, null, depth + 1) for k, v in value.items()})
    return value
