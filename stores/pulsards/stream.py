"""The stream type: entries by ID, laid out in nodes as Redis lays them out,
its consumer groups, and stream IDs (parsing, arithmetic).

Redis keeps a stream as a radix tree of listpack *nodes*; approximate
trimming (``MAXLEN ~``) removes whole nodes only, so which entries survive
depends on where the node boundaries fall.  ``Stream`` keeps the entries in
plain Python containers and tracks the nodes beside them (first ID, live and
deleted counts, byte size of the listpack Redis would have built) so that the
boundaries, and what trimming removes, are Redis' own.

Rules (Redis 7.0's ``streamAppendItem`` and ``streamTrim``):

* an entry goes to a new node when the tail node holds ``stream-node-max-entries``
  entries (deleted ones included) or when its listpack bytes plus the lengths of
  the entry's fields and values reach ``stream-node-max-bytes``;
* deleting the last live entry of a node removes the node;
* approximate trimming removes whole nodes from the head while the rest still
  satisfies the threshold, never more than ``limit`` entries; exact trimming
  then marks entries of the first remaining node deleted.

A ``Group`` holds its pending entries twice, as Redis does: in the group's
PEL and in the owning consumer's, the same ``Nack`` in both.  ``lag`` and
``delivered`` keep the entries-read counter by Redis' rules
(``streamEstimateDistanceFromFirstEverEntry``, ``streamRangeHasTombstones``).
"""

from __future__ import annotations

import bisect
import re
from typing import Final

from .parser import string2ll
from .reply import CommandError

__all__ = ["INVALID_ID", "MAX_ID", "U64", "Consumer", "Fields", "Group", "Nack", "Stream",
           "StreamID", "decr_id", "format_id", "incr_id", "interval_id", "parse_id"]

StreamID = tuple[int, int]
Fields = tuple[bytes, ...]  # an entry: field, value, field, value...
U64: Final = 2**64 - 1
MAX_ID: Final[StreamID] = (U64, U64)
INVALID_ID: Final = CommandError("ERR Invalid stream ID specified as stream command argument")
_STRTOULL: Final = re.compile(rb"[ \t\n\v\f\r]*([-+]?)([0-9]+)\Z")

_LP_HEADER: Final = 7  # total bytes (4), element count (2), end marker (1)


def format_id(sid: StreamID) -> bytes:
    return b"%d-%d" % sid


def _u64(text: bytes) -> int | None:
    """Redis' ``string2ull``: a strict 64-bit integer (not negative), else what
    ``strtoull`` reads (leading spaces, a sign, leading zeros; "-n" wraps)."""
    value = string2ll(text)
    if value is not None:
        return value if value >= 0 else None
    match = _STRTOULL.match(text)
    if match is None:
        return None
    value = int(match.group(2))
    if value > U64:
        return None
    return (-value) & U64 if match.group(1) == b"-" else value


def parse_id(arg: bytes, missing_seq: int = 0, strict: bool = False,
             auto_seq: bool = False) -> tuple[StreamID, bool]:
    """``(id, seq_given)`` of a stream ID argument; ``strict`` refuses "-" and
    "+", ``auto_seq`` accepts "ms-*" (seq_given is then False)."""
    if len(arg) > 127:
        raise INVALID_ID
    if arg == b"-" or arg == b"+":
        if strict:
            raise INVALID_ID
        return ((0, 0) if arg == b"-" else MAX_ID), True
    ms_text, dash, seq_text = arg.partition(b"-")
    ms = _u64(ms_text)
    if ms is None:
        raise INVALID_ID
    if not dash:
        return (ms, missing_seq), True
    if auto_seq and seq_text == b"*":
        return (ms, 0), False
    seq = _u64(seq_text)
    if seq is None:
        raise INVALID_ID
    return (ms, seq), True


def incr_id(sid: StreamID) -> StreamID | None:
    ms, seq = sid
    if seq < U64:
        return ms, seq + 1
    return None if ms == U64 else (ms + 1, 0)


def decr_id(sid: StreamID) -> StreamID | None:
    ms, seq = sid
    if seq > 0:
        return ms, seq - 1
    return None if ms == 0 else (ms - 1, U64)


def interval_id(arg: bytes, missing_seq: int, start: bool) -> StreamID:
    if len(arg) > 1 and arg[0] == 40:  # "(": exclusive
        sid, _ = parse_id(arg[1:], missing_seq, strict=True)
        moved = incr_id(sid) if start else decr_id(sid)
        if moved is None:
            raise CommandError(f"ERR invalid {'start' if start else 'end'} ID for the interval")
        return moved
    return parse_id(arg, missing_seq)[0]


