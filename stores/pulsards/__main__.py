"""``python -m stores.pulsards [config-file] [--flags]``: run a pulsards server.

Like ``redis-server``: an optional config file in redis.conf syntax (see
``conffile``), then flags, which override the file.
"""

from __future__ import annotations

import argparse
import logging
import sys

from .aclfile import AclFileError
from .conffile import ConfigFileError, parse_config
from .config import FSYNC_MODES, LOGLEVELS, Config
from .persistence import LoadError
from .server import Server, run

__all__ = ["main", "parse_args"]

# flag -> redis.conf option it sets
_FLAGS = {
    "bind": "addresses to listen on, space separated (127.0.0.1)",
    "port": "TCP port (6410); 0 picks a free port and prints it",
    "unixsocket": "also listen on this unix socket path",
    "requirepass": "password for AUTH",
    "databases": "number of databases (16)",
    "maxclients": "maximum connected clients (10000)",
    "loglevel": "debug, verbose, notice (default), warning or nothing",
    "dir": "directory of the AOF and the snapshot (the working directory)",
    "dbfilename": "snapshot file name (dump.pdb)",
    "appendonly": "yes: log every write to the append-only file (no)",
    "appendfilename": "append-only file name (appendonly.aof)",
    "appendfsync": "always, everysec (default) or no",
    "notify-keyspace-events": "keyspace events to publish, in Redis' letters (KEA: all)",
    "enable-debug-command": "no (default), yes, or local (loopback and unix socket clients)",
    "aclfile": "ACL file of users (ACL LOAD/SAVE; loaded at start), relative to --dir",
}


def parse_args(argv: list[str] | None = None) -> Config:
    """Config file and flags to a ``Config``; exits with status 1 on a bad one."""
    parser = argparse.ArgumentParser(
        prog="pulsards", description="pulsards: a Redis-compatible server in Python")
    parser.add_argument("config_file", nargs="?", default=None,
                        help="a config file in redis.conf syntax (flags override it)")
    for name, text in _FLAGS.items():
        kwargs: dict[str, object] = {"default": None, "help": text}
        if name == "loglevel":
            kwargs["choices"] = sorted(LOGLEVELS)
        elif name == "appendfsync":
            kwargs["choices"] = FSYNC_MODES
        elif name == "appendonly":
            kwargs["choices"] = ("yes", "no")
        parser.add_argument(f"--{name}", **kwargs)  # type: ignore[arg-type]
    args = parser.parse_args(argv)
    config = Config()
    if args.config_file is not None:
        try:
            with open(args.config_file, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            print(f"Fatal error, can't open config file '{args.config_file}': {exc.strerror}",
                  file=sys.stderr)
            raise SystemExit(1) from None
        try:
            parse_config(text, config)
        except ConfigFileError as exc:
            print(exc, file=sys.stderr)
            raise SystemExit(1) from None
    for name in _FLAGS:
        value = getattr(args, name.replace("-", "_"))
        if value is None:
            continue
        try:
            config.apply(name, value)
        except ValueError as exc:
            parser.exit(1, f"pulsards: --{name} {value}: {exc}\n")
    if config.databases < 1:
        parser.exit(1, "pulsards: databases must be at least 1\n")
    return config


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
    except AclFileError as exc:  # Redis' text, as redis-server logs it
        print(exc, file=sys.stderr)
        return 1
    except LoadError as exc:
        print(f"pulsards: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"pulsards: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
