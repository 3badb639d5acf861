"""The Lua scripting engine of pulsards (Lua 5.1 through lupa); the commands
(EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT) are in ``commands.scripting``.
Functions (FUNCTION LOAD, FCALL) run in the same engine: ``load_library`` and
``call_function`` here, the libraries in ``functions``.

A script runs to its end on the server's loop, like any command: nothing else
runs meanwhile, so it is atomic.  Its rules, as Redis 7.0's:

* the script is compiled once (chunk ``@user_script``) and cached by its
  SHA1; EVAL caches too, so EVALSHA finds what EVAL ran;
* ``KEYS`` and ``ARGV`` are set before each run; globals are read-only and
  reading an unknown one is an error;
* ``redis.call`` runs a command as the caller (its database, RESP2 replies
  unless ``redis.setresp(3)``), raising the command's error; ``redis.pcall``
  returns it as ``{err=...}``; commands flagged ``noscript`` are refused, and
  blocking commands do not block;
* replies cross between RESP and Lua by Redis' conversion tables, and an
  error raised by the script is answered as ``<error> script: <sha>, on
  @user_script:<line>.``;
* the writes a script makes reach the AOF as one MULTI/EXEC (effects, not the
  script), so replaying does not run Lua.

``lupa`` (the ``lua`` extra) is imported on the first script: without it the
scripting commands answer an error saying so.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from importlib import resources
from typing import TYPE_CHECKING, Any

from .luajson import ScriptError, decode, deep_recursion, encode
from .reply import (
    NIL2,
    NIL3,
    CommandError,
    bulk,
    double,
    error,
    integer,
    map_reply,
    set_reply,
)

if TYPE_CHECKING:
    from .protocol import Client
    from .server import Server

__all__ = ["Scripting", "scripting", "shebang_flags"]

log = logging.getLogger("stores.pulsards")

_LOG_LEVELS = (logging.DEBUG, logging.INFO, logging.WARNING, logging.WARNING)
_LOAD_TIMEOUT_MS = 500  # FUNCTION LOAD's, as Redis' LOAD_TIMEOUT_MS

# The sandbox (sandbox.lua beside this package), built once per server.
_BOOT = (resources.files("stores.pulsards") / "sandbox.lua").read_text(encoding="utf-8")


class Scripting:
    """One server's Lua state and script cache."""

    def __init__(self, server: Server) -> None:
        try:
            from lupa import lua51
        except ImportError:
            raise CommandError("ERR scripting needs the lupa package: "
                               "pip install 'arbiter-stores[lua]'") from None
        self.server = server
        # No attribute of a Python object is reachable from a script (through
        # redis.call, say) but a ScriptError's text: the sandbox stays shut.
        self.lua = lua51.LuaRuntime(encoding=None, unpack_returned_tuples=True,
                                    register_eval=False, register_builtins=False,
                                    attribute_filter=_only_error_text)
        self.lua_type = lua51.lua_type
        self.scripts: dict[bytes, Any] = {}
        # The running script: its caller, whether it may write, whether it has.
        self.caller: Client | None = None
        self.read_only = False
        self.wrote = False
        self.resp = 2
        self.started = 0.0
        # Redis' rand48 state for math.random: its initial value, never reseeded
        # but by math.randomseed (as in Redis, scripts continue one sequence).
        self.rand48 = 0x1234ABCD330E
        boot = self.lua.execute(_BOOT, self._call, self._pcall, _describe, self._busy,
                                _lua_sha1hex, self._log, self._setresp, self._json_encode,
                                self._json_decode, self._random, self._randomseed)
        (self._compile, self._run, self._null, self._rawget, self._call_function,
         self._load_library) = boot
        self.loading = False  # a library's code is running (FUNCTION LOAD)
        # The SHA1s of the scripts whose shebang says ``flags=no-writes``.
        self.no_writes: set[bytes] = set()

    # ------------------------------------------------------------- the cache
    def load(self, body: bytes) -> bytes:
        """Compile and cache ``body``; its SHA1 (ERR on a syntax error)."""
        sha = _sha1hex(body)
        if sha not in self.scripts:
            flags, code = _shebang(body)
            function, message = self._compile(code)
            if not function:
                raise CommandError("ERR Error compiling script (new function): "
                                   + message.decode("utf-8", "replace"))
            self.scripts[sha] = function
            if b"no-writes" in flags:
                self.no_writes.add(sha)
        return sha

    def flush(self) -> None:
        self.scripts.clear()
        self.no_writes.clear()

    def load_library(self, code: bytes, register: Any) -> None:
        """Run a library's ``code`` (FUNCTION LOAD): ``register(name, callback,
        flags, description)`` gets each function it registers; CommandError
        with Redis' text when it does not compile or fails."""
        function, message = self._compile(code, b"@user_function")
        if not function:
            raise CommandError("ERR Error compiling function: "
                               + message.decode("utf-8", "replace"))
        self.loading = True
        self.started = time.monotonic()
        try:
            ok, result = self._load_library(function, register)
        finally:
            self.loading = False
        if not ok:
            message = self._rawget(result, b"err").decode("utf-8", "replace")
            raise CommandError("ERR Error registering functions: " + message)

    # ------------------------------------------------------------- running
    def run(self, c: Client, sha: bytes, keys: list[bytes], args: list[bytes],
            read_only: bool) -> bytes:
        """Run a cached script for ``c``; its reply in ``c``'s protocol."""
        read_only = read_only or sha in self.no_writes
        return self.invoke(c, self._run, self.scripts[sha], keys, args, read_only,
                           f"{sha.decode()}, on @user_script")

    def call_function(self, c: Client, function: Any, name: bytes, keys: list[bytes],
                      args: list[bytes], read_only: bool) -> bytes:
        """Run a registered function (FCALL) for ``c``; its reply in ``c``'s protocol."""
        return self.invoke(c, self._call_function, function, keys, args, read_only,
                           f"{name.decode()}, on @user_function")

    def invoke(self, c: Client, runner: Any, code: Any, keys: list[bytes], args: list[bytes],
               read_only: bool, where: str) -> bytes:
        """``runner(code, keys, args)`` as ``c``; an error raised names ``where``."""
        if self.caller is not None:
            raise CommandError("ERR This Redis command is not allowed from script")
        lua = self.lua
        db, resp3, nil, in_exec = c.db, c.resp3, c.nil, c.in_exec
        self.caller, self.read_only, self.wrote, self.resp = c, read_only, False, 2
        self.started = time.monotonic()
        c.in_exec = True  # blocking commands answer at once
        c.resp3, c.nil = False, NIL2  # until redis.setresp(3)
        try:
            ok, result = runner(code, lua.table_from(keys), lua.table_from(args))
        finally:
            self.caller = None
            c.db, c.resp3, c.nil, c.in_exec = db, resp3, nil, in_exec
        if not ok:
            message = self._rawget(result, b"err").decode("utf-8", "replace")
            line = self._rawget(result, b"line")
            if line is not None:
                message += f" script: {where}:{line}."
            return error(message)
        try:
            with deep_recursion():
                return self._to_resp(result, resp3)
        except RecursionError:
            return error("ERR the script's reply is nested too deeply")

    def _to_resp(self, value: Any, resp3: bool) -> bytes:
        """The reply for a script's result (Redis' Lua to RESP conversion)."""
        if value is None:
            return NIL3 if resp3 else NIL2
        if value is True or value is False:
            # Booleans follow the script's protocol (redis.setresp), then the caller's.
            if self.resp == 3:
                if resp3:
                    return b"#t\r\n" if value else b"#f\r\n"
                return b":1\r\n" if value else b":0\r\n"
            if value:
                return b":1\r\n"
            return NIL3 if resp3 else NIL2
        if isinstance(value, int | float):
            # Redis casts the double to long long: out of range (inf and NaN
            # too) that gives LLONG_MIN on the machines it runs on.
            if -9.223372036854775808e18 <= value < 9.223372036854775808e18:
                return integer(int(value))
            return b":-9223372036854775808\r\n"
        if isinstance(value, bytes):
            return bulk(value)
        if self.lua_type(value) != "table":  # a function, a coroutine: nothing to send
            return NIL3 if resp3 else NIL2
        # Raw reads, as Redis' lua_rawget: a metatable's __index runs no code here.
        get = self._rawget
        err = get(value, b"err")
        if isinstance(err, bytes):
            return error(err.decode("utf-8", "replace"))
        ok = get(value, b"ok")
        if isinstance(ok, bytes):
            return b"+%s\r\n" % ok.replace(b"\r", b" ").replace(b"\n", b" ")
        number = get(value, b"double")
        if isinstance(number, int | float):
            return double(float(number), resp3)
        big = get(value, b"big_number")
        if isinstance(big, bytes):
            return b"(%s\r\n" % big if resp3 else bulk(big)
        pairs = get(value, b"map")
        if self.lua_type(pairs) == "table":
            return map_reply(((self._to_resp(k, resp3), self._to_resp(v, resp3))
                              for k, v in pairs.items()), resp3)
        members = get(value, b"set")
        if self.lua_type(members) == "table":
            return set_reply((self._to_resp(k, resp3) for k, _ in members.items()), resp3)
        parts = []
        index = 1
        while (item := get(value, index)) is not None:
            parts.append(self._to_resp(item, resp3))
            index += 1
        return b"*%d\r\n%s" % (len(parts), b"".join(parts))

    def _log(self, *args: Any) -> None:
        """``redis.log(level, message...)``."""
        if len(args) < 2:
            raise ScriptError(b"ERR redis.log() requires two arguments or more.")
        if not isinstance(args[0], int):
            raise ScriptError(b"ERR First argument must be a number (log level).")
        text = " ".join(a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a)
                        for a in args[1:])
        log.log(_LOG_LEVELS[min(max(args[0], 0), 3)], "script: %s", text)

    def _json_encode(self, *args: Any) -> bytes:
        """``cjson.encode(value)``."""
        if len(args) != 1:
            raise ScriptError(b"bad argument #1 to 'encode' (expected 1 argument)", True)
        with deep_recursion():
            return encode(args[0], self.lua_type)

    def _json_decode(self, *args: Any) -> Any:
        """``cjson.decode(text)``."""
        if len(args) != 1 or not isinstance(args[0], bytes):
            raise ScriptError(b"bad argument #1 to 'decode' (string expected)", True)
        with deep_recursion():
            return decode(args[0], self.lua.table_from, self._null)

    def _random(self, *args: Any) -> float:
        """``math.random([m [, n]])``: Redis' redis_math_random over its rand48."""
        self.rand48 = (self.rand48 * 0x5DEECE66D + 0xB) & 0xFFFFFFFFFFFF
        r = ((self.rand48 >> 17) % 0x7FFFFFFF) / 0x7FFFFFFF
        if not args:
            return r
        if len(args) == 1:
            upper = _lua_int(args[0], 1, "random")
            if upper < 1:
                raise ScriptError(b"bad argument #1 to 'random' (interval is empty)", True)
            return float(math.floor(r * upper) + 1)
        if len(args) == 2:
            lower, upper = _lua_int(args[0], 1, "random"), _lua_int(args[1], 2, "random")
            if lower > upper:
                raise ScriptError(b"bad argument #2 to 'random' (interval is empty)", True)
            return float(math.floor(r * (upper - lower + 1)) + lower)
        raise ScriptError(b"wrong number of arguments", True)

    def _randomseed(self, *args: Any) -> None:
        """``math.randomseed(n)``: redisSrand48."""
        seed = _lua_int(args[0] if args else None, 1, "randomseed") & 0xFFFFFFFF
        self.rand48 = (seed << 16) | 0x330E

    def _busy(self) -> bytes | None:
        """The error that ends the script now, None while it may go on.

        After ``busy-reply-threshold`` Redis lets ``SCRIPT KILL`` (``FUNCTION
        KILL``) end a script that has not written; pulsards cannot read that
        command while the script holds the loop, so it ends such a script
        itself.  A library's code has 500 ms to load, as in Redis.
        """
        elapsed = int((time.monotonic() - self.started) * 1000)
        if self.loading:
            return b"ERR FUNCTION LOAD timeout" if elapsed > _LOAD_TIMEOUT_MS else None
        if elapsed < self.server.config.busy_reply_threshold or self.wrote:
            return None
        return b"ERR Script killed by pulsards: it ran for %d ms without writing" % elapsed

    def _setresp(self, *args: Any) -> None:
        """``redis.setresp(2|3)``: the protocol of the replies ``redis.call`` sees."""
        if len(args) != 1:
            raise ScriptError(b"ERR redis.setresp() requires one argument.")
        version = args[0]
        if version not in (2, 3) or isinstance(version, bool):
            raise ScriptError(b"ERR RESP version must be 2 or 3.")
        self.resp = version
        caller = self.caller
        if caller is not None:
            caller.resp3 = version == 3
            caller.nil = NIL3 if version == 3 else NIL2

    def _call(self, *argv: Any) -> Any:
        """``redis.call``: the reply, or a ``ScriptError`` raised."""
        reply = self._command(argv)
        if reply[:1] == b"-":
            raise ScriptError(reply[1:-2])
        return _from_resp(self.lua, reply, 0)[0]

    def _pcall(self, *argv: Any) -> Any:
        """``redis.pcall``: the reply, an error as ``{err=...}``."""
        return _from_resp(self.lua, self._command(argv), 0)[0]

    def _command(self, argv: tuple[Any, ...]) -> bytes:
        if not argv:
            return b"-ERR Please specify at least one argument for this redis lib call\r\n"
        args = []
        for arg in argv:
            if arg.__class__ is bytes:
                args.append(arg)
            elif arg.__class__ is int or arg.__class__ is float:
                # Lua numbers are doubles; Redis prints them with %.17g.
                args.append(b"%.17g" % arg)
            else:
                return b"-ERR Lua redis lib command arguments must be strings or integers\r\n"
        c = self.caller
        assert c is not None
        return self._execute(c, args)

    def _execute(self, c: Client, argv: list[bytes]) -> bytes:
        dispatch = c.server.dispatch
        entry = dispatch.get(argv[0]) or dispatch.get(argv[0].upper())
        if entry is None:
            return b"-ERR Unknown Redis command called from script\r\n"
        if not entry.lo <= len(argv) <= entry.hi:
            return b"-ERR Wrong number of args calling Redis command from script\r\n"
        spec = entry.spec_of(argv)
        if "noscript" in spec.flags:
            return b"-ERR This Redis command is not allowed from script\r\n"
        if c.user.restricted:  # the caller's ACL rules hold in its scripts
            from .commands.acl import script_denied

            refused = script_denied(c, argv, entry)
            if refused is not None:
                return refused
        if "write" in spec.flags:
            if self.read_only:
                return b"-ERR Write commands are not allowed from read-only scripts.\r\n"
            self.wrote = True
        try:
            return entry.handler(c, argv)
        except CommandError as exc:
            return exc.reply()
        finally:
            if c.server.monitors:
                from .commands.monitor import feed

                feed(c, argv, entry, source="lua")
            tracking = c.server.tracking
            if tracking is not None and c.tracking is not None:
                tracking.remember(c, entry, argv)  # a script's reads are its caller's


