"""List commands, including the blocking pops served FIFO (BLPOP, BRPOP,
BLMOVE, BRPOPLPUSH, BLMPOP).  A list is a ``collections.deque`` of ``bytes``;
an emptied list is removed, as in Redis."""

from __future__ import annotations

from collections import deque
from itertools import islice
from typing import TYPE_CHECKING, Final

from ..keyspace import Database
from ..reply import (
    EMPTY_ARRAY,
    OK,
    SYNTAX,
    WRONGTYPE,
    Blocked,
    CommandError,
    bulk,
    bulks,
    integer,
)
from ..table import command
from .args import mpop_args, positive_count, to_float, to_int

if TYPE_CHECKING:
    from ..protocol import Client

__all__ = ["block", "get_list", "null_array", "parse_timeout"]

_NO_KEY = CommandError("ERR no such key")
_TIMEOUT_FLOAT = CommandError("ERR timeout is not a float or out of range")


def get_list(db: Database, key: bytes) -> deque[bytes] | None:
    """The list at ``key`` or ``None``; WRONGTYPE for other types."""
    value = db.lookup(key)
    if value is not None and value.__class__ is not deque:
        raise WRONGTYPE
    return value


def null_array(c: Client) -> bytes:
    """The null array: what a blocking pop answers on timeout."""
    return b"_\r\n" if c.resp3 else b"*-1\r\n"


def _popped(db: Database, key: bytes, lst: deque[bytes]) -> None:
    """Bookkeeping after elements left ``lst``."""
    if not lst:
        db.remove(key)
    db.touch(key)


def _push(c: Client, args: list[bytes], left: bool, existing: bool) -> bytes:
    db = c.db
    key = args[1]
    lst = get_list(db, key)
    if lst is None:
        if existing:
            return b":0\r\n"
        lst = deque()
        db.data[key] = lst
    if left:
        lst.extendleft(args[2:])
    else:
        lst.extend(args[2:])
    size = len(lst)
    if db.signals:
        db.touch(key)
    server = c.server
    if server.blocking:
        server.signal_ready(db, key)
    return b":%d\r\n" % size


@command("LPUSH")
def lpush(c: Client, args: list[bytes]) -> bytes:
    return _push(c, args, True, False)


@command("RPUSH")
def rpush(c: Client, args: list[bytes]) -> bytes:
    return _push(c, args, False, False)


@command("LPUSHX")
def lpushx(c: Client, args: list[bytes]) -> bytes:
    return _push(c, args, True, True)


@command("RPUSHX")
def rpushx(c: Client, args: list[bytes]) -> bytes:
    return _push(c, args, False, True)


def _pop(c: Client, args: list[bytes], left: bool) -> bytes:
    if len(args) > 3:
        raise SYNTAX
    db = c.db
    key = args[1]
    count = positive_count(args[2]) if len(args) == 3 else None
    lst = get_list(db, key)
    if lst is None:
        return c.nil if count is None else null_array(c)
    if count is None:
        value = lst.popleft() if left else lst.pop()
        _popped(db, key, lst)
        return b"$%d\r\n%s\r\n" % (len(value), value)
    take = lst.popleft if left else lst.pop
    values = [take() for _ in range(min(count, len(lst)))]
    if values:  # a count of 0 changes nothing: no WATCH, no keyspace event
        _popped(db, key, lst)
    return bulks(values)


@command("LPOP")
def lpop(c: Client, args: list[bytes]) -> bytes:
    return _pop(c, args, True)


@command("RPOP")
def rpop(c: Client, args: list[bytes]) -> bytes:
    return _pop(c, args, False)


@command("LLEN")
def llen(c: Client, args: list[bytes]) -> bytes:
    lst = get_list(c.db, args[1])
    return integer(0 if lst is None else len(lst))


def _range(size: int, start: int, end: int) -> tuple[int, int]:
    """Redis' index normalisation: an inclusive [start, end], empty when start > end."""
    if start < 0:
        start = max(0, size + start)
    if end < 0:
        end += size
    end = min(end, size - 1)
    return start, end


@command("LRANGE")
def lrange(c: Client, args: list[bytes]) -> bytes:
    start, end = to_int(args[2]), to_int(args[3])
    lst = get_list(c.db, args[1])
    if lst is None:
        return EMPTY_ARRAY
    start, end = _range(len(lst), start, end)
    if start > end:
        return EMPTY_ARRAY
    return bulks(list(islice(lst, start, end + 1)))


@command("LINDEX")
def lindex(c: Client, args: list[bytes]) -> bytes:
    lst = get_list(c.db, args[1])
    if lst is None:  # before the index is read, as Redis does
        return c.nil
    index = to_int(args[2])
    if not -len(lst) <= index < len(lst):
        return c.nil
    return bulk(lst[index])


