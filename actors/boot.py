"""Entry point of an actor process: ``python -m actors --hub ADDR --aid AID``.

The arbiter starts this by exec, so the process begins with a clean
interpreter and creates its own uvloop event loop here.  Boot sequence:

1. ask the kernel to kill us when the arbiter dies (``PR_SET_PDEATHSIG``);
2. connect to the arbiter's hub mailbox and ``register`` -> the child's
   config (name, target, params, sys.path, mailbox address, timeouts);
3. build the actor, listen on its mailbox, run ``on_start``;
4. tell the arbiter ``ready(address)``, then heartbeat until told to stop
   (SIGTERM), killed, or the hub connection hits EOF.

Exit status: 0 clean stop, 1 the actor crashed, 3 it could not boot.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import traceback
from typing import Any

from . import runtime
from .actor import Actor, FunctionActor
from .connection import Connection, defaults
from .process import connect, serve, set_pdeathsig, split_address

EXIT_OK = 0
EXIT_CRASH = 1
EXIT_BOOT = 3

logger = logging.getLogger("actors.boot")


def build_actor(target: Any, params: dict[str, Any]) -> Actor:
    """Turn a spec target into an actor instance."""
    if isinstance(target, type) and issubclass(target, Actor):
        return target(**params)
    if asyncio.iscoroutinefunction(target):
        return FunctionActor(target, **params)
    if callable(target):
        actor = target(**params)
        if isinstance(actor, Actor):
            return actor
        raise TypeError(f"{target!r} returned {type(actor).__name__}, not an Actor")
    raise TypeError(f"{target!r} is neither an Actor class nor a callable")


def _setup_logging(name: str, level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format=f"%(asctime)s [{name}:%(process)d] %(levelname)s %(name)s: %(message)s",
        force=True,
    )


async def _amain(hub_address: str, aid: str) -> int:
    loop = asyncio.get_running_loop()
    hub = await connect(hub_address, lambda: Connection(name="hub"))
    config: dict[str, Any] = await hub.call("register", aid, os.getpid(), timeout=30.0)
    name = config["name"]
    _setup_logging(name, config.get("log_level", "info"))
    defaults.call_timeout = float(config.get("call_timeout", defaults.call_timeout))
    defaults.max_inflight = int(config.get("max_inflight", defaults.max_inflight))
    defaults.max_frame = int(config.get("max_frame", defaults.max_frame))
    for entry in reversed(config.get("sys_path", [])):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    try:
        actor = build_actor(runtime.load_target(config["target"]), config.get("params", {}))
    except Exception as exc:
        logger.error("cannot build actor %s from %s", name, config["target"], exc_info=True)
        hub.notify("failed", f"boot: {type(exc).__name__}: {exc}", traceback.format_exc())
        hub.close()
        await hub.wait_closed()
        return EXIT_BOOT

    actor.name, actor.aid, actor._hub = name, aid, hub
    actor._stop_event = asyncio.Event()
    runtime.set_actor(actor)
    runtime.set_hub(runtime.RemoteHub(hub))
    hub.handlers = actor.handlers()
    hub.add_close_callback(lambda c: actor.stop("arbiter connection lost"))
    loop.add_signal_handler(signal.SIGTERM, actor.stop, "SIGTERM")
    loop.add_signal_handler(signal.SIGQUIT, os._exit, EXIT_OK)

    clients: set[Connection] = set()

    def accept() -> Connection:
        conn = Connection(actor.handlers(), name=name)
        clients.add(conn)
        conn.add_close_callback(clients.discard)
        return conn

    server, actor.address = await serve(config["mailbox"], accept)
    try:
        try:
            await actor.on_start()
        except Exception as exc:
            logger.error("on_start of %s failed", name, exc_info=True)
            hub.notify("failed", f"on_start: {type(exc).__name__}: {exc}", traceback.format_exc())
            return EXIT_CRASH
        await hub.call("ready", actor.address)
        heartbeat = float(config.get("heartbeat", 1.0))
        beat = loop.create_task(_heartbeat(hub, heartbeat))
        await actor._stop_event.wait()
        beat.cancel()
        logger.info("stopping (%s)", actor.stop_reason or "requested")
        if hub.closed:
            # Nobody supervises us any more: do not linger in on_stop.
            loop.call_later(5.0, os._exit, EXIT_CRASH)
        for task in list(actor._tasks):
            task.cancel()
        await asyncio.gather(*actor._tasks, return_exceptions=True)
        try:
            await actor.on_stop()
        except Exception:
            logger.exception("on_stop of %s failed", name)
            actor.exit_code = EXIT_CRASH
        if actor.exit_code and not hub.closed:
            hub.notify("failed", actor.stop_reason, "")
        return actor.exit_code
    finally:
        server.close()
        for conn in list(clients):
            conn.close()
        # Requests still running can no longer be answered: end them here
        # rather than let the closing loop destroy them mid-flight.
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        scheme, path, _ = split_address(actor.address)
        if scheme == "unix":
            with contextlib.suppress(OSError):
                os.unlink(path)
        hub.close()


async def _heartbeat(hub: Connection, interval: float) -> None:
    while not hub.closed:
        hub.notify("heartbeat")
        await asyncio.sleep(interval)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A fresh uvloop loop (plain asyncio where uvloop is unavailable)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def main(argv: list[str] | None = None) -> int:
    """Run one actor process (the arbiter builds this command line)."""
    parser = argparse.ArgumentParser(prog="python -m actors")
    parser.add_argument("--hub", required=True, help="mailbox address of the arbiter")
    parser.add_argument("--aid", required=True, help="actor id given by the arbiter")
    parser.add_argument("--parent", type=int, default=0, help="pid of the arbiter")
    args = parser.parse_args(argv)
    set_pdeathsig(signal.SIGKILL)
    if args.parent and os.getppid() != args.parent:
        return EXIT_CRASH  # the arbiter died before prctl took effect
    # ^C in a terminal reaches the whole process group: the arbiter decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_amain(args.hub, args.aid))
    except (ConnectionError, OSError, TimeoutError) as exc:
        print(f"actor {args.aid}: cannot reach the arbiter: {exc}", file=sys.stderr)
        return EXIT_BOOT
    finally:
        loop.close()
        # A second SIGTERM while we exit must not turn a clean stop into "killed".
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
