"""Connection commands: PING, ECHO, SELECT, AUTH, HELLO, CLIENT, QUIT, RESET.

AUTH and HELLO authenticate as an ACL user (``stores.pulsards.acl``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ...redis.resp import encode_reply
from ..pause import pause, unpause
from ..reply import OK, PONG, SYNTAX, Blocked, CommandError, bulk, integer
from ..table import command
from .args import subcommand_error, to_int
from .tracking import redirect_of

if TYPE_CHECKING:
    from ..protocol import Client
    from ..table import Entry

_WRONGPASS = CommandError("WRONGPASS invalid username-password pair or user is disabled.")


@command("PING")
def ping(c: Client, args: list[bytes]) -> bytes:
    if len(args) > 2:
        raise CommandError("ERR wrong number of arguments for 'ping' command")
    if c.subscribed:  # RESP2 pub/sub mode answers with a message-like array
        return b"*2\r\n$4\r\npong\r\n" + bulk(args[1] if len(args) == 2 else b"")
    return PONG if len(args) == 1 else bulk(args[1])


@command("ECHO")
def echo(c: Client, args: list[bytes]) -> bytes:
    return bulk(args[1])


@command("SELECT")
def select(c: Client, args: list[bytes]) -> bytes:
    index = to_int(args[1])
    if not 0 <= index < len(c.server.keyspace):
        raise CommandError("ERR DB index is out of range")
    c.select(index)
    return OK


def _authenticate(c: Client, cmd: bytes, user: bytes | None, password: bytes) -> None:
    """AUTH [user] pass, HELLO's AUTH (``cmd``): become ``user`` (``default``
    when left out)."""
    acl = c.server.acl
    if user is None:
        if acl.default.nopass:
            raise CommandError(
                "ERR AUTH <password> called without any password configured for the "
                "default user. Are you sure your configuration is correct?")
        user = b"default"
    found = acl.authenticate(user, password)
    if found is None:
        from .acl import log_denial

        log_denial(c, "auth", "multi" if c.in_exec else "toplevel", cmd, user)
        raise _WRONGPASS
    c.user, c.authenticated = found, True
    c.locked = False  # and the gate follows the user's rules


@command("AUTH")
def auth(c: Client, args: list[bytes]) -> bytes:
    if len(args) > 3:
        raise SYNTAX
    if len(args) == 2:
        _authenticate(c, args[0], None, args[1])
    else:
        _authenticate(c, args[0], args[1], args[2])
    return OK


@command("HELLO")
def hello(c: Client, args: list[bytes]) -> bytes:
    version = 2 if c.resp3 is False else 3
    if len(args) > 1:
        try:
            version = to_int(args[1])
        except CommandError:
            raise CommandError(
                "ERR Protocol version is not an integer or out of range") from None
        if version not in (2, 3):
            raise CommandError("NOPROTO unsupported protocol version")
    name: bytes | None = None
    i = 2
    while i < len(args):  # AUTH authenticates where it stands, as in Redis 7.0
        option = args[i].upper()
        more = len(args) - i - 1
        if option == b"AUTH" and more >= 2:
            _authenticate(c, args[0], args[i + 1], args[i + 2])
            i += 3
        elif option == b"SETNAME" and more >= 1:
            name = args[i + 1]
            _check_name(name)
            i += 2
        else:
            text = args[i].decode("utf-8", "replace")
            raise CommandError(f"ERR Syntax error in HELLO option '{text}'")
    if c.locked:
        raise CommandError(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise "
            "the HELLO AUTH <user> <pass> option can be used to authenticate the "
            "client and select the RESP protocol version at the same time")
    if name is not None:
        c.name = name
    c.set_protocol(version)
    from ..server import VERSION

    info = {"server": "redis", "version": VERSION, "proto": version, "id": c.id,
            "mode": "standalone", "role": "master", "modules": []}
    return encode_reply(info, version)


@command("QUIT")
def quit_(c: Client, args: list[bytes]) -> bytes:
    c.closing = True
    return OK


@command("RESET")
def reset(c: Client, args: list[bytes]) -> bytes:
    from .monitor import stop_monitoring
    from .pubsub import unsubscribe_all
    from .transactions import discard_state

    discard_state(c)
    unsubscribe_all(c)
    stop_monitoring(c)
    c.server.untrack(c)
    c.reply_off = c.skip_next = c.skip_this = c.muted = c.no_evict = False
    c.select(0)
    c.set_protocol(2)
    c.name = b""
    # Back to the default user, authenticated only if it needs no password.
    c.user, c.authenticated = c.server.acl.default, c.server.acl.open_default()
    c.locked = not c.authenticated
    return b"+RESET\r\n"


# ------------------------------------------------------------------ CLIENT
def _check_name(name: bytes) -> None:
    if any(ch <= 32 or ch > 126 for ch in name):
        raise CommandError(
            "ERR Client names cannot contain spaces, newlines or special characters.")


@command("CLIENT|ID")
def client_id(c: Client, args: list[bytes]) -> bytes:
    return integer(c.id)


@command("CLIENT|SETNAME")
def client_setname(c: Client, args: list[bytes]) -> bytes:
    _check_name(args[2])
    c.name = args[2]
    return OK


@command("CLIENT|GETNAME")
def client_getname(c: Client, args: list[bytes]) -> bytes:
    return bulk(c.name or None, c.resp3)


def _full_name(c: Client, req: list[bytes]) -> str:
    """A request's command as Redis names it in CLIENT LIST (``client|info``)."""
    name = req[0].decode("utf-8", "replace").lower()
    entry = c.server.dispatch.get(req[0].upper())
    if entry is not None and entry.subcommands and len(req) > 1:
        sub = entry.subcommands.get(req[1].upper())
        if sub is not None:
            return sub.name
    return name


