"""The gated path of a connection: what a request goes through when it cannot
take the hot path (``Client.data_received``).

A client is *gated* (``Client.update_gate``) while anything must look at each
of its requests: MULTI, authentication, ACL rules, RESP2 pub/sub, MONITOR,
CLIENT TRACKING, CLIENT REPLY, CLIENT PAUSE.  ``special`` then checks a
request in Redis' order (unknown name, arity, NOAUTH, ACL, pub/sub context,
pause, MULTI queueing) and runs it through MONITOR's and tracking's hooks.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .pause import hold, holds
from .reply import Blocked, CommandError, error

if TYPE_CHECKING:
    from .protocol import Client
    from .table import Entry

__all__ = ["call", "internal_error", "special", "unknown_command"]

log = logging.getLogger("stores.pulsards")


def internal_error(req: list[bytes], exc: Exception) -> bytes:
    """The reply to a command that raised (a bug): logged, the server goes on."""
    log.error("internal error running %r", req[0], exc_info=exc)
    return error(f"ERR internal error in '{req[0].decode('utf-8', 'replace')}': {exc!r}")


def unknown_command(args: list[bytes]) -> bytes:
    """Redis' reply to a command name it does not know."""
    shown = ""
    for arg in args[1:]:
        if len(shown) >= 128:
            break
        text = arg.decode("utf-8", "replace")[:128 - len(shown)]
        shown += f"'{text}' "
    name = args[0].decode("utf-8", "replace")[:128]
    return error(f"ERR unknown command '{name}', with args beginning with: {shown}")


def special(c: Client, req: list[bytes], entry: Entry | None) -> bytes:
    """Everything off the hot path: unknown names, arity, NOAUTH, ACL, pauses,
    MULTI queueing, MONITOR and tracking."""
    if c.muted:
        from .commands.connection import run_muted

        return run_muted(c, req, entry)
    multi = c.multi
    if entry is None:
        if multi is not None:
            c.multi_error = True
        return unknown_command(req)
    if not entry.lo <= len(req) <= entry.hi:
        if multi is not None:
            c.multi_error = True
        return error(f"ERR wrong number of arguments for '{entry.name}' command")
    if entry.name in ("debug", "module"):  # Redis' protected commands, refused first
        from .commands.debug import refused as protected

        if (refusal := protected(c, req)) is not None:
            if multi is not None:
                c.multi_error = True
            return refusal
    if c.locked and not entry.no_auth:
        return b"-NOAUTH Authentication required.\r\n"
    if c.user.restricted:  # ACL: checked before queueing, as Redis does
        refused = _acl_denied(c, req, entry)
        if refused is not None:
            if multi is not None:
                c.multi_error = True
            return refused
    if c.subscribed and entry.name not in _PUBSUB_ALLOWED:
        name = req[0].decode("utf-8", "replace").lower()
        return error(f"ERR Can't execute '{name}': only (P|S)SUBSCRIBE / "
                     "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
    if c.server.pause is not None and not c.in_exec and holds(c, req, entry):
        hold(c.server, c, req)  # run again when the pause ends (pause.unpause)
        raise Blocked
    if multi is not None and entry.name not in _MULTI_IMMEDIATE:
        multi.append(req)
        return b"+QUEUED\r\n"
    run = _monitored if c.server.monitors else call
    tracking = c.server.tracking
    if tracking is not None:
        return tracking.run(c, req, entry, run)
    return run(c, req, entry)


def call(c: Client, req: list[bytes], entry: Entry) -> bytes:
    """Run a command, its errors as replies (``Blocked`` goes through)."""
    try:
        return entry.handler(c, req)
    except CommandError as exc:
        return exc.reply()
    except Blocked:
        raise
    except Exception as exc:  # a bug: answer, log, keep serving
        return internal_error(req, exc)


def _monitored(c: Client, req: list[bytes], entry: Entry) -> bytes:
    """Run a command while clients MONITOR: they see it (commands.monitor)."""
    from .commands.monitor import feed, forbidden, shown_before

    if c.monitor and forbidden(entry, req):
        return b"-ERR Replica can't interact with the keyspace\r\n"
    before = shown_before(entry)
    own = feed(c, req, entry) if before else b""
    try:
        reply = entry.handler(c, req)
    except CommandError as exc:
        reply = exc.reply()
    except Blocked:
        if not before:
            feed(c, req, entry)
        raise
    except Exception as exc:  # a bug: answer, log, keep serving
        reply = internal_error(req, exc)
    if before:
        return own + reply
    return reply + feed(c, req, entry)  # a monitor sees its own after the reply


def _acl_denied(c: Client, req: list[bytes], entry: Entry) -> bytes | None:
    """``commands.acl.denied``, imported once (not at start: it imports the
    command table, which imports this module)."""
    global _acl_denied
    from .commands.acl import denied

    _acl_denied = denied
    return denied(c, req, entry)


_PUBSUB_ALLOWED = frozenset({"subscribe", "psubscribe", "ssubscribe", "unsubscribe",
                             "punsubscribe", "sunsubscribe", "ping", "quit", "reset"})
_MULTI_IMMEDIATE = frozenset({"exec", "discard", "multi", "watch", "quit", "reset"})
