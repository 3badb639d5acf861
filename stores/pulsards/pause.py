"""CLIENT PAUSE and CLIENT UNPAUSE: hold clients' commands for a while.

The rules, as Redis 7.0's:

* ``ALL`` holds every command of every client, CLIENT UNPAUSE included (it
  waits like the rest, so such a pause ends at its deadline); ``WRITE`` holds
  the commands that may write or replicate: those flagged ``write`` or
  ``may_replicate`` (PUBLISH, PFCOUNT...), EVAL/EVALSHA/FCALL unless the
  script or function is ``no-writes``, and EXEC of a transaction holding
  one.  A command is held before it would be queued in MULTI.
* A held client runs nothing more until the pause ends (its next requests
  wait behind the held one); it counts as blocked (flag ``b``,
  ``blocked_clients``).  When the pause ends the held commands run, oldest
  first.
* A pause while paused keeps the stricter mode and the later deadline.
* No key expires in the background while paused.

Paused, every client is *gated* (``Client.update_gate``): its requests go
through ``gate.special``, which asks ``holds``; a server that is not
paused pays nothing per request.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from .reply import CommandError

if TYPE_CHECKING:
    from .protocol import Client
    from .server import Server, Waiter
    from .table import Entry

__all__ = ["Pause", "holds", "pause", "unpause"]

# Redis' may_replicate commands (COMMAND INFO does not show that flag, so the
# shared table lacks it); EVAL, EVALSHA and FCALL are decided by their scripts
# (may_replicate too when there is none).
_MAY_REPLICATE = frozenset({"publish", "spublish", "pfcount"})


class Pause:
    """A pause in force: its mode, its deadline and the clients it holds."""

    __slots__ = ("end", "everything", "held", "timer")

    def __init__(self, everything: bool, end: float) -> None:
        self.everything = everything
        self.end = end  # time.monotonic()
        self.held: list[Waiter] = []
        self.timer: asyncio.TimerHandle | None = None


def pause(server: Server, everything: bool, milliseconds: int) -> None:
    """CLIENT PAUSE: start a pause, or make the one in force stricter or longer."""
    end = time.monotonic() + milliseconds / 1000
    current = server.pause
    if current is None:
        current = server.pause = Pause(everything, end)
        for client in server.clients.values():
            client.update_gate()
    else:
        current.everything = current.everything or everything
        current.end = max(current.end, end)
        if current.timer is not None:
            current.timer.cancel()
    current.timer = asyncio.get_running_loop().call_later(
        max(0.0, current.end - time.monotonic()), unpause, server)


def unpause(server: Server) -> None:
    """End the pause (CLIENT UNPAUSE, or its deadline): run the held commands."""
    current = server.pause
    if current is None:
        return
    if current.timer is not None:
        current.timer.cancel()
    server.pause = None
    for client in server.clients.values():
        client.update_gate()
    # Each on its own loop turn, oldest first: not inside the command that
    # ended the pause (an EXEC holding CLIENT UNPAUSE stays isolated).
    loop = asyncio.get_running_loop()
    for waiter in current.held:
        loop.call_soon(waiter.client.run_held, waiter)


def hold(server: Server, client: Client, req: list[bytes]) -> None:
    """Park ``client`` with ``req`` until the pause ends."""
    from .server import Waiter

    assert server.pause is not None
    waiter = Waiter(client, client.db, [], _never, b"")
    waiter.argv = req
    waiter.held = True
    client.blocked = waiter
    server.pause.held.append(waiter)


def _never(*_: object) -> None:
    return None


def holds(c: Client, req: list[bytes], entry: Entry) -> bool:
    """Whether the pause in force holds this request of ``c``."""
    current = c.server.pause
    if current is None:
        return False
    if current.everything:
        return True
    if entry.name == "exec":
        return c.multi is not None and any(_writes(c, queued) for queued in c.multi)
    return _writes(c, req, entry)


def _writes(c: Client, req: list[bytes], entry: Entry | None = None) -> bool:
    """Whether ``req`` may write or replicate (a WRITE pause holds it)."""
    if entry is None:
        dispatch = c.server.dispatch
        entry = dispatch.get(req[0]) or dispatch.get(req[0].upper())
        if entry is None:
            return False
    name = entry.name
    if name in ("eval", "evalsha", "fcall"):
        return not _no_writes(c, name, req)
    return name in _MAY_REPLICATE or "write" in entry.spec_of(req).flags


def _no_writes(c: Client, name: str, req: list[bytes]) -> bool:
    """Whether the script or function ``req`` runs is flagged ``no-writes``."""
    from .lua import shebang_flags

    if name == "fcall":  # an unknown function: FCALL's own flags (may_replicate)
        function = c.server.functions.current.functions.get(req[1].lower())
        return function is not None and "no-writes" in function.flags
    if name == "evalsha":
        scripting = c.server.scripting
        return scripting is not None and req[1].lower() in scripting.no_writes
    try:
        return b"no-writes" in shebang_flags(req[1])
    except CommandError:
        return False  # EVAL answers the error once the pause ends