def client_line(c: Client) -> str:
    """One line of CLIENT LIST / CLIENT INFO, in Redis' field order."""
    now = time.monotonic()
    mode = c.tracking
    flags = "".join((
        "O" * c.monitor, "x" * (c.multi is not None), "b" * (c.blocked is not None),
        "t" * (mode is not None), "R" * (mode is not None and mode.broken),
        "B" * (mode is not None and mode.bcast), "e" * c.no_evict)) or "N"
    qbuf = c.parser.pending() if c.parser is not None else 0
    cmd = _full_name(c, c.last_command)
    return (
        f"id={c.id} addr={c.addr} laddr={c.laddr} fd=-1 name={c.name.decode('utf-8', 'replace')}"
        f" age={int(now - c.created)} idle={int(now - c.last_active)} flags={flags}"
        f" db={c.db.index} sub=0 psub=0 ssub=0"
        f" multi={len(c.multi) if c.multi is not None else -1} qbuf={qbuf} qbuf-free=0"
        f" argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r"
        f" cmd={cmd} user={c.user.name.decode('utf-8', 'replace')} redir={redirect_of(c)}"
        f" resp={3 if c.resp3 else 2}\n"
    )


@command("CLIENT|REPLY")
def client_reply(c: Client, args: list[bytes]) -> bytes:
    """ON, OFF (no reply, this one's neither) or SKIP (none for the next command)."""
    mode = args[2].upper()
    reply = b""
    if mode == b"ON":
        c.reply_off = c.skip_this = False
        reply = OK
    elif mode == b"OFF":
        c.reply_off = True
    elif mode == b"SKIP":
        c.skip_next = not c.reply_off
    else:
        raise SYNTAX
    c.muted = c.reply_off or c.skip_next
    c.update_gate()
    return reply


def run_muted(c: Client, req: list[bytes], entry: Entry | None) -> bytes:
    """A command under CLIENT REPLY OFF or SKIP: it runs, its reply is dropped
    (unless it was CLIENT REPLY ON)."""
    c.skip_this, c.skip_next = c.skip_next, False
    c.muted = False
    try:
        reply = c._special(req, entry)
    except Blocked:
        # Held by CLIENT PAUSE: SKIP waits for the command (a blocking one
        # is answered later in any case, as in Redis).
        if c.blocked is not None and c.blocked.held:
            c.skip_next, c.skip_this = c.skip_this, False
        raise
    finally:
        quiet = c.reply_off or c.skip_this
        c.skip_this = False
        c.muted = c.reply_off or c.skip_next
        c.update_gate()
    return b"" if quiet else reply


@command("CLIENT|NO-EVICT")
def client_no_evict(c: Client, args: list[bytes]) -> bytes:
    """Accepted and shown in CLIENT LIST: pulsards evicts no client."""
    mode = args[2].upper()
    if mode not in (b"ON", b"OFF"):
        raise SYNTAX
    c.no_evict = mode == b"ON"
    return OK


