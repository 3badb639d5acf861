"""``python -m arbiter MODULE[:ATTR]`` (also the ``arbiter`` console script)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from actors.boot import new_event_loop

from .arbiter import EXIT_BOOT, EXIT_ERROR, EXIT_USAGE, Arbiter
from .spec import STRATEGIES, Config, load_app

logger = logging.getLogger("arbiter")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="arbiter",
        description="Run an actor tree: the app module's child specs under one arbiter.",
        epilog="exit codes: 0 clean stop, 1 internal error, 2 usage, 3 boot failure, "
        "4 crash loop (restart budget exhausted)",
    )
    p.add_argument("app", metavar="MODULE[:ATTR]",
                   help="module holding the child specs (ATTR defaults to 'children')")
    p.add_argument("-w", "--workers", type=int, default=None,
                   help="number of instances of each worker-pool spec")
    p.add_argument("--bind", default=None,
                   help="hub mailbox address, unix:PATH or tcp:HOST:PORT "
                   "(default: unix socket in the runtime dir)")
    p.add_argument("--pid", dest="pidfile", default=None, help="write the arbiter pid here")
    p.add_argument("--log-level", default="info",
                   choices=["debug", "info", "warning", "error", "critical"])
    p.add_argument("--runtime-dir", default=None,
                   help="private (0700) directory for mailbox sockets "
                   "(default: a fresh one under $XDG_RUNTIME_DIR or the temp dir)")
    p.add_argument("--graceful-timeout", type=float, default=10.0,
                   help="seconds a child gets between SIGTERM and SIGKILL "
                   "unless its spec sets shutdown")
    p.add_argument("--strategy", choices=STRATEGIES, default="one_for_one")
    p.add_argument("--intensity", type=int, default=1,
                   help="restarts allowed per --period before the tree halts")
    p.add_argument("--period", type=float, default=5.0, help="restart budget window (s)")
    p.add_argument("--timeout", dest="heartbeat_timeout", type=float, default=10.0,
                   help="an actor silent (no heartbeat) this long is restarted")
    p.add_argument("--boot-timeout", type=float, default=30.0,
                   help="seconds a child has to become ready")
    p.add_argument("--call-timeout", type=float, default=30.0,
                   help="default deadline (s) of calls made inside actors")
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse flags, load the app, run the arbiter; return the exit code."""
    args = vars(parser().parse_args(argv))
    app = args.pop("app")
    logging.basicConfig(
        level=args["log_level"].upper(),
        format="%(asctime)s [arbiter:%(process)d] %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = Config(**args)
    except ValueError as exc:
        logger.error("%s", exc)
        return EXIT_USAGE
    # Like gunicorn: the app is importable from the current directory.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    loop = new_event_loop()
    try:
        arbiter = Arbiter(config)
        try:
            for spec in load_app(app, arbiter):
                arbiter.add_child(spec)
        except Exception as exc:
            logger.error("cannot load app %r: %s: %s", app, type(exc).__name__, exc)
            return EXIT_BOOT
        if not arbiter.specs:
            logger.error("app %r declares no children", app)
            return EXIT_BOOT
        return loop.run_until_complete(arbiter.run())
    except Exception:
        # A bug in the arbiter itself; supervise() has already killed the tree.
        logger.exception("arbiter failed")
        return EXIT_ERROR
    finally:
        loop.close()


if __name__ == "__main__":
    sys.exit(main())
