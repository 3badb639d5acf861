"""Process-wide runtime state: the current actor, the hub, proxies, spawn.

The *hub* is whatever supervises this process's actor tree: inside an actor
it is the arbiter at the other end of the mailbox; in a plain script it is an
embedded arbiter running in the script's own event loop, started on demand
through a factory (see :func:`set_hub_factory`).  ``actors`` never imports
``arbiter``: the ``arbiter`` package registers its factory under the
``actors.hub`` entry-point group, found at the first ``spawn``/``lookup``.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .actor import Actor
from .connection import Connection, Handler, defaults
from .errors import ConnectionLost
from .process import connect as _open

__all__ = [
    "ActorInfo",
    "ActorProxy",
    "Hub",
    "get_actor",
    "get_hub",
    "load_target",
    "lookup",
    "set_hub",
    "set_hub_factory",
    "spawn",
    "stop",
    "target_path",
]

#: Seconds a spawned actor gets to become ready, unless ``timeout=`` says otherwise.
DEFAULT_SPAWN_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class ActorInfo:
    """Where to find an actor: what the arbiter tells about it."""

    name: str
    aid: str
    address: str
    pid: int

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> ActorInfo:
        return cls(str(data["name"]), str(data["aid"]), str(data["address"]), int(data["pid"]))

    def to_wire(self) -> dict[str, Any]:
        return {"name": self.name, "aid": self.aid, "address": self.address, "pid": self.pid}


class Hub(Protocol):
    """What ``spawn`` and ``lookup`` need from a supervisor."""

    async def spawn_actor(
        self, target: str, name: str | None, params: dict[str, Any], options: dict[str, Any]
    ) -> dict[str, Any]:
        """Start an actor; return its :class:`ActorInfo` fields once it is ready."""
        ...

    async def lookup_actor(self, name: str, wait: float) -> dict[str, Any]:
        """Find a ready actor by name, waiting up to ``wait`` seconds; ``KeyError`` if none."""
        ...

    async def stop_actor(self, name: str, timeout: float | None) -> bool:
        """Stop an actor for good and wait for its exit; False if there was none."""
        ...


class RemoteHub:
    """The arbiter seen from inside an actor, through the hub connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    async def spawn_actor(
        self, target: str, name: str | None, params: dict[str, Any], options: dict[str, Any]
    ) -> dict[str, Any]:
        wait = float(options.get("timeout") or DEFAULT_SPAWN_TIMEOUT)
        result = await self.connection.call(
            "spawn", target, name, params, options, timeout=wait + 5.0
        )
        return dict(result)

    async def lookup_actor(self, name: str, wait: float) -> dict[str, Any]:
        result = await self.connection.call(
            "lookup", name, wait, timeout=wait + defaults.call_timeout
        )
        return dict(result)

    async def stop_actor(self, name: str, timeout: float | None) -> bool:
        wait = (timeout or defaults.call_timeout) + 5.0
        return bool(await self.connection.call("stop_actor", name, timeout, timeout=wait))


_actor: Actor | None = None
_hub: Hub | None = None
_hub_factory: Callable[[], Awaitable[Hub]] | None = None
_hub_starting: asyncio.Future[Hub] | None = None
_connections: dict[str, Connection] = {}


def get_actor() -> Actor | None:
    """The actor running in this process, or ``None`` in a plain script."""
    return _actor


def set_actor(actor: Actor | None) -> None:
    global _actor
    _actor = actor


def current_hub() -> Hub | None:
    """The installed hub, if any (never starts one)."""
    return _hub


def set_hub(hub: Hub | None) -> None:
    """Install (or remove) the hub used by :func:`spawn` and :func:`lookup`."""
    global _hub, _hub_starting
    _hub = hub
    _hub_starting = None
    if hub is None:
        # Connections belong to the loop that made them; a new hub means a new tree.
        for conn in list(_connections.values()):
            conn.close()
        _connections.clear()


