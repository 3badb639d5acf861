"""The keyspace: one ``Database`` per index, values in plain dicts.

Values are stored as they are, with no wrapper object per key: ``bytes`` for
strings, ``collections.deque`` for lists, ``dict`` for hashes, ``set`` for
sets.  Expiry times (absolute, milliseconds since the epoch) live in a side
table ``expires`` plus a min-heap of deadlines that the active expiry cycle
pops, so keys without a TTL cost nothing extra.

Expiry is lazy (every read through ``lookup`` checks the deadline) and active
(``Keyspace.active_expire`` is called ``hz`` times a second by the server and
removes keys whose deadline passed, within a time budget, as Redis' cycle
does; Redis samples random keys, pulsards pops its deadline heap, which finds
every expired key without scanning live ones).
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Final

from .reply import WRONGTYPE
from .stream import Stream
from .zset import ZSet

__all__ = ["Database", "Keyspace", "now_ms", "type_name"]

_TYPE_NAMES: Final[dict[type, str]] = {
    bytes: "string", deque: "list", dict: "hash", set: "set", ZSet: "zset",
    Stream: "stream",
}


def now_ms() -> int:
    """Milliseconds since the epoch (the clock TTLs are kept in)."""
    return time.time_ns() // 1_000_000


def type_name(value: Any) -> str:
    """Redis' name of a stored value's type (``TYPE``)."""
    return _TYPE_NAMES.get(type(value), "none")


class Database:
    """One numbered database: ``data`` (key -> value) and ``expires`` (key -> ms)."""

    __slots__ = ("_heap", "data", "events", "expired", "expires", "index", "loading",
                 "observers", "on_expired", "on_ready", "signals", "wake_on_delete", "watched")

    def __init__(self, index: int) -> None:
        self.index = index
        self.data: dict[bytes, Any] = {}
        self.expires: dict[bytes, int] = {}
        self._heap: list[tuple[int, bytes]] = []
        # key -> clients that WATCH it.
        self.watched: dict[bytes, set[Any]] = {}
        # The server's keyspace events (``notify.Events``) while they are on.
        self.events: Any = None
        # What hears of every change and expiry: keyspace events, client
        # tracking (objects with ``changed(db, key)`` and ``expired(db, key)``).
        self.observers: tuple[Any, ...] = ()
        # key -> clients blocked in XREADGROUP on it, which its deletion or
        # replacement by another type answers (``on_ready``), as Redis 7 does.
        self.wake_on_delete: dict[bytes, int] = {}
        # Whether writers must call ``touch``: keys are watched, something
        # observes changes, or a deletion would wake someone.
        self.signals = False
        self.expired = 0  # keys removed because their TTL passed (INFO stats)
        # Called with (db, key) when a list appears at ``key`` (blocked pops).
        self.on_ready: Callable[[Database, bytes], None] | None = None
        # Called with (db, key) when a key expires: the AOF appends a DEL, so
        # that replaying it later does not depend on the clock (as Redis does).
        self.on_expired: Callable[[Database, bytes], None] | None = None
        # While the AOF is replayed nothing expires: the file says what was
        # deleted when (DELs above), and a deadline now past was not then.
        self.loading = False

    def __len__(self) -> int:
        return len(self.data)

    # ------------------------------------------------------------ lookups
    def lookup(self, key: bytes) -> Any:
        """The live value at ``key`` or ``None`` (an expired key is removed)."""
        expires = self.expires
        # Past the deadline, not at it: Redis' keyIsExpired is ``now > when``.
        if expires and key in expires and expires[key] < now_ms() and not self.loading:
            self._expire(key)
            return None
        return self.data.get(key)

    def is_expired(self, key: bytes) -> bool:
        """Whether ``key`` is still stored but past its deadline (not removed here)."""
        when = self.expires.get(key)
        return when is not None and when < now_ms() and not self.loading

    def lookup_type(self, key: bytes, kind: type) -> Any:
        """``lookup`` that raises WRONGTYPE when the value is not a ``kind``."""
        value = self.lookup(key)
        if value is not None and type(value) is not kind:
            raise WRONGTYPE
        return value

    def exists(self, key: bytes) -> bool:
        return self.lookup(key) is not None

    def live_keys(self) -> Iterator[bytes]:
        """Live keys (expired ones are skipped, not removed: safe while iterating)."""
        expires = self.expires
        if not expires:
            yield from list(self.data)
            return
        now = now_ms()
        for key in list(self.data):
            when = expires.get(key)
            if when is None or when >= now:
                yield key

    # ------------------------------------------------------------ changes
    def set(self, key: bytes, value: Any, keepttl: bool = False) -> None:
        """Store ``value``; drops the TTL unless ``keepttl``."""
        self.data[key] = value
        if not keepttl and self.expires:
            self.expires.pop(key, None)
        if self.signals:
            self.touch(key)

    def store(self, key: bytes, value: Any) -> None:
        """A command's result (a list or sorted set, maybe empty) at ``key``.

        As Redis 7.0's STORE forms: an empty result deletes the key; otherwise
        the old value and its TTL go, watchers see a change, and clients
        blocked on ``key`` are served only when the key is new (``dbAdd``
        signals them, ``dbOverwrite`` does not: a waiter on a key that held
        another type keeps waiting).
        """
        if not value:
            self.delete(key)
            return
        new = self.lookup(key) is None
        self.set(key, value)
        if new and self.on_ready is not None:
            self.on_ready(self, key)

    def delete(self, key: bytes) -> bool:
        """Remove ``key``; True when a live key was removed."""
        if self.lookup(key) is None:
            return False
        del self.data[key]
        if self.expires:
            self.expires.pop(key, None)
        if self.signals:
            self.touch(key)
        return True

    def remove(self, key: bytes) -> None:
        """Remove a key known to exist (an emptied container); callers touch it."""
        del self.data[key]
        if self.expires:
            self.expires.pop(key, None)

    def drop(self, key: bytes) -> None:
        """Remove a live key that a write replaces at once (RENAME's destination):
        that write signals the change; XREADGROUP's waiters hear of the deletion."""
        self.remove(key)
        if key in self.wake_on_delete:
            self._deleted(key)

    def update_signals(self) -> None:
        """Recompute ``signals`` after ``watched``, ``wake_on_delete`` or
        ``observers`` changed."""
        self.signals = bool(self.watched or self.wake_on_delete or self.observers)

    def touch(self, key: bytes) -> None:
        """A write changed ``key``: the observers hear of it, and transactions
        watching it will fail."""
        for observer in self.observers:
            observer.changed(self, key)
        if key in self.wake_on_delete and self.data.get(key).__class__ is not Stream:
            self._deleted(key)
        self._dirty_watchers(key)

    def _deleted(self, key: bytes) -> None:
        """A key clients wait on in XREADGROUP is gone or another type now."""
        if self.on_ready is not None:
            self.on_ready(self, key)

    # Watchers keep, per watched key, whether it was already expired (stored
    # but past its deadline) when they watched it, as Redis 7 does: for them
    # the key's removal is no change, only a live value in its place is.
    def _dirty_watchers(self, key: bytes) -> None:
        clients = self.watched.get(key)
        if clients:
            watched = (self.index, key)
            for client in clients:
                if client.watched.get(watched):
                    if key not in self.data:
                        client.watched[watched] = False  # the expired key is gone
                        continue
                    if self.is_expired(key):
                        continue
                client.dirty_cas = True

    def touch_all(self, replaced_with: Database | None = None) -> None:
        """This database is emptied (FLUSHDB) or swapped with ``replaced_with``
        (SWAPDB): a watched key changed when it exists in either, as Redis has it
        (an expired key that stays expired, or goes, is no change)."""
        for key, clients in self.watched.items():
            here = key in self.data
            there = replaced_with is not None and key in replaced_with.data
            if not (here or there):
                continue
            watched = (self.index, key)
            for client in clients:
                if client.watched.get(watched):
                    if not there:
                        client.watched[watched] = False
                        continue
                    if replaced_with is not None and replaced_with.is_expired(key):
                        continue
                elif not here and replaced_with is not None and replaced_with.is_expired(key):
                    client.watched[watched] = True  # nothing replaced by an expired key
                    continue
                client.dirty_cas = True

    def get_expire(self, key: bytes) -> int | None:
        return self.expires.get(key)

    def set_expire(self, key: bytes, when: int) -> None:
        """Give existing ``key`` the absolute deadline ``when`` (ms)."""
        self.expires[key] = when
        heap = self._heap
        heapq.heappush(heap, (when, key))
        # Deadlines that were overwritten stay in the heap until popped;
        # rebuild it when they dominate so it stays proportional to the TTLs.
        if len(heap) > 1024 and len(heap) > 4 * len(self.expires):
            self._heap = [(w, k) for k, w in self.expires.items()]
            heapq.heapify(self._heap)

    def persist(self, key: bytes) -> bool:
        return self.expires.pop(key, None) is not None

    def flush(self) -> None:
        self.data = {}
        self.expires = {}
        self._heap = []
        for key in self.wake_on_delete:
            self._deleted(key)

    def _expire(self, key: bytes) -> None:
        self.data.pop(key, None)
        self.expires.pop(key, None)
        self.expired += 1
        if key in self.wake_on_delete:
            self._deleted(key)
        if self.watched:
            self._dirty_watchers(key)  # an expiry is no command's change: no touch
        for observer in self.observers:
            observer.expired(self, key)
        if self.on_expired is not None:
            self.on_expired(self, key)

    def active_expire(self, now: int, deadline_ns: int) -> int:
        """Remove keys whose deadline is before ``now`` until ``deadline_ns``; count them."""
        heap = self._heap
        expires = self.expires
        removed = 0
        while heap and heap[0][0] < now:
            when, key = heapq.heappop(heap)
            if expires.get(key) == when:
                self._expire(key)
                removed += 1
            if removed % 64 == 0 and time.perf_counter_ns() > deadline_ns:
                break
        return removed


class Keyspace:
    """All databases of a server."""

    __slots__ = ("dbs",)

    def __init__(self, databases: int = 16) -> None:
        self.dbs = [Database(i) for i in range(databases)]

    def __getitem__(self, index: int) -> Database:
        return self.dbs[index]

    def __len__(self) -> int:
        return len(self.dbs)

    def flushall(self) -> None:
        for db in self.dbs:
            db.flush()

    def active_expire(self, budget_ms: float = 25.0) -> int:
        """One active expiry cycle over every database, within ``budget_ms``."""
        now = now_ms()
        deadline = time.perf_counter_ns() + int(budget_ms * 1_000_000)
        removed = 0
        for db in self.dbs:
            if db.expires:
                removed += db.active_expire(now, deadline)
        return removed

    def expired(self) -> int:
        """Keys removed by expiry so far, lazily or actively."""
        return sum(db.expired for db in self.dbs)
