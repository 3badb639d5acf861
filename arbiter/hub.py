"""The arbiter's mailbox side: what actors (and scripts) may ask of it.

Each hub connection serves these methods; a child's first call is
``register(aid, pid)``, which binds the connection to that child.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from actors import ActorError, Connection, current_connection

from .children import RUNNING, Child
from .spec import TRANSIENT, ChildSpec

if TYPE_CHECKING:
    from .arbiter import Arbiter

logger = logging.getLogger("arbiter")


class HubService:
    """Remote methods of the arbiter (bound to one :class:`Arbiter`)."""

    def __init__(self, arbiter: Arbiter) -> None:
        self.arbiter = arbiter
        self._bound: dict[Connection, Child] = {}

    def handlers(self) -> dict[str, Any]:
        return {
            "register": self.register,
            "ready": self.ready,
            "heartbeat": self.heartbeat,
            "failed": self.failed,
            "spawn": self.spawn,
            "lookup": self.lookup,
            "children": self.children,
            "ping": lambda: "pong",
        }

    def connection_made(self, conn: Connection) -> None:
        conn.add_close_callback(self._closed)

    def _closed(self, conn: Connection) -> None:
        child = self._bound.pop(conn, None)
        if child is not None:
            child.conn = None
            # The child is probably exiting: reap soon even without SIGCHLD.
            self.arbiter.wakeup()

    def _child(self) -> Child:
        conn = current_connection()
        child = self._bound.get(conn) if conn is not None else None
        if child is None:
            raise ActorError("this connection has not registered as a child")
        return child

    def register(self, aid: str, pid: int) -> dict[str, Any]:
        arbiter = self.arbiter
        child = arbiter.by_aid.get(aid)
        if child is None or child.pid != pid:
            raise ActorError(f"unknown actor id {aid!r} (pid {pid})")
        conn = current_connection()
        assert conn is not None
        child.conn = conn
        self._bound[conn] = child
        cfg = arbiter.config
        return {
            "name": child.name,
            "target": child.spec.target,
            "params": child.spec.params,
            "sys_path": [p for p in sys.path if p],
            "log_level": cfg.log_level,
            "heartbeat": min(1.0, cfg.heartbeat_timeout / 5),
            "mailbox": arbiter.mailbox_for(child),
            "call_timeout": cfg.call_timeout,
            "max_frame": cfg.max_frame,
        }

    def ready(self, address: str) -> None:
        child = self._child()
        child.address = address
        child.state = RUNNING
        child.last_seen = time.monotonic()
        logger.info("%s ready: pid %d, mailbox %s", child.name, child.pid, address)
        self.arbiter.child_ready(child)

    def heartbeat(self) -> None:
        conn = current_connection()
        child = self._bound.get(conn) if conn is not None else None
        if child is not None:
            child.last_seen = time.monotonic()

    def failed(self, reason: str, detail: str = "") -> None:
        child = self._child()
        child.failure = reason
        logger.error("%s reports failure: %s", child.name, reason)
        if detail:
            logger.debug("%s traceback:\n%s", child.name, detail)

    async def spawn(
        self, target: str, name: str | None, params: dict[str, Any], options: dict[str, Any]
    ) -> dict[str, Any]:
        return await self.arbiter.spawn_actor(target, name, params, options)

    async def lookup(self, name: str, wait: float = 0.0) -> dict[str, Any]:
        return await self.arbiter.lookup_actor(name, wait)

    def children(self) -> list[dict[str, Any]]:
        """Every child with its state, in start order."""
        return [
            dict(child.info(), state=child.state, spec=child.spec.name)
            for child in self.arbiter.ordered_children()
        ]


def dynamic_spec(
    arbiter: Arbiter, target: str, name: str | None, params: dict[str, Any], options: dict[str, Any]
) -> ChildSpec:
    """The spec of an actor started at runtime by ``actors.spawn``."""
    if name is None:
        name = f"{target.rpartition(':')[2].lower()}-{os.urandom(3).hex()}"
    if arbiter.name_taken(name):
        raise ValueError(f"an actor named {name!r} already exists")
    return ChildSpec(
        name=name,
        target=target,
        restart=options.get("restart") or TRANSIENT,
        shutdown=options.get("shutdown"),
        params=dict(params),
        dynamic=True,
    )


async def wait_ready(child: Child, timeout: float) -> None:
    assert child.ready is not None
    await asyncio.wait_for(asyncio.shield(child.ready), timeout)
