"""DEBUG, MODULE, LOLWUT, and the cluster commands of a standalone server.

DEBUG is refused unless ``enable-debug-command`` is ``yes`` (or ``local``
and the client is on the loopback or the unix socket), as in Redis 7.  Of
Redis' subcommands pulsards has the ones client and application tests use:
SLEEP, OBJECT, SET-ACTIVE-EXPIRE, POPULATE, PROTOCOL (a reply of each RESP3
type, byte for byte Redis'), RELOAD, LOG, ERROR, CHANGE-REPL-ID and HELP.
MODULE lists no module and refuses to load one, as Redis does under its
default ``enable-module-command no`` (pulsards cannot load Redis modules).
CLUSTER (every subcommand), READONLY, READWRITE and ASKING answer what Redis
answers without ``cluster-enabled``.
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Final

from ...redis.commands import COMMANDS
from ..reply import OK, CommandError, bulk, help_reply
from ..table import command
from .args import strtod, subcommand_error, to_int
from .keys import encoding_of

if TYPE_CHECKING:
    from ..protocol import Client

__all__: list[str] = []

log = logging.getLogger("stores.pulsards")

_NOT_ALLOWED: Final = ("ERR {0} command not allowed. If the enable-{1}-command option is set "
                       "to \"local\", you can run it from a local connection, otherwise you need "
                       "to set this option in the configuration file, and then restart the "
                       "server.")

_DEBUG_REFUSED: Final = CommandError(_NOT_ALLOWED.format("DEBUG", "debug"))
_MODULE_REFUSED: Final = CommandError(_NOT_ALLOWED.format("MODULE", "module"))

# DEBUG subcommand -> (arity as len(args): fixed N, or at least -N; usage; what it does)
_SUBCOMMANDS: Final = {
    b"CHANGE-REPL-ID": (2, "CHANGE-REPL-ID", "Change the replication id (run_id in INFO)."),
    b"ERROR": (3, "ERROR <string>", "Reply with <string> as an error (its first word the "
                                    "code)."),
    b"LOG": (3, "LOG <message>", "Write <message> to the server log."),
    b"OBJECT": (3, "OBJECT <key>", "Show low level information about <key>'s value."),
    b"POPULATE": (-3, "POPULATE <count> [<prefix>] [<size>]",
                  "Create <count> string keys <prefix>:<n> (key:<n>) holding value:<n>, "
                  "padded with zero bytes to <size>; existing keys are left as they are."),
    b"PROTOCOL": (3, "PROTOCOL <type>", "Reply with a test value of <type>: string, integer, "
                  "double, bignum, null, array, set, map, attrib, push, verbatim, true, false."),
    b"RELOAD": (-2, "RELOAD [NOSAVE] [NOFLUSH] [MERGE]", "Save the snapshot (unless NOSAVE), "
                "empty the databases (unless NOFLUSH) and load the snapshot back."),
    b"SET-ACTIVE-EXPIRE": (3, "SET-ACTIVE-EXPIRE <0|1>",
                           "0 stops expiring keys in the background, 1 restarts it."),
    b"SLEEP": (3, "SLEEP <seconds>", "Stop the server for <seconds> (decimals allowed)."),
}


def _local(c: Client) -> bool:
    return c.unix or c.addr.startswith(("127.0.0.1:", "[::1]:", "::1:"))


def _allowed(c: Client, option: str) -> bool:
    mode = getattr(c.server.config, f"enable_{option}_command")
    return mode == "yes" or (mode == "local" and _local(c))


def refused(c: Client, args: list[bytes]) -> bytes | None:
    """The error for DEBUG or MODULE LOAD/LOADEX/UNLOAD when not enabled
    (``gate.special`` asks first, as Redis' processCommand does), else None."""
    if args[0].upper() == b"DEBUG":
        return None if _allowed(c, "debug") else _DEBUG_REFUSED.reply()
    if len(args) > 1 and args[1].upper() in (b"LOAD", b"LOADEX", b"UNLOAD"):
        return _MODULE_REFUSED.reply()
    return None


@command("DEBUG")
def debug(c: Client, args: list[bytes]) -> bytes:
    if not _allowed(c, "debug"):
        raise _DEBUG_REFUSED
    sub = args[1].upper()
    if sub == b"HELP" and len(args) == 2:
        return _HELP
    known = _SUBCOMMANDS.get(sub)
    if known is None or not (len(args) == known[0] if known[0] > 0 else len(args) >= -known[0]):
        raise subcommand_error(args, "DEBUG")
    return _RUN[sub](c, args)


def _sleep(c: Client, args: list[bytes]) -> bytes:
    parsed = strtod(args[2])
    seconds = parsed[0] if parsed is not None else 0.0  # Redis' strtod: junk is 0
    if seconds > 0:
        time.sleep(seconds)  # the whole server stops, as Redis'
    return OK


def _object(c: Client, args: list[bytes]) -> bytes:
    from ..rdb import dump_payload

    value = c.db.lookup(args[2])
    if value is None:
        raise CommandError("ERR no such key")
    size = len(dump_payload(value)) - 11  # the type byte and the version and CRC after
    return b"+Value at:0x%x refcount:1 encoding:%s serializedlength:%d lru:0 " \
           b"lru_seconds_idle:0\r\n" % (id(value), encoding_of(value).encode(), size)


def _set_active_expire(c: Client, args: list[bytes]) -> bytes:
    c.server.active_expire = bool(_atoi(args[2]))
    return OK


def _atoi(arg: bytes) -> int:
    """C's atoi: the leading digits, 0 when there are none."""
    digits = arg.lstrip()
    sign = -1 if digits[:1] == b"-" else 1
    digits = digits[1:] if digits[:1] in (b"-", b"+") else digits
    end = 0
    while end < len(digits) and digits[end:end + 1].isdigit():
        end += 1
    return sign * int(digits[:end]) if end else 0


def _populate(c: Client, args: list[bytes]) -> bytes:
    if len(args) > 5:
        raise subcommand_error(args, "DEBUG")
    count = to_int(args[2], _POSITIVE)
    if count < 0:
        raise _POSITIVE
    prefix = args[3] if len(args) > 3 else b"key"
    size = to_int(args[4], _POSITIVE) if len(args) > 4 else 0
    db = c.db
    for i in range(count):
        key = b"%s:%d" % (prefix, i)
        if db.lookup(key) is None:
            value = b"value:%d" % i
            if size:  # padded with zero bytes or cut, to exactly size
                value = value[:size].ljust(size, b"\0")
            db.set(key, value)  # watchers and tracking hear of it
    return OK


_POSITIVE: Final = CommandError("ERR value is out of range, must be positive")


def _protocol(c: Client, args: list[bytes]) -> bytes:
    kind = args[2].lower().decode("utf-8", "replace")
    replies = _RESP3 if c.resp3 else _RESP2
    reply = replies.get(kind)
    if reply is None:
        raise CommandError("ERR Wrong protocol type name. Please use one of the following: "
                           "string|integer|double|bignum|null|array|set|map|attrib|push|"
                           "verbatim|true|false")
    return reply


_RESP2: Final = {
    "string": b"$11\r\nHello World\r\n", "integer": b":12345\r\n", "double": b"$5\r\n3.141\r\n",
    "bignum": b"$37\r\n1234567999999999999999999999999999999\r\n", "null": b"$-1\r\n",
    "array": b"*3\r\n:0\r\n:1\r\n:2\r\n", "set": b"*3\r\n:0\r\n:1\r\n:2\r\n",
    "map": b"*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n",
    "attrib": b"$39\r\nSome real reply following the attribute\r\n",
    "push": b"-ERR RESP2 is not supported by this command\r\n",
    "verbatim": b"$25\r\nThis is a verbatim\nstring\r\n", "true": b":1\r\n", "false": b":0\r\n",
}
_RESP3: Final = {
    **_RESP2, "double": b",3.141\r\n", "bignum": b"(1234567999999999999999999999999999999\r\n",
    "null": b"_\r\n", "set": b"~3\r\n:0\r\n:1\r\n:2\r\n",
    "map": b"%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n",
    "attrib": b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n"
              b"$39\r\nSome real reply following the attribute\r\n",
    "push": b">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n"
            b"$40\r\nSome real reply following the push reply\r\n",
    "verbatim": b"=29\r\ntxt:This is a verbatim\nstring\r\n", "true": b"#t\r\n",
    "false": b"#f\r\n",
}


def _reload(c: Client, args: list[bytes]) -> bytes:
    options = {arg.upper() for arg in args[2:]}
    if not options <= {b"NOSAVE", b"NOFLUSH", b"MERGE"}:
        raise CommandError("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE "
                           "options.")
    from ..persistence import LoadError
    from .server import empty_all

    persistence = c.server.persistence
    try:
        if b"NOSAVE" not in options:
            persistence.save()
    except OSError as exc:
        log.warning("DEBUG RELOAD: can't save: %s", exc)
        raise CommandError("ERR Error trying to save the DB, check server logs.") from None
    path = persistence.snapshot_path()
    try:
        snapshot = persistence.read_snapshot(path)  # a bad file changes nothing
        if b"NOFLUSH" not in options:
            empty_all(c.server)
            c.server.functions.flush()
        # Without a flush the snapshot's keys win (Redis exits on a key in
        # both unless MERGE is given).
        persistence.apply_snapshot(snapshot, path, merge=b"NOFLUSH" in options)
    except LoadError as exc:
        log.warning("DEBUG RELOAD: %s", exc)
        raise CommandError("ERR Error trying to load the RDB dump, check server logs.") from None
    return OK


def _log(c: Client, args: list[bytes]) -> bytes:
    log.warning("DEBUG LOG: %s", args[2].decode("utf-8", "replace"))
    return OK


def _error(c: Client, args: list[bytes]) -> bytes:
    text = args[2] if args[2].startswith(b"-") else b"-" + args[2]
    return text.replace(b"\r", b" ").replace(b"\n", b" ") + b"\r\n"


def _change_repl_id(c: Client, args: list[bytes]) -> bytes:
    c.server.run_id = os.urandom(20).hex()
    return OK


_RUN: Final = {b"CHANGE-REPL-ID": _change_repl_id, b"ERROR": _error, b"LOG": _log,
               b"OBJECT": _object, b"POPULATE": _populate, b"PROTOCOL": _protocol,
               b"RELOAD": _reload, b"SET-ACTIVE-EXPIRE": _set_active_expire, b"SLEEP": _sleep}

_HELP: Final = help_reply(
    ["DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"]
    + [line for _, usage, text in sorted(_SUBCOMMANDS.values(), key=lambda s: s[1])
       for line in (usage, f"    {text}")]
    + ["HELP", "    Print this help."])


# ------------------------------------------------------------------ MODULE
@command("MODULE|LIST")
def module_list(c: Client, args: list[bytes]) -> bytes:
    return b"*0\r\n"


def _module_refused(c: Client, args: list[bytes]) -> bytes:
    raise _MODULE_REFUSED


for _name in ("MODULE|LOAD", "MODULE|LOADEX", "MODULE|UNLOAD"):
    command(_name)(_module_refused)

_MODULE_HELP: Final = help_reply([
    "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LIST", "    Return the loaded modules (pulsards has none).",
    "LOAD <path> [<arg> ...]", "    Refused: pulsards cannot load Redis modules.",
    "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]", "    Refused too.",
    "UNLOAD <name>", "    Refused too.",
    "HELP", "    Print this help."])


@command("MODULE|HELP")
def module_help(c: Client, args: list[bytes]) -> bytes:
    return _MODULE_HELP


# ------------------------------------------------------------------ LOLWUT
@command("LOLWUT")
def lolwut(c: Client, args: list[bytes]) -> bytes:
    if len(args) >= 3 and args[1].upper() == b"VERSION":
        to_int(args[2])  # Redis checks it is a number, then draws that version's art
    return bulk(b"pulsards, a Redis in Python. Redis ver. 7.0.15\n")


# ----------------------------------------------------------------- cluster
def _no_cluster(c: Client, args: list[bytes]) -> bytes:
    # pulsards is a standalone server: what Redis with cluster-enabled no answers.
    raise CommandError("ERR This instance has cluster support disabled")


for _name in ("READONLY", "READWRITE", "ASKING", *[
        name for name in COMMANDS if name.startswith("CLUSTER|")]):
    command(_name)(_no_cluster)