def scripting(server: Server) -> Scripting:
    """The server's scripting state, made on first use."""
    state = server.scripting
    if state is None:
        state = server.scripting = Scripting(server)
    return state


def _only_error_text(obj: Any, name: Any, is_setting: bool) -> Any:
    if isinstance(obj, ScriptError) and name in (b"err", "err") and not is_setting:
        return "err"
    raise AttributeError("not accessible from a script")


def _describe(err: Any, line: int | bool | None) -> bytes:
    """The text of a Python exception raised into a script: for the error
    handler (``line``: the script's line, None when unknown), positioned like
    Lua's own errors where it is one of theirs; bare for ``pcall`` (False)."""
    if not isinstance(err, ScriptError):
        return b"ERR " + str(err).encode("utf-8", "replace")
    if not err.positioned or line is False:
        return err.err
    where = b"user_script:%d: " % line if line is not None else b""
    return b"ERR " + where + err.err


def _sha1hex(data: bytes) -> bytes:
    return hashlib.sha1(data).hexdigest().encode()


def _lua_int(value: Any, position: int, name: str) -> int:
    """luaL_checkint: a number or a numeric string, truncated."""
    kind = "no value" if value is None else "table"
    if isinstance(value, bool):
        kind = "boolean"
    elif isinstance(value, int | float):
        return int(value) if value == value else 0
    elif isinstance(value, bytes):
        try:
            return int(float(value))
        except (ValueError, OverflowError):
            kind = "string"
    raise ScriptError(b"bad argument #%d to '%s' (number expected, got %s)"
                      % (position, name.encode(), kind.encode()), True)


