"""Server commands: DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TIME, INFO, COMMAND,
CONFIG, MEMORY USAGE, SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE, SHUTDOWN."""

from __future__ import annotations

import fnmatch
import os
import platform
import sys
import time
from typing import TYPE_CHECKING, Any

from ...redis.resp import encode_reply
from ..config import OPTIONS
from ..reply import OK, SYNTAX, CommandError, bulk, bulks, integer, map_reply
from ..stream import Stream
from ..table import all_entries, command, command_info, implemented
from .args import glob_matcher, timeout_ms, to_int
from .lists import block

if TYPE_CHECKING:
    from ..protocol import Client
    from ..server import Server

__all__ = ["info_text"]


@command("DBSIZE")
def dbsize(c: Client, args: list[bytes]) -> bytes:
    return integer(len(c.db))


def _flush_mode(args: list[bytes]) -> None:
    if len(args) > 2 or (len(args) == 2 and args[1].upper() not in (b"ASYNC", b"SYNC")):
        raise SYNTAX


@command("FLUSHDB")
def flushdb(c: Client, args: list[bytes]) -> bytes:
    _flush_mode(args)
    c.db.touch_all()
    c.db.flush()
    if c.server.tracking is not None:
        c.server.tracking.flushed(everything=False)
    return OK


@command("FLUSHALL")
def flushall(c: Client, args: list[bytes]) -> bytes:
    _flush_mode(args)
    empty_all(c.server)
    return OK


def empty_all(server: Server) -> None:
    """Empty every database as FLUSHALL does: watchers, tracking clients and
    the XREADGROUPs waiting on a stream hear of it."""
    for db in server.keyspace.dbs:
        db.touch_all()
    server.keyspace.flushall()
    if server.tracking is not None:
        server.tracking.flushed(everything=True)


@command("SWAPDB")
def swapdb(c: Client, args: list[bytes]) -> bytes:
    a = to_int(args[1], CommandError("ERR invalid first DB index"))
    b = to_int(args[2], CommandError("ERR invalid second DB index"))
    count = len(c.server.keyspace)
    if not (0 <= a < count and 0 <= b < count):
        raise CommandError("ERR DB index is out of range")
    first, second = c.server.keyspace[a], c.server.keyspace[b]
    first.touch_all(second)
    second.touch_all(first)
    # Swap the contents, not the objects: clients keep pointing at "db N".
    first.data, second.data = second.data, first.data
    first.expires, second.expires = second.expires, first.expires
    first._heap, second._heap = second._heap, first._heap
    # Every key a client waits on in either database may be servable now, or
    # gone (XREADGROUP's waiters hear of that): the waiters' serve() decides.
    server = c.server
    for index, key in list(server.blocking):
        if index in (a, b):
            server.signal_ready(server.keyspace[index], key)
    return OK