def _lp_int(value: int) -> int:
    """Bytes of an integer element in a listpack (encoding, then a one-byte
    back length: an integer takes at most 9 bytes)."""
    if 0 <= value <= 127:
        return 2
    if -4096 <= value <= 4095:
        return 3
    if -32768 <= value <= 32767:
        return 4
    if -8388608 <= value <= 8388607:
        return 5
    if -2147483648 <= value <= 2147483647:
        return 6
    return 10


def _with_backlen(size: int) -> int:
    if size <= 127:
        return size + 1
    if size < 16383:
        return size + 2
    if size < 2097151:
        return size + 3
    if size < 268435455:
        return size + 4
    return size + 5


_NUMERIC_START: Final = frozenset(b"-0123456789")


def _lp_str(data: bytes) -> int:
    """Bytes of a string element in a listpack (integers in canonical form are
    stored as integers, as ``lpAppend`` does)."""
    n = len(data)
    if n and n <= 20 and data[0] in _NUMERIC_START and (value := string2ll(data)) is not None:
        return _lp_int(value)
    if n < 64:
        return n + 2  # a one-byte header, a one-byte back length
    if n < 4096:
        return _with_backlen(2 + n)
    return _with_backlen(5 + n)


class _Node:
    """One listpack node: its master ID and fields, counts, and size."""

    __slots__ = ("body", "count", "deleted", "fields", "last", "master")

    def __init__(self, master: StreamID, fields: Fields) -> None:
        self.master = master
        self.fields = fields
        self.count = 0
        self.deleted = 0
        self.last = master  # the last entry in the node, deleted or not
        # Everything but the count and deleted elements (whose size changes).
        self.body = _LP_HEADER + _lp_int(len(fields)) + sum(map(_lp_str, fields)) + _lp_int(0)

    def add(self, sid: StreamID, pairs: Fields) -> None:
        # flags (one byte and its back length), the ID as deltas, then the
        # values alone when the fields are the node's first entry's (flag 2),
        # else the field count and every field and value; then the lp-count.
        # (XADD's hot path: the small integers' sizes are inlined.)
        fields = pairs[0::2]
        npairs = len(fields)
        master = self.master
        delta = sid[0] - master[0]
        size = 4 if 0 <= delta <= 127 else 2 + _lp_int(delta)
        delta = sid[1] - master[1]
        size += 2 if 0 <= delta <= 127 else _lp_int(delta)
        if fields == self.fields:
            size += sum(map(_lp_str, pairs[1::2])) + (2 if npairs <= 124 else _lp_int(npairs + 3))
        else:
            size += _lp_int(npairs) + sum(map(_lp_str, pairs)) + _lp_int(2 * npairs + 4)
        self.body += size
        self.count += 1
        self.last = sid


class Nack:
    """A pending (delivered, not acknowledged) entry of a consumer group."""

    __slots__ = ("consumer", "count", "time")

    def __init__(self, consumer: Consumer | None, time: int, count: int = 1) -> None:
        self.consumer = consumer
        self.time = time  # last delivery, ms since the epoch
        self.count = count  # deliveries


class Consumer:
    """A consumer of a group: its name, when it was last seen, its pending entries."""

    __slots__ = ("name", "pel", "seen")

    def __init__(self, name: bytes, seen: int) -> None:
        self.name = name
        self.seen = seen
        self.pel: dict[StreamID, Nack] = {}


class Group:
    """A consumer group: last delivered ID, entries read, pending entries, consumers."""

    __slots__ = ("consumers", "entries_read", "last_id", "pel")

    def __init__(self, last_id: StreamID, entries_read: int = -1) -> None:
        self.last_id = last_id
        self.entries_read = entries_read  # -1: not known
        self.pel: dict[StreamID, Nack] = {}
        self.consumers: dict[bytes, Consumer] = {}

    def consumer(self, name: bytes, now: int, refresh: bool = True) -> tuple[Consumer, bool]:
        """The consumer ``name``, made if missing; whether it was made."""
        found = self.consumers.get(name)
        if found is None:
            found = self.consumers[name] = Consumer(name, now)
            return found, True
        if refresh:
            found.seen = now
        return found, False

    def assign(self, sid: StreamID, consumer: Consumer, nack: Nack) -> None:
        """Make ``consumer`` the owner of the pending entry ``sid``."""
        if nack.consumer is not None and nack.consumer is not consumer:
            del nack.consumer.pel[sid]
        nack.consumer = consumer
        consumer.pel[sid] = nack
        self.pel[sid] = nack

    def forget(self, sid: StreamID) -> bool:
        """Drop a pending entry (XACK); whether it was pending."""
        nack = self.pel.pop(sid, None)
        if nack is None:
            return False
        if nack.consumer is not None:
            del nack.consumer.pel[sid]
        return True

    def copy(self) -> Group:
        other = Group(self.last_id, self.entries_read)
        for name, consumer in self.consumers.items():
            other.consumers[name] = Consumer(name, consumer.seen)
        for sid, nack in self.pel.items():
            owner = other.consumers[nack.consumer.name] if nack.consumer else None
            twin = Nack(owner, nack.time, nack.count)
            other.pel[sid] = twin
            if owner is not None:
                owner.pel[sid] = twin
        return other


