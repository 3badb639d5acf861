"""ACL commands, and the permission checks of connections and scripts.

Users, rules and the check itself are ``stores.pulsards.acl``'s; this module
answers the ACL subcommands with Redis 7.0's replies and errors, and is what
``gate.special`` (for a user whose commands must be checked: the hot path
never gets here) and ``redis.call`` ask before running a command: ``denied``
and ``script_denied`` return the error reply and log the denial (ACL LOG).
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Final

from ...redis.commands import CommandSpec
from ..acl import DENIED_CHANNEL, DENIED_CMD, OK, LogEntry, RuleError, Selector, User
from ..aclfile import AclFileError, read_users, replace_users, save_users, user_line
from ..aclspecs import CATEGORIES, by_category, resolve
from ..reply import OK as OK_REPLY
from ..reply import CommandError, bulk, bulks, double, help_reply, integer, map_reply, set_reply
from ..table import all_entries, command
from .args import subcommand_error, to_int
from .connection import client_line

if TYPE_CHECKING:
    from ..protocol import Client
    from ..server import Server
    from ..table import Entry

__all__ = ["denied", "forget_user", "script_denied", "user_changed"]

log = logging.getLogger("stores.pulsards")

_REASONS: Final = {DENIED_CMD: "command", 2: "key", DENIED_CHANNEL: "channel"}
_EXEC_REASONS: Final = {
    DENIED_CMD: "no permission to execute the command or subcommand",
    2: "no permission to touch the specified keys",
    DENIED_CHANNEL: "no permission to access one of the channels used as arguments",
}
_SCRIPT_REASONS: Final = {
    DENIED_CMD: "run this command or subcommand",
    2: "access at least one of the keys mentioned in the command arguments",
    DENIED_CHANNEL: "publish to the channel mentioned in the command",
}
_HELP: Final = [
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
]
_NO_ACLFILE: Final = CommandError(
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify "
    "users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a "
    "Redis configuration file set) in order to store users in the Redis configuration.")


# ------------------------------------------------------------------ checks
def log_denial(c: Client, reason: str, context: str, obj: bytes,
               username: bytes | None = None) -> None:
    """Add an ACL LOG entry for ``c`` (the user it is, unless ``username``)."""
    entry = LogEntry(reason, context, obj, username or c.user.name, time.time_ns() // 10**6,
                     client_line(c).rstrip("\n"))
    c.server.acl.add_log(entry, c.server.config.acllog_max_len)


def _check(c: Client, req: list[bytes], entry: Entry, context: str) -> tuple[int, CommandSpec]:
    """Check a request of ``c``'s user; log and return the reason when denied,
    with the (sub)command's spec."""
    spec = entry.spec
    if entry.subcommands and len(req) > 1:
        sub = entry.subcommands.get(req[1].upper())
        if sub is None or not sub.lo <= len(req) <= sub.hi:
            return OK, spec  # the container answers its own error first (Redis' order)
        spec = sub.spec
    reason, at = c.user.check(spec, req)
    if reason != OK:
        obj = spec.name.lower().encode() if reason == DENIED_CMD else req[at]
        log_denial(c, _REASONS[reason], context, obj)
    return reason, spec


def denied(c: Client, req: list[bytes], entry: Entry) -> bytes | None:
    """The NOPERM reply when ``c``'s user may not run ``req`` (None when it may).

    At EXEC (``c.in_exec``) the queued commands are checked again, as Redis
    does, with its "rules changed" error."""
    c.last_command = req  # the command CLIENT INFO shows in the log entry
    in_exec = c.in_exec
    context = "multi" if in_exec or c.multi is not None else "toplevel"
    reason, spec = _check(c, req, entry, context)
    if reason == OK:
        return None
    if in_exec:
        return (b"-NOPERM ACLs rules changed between the moment the transaction was "
                b"accumulated and the EXEC call. This command is no longer allowed for the "
                b"following reason: %s\r\n" % _EXEC_REASONS[reason].encode())
    if reason == DENIED_CMD:
        return b"-NOPERM this user has no permissions to run the '%s' command\r\n" % (
            spec.name.lower().encode())
    what = "keys" if reason == 2 else "channels"
    return b"-NOPERM this user has no permissions to access one of the %s used as " \
           b"arguments\r\n" % what.encode()


