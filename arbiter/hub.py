"""The arbiter's mailbox side: what actors (and scripts) may ask of it.

Each hub connection serves these methods; a child's first call is
``register(aid, pid)``, which binds the connection to that child.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from actors import ActorError, Connection, current_connection
from actors.process import split_address

from .children import RUNNING, Child
from .spec import TRANSIENT, ChildSpec, Config

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
            "stop_actor": self.stop_actor,
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

    async def stop_actor(self, name: str, timeout: float | None = None) -> bool:
        return await self.arbiter.stop_actor(name, timeout)

    def children(self) -> list[dict[str, Any]]:
        """Every child with its state, in start order."""
        return [
            dict(child.info(), state=child.state, spec=child.spec.name)
            for child in self.arbiter.ordered_children()
        ]


class Directory:
    """Where actors are, and the :class:`actors.Hub` protocol (mixed into Arbiter)."""

    config: Config
    specs: list[ChildSpec]
    counts: dict[str, int]
    children: dict[int, Child]
    address: str
    runtime_dir: str
    _stopping: str | None
    _name_waiters: dict[str, list[asyncio.Future[None]]]
    _done: set[tuple[str, int]]

    if TYPE_CHECKING:
        def _launch(self, spec: ChildSpec, index: int) -> Child: ...
        def terminate(self, child: Child, why: str, *, failure: bool = False) -> None: ...
        def _remove_spec(self, spec: ChildSpec) -> None: ...
        def wakeup(self) -> None: ...

    def child_ready(self, child: Child) -> None:
        if child.ready is not None and not child.ready.done():
            child.ready.set_result(None)
        for waiter in self._name_waiters.pop(child.name, []):
            if not waiter.done():
                waiter.set_result(None)
        self.wakeup()

    def mailbox_for(self, child: Child) -> str:
        """Where ``child`` listens: a socket in the runtime dir, or loopback TCP."""
        if self.address.startswith("tcp:"):
            _, host, _ = split_address(self.address)
            return f"tcp:{host}:0"
        return f"unix:{self.runtime_dir}/{child.aid}.sock"

    def ordered_children(self) -> list[Child]:
        """Live children in start order."""
        order = {spec.name: i for i, spec in enumerate(self.specs)}
        return sorted(self.children.values(),
                      key=lambda c: (order.get(c.spec.name, len(order)), c.index))

    def name_taken(self, name: str) -> bool:
        return any(s.name == name for s in self.specs) or any(
            c.name == name for c in self.children.values())

    def log_tree(self) -> None:
        lines = [f"arbiter pid {os.getpid()} hub {self.address}"]
        lines += [f"  {c.name:<16} pid {c.pid:<7} {c.address}" for c in self.ordered_children()]
        logger.info("actor tree:\n%s", "\n".join(lines))

    # -- the Hub protocol (actors.spawn / actors.lookup) ----------------------------

    async def spawn_actor(
        self, target: str, name: str | None, params: dict[str, Any], options: dict[str, Any]
    ) -> dict[str, Any]:
        """Start an actor at runtime; return its info once it is ready."""
        if self._stopping is not None or not self.address:
            raise ActorError("the arbiter is not running")
        timeout = float(options.get("timeout") or self.config.boot_timeout)
        if name is not None and options.get("exist_ok") and self.name_taken(name):
            return await self.lookup_actor(name, timeout)
        spec = dynamic_spec(self, target, name, params, options)
        self.specs.append(spec)
        self.counts[spec.name] = 1
        child = self._launch(spec, 1)
        try:
            await wait_ready(child, timeout)
        except TimeoutError:
            child.intent = "stop"
            self.terminate(child, "spawn timed out")
            self._remove_spec(spec)
            raise TimeoutError(f"actor {spec.name} not ready within {timeout:g}s") from None
        except ActorError:
            self._remove_spec(spec)
            raise
        return child.info()

    async def stop_actor(self, name: str, timeout: float | None = None) -> bool:
        """Stop the actor called ``name`` for good (it is not replaced); wait
        until it exited, at most ``timeout`` seconds; False if there was none."""
        for child in list(self.children.values()):
            if child.name == name and child.intent != "stop":
                child.intent = "stop"
                if not child.spec.dynamic:
                    self._done.add(child.key)
                self.terminate(child, "stop requested")
                deadline = time.monotonic() + (timeout or self.config.graceful_timeout + 5)
                while child.pid in self.children and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                return True
        return False

    async def lookup_actor(self, name: str, wait: float = 0.0) -> dict[str, Any]:
        """Info of the ready actor called ``name``; waits up to ``wait`` seconds."""
        deadline = time.monotonic() + wait
        while True:
            for child in self.children.values():
                # A killed child stays RUNNING until reaped; its closed hub
                # connection already tells it is gone.
                if (child.name == name and child.state == RUNNING
                        and (child.conn is None or not child.conn.closed)):
                    return child.info()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise KeyError(f"no actor named {name!r}")
            waiter = asyncio.get_running_loop().create_future()
            self._name_waiters.setdefault(name, []).append(waiter)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, remaining)


def dynamic_spec(
    arbiter: Directory,
    target: str,
    name: str | None,
    params: dict[str, Any],
    options: dict[str, Any],
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
