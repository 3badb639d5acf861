"""Functions: FCALL, FCALL_RO and FUNCTION (LOAD, DELETE, FLUSH, LIST, STATS,
DUMP, RESTORE, KILL).  The libraries are ``stores.pulsards.functions``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..functions import Functions
from ..rdb import PayloadError, dump_functions, load_functions, verify
from ..reply import OK, CommandError, bulk, map_reply, set_reply, simple
from ..table import command
from .args import glob_matcher, subcommand_error

if TYPE_CHECKING:
    from ..protocol import Client

__all__: list[str] = []


def functions(c: Client) -> Functions:
    return c.server.functions


@command("FCALL")
def fcall(c: Client, args: list[bytes]) -> bytes:
    return functions(c).call(c, args, False)


@command("FCALL_RO")
def fcall_ro(c: Client, args: list[bytes]) -> bytes:
    return functions(c).call(c, args, True)


@command("FUNCTION|LOAD")
def function_load(c: Client, args: list[bytes]) -> bytes:
    replace = False
    for option in args[2:-1]:
        if option.upper() != b"REPLACE":
            raise CommandError("ERR Unknown option given: " + option.decode("utf-8", "replace"))
        replace = True
    return bulk(functions(c).load(args[-1], replace))


@command("FUNCTION|DELETE")
def function_delete(c: Client, args: list[bytes]) -> bytes:
    functions(c).delete(args[2])
    return OK


@command("FUNCTION|FLUSH")
def function_flush(c: Client, args: list[bytes]) -> bytes:
    if len(args) > 3:
        raise subcommand_error(args, "FUNCTION")
    if len(args) == 3 and args[2].upper() not in (b"ASYNC", b"SYNC"):
        raise CommandError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    functions(c).flush()
    return OK


@command("FUNCTION|LIST")
def function_list(c: Client, args: list[bytes]) -> bytes:
    with_code = False
    pattern: bytes | None = None
    i = 2
    while i < len(args):
        word = args[i].upper()
        if not with_code and word == b"WITHCODE":
            with_code = True
        elif pattern is None and word == b"LIBRARYNAME":
            if i == len(args) - 1:
                raise CommandError("ERR library name argument was not given")
            i += 1
            pattern = args[i]
        else:
            raise CommandError("ERR Unknown argument " + args[i].decode("utf-8", "replace"))
        i += 1
    resp3 = c.resp3
    nil = c.nil
    # Redis matches library names without regard to case.
    match = glob_matcher(pattern.lower()).match if pattern is not None else None
    libraries = []
    for library in functions(c).current.libraries.values():
        if match is not None and not match(library.name.lower()):
            continue
        described = [
            map_reply(((bulk(b"name"), bulk(f.name)),
                       (bulk(b"description"), bulk(f.description) if f.description is not None
                        else nil),
                       (bulk(b"flags"), set_reply(map(simple, f.flags), resp3))), resp3)
            for f in library.functions.values()]
        fields = [(bulk(b"library_name"), bulk(library.name)),
                  (bulk(b"engine"), bulk(b"LUA")),
                  (bulk(b"functions"), b"*%d\r\n%s" % (len(described), b"".join(described)))]
        if with_code:
            fields.append((bulk(b"library_code"), bulk(library.code)))
        libraries.append(map_reply(fields, resp3))
    return b"*%d\r\n%s" % (len(libraries), b"".join(libraries))


@command("FUNCTION|STATS")
def function_stats(c: Client, args: list[bytes]) -> bytes:
    # A function holds the loop while it runs: none is running when this is read.
    current = functions(c).current
    counts = map_reply(((bulk(b"libraries_count"), b":%d\r\n" % len(current.libraries)),
                        (bulk(b"functions_count"), b":%d\r\n" % len(current.functions))),
                       c.resp3)
    return map_reply(((bulk(b"running_script"), c.nil),
                      (bulk(b"engines"), map_reply(((bulk(b"LUA"), counts),), c.resp3))),
                     c.resp3)


@command("FUNCTION|DUMP")
def function_dump(c: Client, args: list[bytes]) -> bytes:
    return bulk(dump_functions(functions(c).codes()))


@command("FUNCTION|RESTORE")
def function_restore(c: Client, args: list[bytes]) -> bytes:
    if len(args) > 4:
        raise subcommand_error(args, "FUNCTION")
    policy = args[3].upper() if len(args) == 4 else b"APPEND"
    if policy not in (b"APPEND", b"REPLACE", b"FLUSH"):
        raise CommandError("ERR Wrong restore policy given, value should be either FLUSH, "
                           "APPEND or REPLACE.")
    if not verify(args[2]):
        raise CommandError("ERR DUMP payload version or checksum are wrong")
    try:
        codes = load_functions(args[2])
    except PayloadError as exc:
        raise CommandError(f"ERR {exc}") from None
    functions(c).restore(codes, policy)
    return OK


@command("FUNCTION|KILL")
def function_kill(c: Client, args: list[bytes]) -> bytes:
    # A function holds the loop until it ends: none is running when this is read.
    return b"-NOTBUSY No scripts in execution right now.\r\n"
