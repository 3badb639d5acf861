"""Server options: defaults, parsing and ``CONFIG GET``/``CONFIG SET`` rules."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, fields
from typing import Any, Final

from .eventrules import flags_text, parse_flags

__all__ = ["OPTIONS", "Config", "parse_memory"]

FSYNC_MODES: Final = ("always", "everysec", "no")

_UNITS: Final = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2,
                 "g": 1000**3, "gb": 1024**3}

LOGLEVELS: Final = {"debug": logging.DEBUG, "verbose": logging.INFO, "notice": logging.INFO,
                    "warning": logging.WARNING, "nothing": logging.CRITICAL + 10}


def parse_memory(text: str) -> int:
    """``512mb`` -> 536870912, as redis.conf memory units (``k`` is 1000, ``kb`` 1024)."""
    text = text.strip().lower()
    digits = text.rstrip("kmgb")
    unit = text[len(digits):]
    if not digits.isdigit() or unit not in _UNITS:
        raise ValueError(f"argument must be a memory value: {text!r}")
    return int(digits) * _UNITS[unit]


@dataclass
class Config:
    """Everything ``python -m stores.pulsards`` and ``CONFIG`` know about."""

    bind: str = "127.0.0.1"
    port: int = 6410
    requirepass: str = ""
    databases: int = 16
    maxclients: int = 10000
    loglevel: str = "notice"
    proto_max_bulk_len: int = 512 * 1024 * 1024
    client_query_buffer_limit: int = 1024 * 1024 * 1024
    timeout: int = 0
    hz: int = 10
    # Automatic snapshots ("save <seconds> <changes>") are not supported: only
    # "" (none), which is what CONFIG GET save reports.  SAVE/BGSAVE work.
    save: str = ""
    appendonly: str = "no"
    appendfsync: str = "everysec"
    dir: str = "."
    dbfilename: str = "dump.pdb"
    appendfilename: str = "appendonly.aof"
    unixsocket: str = ""
    unixsocketperm: int = 0
    # Milliseconds a script that has not written may run before it is ended.
    busy_reply_threshold: int = 5000
    # Where a stream starts a new node (approximate trimming removes whole nodes).
    stream_node_max_bytes: int = 4096
    stream_node_max_entries: int = 100
    # Keyspace events' classes, as given (``eventrules.parse_flags`` reads them).
    notify_keyspace_events: str = ""
    # Keys CLIENT TRACKING remembers at most (0: no limit), as Redis' option.
    tracking_table_max_keys: int = 1_000_000
    # Entries ACL LOG keeps at most (the oldest go first).
    acllog_max_len: int = 128
    # SLOWLOG: the µs from which a command is logged (-1: none), how many are kept.
    slowlog_log_slower_than: int = 10000
    slowlog_max_len: int = 128
    # LATENCY: events that took this many ms or more are recorded (0: none).
    latency_monitor_threshold: int = 0
    # Per-command latency histograms: pulsards keeps none (only "no").
    latency_tracking: str = "no"
    # DEBUG and MODULE LOAD: no, yes or local (loopback and unix socket clients).
    enable_debug_command: str = "no"
    enable_module_command: str = "no"
    # The ACL file (ACL LOAD, ACL SAVE, read at start), relative to ``dir``.
    aclfile: str = ""
    # Not an option: the config file's ``user`` lines, each the name then its
    # rules (``aclfile.directive_rules``), created at start.  CONFIG GET does
    # not show them, as in Redis.
    users: list[list[bytes]] = field(default_factory=list)

    def get(self, name: str) -> str:
        """The ``CONFIG GET`` text of option ``name`` (redis.conf spelling)."""
        value = getattr(self, name.replace("-", "_"))
        if name == "dir":  # Redis reports its working directory, absolute
            return os.path.abspath(str(value))
        if name == "unixsocketperm":
            return f"{value:o}"
        if name == "notify-keyspace-events":
            return flags_text(parse_flags(value))
        return str(value)

    def set(self, name: str, text: str) -> None:
        """Apply ``CONFIG SET name text``; ``ValueError`` says why it is refused."""
        _kind, mutable = OPTIONS[name]
        if not mutable:
            raise PermissionError("can't set immutable config")
        self.apply(name, text)

    def apply(self, name: str, text: str) -> None:
        """Set option ``name`` from its redis.conf text, mutable or not (flags,
        config file); ``ValueError`` says why the text is refused."""
        attr = name.replace("-", "_")
        kind, _ = OPTIONS[name]
        value: Any
        if kind == "memory":
            value = parse_memory(text)
        elif kind in ("int", "llong"):
            least = _LEAST.get(name, 0)
            try:
                value = int(text)
            except ValueError:
                raise ValueError("argument couldn't be parsed into an integer") from None
            if value < least or (kind == "llong" and value >= 2**63):
                most = 2**31 - 1 if kind == "int" else 2**63 - 1
                raise ValueError(f"argument must be between {least} and {most} inclusive")
        elif kind == "tracking":
            if text.lower() not in ("yes", "no"):
                raise ValueError("argument must be 'yes' or 'no'")
            if text.lower() == "yes":
                raise ValueError("pulsards keeps no per-command latency histograms")
            value = "no"
        elif kind == "protected":
            if text.lower() not in ("no", "yes", "local"):
                raise ValueError("argument(s) must be one of the following: no, yes, local")
            value = text.lower()
        elif kind == "loglevel":
            if text.lower() not in LOGLEVELS:
                raise ValueError("argument(s) must be one of the following: "
                                 "debug, verbose, notice, warning, nothing")
            value = text.lower()
        elif kind == "yesno":
            if text.lower() not in ("yes", "no"):
                raise ValueError("argument must be 'yes' or 'no'")
            value = text.lower()
        elif kind == "fsync":
            if text.lower() not in FSYNC_MODES:
                raise ValueError("argument(s) must be one of the following: "
                                 "always, everysec, no")
            value = text.lower()
        elif kind == "filename":
            if not text or "/" in text or text in (".", ".."):
                raise ValueError(f"{name} can't be a path, just a filename")
            value = text
        elif kind == "dir":
            if not os.path.isdir(text):
                raise ValueError(f"No such directory: {text!r}")
            if not os.access(text, os.W_OK | os.X_OK):
                raise ValueError(f"Permission denied: {text!r}")
            value = text
        elif kind == "octal":
            try:
                value = int(text, 8)
            except ValueError:
                raise ValueError("argument must be an octal number") from None
        elif kind == "events":
            parse_flags(text)
            value = text
        elif kind == "save":
            if text.strip():
                raise ValueError("automatic snapshots (save <seconds> <changes>) are not "
                                 "supported by pulsards: only save \"\"")
            value = ""
        else:
            value = text
        if attr == "proto_max_bulk_len" and value < 1024 * 1024:
            raise ValueError("argument must be a memory value of at least 1mb")
        if attr == "hz":
            value = max(1, min(500, value))
        setattr(self, attr, value)


# redis.conf name -> (kind, settable at run time)
OPTIONS: Final[dict[str, tuple[str, bool]]] = {
    "bind": ("str", False),
    "port": ("int", False),
    "requirepass": ("str", True),
    "databases": ("int", False),
    "maxclients": ("int", True),
    "loglevel": ("loglevel", True),
    "proto-max-bulk-len": ("memory", True),
    "client-query-buffer-limit": ("memory", True),
    "timeout": ("int", True),
    "hz": ("int", True),
    "save": ("save", True),
    "appendonly": ("yesno", True),
    "appendfsync": ("fsync", True),
    "dir": ("dir", True),
    "dbfilename": ("filename", True),
    "appendfilename": ("filename", False),
    "unixsocket": ("str", False),
    "unixsocketperm": ("octal", False),
    "busy-reply-threshold": ("int", True),
    "stream-node-max-bytes": ("memory", True),
    "stream-node-max-entries": ("int", True),
    "notify-keyspace-events": ("events", True),
    "tracking-table-max-keys": ("int", True),
    "acllog-max-len": ("int", True),
    "slowlog-log-slower-than": ("llong", True),
    "slowlog-max-len": ("llong", True),
    "latency-monitor-threshold": ("llong", True),
    "latency-tracking": ("tracking", True),
    "enable-debug-command": ("protected", False),
    "enable-module-command": ("protected", False),
    "aclfile": ("str", False),
}
# The least value of the "llong" options that may be negative.
_LEAST: Final = {"slowlog-log-slower-than": -1}
assert {f.name for f in fields(Config)} == {n.replace("-", "_") for n in OPTIONS} | {"users"}