def script_denied(c: Client, argv: list[bytes], entry: Entry) -> bytes | None:
    """The error ``redis.call`` gets when the script's caller may not run ``argv``."""
    reason, _ = _check(c, argv, entry, "lua")
    if reason == OK:
        return None
    return b"-ERR The user executing the script can't %s\r\n" % _SCRIPT_REASONS[reason].encode()


def user_changed(server: Server, user: User) -> None:
    """Apply a user's new rules to its connections (and, for ``default``, to
    the connections not authenticated yet, which it may have opened or shut)."""
    open_default = server.acl.open_default()
    for client in server.clients.values():
        if client.user is user:
            client.update_gate()
        if not client.authenticated:
            client.locked = not open_default


def forget_user(c: Client, user: User) -> None:
    """Close the connections authenticated as a deleted user (``c``'s own after its reply)."""
    for client in list(c.server.clients.values()):
        if client.user is user:
            client.user, client.authenticated = c.server.acl.default, False
            client.locked = True  # not authenticated any more, whatever default allows
            if client is c:
                c.closing = True
            else:
                client.abort()


def _kill_revoked_subscribers(c: Client, user: User, before: User) -> None:
    """Close the subscribers of ``user`` whose channels its new rules deny."""
    if any(s.allchannels for s in user.selectors):
        return
    allowed = {ch for s in user.selectors for ch in s.channels}
    # Nothing revoked when every pattern allowed before still is (a user that
    # had allchannels lost it: its subscriptions are checked).
    if (not any(s.allchannels for s in before.selectors)
            and all(ch in allowed for s in before.selectors for ch in s.channels)):
        return
    probe = user.selectors[0].copy()
    probe.channels = dict.fromkeys(allowed)
    for client in list(c.server.clients.values()):
        if client.user is not user:
            continue
        if (any(not probe.channel_ok(p, True) for p in client.psubscriptions)
                or any(not probe.channel_ok(ch, False)
                       for ch in (*client.subscriptions, *client.ssubscriptions))):
            if client is c:
                c.closing = True
            else:
                client.abort()


# ---------------------------------------------------------------- commands
@command("ACL|SETUSER")
def acl_setuser(c: Client, args: list[bytes]) -> bytes:
    try:
        user, before = c.server.acl.setuser(args[2], args[3:])
    except RuleError as exc:
        raise CommandError(f"ERR {exc}") from None
    if before is not None:
        _kill_revoked_subscribers(c, user, before)
    user_changed(c.server, user)
    return OK_REPLY


@command("ACL|DELUSER")
def acl_deluser(c: Client, args: list[bytes]) -> bytes:
    if b"default" in args[2:]:
        raise CommandError("ERR The 'default' user cannot be removed")
    deleted = 0
    for name in args[2:]:
        user = c.server.acl.users.pop(name, None)
        if user is not None:
            deleted += 1
            forget_user(c, user)
    return integer(deleted)


def _selector_fields(selector: Selector) -> list[tuple[bytes, bytes]]:
    # (Patterns are bytes, described as latin-1 text: encoded back so.)
    return [(bulk(b"commands"), bulk(selector.describe_commands().encode("latin-1"))),
            (bulk(b"keys"), bulk(selector.keys_text().encode("latin-1"))),
            (bulk(b"channels"), bulk(selector.channels_text().encode("latin-1")))]


@command("ACL|GETUSER")
def acl_getuser(c: Client, args: list[bytes]) -> bytes:
    user = c.server.acl.users.get(args[2])
    if user is None:
        return c.nil
    resp3 = c.resp3
    root, *others = user.selectors
    fields = [
        (bulk(b"flags"), set_reply((bulk(f.encode()) for f in user.flags()), resp3)),
        (bulk(b"passwords"), bulks([p.encode() for p in user.passwords])),
        *_selector_fields(root),
        (bulk(b"selectors"), b"*%d\r\n%s" % (len(others), b"".join(
            map_reply(_selector_fields(s), resp3) for s in others))),
    ]
    return map_reply(fields, resp3)


@command("ACL|USERS")
def acl_users(c: Client, args: list[bytes]) -> bytes:
    return bulks(sorted(c.server.acl.users))


@command("ACL|LIST")
def acl_list(c: Client, args: list[bytes]) -> bytes:
    users = c.server.acl.users
    return bulks([user_line(users[name]) for name in sorted(users)])


@command("ACL|WHOAMI")
def acl_whoami(c: Client, args: list[bytes]) -> bytes:
    return bulk(c.user.name)


