"""Child specs, arbiter configuration and the app-module contract (all plain data)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from actors import target_path

if TYPE_CHECKING:
    from .arbiter import Arbiter

__all__ = [
    "BRUTAL_KILL",
    "RESTARTS",
    "STRATEGIES",
    "ChildSpec",
    "Config",
    "load_app",
]

#: Restart types, as in OTP.
PERMANENT, TRANSIENT, TEMPORARY = "permanent", "transient", "temporary"
RESTARTS = (PERMANENT, TRANSIENT, TEMPORARY)
#: Supervision strategies.
ONE_FOR_ONE, ONE_FOR_ALL, REST_FOR_ONE = "one_for_one", "one_for_all", "rest_for_one"
STRATEGIES = (ONE_FOR_ONE, ONE_FOR_ALL, REST_FOR_ONE)
#: ``shutdown`` value meaning "SIGKILL at once, no graceful stop".
BRUTAL_KILL = "brutal_kill"


@dataclass(frozen=True)
class ChildSpec:
    """How to start and supervise one child (or a pool of identical children).

    ``target``
        an :class:`actors.Actor` subclass, a callable returning one, an
        ``async def main(**params)``, or its ``"module:attr"`` path.
    ``restart``
        ``permanent`` (always), ``transient`` (after an abnormal exit only) or
        ``temporary`` (never).
    ``shutdown``
        seconds a child gets to stop after SIGTERM before SIGKILL, or
        ``"brutal_kill"``; ``None`` means the arbiter's ``graceful_timeout``.
    ``count``
        number of instances.
    ``pool``
        a worker pool: ``-w``, TTIN/TTOU and HUP act on it, and its members are
        named ``NAME.1``, ``NAME.2``... (else ``NAME``).
    ``params``
        keyword arguments for the target (msgpack-able).
    """

    name: str
    target: Any
    restart: str = PERMANENT
    shutdown: float | str | None = None
    count: int = 1
    pool: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    #: Started at runtime by ``actors.spawn`` (supervised one_for_one, last to start).
    dynamic: bool = False

    def __post_init__(self) -> None:
        if not self.name or ":" in self.name or "/" in self.name:
            raise ValueError(f"bad child name {self.name!r}")
        if self.restart not in RESTARTS:
            raise ValueError(f"child {self.name}: restart must be one of {RESTARTS}")
        if isinstance(self.shutdown, str) and self.shutdown != BRUTAL_KILL:
            raise ValueError(f"child {self.name}: shutdown is seconds or {BRUTAL_KILL!r}")
        if self.count < 0:
            raise ValueError(f"child {self.name}: count must be >= 0")
        # Children import their target by name, so keep only the name.
        object.__setattr__(self, "target", target_path(self.target))

    @classmethod
    def coerce(cls, value: ChildSpec | dict[str, Any]) -> ChildSpec:
        """Accept a spec or a dict of its fields."""
        if isinstance(value, ChildSpec):
            return value
        if isinstance(value, dict):
            return cls(**value)
        raise TypeError(f"not a child spec: {value!r}")

    def member_name(self, index: int) -> str:
        """Name of instance ``index`` (1-based)."""
        return f"{self.name}.{index}" if self.pool else self.name

    def with_count(self, count: int) -> ChildSpec:
        return replace(self, count=count)


@dataclass
class Config:
    """Arbiter settings (the CLI flags map onto these fields)."""

    #: Count of every pool spec (``-w``); ``None`` keeps the app's counts.
    workers: int | None = None
    #: Hub mailbox address: ``unix:PATH`` or ``tcp:HOST:PORT`` (then actors
    #: listen on TCP too); default a unix socket in the runtime directory.
    bind: str | None = None
    pidfile: str | None = None
    log_level: str = "info"
    runtime_dir: str | None = None
    #: Default ``shutdown`` seconds of children that do not set one.
    graceful_timeout: float = 10.0
    strategy: str = ONE_FOR_ONE
    #: Restart budget: more than ``intensity`` restarts in ``period`` seconds halts.
    intensity: int = 1
    period: float = 5.0
    #: An actor silent for this long (no heartbeat) is terminated.
    heartbeat_timeout: float = 10.0
    #: A child must be ready this long after its start.
    boot_timeout: float = 30.0
    #: Default deadline of calls made by actors.
    call_timeout: float = 30.0
    #: Largest mailbox frame an actor accepts (bytes).
    max_frame: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}")
        if self.intensity < 0 or self.period <= 0:
            raise ValueError("restart budget needs intensity >= 0 and period > 0")


AppSpecs = Iterable[ChildSpec | dict[str, Any]]


def load_app(path: str, arbiter: Arbiter) -> list[ChildSpec]:
    """Resolve ``MODULE[:ATTR]`` into child specs (see docs/arbiter.rst).

    ``ATTR`` (default ``children``) is a list of :class:`ChildSpec` (or dicts)
    or a callable ``setup(arbiter)`` returning one.
    """
    module_name, _, attr = path.partition(":")
    module = importlib.import_module(module_name)
    try:
        obj = getattr(module, attr or "children")
    except AttributeError:
        raise AttributeError(
            f"app {module_name!r} has no attribute {attr or 'children'!r} (child specs)"
        ) from None
    if callable(obj):
        setup: Callable[[Arbiter], AppSpecs | None] = obj
        obj = setup(arbiter) or []
    return [ChildSpec.coerce(item) for item in obj]