@command("LSET")
def lset(c: Client, args: list[bytes]) -> bytes:
    db = c.db
    lst = get_list(db, args[1])
    if lst is None:  # before the index is read, as Redis does
        raise _NO_KEY
    index = to_int(args[2])
    if not -len(lst) <= index < len(lst):
        raise CommandError("ERR index out of range")
    lst[index] = args[3]
    db.touch(args[1])
    return OK


@command("LINSERT")
def linsert(c: Client, args: list[bytes]) -> bytes:
    where = args[2].upper()
    if where not in (b"BEFORE", b"AFTER"):
        raise SYNTAX
    db = c.db
    lst = get_list(db, args[1])
    if lst is None:
        return b":0\r\n"
    try:
        index = lst.index(args[3])
    except ValueError:
        return b":-1\r\n"
    lst.insert(index if where == b"BEFORE" else index + 1, args[4])
    db.touch(args[1])
    return integer(len(lst))


@command("LREM")
def lrem(c: Client, args: list[bytes]) -> bytes:
    count = to_int(args[2])
    db = c.db
    key, element = args[1], args[3]
    lst = get_list(db, key)
    if lst is None:
        return b":0\r\n"
    items = list(lst)
    removed = 0
    if count >= 0:
        kept = []
        for item in items:
            if item == element and (count == 0 or removed < count):
                removed += 1
            else:
                kept.append(item)
    else:
        kept_rev = []
        for item in reversed(items):
            if item == element and removed < -count:
                removed += 1
            else:
                kept_rev.append(item)
        kept = kept_rev[::-1]
    if removed:
        lst.clear()
        lst.extend(kept)
        _popped(db, key, lst)
    return integer(removed)


@command("LTRIM")
def ltrim(c: Client, args: list[bytes]) -> bytes:
    start, end = to_int(args[2]), to_int(args[3])
    db = c.db
    key = args[1]
    lst = get_list(db, key)
    if lst is None:
        return OK
    start, end = _range(len(lst), start, end)
    kept = list(islice(lst, start, end + 1)) if start <= end else []
    lst.clear()
    lst.extend(kept)
    _popped(db, key, lst)
    return OK


@command("LPOS")
def lpos(c: Client, args: list[bytes]) -> bytes:
    rank, count, maxlen = 1, None, 0
    i = 3
    while i < len(args):
        option = args[i].upper()
        if i + 1 >= len(args):
            raise SYNTAX
        if option == b"RANK":
            rank = to_int(args[i + 1])
            if rank == 0:
                raise CommandError(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the "
                    "second ... or use negative to start from the end of the list")
        elif option == b"COUNT":
            count = to_int(args[i + 1], _NEGATIVE_COUNT)
            if count < 0:
                raise _NEGATIVE_COUNT
        elif option == b"MAXLEN":
            maxlen = to_int(args[i + 1], _NEGATIVE_MAXLEN)
            if maxlen < 0:
                raise _NEGATIVE_MAXLEN
        else:
            raise SYNTAX
        i += 2
    lst = get_list(c.db, args[1])
    if lst is None:
        return c.nil if count is None else EMPTY_ARRAY
    size = len(lst)
    order = range(size) if rank > 0 else range(size - 1, -1, -1)
    skip = abs(rank) - 1
    found: list[int] = []
    element = args[2]
    for scanned, index in enumerate(order):
        if maxlen and scanned >= maxlen:
            break
        if lst[index] == element:
            if skip:
                skip -= 1
                continue
            found.append(index)
            if count is None or (count and len(found) >= count):
                break
    if count is None:
        return integer(found[0]) if found else c.nil
    return b"*%d\r\n%s" % (len(found), b"".join(b":%d\r\n" % x for x in found))


_LEFT_RIGHT: Final = (b"LEFT", b"RIGHT")
# LPOS gives these for a bad number as well as a negative one.
_NEGATIVE_COUNT: Final = CommandError("ERR COUNT can't be negative")
_NEGATIVE_MAXLEN: Final = CommandError("ERR MAXLEN can't be negative")


def _where(arg: bytes) -> bool:
    word = arg.upper()
    if word == b"LEFT":
        return True
    if word == b"RIGHT":
        return False
    raise SYNTAX


def _move(c: Client, db: Database, src: bytes, dst: bytes, from_left: bool,
          to_left: bool) -> bytes | None:
    """Pop from ``src`` and push to ``dst``; ``None`` when ``src`` is empty."""
    lst = get_list(db, src)
    if lst is None:
        return None
    target = get_list(db, dst)  # WRONGTYPE before anything moves
    value = lst.popleft() if from_left else lst.pop()
    if target is None:
        target = deque()
        db.data[dst] = target
    if to_left:
        target.appendleft(value)
    else:
        target.append(value)
    # The destination's change is signalled first, as Redis does (tracking
    # clients see its invalidation first).  After the push: a one-element
    # list moved onto itself is not emptied.
    db.touch(dst)
    _popped(db, src, lst)
    c.server.signal_ready(db, dst)
    return value


