"""Persistence: loading at start, SAVE/BGSAVE, BGREWRITEAOF, shutdown.

The rules are Redis': at start the AOF is loaded when ``appendonly yes`` and
it exists, else the snapshot (``dbfilename``) when it exists; with
``appendonly yes`` and no AOF yet, one is written at once from what was
loaded (as Redis 7 does).  BGSAVE and BGREWRITEAOF fork a child that writes
the file from its copy-on-write view of the keyspace while the parent keeps
serving; the parent checks for the child in its cron (``hz`` times a
second) and, for a rewrite, appends the commands that arrived meanwhile and
renames the file into place.  One child at a time: a BGREWRITEAOF asked for
during a BGSAVE is scheduled for when it ends, as in Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .aof import AppendOnlyFile, _fsync_dir
from .aoffile import AofError, AofReader, rewrite_commands
from .keyspace import Database, now_ms
from .reply import CommandError
from .snapshot import Entry, Snapshot, SnapshotError, decode_snapshot, encode_snapshot

if TYPE_CHECKING:
    from .server import Server

__all__ = ["LoadError", "Persistence", "write_file"]

log = logging.getLogger("stores.pulsards")


class LoadError(Exception):
    """The AOF or snapshot on disk cannot be loaded: the server must not start."""


@dataclass
class Child:
    """A forked BGSAVE (``kind`` "rdb") or BGREWRITEAOF ("aof") child."""

    pid: int
    kind: str
    temp: str
    started: float


def db_entries(db: Database, now: int) -> Iterator[Entry]:
    """The live entries of ``db`` as the snapshot encoder takes them."""
    expires = db.expires
    for key, value in db.data.items():
        when = expires.get(key)
        if when is None or when >= now:
            yield key, value, when


class Persistence:
    """Files of one server and the child processes writing them."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.child: Child | None = None
        self.rewrite_scheduled = False
        self.bgsave_scheduled = False
        self.lastsave = int(time.time())  # Redis starts it at the start time
        self.rdb_saves = 0
        self.last_bgsave_ok = True
        self.last_bgsave_secs = -1
        self.aof_rewrites = 0
        self.last_rewrite_ok = True
        self.last_rewrite_secs = -1
        self.rewrite_failed_at = 0.0  # monotonic time of the last failed rewrite
        self.loading = False

    # ----------------------------------------------------------------- paths
    def directory(self) -> str:
        return os.path.abspath(self.server.config.dir)

    def aof_path(self) -> str:
        return os.path.join(self.directory(), self.server.config.appendfilename)

    def snapshot_path(self) -> str:
        return os.path.join(self.directory(), self.server.config.dbfilename)

    @property
    def aof(self) -> AppendOnlyFile | None:
        return self.server.aof

    # --------------------------------------------------------------- loading
    def load(self) -> None:
        """Load the AOF or the snapshot, then open the AOF when ``appendonly yes``."""
        cfg = self.server.config
        aof_path = self.aof_path()
        aof_exists = os.path.exists(aof_path)
        self.loading = True
        try:
            if cfg.appendonly == "yes" and aof_exists:
                self.load_aof(aof_path)
            elif os.path.exists(self.snapshot_path()):
                self.load_snapshot(self.snapshot_path())
        finally:
            self.loading = False
        if cfg.appendonly == "yes":
            if not aof_exists:
                write_file(aof_path, self._rewrite_commands())
            self.open_aof(aof_path)

    def load_aof(self, path: str) -> None:
        """Replay ``path``; a cut-short tail is dropped (``aof-load-truncated yes``)."""
        from .protocol import Client

        started = time.monotonic()
        with open(path, "rb") as f:
            data = f.read()
        server = self.server
        client = Client(server)
        client.locked = False
        client.in_exec = True  # a blocking command must not block here
        dispatch = server.dispatch
        dbs = server.keyspace.dbs
        reader = AofReader(data)
        for db in dbs:
            db.loading = True
        try:
            for argv in reader:
                name = argv[0].upper()
                if name == b"SELECT":
                    index = int(argv[1]) if len(argv) == 2 and argv[1].isdigit() else -1
                    if not 0 <= index < len(dbs):
                        raise LoadError(f"AOF {path} selects database {argv[1:]!r}, "
                                        f"but there are {len(dbs)} (see databases)")
                    client.select(index)
                    continue
                if name not in dispatch:
                    raise LoadError(f"Unknown command '{argv[0].decode('utf-8', 'replace')}'"
                                    f" reading the append only file {path}")
                reply = client.execute(argv)
                if reply[:1] == b"-":
                    log.debug("AOF command %r answered %r", argv[0], reply)
        except AofError as exc:
            raise LoadError(f"Bad file format reading the append only file {path}: {exc}"
                            ) from None
        finally:
            for db in dbs:
                db.loading = False
        good = reader.good
        if good < len(data):
            # The file was cut short (a crash inside a write(), a full disk):
            # as Redis with aof-load-truncated yes, keep what is complete.
            log.warning("!!! Warning: short read while loading the AOF file %s!!!", path)
            log.warning("AOF %s loaded anyway because aof-load-truncated is enabled: "
                        "%d bytes of an incomplete command at the end removed (file "
                        "truncated to %d bytes)", path, len(data) - good, good)
            os.truncate(path, good)
        log.info("DB loaded from append only file %s: %d commands in %.3f seconds",
                 path, reader.count, time.monotonic() - started)

    def load_snapshot(self, path: str) -> None:
        started = time.monotonic()
        self.apply_snapshot(self.read_snapshot(path), path)
        log.info("DB loaded from disk %s: %.3f seconds", path, time.monotonic() - started)

    def read_snapshot(self, path: str) -> Snapshot:
        """The snapshot at ``path``, checked (LoadError) before anything changes."""
        try:
            with open(path, "rb") as f:
                snapshot = decode_snapshot(f.read())
        except (OSError, SnapshotError) as exc:
            raise LoadError(f"Can't load the snapshot {path}: {exc}") from None
        keyspace = self.server.keyspace
        for index in snapshot.dbs:
            if index >= len(keyspace):
                raise LoadError(f"snapshot {path} holds database {index}, but there are "
                                f"{len(keyspace)} (see databases)")
        return snapshot

    def apply_snapshot(self, snapshot: Snapshot, path: str, merge: bool = False) -> None:
        """Load a read snapshot (``merge``: its keys and libraries replace the
        ones of the same names, as DEBUG RELOAD MERGE)."""
        for code in snapshot.libraries:
            try:
                self.server.functions.load(code, merge)
            except CommandError as exc:
                raise LoadError(f"Can't load the snapshot {path}'s function library: "
                                f"{exc.message}") from None
        keyspace = self.server.keyspace
        for index, entries in snapshot.dbs.items():
            db = keyspace[index]
            for key, value, expire in entries:
                db.data[key] = value
                if expire is not None:
                    db.set_expire(key, expire)

    # ------------------------------------------------------------------- AOF
    def open_aof(self, path: str | None) -> AppendOnlyFile:
        cfg = self.server.config
        aof = AppendOnlyFile(self.server, path, cfg.appendfsync)
        self.server.aof = aof
        self.server.rewire()
        return aof

    def set_appendonly(self, on: bool) -> None:
        """CONFIG SET appendonly: start with a rewrite, or stop appending."""
        aof = self.aof
        if on and aof is None:
            self.open_aof(None)  # commands collect in the rewrite buffer meanwhile
            if self.child is not None and self.child.kind == "aof":
                self.kill_child()  # it started before: its file would lack the buffer
            self.bgrewriteaof()
        elif not on and aof is not None:
            aof.close()
            self.server.aof = None
            self.server.rewire()
            if self.child is not None and self.child.kind == "aof":
                self.kill_child()

    # -------------------------------------------------------------- snapshot
    def _snapshot_chunks(self) -> Iterator[bytes]:
        now = now_ms()
        dbs = self.server.keyspace.dbs
        return encode_snapshot(((db.index, db_entries(db, now)) for db in dbs if db.data),
                               libraries=self.server.functions.codes())

    def _rewrite_commands(self) -> Iterator[bytes]:
        """What BGREWRITEAOF writes: the commands that rebuild everything."""
        return rewrite_commands(self.server.keyspace.dbs, now_ms(), self.server.functions.codes())

    def save(self) -> None:
        """SAVE: write the snapshot now, blocking the server as Redis does."""
        write_file(self.snapshot_path(), self._snapshot_chunks())
        self.lastsave = int(time.time())
        self.rdb_saves += 1
        log.info("DB saved on disk")

    def bgsave(self) -> None:
        self._fork("rdb", self.snapshot_path())

    def bgrewriteaof(self) -> bool:
        """Start a rewrite on the next loop turn; False when it waits for the child.

        Never forked from inside a command: in EXEC, the child would see half a
        transaction whose commands also land in the rewrite buffer.
        """
        if self.child is not None:
            self.rewrite_scheduled = True
            return False
        if not self.rewrite_scheduled:
            self.rewrite_scheduled = True
            asyncio.get_running_loop().call_soon(self._start_scheduled)
        return True

    def _start_scheduled(self) -> None:
        if self.child is None and self.rewrite_scheduled:
            self.rewrite_scheduled = False
            try:
                self._fork("aof", self.aof_path())
            except OSError as exc:  # fork failed (memory, process limits)
                self.last_rewrite_ok = False
                self.rewrite_failed_at = time.monotonic()
                log.warning("Can't rewrite append only file in background: fork: %s", exc)

    def _fork(self, kind: str, path: str) -> None:
        temp = os.path.join(os.path.dirname(path), f"temp-{kind}-bg-{os.getpid()}.tmp")
        chunks = (self._snapshot_chunks() if kind == "rdb"
                  else self._rewrite_commands())
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: write the file from its copy of memory, then go
            code = 1
            try:
                _die_with_parent(parent)
                with open(temp, "wb") as f:
                    for chunk in chunks:
                        f.write(chunk)
                    f.flush()
                    os.fsync(f.fileno())
                code = 0
            finally:
                os._exit(code)
        self.child = Child(pid, kind, temp, time.monotonic())
        if kind == "aof" and self.aof is not None:
            self.aof.start_rewrite()
        log.info("Background %s started by pid %d",
                 "saving" if kind == "rdb" else "append only file rewriting", pid)

    # ------------------------------------------------------------------ cron
    def cron(self) -> None:
        """Check on the child; start a scheduled rewrite; everysec fsync."""
        child = self.child
        if child is not None:
            try:
                pid, status = os.waitpid(child.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = child.pid, 1
            if pid:
                self.child = None
                self._child_done(child, os.waitstatus_to_exitcode(status) == 0)
        if self.child is None and self.rewrite_scheduled:
            self._start_scheduled()
        if self.child is None and self.bgsave_scheduled:
            self.bgsave_scheduled = False
            try:
                self.bgsave()
            except OSError as exc:
                self.last_bgsave_ok = False
                log.warning("Can't save in background: fork: %s", exc)
        aof = self.aof
        if aof is not None:
            aof.cron()
            # CONFIG SET appendonly yes whose first rewrite failed: try again
            # (every 5 s), as Redis retries while its AOF waits for a rewrite.
            if (aof.fd is None and self.child is None and not self.rewrite_scheduled
                    and time.monotonic() - self.rewrite_failed_at > 5):
                self.bgrewriteaof()

    def _child_done(self, child: Child, ok: bool) -> None:
        secs = int(time.monotonic() - child.started)
        if child.kind == "rdb":
            self.last_bgsave_ok = ok
            self.last_bgsave_secs = secs
            if ok:
                os.replace(child.temp, self.snapshot_path())
                _fsync_dir(self.snapshot_path())
                self.lastsave = int(time.time())
                self.rdb_saves += 1
                log.info("Background saving terminated with success")
            else:
                _unlink(child.temp)
                log.warning("Background saving error")
            return
        self.last_rewrite_secs = secs
        aof = self.aof
        try:
            if not ok:
                raise OSError("the rewrite child failed")
            if aof is not None:
                aof.finish_rewrite(child.temp, self.aof_path())
            else:
                os.replace(child.temp, self.aof_path())
            self.last_rewrite_ok = True
            self.aof_rewrites += 1
            log.info("Background AOF rewrite finished successfully")
        except OSError as exc:
            self.last_rewrite_ok = False
            self.rewrite_failed_at = time.monotonic()
            if aof is not None:
                aof.abort_rewrite()
            _unlink(child.temp)
            log.warning("Background AOF rewrite failed: %s", exc)

    def kill_child(self) -> None:
        child, self.child = self.child, None
        if child is None:
            return
        try:
            os.kill(child.pid, signal.SIGKILL)
            os.waitpid(child.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        _unlink(child.temp)
        if child.kind == "aof" and self.aof is not None:
            self.aof.abort_rewrite()

    def shutdown(self) -> None:
        """Stop the child, write and fsync the AOF, close it (SHUTDOWN, SIGTERM)."""
        self.kill_child()
        aof = self.aof
        if aof is not None:
            aof.close()
            self.server.aof = None
            self.server.rewire()

    # ------------------------------------------------------------------ INFO
    def info(self) -> list[tuple[str, object]]:
        """INFO persistence, with Redis' field names."""
        child = self.child
        now = time.monotonic()
        aof = self.aof
        def running(kind: str) -> int:
            return int(child is not None and child.kind == kind)

        def current(kind: str) -> int:
            return int(now - child.started) if child is not None and child.kind == kind else -1

        fields: list[tuple[str, object]] = [
            ("loading", int(self.loading)), ("async_loading", 0),
            ("rdb_bgsave_in_progress", running("rdb")),
            ("rdb_last_save_time", self.lastsave),
            ("rdb_last_bgsave_status", "ok" if self.last_bgsave_ok else "err"),
            ("rdb_last_bgsave_time_sec", self.last_bgsave_secs),
            ("rdb_current_bgsave_time_sec", current("rdb")),
            ("rdb_saves", self.rdb_saves),
            ("aof_enabled", int(aof is not None)),
            ("aof_rewrite_in_progress", running("aof")),
            ("aof_rewrite_scheduled", int(self.rewrite_scheduled)),
            ("aof_last_rewrite_time_sec", self.last_rewrite_secs),
            ("aof_current_rewrite_time_sec", current("aof")),
            ("aof_last_bgrewrite_status", "ok" if self.last_rewrite_ok else "err"),
            ("aof_rewrites", self.aof_rewrites),
            ("aof_last_write_status", "ok" if aof is None or aof.last_write_ok else "err"),
        ]
        if aof is not None:
            fields += [
                ("aof_current_size", aof.size()),
                ("aof_buffer_length", sum(map(len, aof.buf))),
                ("aof_pending_bio_fsync", int(aof.fsync_running)),
                ("aof_delayed_fsync", aof.delayed_fsync),
            ]
        return fields


def _die_with_parent(parent: int) -> None:
    """Linux: the child gets SIGKILL if the server dies (kill -9) before it ends,
    so no orphan keeps writing (or holding the listening socket) after it."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - no libc: an orphan finishes
        pass
    if os.getppid() != parent:  # the parent died before prctl
        os._exit(1)


def write_file(path: str, chunks: Iterable[bytes], temp: str | None = None) -> None:
    """Write ``chunks`` to a temp file (``temp``, else ``temp-<pid>.tmp`` beside
    ``path``), fsync it and rename it to ``path``: the old file stays whole
    until the new one is.  A temp file left by a failure is removed."""
    temp = temp or os.path.join(os.path.dirname(path), f"temp-{os.getpid()}.tmp")
    try:
        with open(temp, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        _unlink(temp)
        raise
    _fsync_dir(path)


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