_SCRIPT_FLAGS = frozenset({b"no-writes", b"allow-oom", b"allow-stale", b"no-cluster",
                           b"allow-cross-slot-keys"})


def shebang_flags(body: bytes) -> set[bytes]:
    """The flags of a script's ``#!lua flags=...`` line (CommandError when bad)."""
    return _shebang(body)[0]


def _shebang(body: bytes) -> tuple[set[bytes], bytes]:
    """The flags of a ``#!lua flags=...`` first line, and the code to compile
    (the shebang blanked, so that line numbers stay)."""
    if not body.startswith(b"#!"):
        return set(), body
    end = body.find(b"\n")
    if end < 0:
        raise CommandError("ERR Invalid script shebang")
    parts = body[:end].split()
    if parts[0] != b"#!lua":
        raise CommandError("ERR Unexpected engine in script shebang: "
                           + parts[0].decode("utf-8", "replace"))
    flags: set[bytes] = set()
    for part in parts[1:]:
        if not part.startswith(b"flags="):
            raise CommandError("ERR Unknown lua shebang option: "
                               + part.decode("utf-8", "replace"))
        for flag in filter(None, part[6:].split(b",")):
            if flag not in _SCRIPT_FLAGS:
                raise CommandError("ERR Unexpected flag in script shebang: "
                                   + flag.decode("utf-8", "replace"))
            flags.add(flag)
    return flags, body[end:]


