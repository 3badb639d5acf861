"""``python -m stores.pulsards``: run a pulsards server (redis-server-like flags)."""

from __future__ import annotations

import argparse
import logging
import sys

from .config import LOGLEVELS, Config
from .server import Server, run

__all__ = ["main"]


def parse_args(argv: list[str] | None = None) -> Config:
    """Flags to a ``Config``."""
    parser = argparse.ArgumentParser(
        prog="pulsards", description="pulsards: a Redis-compatible server in Python")
    parser.add_argument("--bind", default="127.0.0.1",
                        help="addresses to listen on, space separated (127.0.0.1)")
    parser.add_argument("--port", type=int, default=6410,
                        help="TCP port (6410); 0 picks a free port and prints it")
    parser.add_argument("--requirepass", default="", help="password for AUTH")
    parser.add_argument("--databases", type=int, default=16, help="number of databases (16)")
    parser.add_argument("--maxclients", type=int, default=10000,
                        help="maximum connected clients (10000)")
    parser.add_argument("--loglevel", default="notice", choices=sorted(LOGLEVELS),
                        help="debug, verbose, notice (default), warning or nothing")
    args = parser.parse_args(argv)
    if args.databases < 1:
        parser.error("--databases must be at least 1")
    return Config(bind=args.bind, port=args.port, requirepass=args.requirepass,
                  databases=args.databases, maxclients=args.maxclients,
                  loglevel=args.loglevel)


def main(argv: list[str] | None = None) -> int:
    """Run until SIGINT or SIGTERM; return the exit status."""
    config = parse_args(argv)
    logging.basicConfig(level=LOGLEVELS[config.loglevel], stream=sys.stderr,
                        format="%(asctime)s %(levelname)s pulsards: %(message)s")

    def ready(server: Server) -> None:
        # Tests and scripts read this line to learn the port (--port 0).
        print(f"pulsards ready port={server.port}", flush=True)

    try:
        run(config, ready)
    except OSError as exc:
        print(f"pulsards: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
