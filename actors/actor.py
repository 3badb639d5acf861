"""The :class:`Actor` base class and the :func:`expose` decorator."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .connection import Connection

__all__ = ["Actor", "FunctionActor", "expose"]

F = TypeVar("F", bound=Callable[..., Any])

_EXPOSED = "__actor_exposed__"


def expose(func: F) -> F:
    """Mark an :class:`Actor` method as callable by remote actors.

    Only marked methods are reachable over a mailbox; any other attribute is
    not, whatever its name.  Both plain and ``async`` methods work: a plain
    method's return value is answered at once, a coroutine's when it ends.
    """
    setattr(func, _EXPOSED, True)
    return func


class Actor:
    """Base class of actors: one instance per actor process.

    Subclass it, mark remote methods with :func:`expose`, and override
    :meth:`on_start` / :meth:`on_stop`.  Keyword arguments given to
    ``spawn`` (or a child spec's ``params``) arrive in ``__init__`` and are
    kept in :attr:`params`.

    Attributes set by the runtime before :meth:`on_start`:

    ``name``     the actor's name (unique in its tree)
    ``aid``      the actor id (unique per process incarnation)
    ``address``  the mailbox address other actors connect to
    ``hub``      the mailbox connection to the arbiter
    """

    _exposed_names: frozenset[str] = frozenset()

    name: str = ""
    aid: str = ""
    address: str = ""

    def __init__(self, **params: Any) -> None:
        self.params: dict[str, Any] = params
        self.logger = logging.getLogger(f"actors.{type(self).__name__}")
        self._stop_event: asyncio.Event | None = None
        self._hub: Connection | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.stop_reason = ""
        #: Process exit status after the stop; set to 1 when a task crashed.
        self.exit_code = 0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _collect_exposed(cls)

    # -- lifecycle hooks -----------------------------------------------------

    async def on_start(self) -> None:
        """Called once in the actor process before it is announced as ready.

        Start extra servers or background tasks here (see :meth:`create_task`).
        An exception here is a failed start.
        """

    async def on_stop(self) -> None:
        """Called once on a graceful stop, before the mailbox closes."""

    # -- runtime API -----------------------------------------------------------

    @property
    def hub(self) -> Connection:
        """The mailbox connection to the arbiter."""
        if self._hub is None:
            raise RuntimeError("actor is not running")
        return self._hub

    def handlers(self) -> dict[str, Callable[..., Any]]:
        """Exposed bound methods by name (what remote callers may reach)."""
        return {name: getattr(self, name) for name in sorted(self._exposed_names)}

    def create_task(
        self, coro: Coroutine[Any, Any, Any], name: str | None = None
    ) -> asyncio.Task[Any]:
        """Run ``coro`` for the actor's lifetime; it is cancelled at stop.

        An exception escaping the task is logged and stops the actor (it then
        exits non-zero and its supervisor decides).
        """
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def stop(self, reason: str = "") -> None:
        """Ask the actor to stop gracefully (returns at once)."""
        if reason and not self.stop_reason:
            self.stop_reason = reason
        if self._stop_event is not None:
            self._stop_event.set()

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.logger.error("task %s crashed", task.get_name(), exc_info=task.exception())
            self.exit_code = 1
            self.stop(f"task {task.get_name()} crashed: {task.exception()!r}")

    # -- exposed to everyone --------------------------------------------------------

    @expose
    def ping(self) -> str:
        """Liveness probe: returns ``"pong"``."""
        return "pong"

    @expose
    def info(self) -> dict[str, Any]:
        """Name, aid, pid, address and exposed methods of this actor."""
        return {
            "name": self.name,
            "aid": self.aid,
            "pid": os.getpid(),
            "address": self.address,
            "methods": sorted(self._exposed_names),
        }


def _collect_exposed(cls: type[Actor]) -> None:
    names: set[str] = set()
    for klass in reversed(cls.__mro__):
        for key, value in vars(klass).items():
            if callable(value) and getattr(value, _EXPOSED, False):
                names.add(key)
            elif key in names:
                names.discard(key)  # overridden without @expose: hidden again
    cls._exposed_names = frozenset(names)


_collect_exposed(Actor)


class FunctionActor(Actor):
    """Runs ``async def main(**params)`` as an actor; the actor stops when it returns."""

    def __init__(self, main: Callable[..., Coroutine[Any, Any, Any]], **params: Any) -> None:
        super().__init__(**params)
        self.main = main

    async def on_start(self) -> None:
        task = self.create_task(self.main(**self.params), name=self.main.__qualname__)
        task.add_done_callback(lambda t: self.stop("main returned"))
