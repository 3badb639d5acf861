"""Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT.

The engine (the Lua state, the sandbox, the RESP <-> Lua conversions and the
rules a script runs by) is ``stores.pulsards.lua``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lua import scripting
from ..reply import OK, CommandError
from ..table import command
from .args import to_int

if TYPE_CHECKING:
    from ..protocol import Client

__all__: list[str] = []


# ---------------------------------------------------------------- commands
def _eval(c: Client, args: list[bytes], sha: bytes | None, read_only: bool) -> bytes:
    state = scripting(c.server)
    numkeys = to_int(args[2])
    if numkeys < 0:
        raise CommandError("ERR Number of keys can't be negative")
    if numkeys > len(args) - 3:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    if sha is None:
        sha = state.load(args[1])
    elif sha not in state.scripts:
        return b"-NOSCRIPT No matching script. Please use EVAL.\r\n"
    keys = args[3:3 + numkeys]
    return state.run(c, sha, keys, args[3 + numkeys:], read_only)


@command("EVAL")
def eval_(c: Client, args: list[bytes]) -> bytes:
    return _eval(c, args, None, False)


@command("EVAL_RO")
def eval_ro(c: Client, args: list[bytes]) -> bytes:
    return _eval(c, args, None, True)


@command("EVALSHA")
def evalsha(c: Client, args: list[bytes]) -> bytes:
    return _eval(c, args, args[1].lower(), False)


@command("EVALSHA_RO")
def evalsha_ro(c: Client, args: list[bytes]) -> bytes:
    return _eval(c, args, args[1].lower(), True)


@command("SCRIPT|LOAD")
def script_load(c: Client, args: list[bytes]) -> bytes:
    sha = scripting(c.server).load(args[2])
    return b"$40\r\n%s\r\n" % sha


@command("SCRIPT|EXISTS")
def script_exists(c: Client, args: list[bytes]) -> bytes:
    scripts = scripting(c.server).scripts
    found = [b":1\r\n" if sha.lower() in scripts else b":0\r\n" for sha in args[2:]]
    return b"*%d\r\n%s" % (len(found), b"".join(found))


@command("SCRIPT|FLUSH")
def script_flush(c: Client, args: list[bytes]) -> bytes:
    if len(args) > 3 or (len(args) == 3 and args[2].upper() not in (b"ASYNC", b"SYNC")):
        raise CommandError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    scripting(c.server).flush()
    return OK


@command("SCRIPT|KILL")
def script_kill(c: Client, args: list[bytes]) -> bytes:
    # A script holds the loop until it ends: none is running when this is read.
    return b"-NOTBUSY No scripts in execution right now.\r\n"
