"""Client-side caching commands: CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO.

The options are checked in Redis' order and with its error texts; what
tracking does once on is ``stores.pulsards.tracking``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..reply import OK, SYNTAX, CommandError, bulk, integer, map_reply
from ..table import command
from ..tracking import Mode
from .args import to_int

if TYPE_CHECKING:
    from ..protocol import Client

__all__: list[str] = []


def _parse(c: Client, args: list[bytes]) -> tuple[Mode, list[bytes]]:
    mode = Mode()
    prefixes: list[bytes] = []
    i = 3
    while i < len(args):
        option = args[i].upper()
        more = i + 1 < len(args)
        if option == b"REDIRECT" and more:
            i += 1
            if mode.redirect:
                raise CommandError("ERR A client can only redirect to a single other client")
            mode.redirect = to_int(args[i])
            if mode.redirect not in c.server.clients:
                raise CommandError("ERR The client ID you want redirect to does not exist")
        elif option == b"BCAST":
            mode.bcast = True
        elif option == b"OPTIN":
            mode.optin = True
        elif option == b"OPTOUT":
            mode.optout = True
        elif option == b"NOLOOP":
            mode.noloop = True
        elif option == b"PREFIX" and more:
            i += 1
            prefixes.append(args[i])
        else:
            raise SYNTAX
        i += 1
    return mode, prefixes


def _check(c: Client, mode: Mode, prefixes: list[bytes]) -> None:
    """Refuse options that do not go together, or with the client's present mode."""
    old = c.tracking
    if prefixes and not mode.bcast:
        raise CommandError("ERR PREFIX option requires BCAST mode to be enabled")
    if old is not None and old.bcast != mode.bcast:
        raise CommandError("ERR You can't switch BCAST mode on/off before disabling tracking "
                           "for this client, and then re-enabling it with a different mode.")
    if mode.bcast and (mode.optin or mode.optout):
        raise CommandError("ERR OPTIN and OPTOUT are not compatible with BCAST")
    if mode.optin and mode.optout:
        raise CommandError("ERR You can't specify both OPTIN mode and OPTOUT mode")
    if old is not None and ((mode.optin and old.optout) or (mode.optout and old.optin)):
        raise CommandError("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking "
                           "for this client, and then re-enabling it with a different mode.")
    for i, prefix in enumerate(prefixes):
        for other in sorted(old.prefixes) if old is not None else ():
            if prefix.startswith(other) or other.startswith(prefix):
                raise CommandError(
                    f"ERR Prefix '{_text(prefix)}' overlaps with an existing prefix "
                    f"'{_text(other)}'. Prefixes for a single client must not overlap.")
        for other in prefixes[i + 1:]:
            if prefix.startswith(other) or other.startswith(prefix):
                raise CommandError(
                    f"ERR Prefix '{_text(prefix)}' overlaps with another provided prefix "
                    f"'{_text(other)}'. Prefixes for a single client must not overlap.")


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


@command("CLIENT|TRACKING")
def client_tracking(c: Client, args: list[bytes]) -> bytes:
    mode, prefixes = _parse(c, args)
    switch = args[2].upper()
    if switch == b"ON":
        _check(c, mode, prefixes)
        c.server.track(c, mode, prefixes)
    elif switch == b"OFF":
        c.server.untrack(c)
    else:
        raise SYNTAX
    return OK


@command("CLIENT|CACHING")
def client_caching(c: Client, args: list[bytes]) -> bytes:
    mode = c.tracking
    if mode is None:
        raise CommandError("ERR CLIENT CACHING can be called only when the client is in "
                           "tracking mode with OPTIN or OPTOUT mode enabled")
    answer = args[2].upper()
    if answer == b"YES":
        if not mode.optin:
            raise CommandError("ERR CLIENT CACHING YES is only valid when tracking is enabled "
                               "in OPTIN mode.")
    elif answer == b"NO":
        if not mode.optout:
            raise CommandError("ERR CLIENT CACHING NO is only valid when tracking is enabled "
                               "in OPTOUT mode.")
    else:
        raise SYNTAX
    c.caching = True
    return OK


def redirect_of(c: Client) -> int:
    """CLIENT GETREDIR's answer (and CLIENT LIST's ``redir``): -1 when not tracking."""
    return -1 if c.tracking is None else c.tracking.redirect


@command("CLIENT|GETREDIR")
def client_getredir(c: Client, args: list[bytes]) -> bytes:
    return integer(redirect_of(c))


@command("CLIENT|TRACKINGINFO")
def client_trackinginfo(c: Client, args: list[bytes]) -> bytes:
    mode = c.tracking
    flags = ["off"] if mode is None else ["on", *mode.flags(c.caching)]
    head = b"~%d\r\n" if c.resp3 else b"*%d\r\n"
    prefixes = sorted(mode.prefixes) if mode is not None else []
    return map_reply([
        (bulk(b"flags"), head % len(flags) + b"".join(bulk(f.encode()) for f in flags)),
        (bulk(b"redirect"), integer(redirect_of(c))),
        (bulk(b"prefixes"), b"*%d\r\n" % len(prefixes) + b"".join(map(bulk, prefixes))),
    ], c.resp3)
