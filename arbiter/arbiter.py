"""The arbiter: supervises actor processes (gunicorn's loop, OTP's rules).

Supervisor rules:

* Signal handlers only enqueue; each turn of the loop pops the queued
  signals and calls ``handle_<name>``, then ``reap`` (collect exited
  children and decide their fate), ``murder`` (terminate the silent, kill the
  overdue) and ``manage`` (start what is missing, retire what is extra, roll
  HUP restarts).
* A child that exits unexpectedly is restarted according to its restart type
  and the strategy; every such restart is charged to the restart budget, and
  over budget the arbiter stops the tree and exits with ``EXIT_HALT``.
* Static specs start in order, each only once every earlier one is ready
  (a child that dies while booting is a boot failure: ``EXIT_BOOT``).  Actors
  spawned at runtime start at once and are supervised one_for_one.
* Stopping: graceful (TERM) stops specs in reverse start order, each child
  getting its shutdown time between SIGTERM and SIGKILL; fast (INT/QUIT)
  sends SIGQUIT to all and SIGKILL a second later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import actors
from actors import ActorError, Connection
from actors.process import launch, make_runtime_dir, serve

from .children import RUNNING, STARTING, STOPPING, Child, RestartBudget, backoff, describe_status
from .hub import Directory, HubService
from .spec import BRUTAL_KILL, ONE_FOR_ALL, ONE_FOR_ONE, PERMANENT, TRANSIENT, ChildSpec, Config

__all__ = ["EXIT_BOOT", "EXIT_ERROR", "EXIT_HALT", "EXIT_OK", "EXIT_USAGE", "Arbiter"]

logger = logging.getLogger("arbiter")

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_BOOT, EXIT_HALT = 0, 1, 2, 3, 4

WAKE = 0  # pseudo-signal: something changed, run a turn now
SIGNALS = {
    signal.SIGTERM: "term", signal.SIGINT: "int", signal.SIGQUIT: "quit",
    signal.SIGHUP: "hup", signal.SIGTTIN: "ttin", signal.SIGTTOU: "ttou",
}
TICK = 0.1


class BootError(Exception):
    """A child of the initial tree could not start."""


class HaltError(Exception):
    """The restart budget is exhausted (crash loop)."""


class Arbiter(Directory):
    """Supervisor of an actor tree.  ``await Arbiter(config, specs).run()`` -> exit code."""

    def __init__(
        self,
        config: Config | None = None,
        specs: Iterable[ChildSpec | dict[str, Any]] = (),
        *,
        embedded: bool = False,
    ) -> None:
        self.config = config or Config()
        self.embedded = embedded
        self.specs: list[ChildSpec] = []
        self.counts: dict[str, int] = {}
        for spec in specs:
            self.add_child(spec)
        self.children: dict[int, Child] = {}
        self.by_aid: dict[str, Child] = {}
        self.hub = HubService(self)
        self.address = ""
        self.runtime_dir = ""
        self.exit_code = EXIT_OK
        self._slots: dict[tuple[str, int], Child] = {}
        self._done: set[tuple[str, int]] = set()
        self._restart_at: dict[tuple[str, int], float] = {}
        self._failures: dict[tuple[str, int], int] = {}
        self._reasons: dict[str, deque[str]] = {}
        self._rolling: deque[tuple[str, int]] = deque()
        self._rolling_now: tuple[tuple[str, int], int] | None = None
        self._budget = RestartBudget(self.config.intensity, self.config.period)
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._booting = True
        self._stopping: str | None = None
        self._created_dir = False
        self._server: asyncio.Server | None = None
        self._hub_conns: set[Connection] = set()
        self._name_waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._env: dict[str, str] = {}
        #: Set once every static child is ready.
        self.booted = asyncio.Event()
        #: The supervise() task of an embedded arbiter.
        self.task: asyncio.Task[int] | None = None

    # -- configuration ----------------------------------------------------------

    def add_child(self, spec: ChildSpec | dict[str, Any]) -> ChildSpec:
        """Add a child spec (before :meth:`run`; the app's ``setup`` may call this)."""
        spec = ChildSpec.coerce(spec)
        if any(s.name == spec.name for s in self.specs):
            raise ValueError(f"duplicate child name {spec.name!r}")
        if spec.pool and self.config.workers is not None:
            spec = spec.with_count(self.config.workers)
        self.specs.append(spec)
        self.counts[spec.name] = spec.count
        return spec

    # -- lifecycle ----------------------------------------------------------------

    async def run(self) -> int:
        """Start, supervise until stopped, clean up; return the exit code."""
        try:
            await self.start()
        except Exception as exc:
            logger.error("arbiter cannot start: %s", exc)
            self._cleanup()
            return EXIT_BOOT
        return await self.supervise()

    async def start(self) -> None:
        """Runtime directory, hub mailbox, signal handlers, pid file."""
        cfg = self.config
        self.runtime_dir, self._created_dir = make_runtime_dir(cfg.runtime_dir)
        address = cfg.bind or f"unix:{self.runtime_dir}/arbiter.sock"
        self._server, self.address = await serve(address, self._accept)
        package_root = str(Path(actors.__file__).resolve().parent.parent)
        self._env = dict(os.environ)
        self._env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p
        )
        if not self.embedded:
            loop = asyncio.get_running_loop()
            for sig in SIGNALS:
                loop.add_signal_handler(sig, self._queue.put_nowait, sig)
            if cfg.pidfile:
                Path(cfg.pidfile).write_text(f"{os.getpid()}\n")
        logger.info("arbiter %d: hub %s, runtime dir %s", os.getpid(), self.address,
                    self.runtime_dir)

    async def supervise(self) -> int:
        """The supervisor loop (after :meth:`start`); returns the exit code."""
        try:
            try:
                await self._boot()
                while self._stopping is None:
                    await self._turn()
            except BootError as exc:
                logger.error("boot failed: %s", exc)
                self.exit_code = EXIT_BOOT
            except HaltError as exc:
                logger.error("%s", exc)
                self.exit_code = EXIT_HALT
            await self._stop_children(graceful=self._stopping != "fast")
            logger.info("arbiter %d stopped (exit %d)", os.getpid(), self.exit_code)
        finally:
            self._stop_now()  # only does work when cancelled or crashed mid-way
            self._cleanup()
        return self.exit_code

    def stop(self, graceful: bool = True) -> None:
        """Ask the loop to stop the tree (what SIGTERM / SIGQUIT do)."""
        self._queue.put_nowait(signal.SIGTERM if graceful else signal.SIGQUIT)

    async def shutdown(self, graceful: bool = True) -> int:
        """Stop an embedded arbiter and wait for it; return its exit code."""
        if self.task is None:
            raise RuntimeError("shutdown() is for embedded arbiters; use stop()")
        if not self.task.done():
            self.stop(graceful)
        return await asyncio.shield(self.task)

    def wakeup(self) -> None:
        """Run a supervisor turn now."""
        self._queue.put_nowait(WAKE)

    async def _boot(self) -> None:
        self.manage()
        while self._stopping is None and not self._static_ready():
            await self._turn()
        self._booting = False
        if self._stopping is None:
            self.booted.set()
            self.log_tree()

    async def _turn(self) -> None:
        try:
            sig: int | None = await asyncio.wait_for(self._queue.get(), TICK)
        except TimeoutError:
            sig = None
        while sig is not None:
            self._handle(sig)
            sig = None if self._queue.empty() else self._queue.get_nowait()
        self.reap()
        self.murder()
        self.manage()

    def _handle(self, sig: int) -> None:
        name = SIGNALS.get(signal.Signals(sig)) if sig != WAKE else None
        if name is not None:
            logger.info("got SIG%s", name.upper())
            getattr(self, f"handle_{name}")()

    # -- signal handlers (called by the loop, never by the OS) ------------------

    def handle_term(self) -> None:
        self._stopping = self._stopping or "graceful"

    def handle_int(self) -> None:
        if self._stopping == "graceful":
            self._stop_fast()
        self._stopping = "fast"

    handle_quit = handle_int

    def handle_hup(self) -> None:
        self._rolling.extend(
            c.key for c in self.ordered_children() if c.spec.pool and c.state == RUNNING
        )

    def handle_ttin(self) -> None:
        for spec in self.specs:
            if spec.pool:
                self.counts[spec.name] += 1

    def handle_ttou(self) -> None:
        for spec in self.specs:
            if spec.pool and self.counts[spec.name] > 1:
                self.counts[spec.name] -= 1

    # -- reap / murder / manage -----------------------------------------------------

    def reap(self) -> None:
        """Collect every exited child and decide what happens next."""
        for child in list(self.children.values()):
            status: int | None
            try:
                pid, status = os.waitpid(child.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = child.pid, None
            if pid:
                self._exited(child, status)

    def murder(self) -> None:
        """Terminate silent or overdue children; SIGKILL those past their shutdown time."""
        now = time.monotonic()
        cfg = self.config
        for child in list(self.children.values()):
            if child.kill_at is not None:
                if now >= child.kill_at:
                    logger.warning("%s (pid %d) still alive after its shutdown time: SIGKILL",
                                   child.name, child.pid)
                    self._signal(child, signal.SIGKILL)
                    child.kill_at = None
            elif child.state == RUNNING and now - child.last_seen > cfg.heartbeat_timeout:
                logger.error("%s (pid %d) silent for %.1fs: terminating", child.name, child.pid,
                             now - child.last_seen)
                self.terminate(child, "heartbeat timeout", failure=True)
            elif child.state == STARTING and now - child.started > cfg.boot_timeout:
                self.terminate(child, f"not ready within {cfg.boot_timeout:g}s", failure=True)

    def manage(self) -> None:
        """Start missing children in spec order, retire extra ones, roll restarts."""
        if self._stopping is not None:
            return
        if any(c.intent == "restart" for c in self.children.values()):
            return  # a group restart waits until all its members are gone
        for child in list(self.children.values()):
            extra = child.spec.pool and child.index > self.counts.get(child.spec.name, 0)
            if extra and child.intent is None:
                child.intent = "stop"
                self.terminate(child, "TTOU: fewer workers")
        self._roll()
        now = time.monotonic()
        ready_so_far = True  # every static spec before this one is ready
        for spec in list(self.specs):
            for index in range(1, self.counts.get(spec.name, 0) + 1):
                key = (spec.name, index)
                if key in self._slots or key in self._done:
                    continue
                if self._restart_at.get(key, 0.0) > now:
                    continue  # backing off
                if not spec.dynamic and not ready_so_far:
                    continue  # waits for the specs it comes after
                self._launch(spec, index)
            if not spec.dynamic:
                ready_so_far = ready_so_far and self._spec_ready(spec)

    def _roll(self) -> None:
        if self._rolling_now is not None:
            key, old_pid = self._rolling_now
            child = self._slots.get(key)
            retired = key[1] > self.counts.get(key[0], 0)  # TTOU took the slot away
            if not retired and (child is None or child.pid == old_pid or child.state != RUNNING):
                return  # the replacement is not serving yet
            self._rolling_now = None
        while self._rolling:
            key = self._rolling.popleft()
            child = self._slots.get(key)
            if child is not None and child.state == RUNNING and child.intent is None:
                child.intent = "roll"
                self.terminate(child, "HUP: rolling restart")
                self._rolling_now = (key, child.pid)
                return

    # -- children -------------------------------------------------------------------

    def _launch(self, spec: ChildSpec, index: int) -> Child:
        aid = os.urandom(4).hex()
        argv = [sys.executable, "-m", "actors", "--hub", self.address, "--aid", aid,
                "--parent", str(os.getpid())]
        pid = launch(argv, self._env)
        child = Child(spec, index, aid, pid, time.monotonic())
        loop = asyncio.get_running_loop()
        child.ready = loop.create_future()
        # SIGCHLD belongs to the event loop (and to the script, when embedded):
        # a pidfd turns readable when the child exits, which wakes the loop.
        with contextlib.suppress(AttributeError, OSError):
            child.pidfd = os.pidfd_open(pid)
            loop.add_reader(child.pidfd, self.wakeup)
        self.children[pid] = child
        self.by_aid[aid] = child
        self._slots[child.key] = child
        logger.info("starting %s (pid %d)", child.name, pid)
        return child

    def terminate(self, child: Child, why: str, *, failure: bool = False) -> None:
        """SIGTERM now and SIGKILL after the child's shutdown time (or SIGKILL at once)."""
        if failure:
            child.failure = why
        if child.state == STOPPING:
            return
        child.state = STOPPING
        logger.info("stopping %s (pid %d): %s", child.name, child.pid, why)
        shutdown = child.spec.shutdown
        if shutdown is None:
            shutdown = self.config.graceful_timeout
        if shutdown == BRUTAL_KILL:
            self._signal(child, signal.SIGKILL)
        else:
            self._signal(child, signal.SIGTERM)
            child.kill_at = time.monotonic() + float(shutdown)

    def _signal(self, child: Child, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, sig)

    def _exited(self, child: Child, status: int | None) -> None:
        reason, abnormal = describe_status(status)
        if child.failure:
            reason, abnormal = f"{reason} ({child.failure})", True
        del self.children[child.pid]
        self.by_aid.pop(child.aid, None)
        self._close_pidfd(child)
        if self._slots.get(child.key) is child:
            del self._slots[child.key]
        self._forget_socket(child)
        expected = child.intent is not None or self._stopping is not None
        (logger.info if expected else logger.error)(
            "%s (pid %d) exited: %s", child.name, child.pid, reason)
        if child.ready is not None and not child.ready.done():
            child.ready.set_exception(ActorError(f"{child.name} exited before ready: {reason}"))
            child.ready.exception()  # nobody may wait: mark it retrieved
        if expected:
            if child.intent == "stop" and child.spec.dynamic:
                self._remove_spec(child.spec)
            return
        self._reasons.setdefault(child.name, deque(maxlen=3)).append(reason)
        if self._booting and not child.spec.dynamic:
            raise BootError(f"child {child.name} failed to start: {reason}")
        restart = child.spec.restart == PERMANENT or (
            child.spec.restart == TRANSIENT and abnormal)
        if not restart or (child.spec.dynamic and child.state == STARTING):
            if child.spec.dynamic:
                self._remove_spec(child.spec)
            else:
                self._done.add(child.key)
            return
        now = time.monotonic()
        if not self._budget.charge(now):
            raise HaltError(
                f"crash loop: {child.name} exited and restarts exceeded the budget of "
                f"{self.config.intensity} in {self.config.period:g}s; last exit reasons: "
                + "; ".join(self._reasons[child.name]))
        quick = now - child.started < self.config.period
        failures = self._failures.get(child.key, 0) + 1 if quick else 1
        self._failures[child.key] = failures
        self._restart_at[child.key] = now + backoff(failures)
        logger.warning("restarting %s (%s)", child.name, self.config.strategy
                       if not child.spec.dynamic else ONE_FOR_ONE)
        if not child.spec.dynamic and self.config.strategy != ONE_FOR_ONE:
            self._restart_group(child)

    def _restart_group(self, dead: Child) -> None:
        static = [s.name for s in self.specs if not s.dynamic]
        position = (static.index(dead.spec.name), dead.index)
        for other in self.children.values():
            if other.spec.dynamic or other.intent is not None:
                continue
            if self.config.strategy == ONE_FOR_ALL or (
                    (static.index(other.spec.name), other.index) > position):
                other.intent = "restart"
                self.terminate(other, f"{self.config.strategy}: {dead.name} died")

    def _remove_spec(self, spec: ChildSpec) -> None:
        self.specs = [s for s in self.specs if s.name != spec.name]
        self.counts.pop(spec.name, None)

    def _close_pidfd(self, child: Child) -> None:
        if child.pidfd >= 0:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().remove_reader(child.pidfd)
            os.close(child.pidfd)
            child.pidfd = -1

    def _forget_socket(self, child: Child) -> None:
        path = self.mailbox_for(child)
        if path.startswith("unix:"):
            with contextlib.suppress(OSError):
                os.unlink(path[5:])

    def _spec_ready(self, spec: ChildSpec) -> bool:
        for index in range(1, self.counts.get(spec.name, 0) + 1):
            key = (spec.name, index)
            if key in self._done:
                continue
            child = self._slots.get(key)
            if child is None or child.state != RUNNING:
                return False
        return True

    def _static_ready(self) -> bool:
        return all(self._spec_ready(s) for s in self.specs if not s.dynamic)

    # -- stopping -----------------------------------------------------------------------

    async def _stop_children(self, graceful: bool) -> None:
        self._stopping = self._stopping or ("graceful" if graceful else "fast")
        self._rolling.clear()
        if not graceful:
            self._stop_fast()
        # Static children first, in reverse start order; then the actors spawned
        # at run time (store actors, pulsards): services their users asked for,
        # which must outlive those users.
        static = [s for s in self.specs if not s.dynamic]
        dynamic = [s for s in self.specs if s.dynamic]
        for spec in [*reversed(static), *reversed(dynamic)]:
            for child in [c for c in self.children.values() if c.spec.name == spec.name]:
                child.intent = child.intent or "stop"
                self.terminate(child, "arbiter stopping")
            await self._drain(lambda s=spec: any(  # type: ignore[misc]
                c.spec.name == s.name for c in self.children.values()))
        for child in list(self.children.values()):
            self.terminate(child, "arbiter stopping")
        await self._drain(lambda: bool(self.children))

    def _stop_fast(self) -> None:
        deadline = time.monotonic() + 1.0
        for child in self.children.values():
            self._signal(child, signal.SIGQUIT)
            child.state = STOPPING
            child.kill_at = min(child.kill_at or deadline, deadline)

    async def _drain(self, busy: Callable[[], bool]) -> None:
        while busy():
            await self._turn()

    def _stop_now(self, grace: float = 2.0) -> None:
        """Synchronous last resort (cancelled loop, crash): TERM, brief wait, KILL."""
        if not self.children:
            return
        for child in self.children.values():
            self._signal(child, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while self.children and time.monotonic() < deadline:
            for child in list(self.children.values()):
                with contextlib.suppress(ChildProcessError):
                    if os.waitpid(child.pid, os.WNOHANG)[0] == 0:
                        continue
                self.children.pop(child.pid, None)
            time.sleep(0.01)
        for child in list(self.children.values()):
            self._signal(child, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child.pid, 0)
        for child in self.by_aid.values():
            self._close_pidfd(child)
        self.children.clear()
        self.by_aid.clear()

    def _accept(self) -> Connection:
        conn = Connection(self.hub.handlers(), name="arbiter")
        self.hub.connection_made(conn)
        self._hub_conns.add(conn)
        conn.add_close_callback(self._hub_conns.discard)
        return conn

    def _cleanup(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self._hub_conns):
            conn.close()
        if not self.embedded:
            with contextlib.suppress(RuntimeError):
                loop = asyncio.get_running_loop()
                for sig in SIGNALS:
                    loop.remove_signal_handler(sig)
            if self.config.pidfile:
                with contextlib.suppress(OSError):
                    os.unlink(self.config.pidfile)
        if actors.runtime.current_hub() is self:
            actors.set_hub(None)
        if self.address.startswith("unix:"):
            with contextlib.suppress(OSError):
                os.unlink(self.address[5:])
        if self.runtime_dir and self._created_dir:
            shutil.rmtree(self.runtime_dir, ignore_errors=True)