def set_hub_factory(factory: Callable[[], Awaitable[Hub]] | None) -> None:
    """Set the coroutine function that starts a hub on demand in a plain script."""
    global _hub_factory
    _hub_factory = factory


def _discover_factory() -> Callable[[], Awaitable[Hub]] | None:
    from importlib.metadata import entry_points  # slow to import; needed once

    for entry in entry_points(group="actors.hub"):
        factory: Callable[[], Awaitable[Hub]] = entry.load()
        return factory
    return None


async def get_hub() -> Hub:
    """The current hub, starting an embedded one on demand in a plain script."""
    global _hub_starting
    if _hub is not None:
        return _hub
    if _hub_starting is None:
        factory = _hub_factory or _discover_factory()
        if factory is None:
            raise RuntimeError(
                "no arbiter: run under `python -m arbiter`, or start one with "
                "`async with arbiter.embedded(): ...`"
            )
        _hub_starting = asyncio.ensure_future(factory())
    starting = _hub_starting
    try:
        hub = await asyncio.shield(starting)
    except BaseException:
        if _hub_starting is starting and starting.done():
            _hub_starting = None
        raise
    if _hub is None:
        set_hub(hub)
    return hub


def _outgoing_handlers() -> dict[str, Handler]:
    # Peers may call back (or push notifications) on a connection we opened.
    return _actor.handlers() if _actor is not None else {}


async def connect(address: str) -> Connection:
    """A mailbox connection to ``address``, shared by every proxy of this process."""
    conn = _connections.get(address)
    if conn is not None and not conn.closed:
        return conn
    conn = await _open(address, lambda: Connection(_outgoing_handlers(), name=address))
    _connections[address] = conn

    def forget(c: Connection) -> None:
        if _connections.get(address) is c:
            del _connections[address]

    conn.add_close_callback(forget)
    return conn


class ActorProxy:
    """A handle on a (possibly remote) actor: call its exposed methods.

    Calls go straight to the actor's own mailbox, never through the arbiter.
    When the connection is found closed and the actor has a name, the proxy
    asks the hub where the (restarted) actor lives now before sending.
    """

    __slots__ = ("_conn", "_handlers", "info")

    def __init__(self, info: ActorInfo, connection: Connection | None = None) -> None:
        self.info = info
        self._conn = connection
        self._handlers: dict[str, Handler] = {}

    def __repr__(self) -> str:
        return f"<ActorProxy {self.info.name} {self.info.aid} at {self.info.address}>"

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def aid(self) -> str:
        return self.info.aid

    @property
    def address(self) -> str:
        return self.info.address

    @property
    def connection(self) -> Connection | None:
        """The underlying mailbox connection, once connected."""
        return self._conn

    def call(
        self, method: str, *args: Any, timeout: float | None = None, **kwargs: Any
    ) -> Awaitable[Any]:
        """Call an exposed method; see :meth:`Connection.call` for errors and deadline."""
        conn = self._conn
        if conn is not None and not conn._dead:
            # Hot path: hand back the connection's coroutine, no extra frame.
            return conn.call(method, *args, timeout=timeout, **kwargs)
        return self._call_reconnecting(method, args, kwargs, timeout)

    async def _call_reconnecting(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], timeout: float | None
    ) -> Any:
        conn = await self.connect()
        return await conn.call(method, *args, timeout=timeout, **kwargs)

    def notify(self, method: str, *args: Any) -> None:
        """Send a notification; raises :class:`ConnectionLost` if not connected."""
        if self._conn is None:
            raise ConnectionLost(f"{self!r} is not connected")
        self._conn.notify(method, *args)

    def on_notification(self, method: str, handler: Handler | None) -> None:
        """Handle notifications ``method`` pushed by this actor (kept across reconnects)."""
        if handler is None:
            self._handlers.pop(method, None)
        else:
            self._handlers[method] = handler
        if self._conn is not None:
            self._conn.on_notification(method, handler)

    async def connect(self) -> Connection:
        """Open (or reopen) the connection to the actor."""
        conn = self._conn
        if conn is not None and not conn.closed:
            return conn
        try:
            conn = await connect(self.info.address)
        except OSError:
            if not self.info.name:
                raise
            # The actor may have been restarted elsewhere: ask where it is now.
            fresh = await get_hub()
            self.info = ActorInfo.from_wire(await fresh.lookup_actor(self.info.name, 5.0))
            conn = await connect(self.info.address)
        for method, handler in self._handlers.items():
            conn.on_notification(method, handler)
        self._conn = conn
        return conn