class Stream:
    """A stream: entries (ID -> flat field/value list) in ID order, its nodes,
    and its consumer groups."""

    __slots__ = ("_head", "_ids", "_masters", "_nodes", "entries", "entries_added", "groups",
                 "last_id", "max_deleted_id")

    def __init__(self) -> None:
        # Tuples, not lists: the collector stops tracking them, so a long stream
        # does not make every garbage collection longer.
        self.entries: dict[StreamID, Fields] = {}
        # The live IDs, ascending, are _ids[_head:]: removing from the head
        # (trims, XDEL of the oldest) moves _head, O(1); the dead slots go in
        # one cut once they are half the list.
        self._ids: list[StreamID] = []
        self._head = 0
        self.last_id: StreamID = (0, 0)
        self.max_deleted_id: StreamID = (0, 0)
        self.entries_added = 0
        self._masters: list[StreamID] = []  # node master IDs, ascending
        self._nodes: dict[StreamID, _Node] = {}
        self.groups: dict[bytes, Group] = {}

    def __len__(self) -> int:
        return len(self._ids) - self._head

    def __bool__(self) -> bool:
        # A stream may exist with no entries (every other type's key goes
        # with its last element): code testing a value's truth means "exists".
        return True

    def __copy__(self) -> Stream:
        other = Stream()
        other.entries = dict(self.entries)  # the entries are immutable tuples
        other._ids = self._ids[self._head:]
        other.last_id = self.last_id
        other.max_deleted_id = self.max_deleted_id
        other.entries_added = self.entries_added
        other._masters = list(self._masters)
        for master, node in self._nodes.items():
            copy = _Node(master, node.fields)
            copy.body, copy.count, copy.deleted, copy.last = (node.body, node.count,
                                                              node.deleted, node.last)
            other._nodes[master] = copy
        other.groups = {name: group.copy() for name, group in self.groups.items()}
        return other

    # ------------------------------------------------------------- reading
    def first_id(self) -> StreamID:
        return self._ids[self._head] if len(self) else (0, 0)

    def last_live(self) -> StreamID | None:
        """The greatest ID of an entry still there (Redis' ``streamLastValidID``)."""
        return self._ids[-1] if len(self) else None

    def range(self, start: StreamID, end: StreamID, count: int | None = None,
              reverse: bool = False) -> list[tuple[StreamID, Fields]]:
        """Entries with ``start <= id <= end``, at most ``count``, oldest first
        (newest first when ``reverse``)."""
        ids = self._ids
        lo = bisect.bisect_left(ids, start, self._head)
        hi = bisect.bisect_right(ids, end, self._head)
        if lo >= hi:
            return []
        chosen = ids[hi - 1:lo - 1 if lo else None:-1] if reverse else ids[lo:hi]
        if count is not None:
            chosen = chosen[:count]
        entries = self.entries
        return [(sid, entries[sid]) for sid in chosen]

    def has_tombstones(self, start: StreamID) -> bool:
        """Whether a deleted entry may lie at or after ``start`` (Redis'
        ``streamRangeHasTombstones`` from ``start`` to the end)."""
        if not len(self) or self.max_deleted_id == (0, 0):
            return False
        if self._ids[self._head] > self.max_deleted_id:
            return False
        return start <= self.max_deleted_id

    def entries_before(self, sid: StreamID) -> int:
        """How many entries were ever added up to ``sid``, or -1 when that cannot
        be known (Redis' ``streamEstimateDistanceFromFirstEverEntry``)."""
        if not self.entries_added:
            return 0
        if not len(self) and sid <= self.last_id:
            return self.entries_added
        if sid == self.last_id:
            return self.entries_added
        if sid > self.last_id:
            return -1
        first = self.first_id()
        if self.max_deleted_id == (0, 0) or self.max_deleted_id < first:
            if sid < first:
                return self.entries_added - len(self)
            if sid == first:
                return self.entries_added - len(self) + 1
        return -1

    def lag(self, group: Group) -> int | None:
        """Entries not yet delivered to ``group``, ``None`` when not known."""
        if not self.entries_added:
            return 0
        if group.entries_read != -1 and not self.has_tombstones(group.last_id):
            return self.entries_added - group.entries_read
        read = self.entries_before(group.last_id)
        return None if read == -1 else self.entries_added - read

    def delivered(self, group: Group, sid: StreamID) -> None:
        """``sid`` was delivered past the group's last ID: move it and the count."""
        if group.entries_read != -1 and not self.has_tombstones(sid):
            group.entries_read += 1
        elif self.entries_added:
            group.entries_read = self.entries_before(sid)
        group.last_id = sid

    def node_count(self) -> int:
        """Listpack nodes (XINFO's ``radix-tree-keys``)."""
        return len(self._masters)

    def rax_size(self) -> int:
        """Nodes of the radix tree over the node keys (XINFO's ``radix-tree-nodes``):
        the compressed trie Redis' rax builds from the 16-byte big-endian keys."""
        keys = [ms.to_bytes(8, "big") + seq.to_bytes(8, "big") for ms, seq in self._masters]
        return _trie_nodes(keys, 0) if keys else 1

    # ------------------------------------------------------------- writing
    def append(self, sid: StreamID, pairs: Fields, max_entries: int, max_bytes: int
               ) -> None:
        """Add an entry whose ID is above ``last_id``."""
        node = self._nodes[self._masters[-1]] if self._masters else None
        if node is not None:
            limit = max_bytes if 0 < max_bytes <= 1 << 30 else 1 << 30
            count, deleted = node.count, node.deleted
            size = (node.body + (2 if count <= 127 else _lp_int(count))
                    + (2 if deleted <= 127 else _lp_int(deleted)))  # the listpack's bytes
            if (max_entries and count + deleted >= max_entries) or (
                    size + sum(map(len, pairs)) >= limit):
                node = None
        if node is None:
            node = _Node(sid, pairs[0::2])
            self._masters.append(sid)
            self._nodes[sid] = node
        node.add(sid, pairs)
        self.entries[sid] = pairs
        self._ids.append(sid)
        self.last_id = sid
        self.entries_added += 1

    def delete(self, sid: StreamID) -> bool:
        """XDEL one ID; whether it was there."""
        if self.entries.pop(sid, None) is None:
            return False
        at = bisect.bisect_left(self._ids, sid, self._head)
        if at == self._head:  # the oldest: consumers often delete in order
            self._drop_head(1)
        else:
            del self._ids[at]
        self._mark_deleted(sid)
        if sid > self.max_deleted_id:
            self.max_deleted_id = sid
        return True

    def _drop_head(self, n: int) -> None:
        """The ``n`` oldest live IDs are gone."""
        self._head += n
        if self._head > 64 and self._head * 2 > len(self._ids):
            del self._ids[:self._head]
            self._head = 0

    def _node_of(self, sid: StreamID) -> _Node:
        return self._nodes[self._masters[bisect.bisect_right(self._masters, sid) - 1]]

    def _mark_deleted(self, sid: StreamID) -> None:
        node = self._node_of(sid)
        if node.count == 1:
            self._masters.remove(node.master)
            del self._nodes[node.master]
            return
        node.count -= 1
        node.deleted += 1

    def trim(self, maxlen: int | None = None, minid: StreamID | None = None,
             approx: bool = False, limit: int = 0) -> int:
        """Trim from the head by length or minimum ID; the entries removed."""
        removed = 0
        while self._masters:
            if maxlen is not None and len(self) <= maxlen:
                break
            node = self._nodes[self._masters[0]]
            if limit and removed + node.count > limit:
                break
            whole = (len(self) - node.count >= maxlen if maxlen is not None
                     else minid is not None and node.last < minid)
            if whole:
                self._masters.pop(0)
                del self._nodes[node.master]
                ids, head = self._ids, self._head
                cut = bisect.bisect_right(ids, node.last, head)
                for sid in ids[head:cut]:
                    del self.entries[sid]
                self._drop_head(cut - head)
                removed += node.count
                continue
            if approx:
                break
            # Mark entries of this node deleted from its head until satisfied
            # (never past the node: Redis stops at its end).
            while len(self):
                sid = self._ids[self._head]
                if maxlen is not None and len(self) <= maxlen:
                    break
                if (minid is not None and sid >= minid) or sid > node.last:
                    break
                self._drop_head(1)
                del self.entries[sid]
                node.count -= 1
                node.deleted += 1
                removed += 1
            break
        return removed


def _trie_nodes(keys: list[bytes], depth: int) -> int:
    """Nodes of a rax holding ``keys`` (sorted, equal length) below ``depth``."""
    if len(keys) == 1:
        return 2 if depth < len(keys[0]) else 1  # a compressed node and the key's leaf
    first, last = keys[0], keys[-1]
    prefix = depth
    while first[prefix] == last[prefix]:
        prefix += 1
    nodes = 1 if prefix > depth else 0  # the compressed node of the common prefix
    nodes += 1  # the branching node
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i][prefix] != keys[start][prefix]:
            nodes += _trie_nodes(keys[start:i], prefix + 1)
            start = i
    return nodes