@command("LMOVE")
def lmove(c: Client, args: list[bytes]) -> bytes:
    from_left, to_left = _where(args[3]), _where(args[4])
    return bulk(_move(c, c.db, args[1], args[2], from_left, to_left), c.resp3)


@command("RPOPLPUSH")
def rpoplpush(c: Client, args: list[bytes]) -> bytes:
    return bulk(_move(c, c.db, args[1], args[2], False, True), c.resp3)


# ----------------------------------------------------------------- blocking
def parse_timeout(arg: bytes) -> float:
    """A blocking command's timeout in seconds (0: for ever), with Redis' errors.

    Redis 7.0 truncates the timeout to whole milliseconds in a C ``long long``:
    a value past its range (``inf``, ``1e17``) comes out negative, and less
    than a millisecond is 0, which waits for ever.
    """
    ms = to_float(arg, _TIMEOUT_FLOAT) * 1000.0
    if not -(2.0**63) <= ms < 2.0**63 or ms <= -1.0:
        raise CommandError("ERR timeout is negative")
    return int(ms) / 1000


def block(c: Client, keys: list[bytes], serve: object, timeout: float,
          timeout_reply: bytes, wake_on_delete: bool = False) -> bytes:
    """Park ``c`` on ``keys`` until ``serve(db, key)`` answers (raises ``Blocked``).

    Shared by every blocking command (lists and sorted sets): inside EXEC
    nothing blocks and the timeout reply is the answer at once.
    """
    if c.in_exec:
        return timeout_reply
    c.server.block(c, keys, serve, timeout, timeout_reply,  # type: ignore[arg-type]
                   wake_on_delete)
    raise Blocked


def _bpop(c: Client, args: list[bytes], left: bool) -> bytes:
    timeout = parse_timeout(args[-1])
    keys = args[1:-1]
    db = c.db
    for key in keys:
        lst = get_list(db, key)
        if lst:
            value = lst.popleft() if left else lst.pop()
            _popped(db, key, lst)
            return bulks([key, value])

    def serve(db: Database, key: bytes) -> bytes | None:
        value = db.lookup(key)
        if value.__class__ is not deque or not value:
            return None
        item = value.popleft() if left else value.pop()
        _popped(db, key, value)
        return bulks([key, item])

    return block(c, keys, serve, timeout, null_array(c))


@command("BLPOP")
def blpop(c: Client, args: list[bytes]) -> bytes:
    return _bpop(c, args, True)


@command("BRPOP")
def brpop(c: Client, args: list[bytes]) -> bytes:
    return _bpop(c, args, False)


def _bmove(c: Client, src: bytes, dst: bytes, from_left: bool, to_left: bool,
           timeout: float) -> bytes:
    value = _move(c, c.db, src, dst, from_left, to_left)
    if value is not None:
        return bulk(value)

    def serve(db: Database, key: bytes) -> bytes | None:
        value = db.lookup(src)
        if value.__class__ is not deque or not value:
            return None  # another type at the source: keep waiting, as Redis does
        try:
            moved = _move(c, db, src, dst, from_left, to_left)
        except CommandError as exc:  # the destination holds another type
            return exc.reply()
        return None if moved is None else bulk(moved)

    return block(c, [src], serve, timeout, c.nil)


@command("BLMOVE")
def blmove(c: Client, args: list[bytes]) -> bytes:
    from_left, to_left = _where(args[3]), _where(args[4])
    return _bmove(c, args[1], args[2], from_left, to_left, parse_timeout(args[5]))


@command("BRPOPLPUSH")
def brpoplpush(c: Client, args: list[bytes]) -> bytes:
    return _bmove(c, args[1], args[2], False, True, parse_timeout(args[3]))


def _mpop_from(db: Database, key: bytes, left: bool, count: int) -> bytes | None:
    lst = get_list(db, key)
    if not lst:
        return None
    take = lst.popleft if left else lst.pop
    values = [take() for _ in range(min(count, len(lst)))]
    _popped(db, key, lst)
    return b"*2\r\n$%d\r\n%s\r\n%s" % (len(key), key, bulks(values))


@command("LMPOP")
def lmpop(c: Client, args: list[bytes]) -> bytes:
    keys, which, count = mpop_args(args, 1, _LEFT_RIGHT)
    left = which == 0
    for key in keys:
        reply = _mpop_from(c.db, key, left, count)
        if reply is not None:
            return reply
    return null_array(c)


@command("BLMPOP")
def blmpop(c: Client, args: list[bytes]) -> bytes:
    keys, which, count = mpop_args(args, 2, _LEFT_RIGHT)  # Redis checks these before the timeout
    left = which == 0
    timeout = parse_timeout(args[1])
    for key in keys:
        reply = _mpop_from(c.db, key, left, count)
        if reply is not None:
            return reply

    def serve(db: Database, key: bytes) -> bytes | None:
        value = db.lookup(key)
        if value.__class__ is not deque or not value:
            return None
        return _mpop_from(db, key, left, count)

    return block(c, keys, serve, timeout, null_array(c))