def _lua_sha1hex(*args: Any) -> bytes:
    """``redis.sha1hex(s)``."""
    if len(args) != 1 or not isinstance(args[0], bytes | int | float):
        raise ScriptError(b"ERR wrong number of arguments")
    value = args[0]
    return _sha1hex(value if isinstance(value, bytes) else b"%.14g" % value)


# ------------------------------------------------------- RESP <-> Lua
def _from_resp(lua: Any, data: bytes, pos: int) -> tuple[Any, int]:
    """The Lua value of the reply at ``data[pos:]`` (a handler's own, so well
    formed), and where the next one starts."""
    kind = data[pos]
    end = data.index(b"\r\n", pos)
    line = data[pos + 1:end]
    pos = end + 2
    if kind == 58:  # ':'
        return int(line), pos
    if kind == 36 or kind == 61:  # '$', '='
        size = int(line)
        if size < 0:
            return False, pos
        value = data[pos:pos + size]
        if kind == 61:
            return lua.table_from({b"verbatim_string": lua.table_from(
                {b"format": value[:3], b"string": value[4:]})}), pos + size + 2
        return value, pos + size + 2
    if kind == 43:  # '+'
        return lua.table_from({b"ok": line}), pos
    if kind == 45:  # '-'
        return lua.table_from({b"err": line}), pos
    if kind == 42 or kind == 126 or kind == 62:  # '*', '~', '>'
        count = int(line)
        if count < 0:
            return False, pos
        items = []
        for _ in range(count):
            item, pos = _from_resp(lua, data, pos)
            items.append(item)
        if kind == 126:
            return lua.table_from({b"set": lua.table_from(dict.fromkeys(items, True))}), pos
        return lua.table_from(items), pos
    if kind == 37:  # '%'
        pairs = {}
        for _ in range(int(line)):
            key, pos = _from_resp(lua, data, pos)
            pairs[key], pos = _from_resp(lua, data, pos)
        return lua.table_from({b"map": lua.table_from(pairs)}), pos
    if kind == 95:  # '_'
        return None, pos
    if kind == 35:  # '#'
        return line == b"t", pos
    if kind == 44:  # ','
        return lua.table_from({b"double": float(line)}), pos
    if kind == 40:  # '('
        return lua.table_from({b"big_number": line}), pos
    raise ValueError(f"unexpected reply type {chr(kind)!r}")