@command("ACL|CAT")
def acl_cat(c: Client, args: list[bytes]) -> bytes:
    if len(args) > 3:
        raise subcommand_error(args, "ACL")
    if len(args) == 2:
        return bulks([cat.encode() for cat in CATEGORIES])
    members = by_category(args[2].lower().decode("latin-1"))
    if members is None:
        text = args[2].decode("utf-8", "replace")[:128]
        raise CommandError(f"ERR Unknown category '{text}'")
    # The commands this server has (COMMAND's list), subcommands included.
    return bulks(sorted(entry.spec.name.lower().encode()
                        for entry in all_entries(c.server.dispatch)
                        if entry.spec.name in members))


@command("ACL|GENPASS")
def acl_genpass(c: Client, args: list[bytes]) -> bytes:
    if len(args) > 3:
        raise subcommand_error(args, "ACL")
    bits = to_int(args[2]) if len(args) == 3 else 256
    if not 0 < bits <= 4096:
        raise CommandError("ERR ACL GENPASS argument must be the number of bits for the "
                           "output password, a positive number up to 4096")
    chars = (bits + 3) // 4
    return bulk(os.urandom((chars + 1) // 2).hex()[:chars].encode())


@command("ACL|LOG")
def acl_log(c: Client, args: list[bytes]) -> bytes:
    if len(args) > 3:
        raise subcommand_error(args, "ACL")
    log = c.server.acl.log
    count = 10
    if len(args) == 3:
        if args[2].upper() == b"RESET":
            log.clear()
            return OK_REPLY
        count = max(0, to_int(args[2]))
    now = time.time_ns() // 10**6
    resp3 = c.resp3
    return b"*%d\r\n%s" % (min(count, len(log)), b"".join(map_reply([
        (bulk(b"count"), integer(e.count)), (bulk(b"reason"), bulk(e.reason.encode())),
        (bulk(b"context"), bulk(e.context.encode())), (bulk(b"object"), bulk(e.object)),
        (bulk(b"username"), bulk(e.username)),
        (bulk(b"age-seconds"), double((now - e.ctime) / 1000, resp3)),
        (bulk(b"client-info"), bulk(e.cinfo.encode())),
    ], resp3) for e in log[:count]))


@command("ACL|DRYRUN")
def acl_dryrun(c: Client, args: list[bytes]) -> bytes:
    user = c.server.acl.users.get(args[2])
    if user is None:
        raise CommandError(f"ERR User '{args[2].decode('utf-8', 'replace')}' not found")
    argv = args[3:]
    spec = resolve(argv[0], strict=False, sub=argv[1] if len(argv) > 1 else None)
    if spec is None:
        raise CommandError(f"ERR Command '{argv[0].decode('utf-8', 'replace')}' not found")
    name = spec.name.lower()
    if (spec.arity > 0 and spec.arity != len(argv)) or len(argv) < -spec.arity:
        raise CommandError(f"ERR wrong number of arguments for '{name}' command")
    reason, at = user.check(spec, argv)
    if reason == OK:
        return OK_REPLY
    if reason == DENIED_CMD:
        return bulk(f"This user has no permissions to run the '{name}' command".encode())
    what = "key" if reason == 2 else "channel"
    return bulk(b"This user has no permissions to access the '%s' %s" % (
        argv[at], what.encode()))


@command("ACL|LOAD")
def acl_load(c: Client, args: list[bytes]) -> bytes:
    server = c.server
    if not server.config.aclfile:
        raise _NO_ACLFILE
    try:
        users = read_users(server.config)
    except AclFileError as exc:  # every user as it was
        raise CommandError(f"ERR {exc}") from None
    acl = server.acl
    gone = replace_users(acl, users)
    user_changed(server, acl.default)
    # Redis 7.0 frees every user but default, closing their connections even
    # when the file left them as they were (the caller's own after its reply).
    for user in gone:
        forget_user(c, user)
    return OK_REPLY


@command("ACL|SAVE")
def acl_save(c: Client, args: list[bytes]) -> bytes:
    server = c.server
    if not server.config.aclfile:
        raise _NO_ACLFILE
    try:
        save_users(server.config, server.acl.users)
    except OSError as exc:
        log.warning("Saving the ACL file %r for ACL SAVE: %s", server.config.aclfile, exc)
        raise CommandError("ERR There was an error trying to save the ACLs. Please check the "
                           "server logs for more information") from None
    return OK_REPLY


@command("ACL|HELP")
def acl_help(c: Client, args: list[bytes]) -> bytes:
    return help_reply(_HELP)