@command("CLIENT|LIST")
def client_list(c: Client, args: list[bytes]) -> bytes:
    clients = list(c.server.clients.values())
    if len(args) > 2:
        option = args[2].upper()
        if option == b"ID" and len(args) > 3:
            wanted = {to_int(a) for a in args[3:]}
            clients = [x for x in clients if x.id in wanted]
        elif option == b"TYPE" and len(args) == 4:
            kind = args[3].lower()
            if kind not in (b"normal", b"master", b"replica", b"pubsub"):
                raise CommandError(f"ERR Unknown client type '{args[3].decode()}'")
            clients = clients if kind == b"normal" else []
        else:
            raise SYNTAX
    c.last_command = args  # Redis shows the running command as the caller's
    return bulk("".join(client_line(x) for x in clients).encode())


@command("CLIENT|INFO")
def client_info(c: Client, args: list[bytes]) -> bytes:
    c.last_command = args
    return bulk(client_line(c).encode())


@command("CLIENT|UNBLOCK")
def client_unblock(c: Client, args: list[bytes]) -> bytes:
    """End another client's blocking command as if it timed out (or, with
    ERROR, with an ``-UNBLOCKED`` error); 1 if it was blocked, else 0."""
    if len(args) > 4:
        raise subcommand_error(args, "CLIENT")
    reply = None
    if len(args) == 4:
        reason = args[3].upper()
        if reason == b"ERROR":
            reply = b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
        elif reason != b"TIMEOUT":
            raise CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    target = c.server.clients.get(to_int(args[2]))
    if target is None or target.blocked is None or target.blocked.held:
        # A client held by CLIENT PAUSE is left held, as Redis 7.2 does
        # (7.0.15 crashes).
        return b":0\r\n"
    c.server.release(target.blocked, reply)
    return b":1\r\n"


@command("CLIENT|PAUSE")
def client_pause(c: Client, args: list[bytes]) -> bytes:
    if len(args) > 4:
        raise subcommand_error(args, "CLIENT")
    milliseconds = to_int(args[2], CommandError("ERR timeout is not an integer or out of range"))
    if milliseconds < 0:
        raise CommandError("ERR timeout is negative")
    everything = True
    if len(args) == 4:
        mode = args[3].upper()
        if mode not in (b"WRITE", b"ALL"):
            raise CommandError("ERR CLIENT PAUSE mode must be WRITE or ALL")
        everything = mode == b"ALL"
    pause(c.server, everything, milliseconds)
    return OK


@command("CLIENT|UNPAUSE")
def client_unpause(c: Client, args: list[bytes]) -> bytes:
    unpause(c.server)
    return OK


@command("CLIENT|KILL")
def client_kill(c: Client, args: list[bytes]) -> bytes:
    clients = list(c.server.clients.values())
    if len(args) == 3:  # old form: CLIENT KILL addr:port
        addr = args[2].decode("utf-8", "replace")
        for other in clients:
            if other.addr == addr:
                _kill(c, other)
                return OK
        raise CommandError("ERR No such client")
    if len(args) % 2:
        raise SYNTAX
    skipme = True
    ids: set[int] = set()
    addrs: set[str] = set()
    laddrs: set[str] = set()
    users: set[bytes] = set()
    others_only = False  # a TYPE filter naming what no client here is
    for i in range(2, len(args), 2):
        option, value = args[i].upper(), args[i + 1]
        if option == b"ID":
            ids.add(to_int(value))
        elif option == b"ADDR":
            addrs.add(value.decode("utf-8", "replace"))
        elif option == b"LADDR":
            laddrs.add(value.decode("utf-8", "replace"))
        elif option == b"SKIPME":
            if value.lower() not in (b"yes", b"no"):
                raise SYNTAX
            skipme = value.lower() == b"yes"
        elif option == b"USER":
            if value not in c.server.acl.users:
                raise CommandError(f"ERR No such user '{value.decode('utf-8', 'replace')}'")
            users.add(value)
        elif option == b"TYPE":
            others_only |= value.lower() != b"normal"
        else:
            raise SYNTAX
    killed = 0
    for other in clients:
        if (skipme and other is c) or others_only:
            continue
        if ((not ids or other.id in ids) and (not addrs or other.addr in addrs)
                and (not laddrs or other.laddr in laddrs)
                and (not users or other.user.name in users)):
            _kill(c, other)
            killed += 1
    return integer(killed)


def _kill(c: Client, other: Client) -> None:
    # Killing oneself: the reply is written first, then the connection closes.
    if other is c:
        c.closing = True
    else:
        other.abort()