@command("TIME")
def time_(c: Client, args: list[bytes]) -> bytes:
    now = time.time_ns() // 1000
    return bulks([b"%d" % (now // 1_000_000), b"%d" % (now % 1_000_000)])


# -------------------------------------------------------------------- INFO
def _rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):  # pragma: no cover - not Linux
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _sections(server: Server) -> dict[str, list[tuple[str, Any]]]:
    from ..server import VERSION

    uptime = int(server.uptime())
    tracking = server.tracking
    rss = _rss()
    cfg = server.config
    keyspace = []
    for db in server.keyspace.dbs:
        if db.data:
            keyspace.append((f"db{db.index}", f"keys={len(db.data)},expires={len(db.expires)},"
                                              "avg_ttl=0"))
    return {
        "server": [
            ("redis_version", VERSION), ("pulsards_version", "0.1.0"),
            ("redis_mode", "standalone"), ("os", f"{platform.system()} {platform.release()}"),
            ("arch_bits", 64), ("multiplexing_api", "asyncio"),
            ("python_version", platform.python_version()), ("process_id", os.getpid()),
            ("run_id", server.run_id), ("tcp_port", server.port),
            ("server_time_usec", time.time_ns() // 1000),
            ("uptime_in_seconds", uptime), ("uptime_in_days", uptime // 86400),
            ("hz", cfg.hz), ("executable", sys.executable),
        ],
        "clients": [
            ("connected_clients", len(server.clients)),
            ("maxclients", cfg.maxclients),
            ("blocked_clients", server.blocked_count()),
            ("tracking_clients", tracking.clients if tracking is not None else 0),
        ],
        "memory": [
            ("used_memory", rss), ("used_memory_human", f"{rss / 1024 / 1024:.2f}M"),
            ("used_memory_rss", rss), ("maxmemory", 0), ("maxmemory_policy", "noeviction"),
        ],
        "persistence": server.persistence.info(),
        "stats": [
            ("total_connections_received", server.stats.connections),
            ("total_commands_processed", server.stats.commands),
            ("rejected_connections", server.stats.rejected_connections),
            ("expired_keys", server.keyspace.expired()),
            ("tracking_total_keys", len(tracking.table) if tracking is not None else 0),
            ("tracking_total_items", tracking.items() if tracking is not None else 0),
            ("tracking_total_prefixes", len(tracking.prefixes) if tracking is not None else 0),
        ],
        "replication": [("role", "master"), ("connected_slaves", 0)],
        "cpu": _cpu(),
        "modules": [],
        "cluster": [("cluster_enabled", 0)],
        "keyspace": keyspace,
    }


def _cpu() -> list[tuple[str, str]]:
    """INFO cpu: seconds of system and user time (the process's, its
    children's, and the main thread's: the one that runs the loop)."""
    import resource

    # The thread first: the process's times, read after, include all of it
    # (read the other way round the thread's could exceed the process's).
    thread = resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF))
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return [(name, f"{value:.6f}") for name, value in (
        ("used_cpu_sys", own.ru_stime), ("used_cpu_user", own.ru_utime),
        ("used_cpu_sys_children", children.ru_stime),
        ("used_cpu_user_children", children.ru_utime),
        ("used_cpu_sys_main_thread", thread.ru_stime),
        ("used_cpu_user_main_thread", thread.ru_utime))]


def info_text(server: Server, wanted: list[str]) -> str:
    """The text INFO returns for the requested section names."""
    sections = _sections(server)
    names = [w.lower() for w in wanted] or ["default"]
    if any(n in ("all", "everything", "default") for n in names):
        chosen = list(sections)
    else:
        chosen = [name for name in sections if name in names]
    blocks = []
    for name in chosen:
        lines = ["# CPU" if name == "cpu" else f"# {name.capitalize()}"]
        lines += [f"{key}:{value}" for key, value in sections[name]]
        blocks.append("\r\n".join(lines) + "\r\n")
    return "\r\n".join(blocks)


@command("INFO")
def info(c: Client, args: list[bytes]) -> bytes:
    text = info_text(c.server, [a.decode("utf-8", "replace") for a in args[1:]]).encode()
    if c.resp3:
        return b"=%d\r\ntxt:%s\r\n" % (len(text) + 4, text)
    return b"$%d\r\n%s\r\n" % (len(text), text)


# ----------------------------------------------------------------- COMMAND
def _info_reply(c: Client, names: list[str]) -> bytes:
    handlers = c.server.dispatch
    out: list[Any] = []
    for name in names:
        parent, _, sub = name.upper().encode().partition(b"|")
        entry = handlers.get(parent)
        if entry is not None and sub:
            entry = entry.subcommands.get(sub)
        if entry is None:
            out.append(None)
            continue
        subs = [sub.spec for sub in entry.subcommands.values()]
        out.append(command_info(entry.spec, sorted(subs, key=lambda s: s.name)))
    return encode_reply(out, 3 if c.resp3 else 2)


@command("COMMAND")
def command_(c: Client, args: list[bytes]) -> bytes:
    return _info_reply(c, [spec.name for spec in implemented()])


@command("COMMAND|COUNT")
def command_count(c: Client, args: list[bytes]) -> bytes:
    return integer(len(implemented()))


@command("COMMAND|INFO")
def command_info_(c: Client, args: list[bytes]) -> bytes:
    if len(args) == 2:
        return command_(c, args)
    return _info_reply(c, [a.decode("utf-8", "replace") for a in args[2:]])


@command("COMMAND|LIST")
def command_list(c: Client, args: list[bytes]) -> bytes:
    """The implemented commands and subcommands (``client|list``), as Redis
    7 lists them; FILTERBY MODULE (none), ACLCAT or PATTERN (case-insensitive)."""
    from ..aclspecs import categories

    names = sorted((entry.spec.name.lower().encode(), entry.spec)
                   for entry in all_entries(c.server.dispatch))
    if len(args) == 2:
        return bulks(name for name, _ in names)
    if len(args) != 5 or args[2].upper() != b"FILTERBY":
        raise SYNTAX
    kind, value = args[3].upper(), args[4]
    if kind == b"MODULE":
        return b"*0\r\n"
    if kind == b"ACLCAT":
        category = value.decode("utf-8", "replace").lower()
        return bulks(name for name, spec in names if category in categories(spec))
    if kind == b"PATTERN":
        match = glob_matcher(value.lower()).match
        return bulks(name for name, _ in names if match(name))
    raise SYNTAX


@command("COMMAND|DOCS")
def command_docs(c: Client, args: list[bytes]) -> bytes:
    # Command documentation is not part of the shared table: an empty map.
    return b"%0\r\n" if c.resp3 else b"*0\r\n"


def _keys_of(args: list[bytes]) -> list[tuple[int, str]]:
    """The keys of the command COMMAND GETKEYS(ANDFLAGS) is asked about, with
    their flags (``aclspecs.key_flags``), and Redis' errors."""
    from ...redis.commands import lookup
    from ..aclspecs import key_flags

    spec = lookup(args[2:])
    if spec is None:
        raise CommandError("ERR Invalid command specified")
    if not spec.key_specs:
        raise CommandError("ERR The command has no key arguments")
    argc = len(args) - 2
    if (spec.arity >= 0 and argc != spec.arity) or argc < -spec.arity:
        raise CommandError("ERR Invalid number of arguments specified for command")
    found = key_flags(spec, args[2:])
    if not found:
        if "no_mandatory_keys" in spec.flags:  # EVAL s 0: rightly no key
            return []
        raise CommandError("ERR Invalid arguments specified for command")
    return found


@command("COMMAND|GETKEYS")
def command_getkeys(c: Client, args: list[bytes]) -> bytes:
    return bulks(args[2 + index] for index, _ in _keys_of(args))


@command("COMMAND|GETKEYSANDFLAGS")
def command_getkeysandflags(c: Client, args: list[bytes]) -> bytes:
    kind = b"~" if c.resp3 else b"*"
    parts = []
    for index, flags in _keys_of(args):
        words = flags.replace(" variable_flags", "").replace(" incomplete", "").split()
        parts.append(b"*2\r\n%s%s%d\r\n%s" % (bulk(args[2 + index]), kind, len(words),
                                               b"".join(b"+%s\r\n" % w.encode() for w in words)))
    return b"*%d\r\n%s" % (len(parts), b"".join(parts))


# ------------------------------------------------------------------ CONFIG
@command("CONFIG|GET")
def config_get(c: Client, args: list[bytes]) -> bytes:
    cfg = c.server.config
    found: dict[str, str] = {}
    for pattern in args[2:]:
        text = pattern.decode("utf-8", "replace").lower()
        for name in OPTIONS:
            if fnmatch.fnmatchcase(name, text):
                found[name] = cfg.get(name)
    pairs = [(encode_reply(k), encode_reply(v)) for k, v in found.items()]
    return map_reply(pairs, c.resp3)


@command("CONFIG|SET")
def config_set(c: Client, args: list[bytes]) -> bytes:
    if len(args) % 2:
        raise CommandError("ERR wrong number of arguments for 'config|set' command")
    pairs = [(args[i].decode("utf-8", "replace").lower(), args[i + 1].decode("utf-8", "replace"))
             for i in range(2, len(args), 2)]
    for name, _ in pairs:
        if name not in OPTIONS:
            raise CommandError(
                f"ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
    cfg = c.server.config
    for name, value in pairs:
        attr = name.replace("-", "_")
        old = getattr(cfg, attr)
        try:
            cfg.set(name, value)
        except (ValueError, PermissionError) as exc:
            raise CommandError(
                f"ERR CONFIG SET failed (possibly related to argument '{name}') - {exc}"
            ) from None
        if getattr(cfg, attr) != old:
            _config_changed(c.server, name)
    return OK


def _config_changed(server: Server, name: str) -> None:
    """Side effects of CONFIG SET (persistence, keyspace events), as Redis has them."""
    persistence = server.persistence
    if name == "appendonly":
        persistence.set_appendonly(server.config.appendonly == "yes")
    elif name == "appendfsync" and server.aof is not None:
        server.aof.fsync = server.config.appendfsync
    elif name == "dir" and server.aof is not None:
        persistence.bgrewriteaof()  # so that the new directory holds an AOF too
    elif name == "notify-keyspace-events":
        server.configure_events()
    elif name == "requirepass":  # the default user's password, as in Redis
        from .acl import user_changed

        server.acl.set_default_password(server.config.requirepass)
        user_changed(server, server.acl.default)
    elif name in ("slowlog-log-slower-than", "latency-monitor-threshold"):
        server.rewire()  # which commands are timed depends on them
    elif name == "slowlog-max-len":
        server.slowlog.trim()


@command("CONFIG|RESETSTAT")
def config_resetstat(c: Client, args: list[bytes]) -> bytes:
    from ..server import Stats

    c.server.stats = Stats()
    for db in c.server.keyspace.dbs:
        db.expired = 0
    return OK


# ------------------------------------------------------------------- misc
@command("MEMORY|USAGE")
def memory_usage(c: Client, args: list[bytes]) -> bytes:
    if len(args) not in (3, 5) or (len(args) == 5 and args[3].upper() != b"SAMPLES"):
        raise SYNTAX
    key = args[2]
    value = c.db.lookup(key)
    if value is None:
        return c.nil
    size = sys.getsizeof(key) + sys.getsizeof(value) + 16  # the dict slot
    if isinstance(value, dict):
        size += sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in value.items())
    elif isinstance(value, Stream):
        size += sum(sys.getsizeof(pairs) + sum(map(sys.getsizeof, pairs))
                    for pairs in value.entries.values())
    elif not isinstance(value, bytes):
        size += sum(sys.getsizeof(v) for v in value)
    return integer(size)


# ------------------------------------------------------------- persistence
@command("SAVE")
def save(c: Client, args: list[bytes]) -> bytes:
    persistence = c.server.persistence
    if persistence.child is not None and persistence.child.kind == "rdb":
        raise CommandError("ERR Background save already in progress")
    try:
        persistence.save()
    except OSError as exc:
        raise CommandError(f"ERR {exc}") from None
    return OK


@command("BGSAVE")
def bgsave(c: Client, args: list[bytes]) -> bytes:
    schedule = len(args) == 2 and args[1].upper() == b"SCHEDULE"
    if len(args) > 2 or (len(args) == 2 and not schedule):
        raise SYNTAX
    persistence = c.server.persistence
    child = persistence.child
    if child is not None and child.kind == "rdb":
        raise CommandError("ERR Background save already in progress")
    if child is not None or persistence.rewrite_scheduled:
        if schedule:
            persistence.bgsave_scheduled = True
            return b"+Background saving scheduled\r\n"
        raise CommandError("ERR Another child process is active (AOF?): can't BGSAVE right "
                           "now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever "
                           "possible.")
    try:
        persistence.bgsave()
    except OSError as exc:
        raise CommandError(f"ERR Background save failed: {exc}") from None
    return b"+Background saving started\r\n"


@command("BGREWRITEAOF")
def bgrewriteaof(c: Client, args: list[bytes]) -> bytes:
    persistence = c.server.persistence
    child = persistence.child
    if child is not None and child.kind == "aof":
        raise CommandError("ERR Background append only file rewriting already in progress")
    if persistence.bgrewriteaof():
        return b"+Background append only file rewriting started\r\n"
    return b"+Background append only file rewriting scheduled\r\n"


@command("LASTSAVE")
def lastsave(c: Client, args: list[bytes]) -> bytes:
    return integer(c.server.persistence.lastsave)


@command("SHUTDOWN")
def shutdown(c: Client, args: list[bytes]) -> bytes:
    options = {arg.upper() for arg in args[1:]}
    if not options <= {b"NOSAVE", b"SAVE", b"NOW", b"FORCE", b"ABORT"}:
        raise SYNTAX
    if b"ABORT" in options:
        raise CommandError("ERR No shutdown in progress.")
    if b"SAVE" in options and b"NOSAVE" not in options:
        try:
            c.server.persistence.save()
        except OSError as exc:
            if b"FORCE" not in options:
                raise CommandError(f"ERR Errors trying to SHUTDOWN. Check logs. ({exc})"
                                   ) from None
    # stop() fsyncs the AOF before it closes the connections.
    c.server.request_stop()
    c.closing = True
    return b""




# ------------------------------------------------------------ replication
# pulsards is a master without replicas, as a Redis with no REPLICAOF.
@command("ROLE")
def role(c: Client, args: list[bytes]) -> bytes:
    return b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"


@command("WAIT")
def wait(c: Client, args: list[bytes]) -> bytes:
    """No replica ever acknowledges: 0 at once when none is asked for, else
    after the timeout (0: never, as Redis' WAIT on a master alone)."""
    wanted = to_int(args[1])
    timeout = timeout_ms(args[2])
    if wanted <= 0:
        return b":0\r\n"
    return block(c, [], lambda db, key: None, timeout / 1000, b":0\r\n")