def target_path(target: Any) -> str:
    """``"module:qualname"`` for a class or function (a file path for ``__main__``)."""
    if isinstance(target, str):
        return target
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None)
    if not module or not qualname or "<locals>" in qualname:
        raise TypeError(f"cannot start {target!r} in another process: not importable by name")
    if module in ("__main__", "__mp_main__"):
        path = getattr(sys.modules[module], "__file__", None)
        if path is None:
            raise TypeError(f"{target!r} lives in an interactive __main__; put it in a module")
        return f"{os.path.abspath(path)}:{qualname}"
    return f"{module}:{qualname}"


def load_target(path: str) -> Any:
    """Import what :func:`target_path` named."""
    module_name, _, qualname = path.rpartition(":")
    if not module_name or not qualname:
        raise ValueError(f"bad target {path!r}: want 'module:attribute'")
    if module_name.endswith(".py") or os.sep in module_name:
        # A script's __main__: load it under the name multiprocessing uses, so
        # its `if __name__ == "__main__":` block does not run again.
        module = sys.modules.get("__mp_main__")
        if module is None or getattr(module, "__file__", None) != module_name:
            spec = importlib.util.spec_from_file_location("__mp_main__", module_name)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {module_name}")
            module = importlib.util.module_from_spec(spec)
            sys.modules["__mp_main__"] = module
            spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    obj: Any = module
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


async def spawn(
    target: Any,
    name: str | None = None,
    *,
    restart: str = "transient",
    shutdown: float | str | None = None,
    timeout: float | None = None,
    exist_ok: bool = False,
    **params: Any,
) -> ActorProxy:
    """Start an actor process and return a connected proxy once it is ready.

    ``target`` is an :class:`Actor` subclass, a callable returning an actor,
    an ``async def main(**params)`` function, or their ``"module:attr"``
    path.  ``params`` (msgpack-able) are passed to it.  ``restart`` and
    ``shutdown`` follow child-spec semantics.  ``timeout`` bounds the wait for
    readiness.  A taken ``name`` raises ``ValueError``, unless ``exist_ok``:
    then the existing actor is returned once ready (racing spawners of one
    singleton all get it).  Works inside any actor (the arbiter starts the
    process) and in a plain script (an embedded arbiter is started on demand).
    """
    hub = await get_hub()
    options = {"restart": restart, "shutdown": shutdown, "timeout": timeout,
               "exist_ok": exist_ok}
    info = await hub.spawn_actor(target_path(target), name, params, options)
    proxy = ActorProxy(ActorInfo.from_wire(info))
    await proxy.connect()
    return proxy


async def lookup(name: str, *, wait: float = 0.0) -> ActorProxy:
    """A connected proxy for the named actor; waits up to ``wait`` seconds for it
    to be ready, then raises ``KeyError``."""
    hub = await get_hub()
    proxy = ActorProxy(ActorInfo.from_wire(await hub.lookup_actor(name, wait)))
    await proxy.connect()
    return proxy


async def stop(name: str, *, timeout: float | None = None) -> bool:
    """Stop the named actor for good (it is not restarted) and wait for its
    exit; returns False when no such actor runs."""
    hub = await get_hub()
    return await hub.stop_actor(name, timeout)
