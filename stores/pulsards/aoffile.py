"""The append-only file's contents, without I/O: encoding, parsing, rewriting.

The AOF is what Redis' (pre-7, single file) AOF is: the write commands as RESP
arrays of bulk strings, ``SELECT n`` before a command whose database differs
from the previous one, ``MULTI`` ... ``EXEC`` around the writes of one
transaction.  Commands whose effect depends on the clock or on chance are
written as their deterministic equivalent (``EXPIRE k 10`` as ``PEXPIREAT k
<absolute ms>``, ``SPOP`` as ``SREM`` of the popped members, ``BLPOP`` as
``LPOP``...), see ``propagate`` (and ``aofstreams`` for streams), so
replaying the file at any later time rebuilds the same data with the same
absolute deadlines.

``parse_aof`` splits a file into commands and says where the last complete
command (or transaction) ends, which is what ``aof-load-truncated yes``
needs; ``rewrite_commands`` yields the shortest file that rebuilds a
keyspace (BGREWRITEAOF).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

import hiredis

from .aofstreams import NILS, STREAM_RULES, ZERO, decode_reply, stream_commands
from .fastpath import ONLY_BYTES
from .keyspace import Database
from .stream import Stream
from .zset import ZSet

__all__ = ["AofError", "AofReader", "encode_command", "parse_aof", "propagate", "rewrite_commands"]

ITEMS_PER_COMMAND: Final = 64  # as Redis' AOF_REWRITE_ITEMS_PER_CMD


class AofError(ValueError):
    """The file is not a sequence of RESP commands (not merely cut short)."""


def encode_command(argv: list[bytes]) -> bytes:
    """``[b"SET", b"k", b"v"]`` -> ``*3\r\n$3\r\nSET\r\n...``.

    This runs for every write when the AOF is on: the headers of short
    arguments come from a table and one ``join`` builds the command (bytes
    ``%`` formatting is slower).
    """
    hdr = _HEADERS
    if len(argv) == 3:  # SET k v, SADD k m, LPUSH k v...: the usual shape
        a, b, c = argv
        la, lb, lc = len(a), len(b), len(c)
        if la < 1024 and lb < 1024 and lc < 1024:
            return b"".join((b"*3\r\n", hdr[la], a, b"\r\n", hdr[lb], b, b"\r\n",
                             hdr[lc], c, b"\r\n"))
    parts = [b"*%d\r\n" % len(argv)]
    for arg in argv:
        size = len(arg)
        parts += (hdr[size] if size < 1024 else b"$%d\r\n" % size, arg, b"\r\n")
    return b"".join(parts)


_HEADERS: Final = [b"$%d\r\n" % n for n in range(1024)]


MULTI: Final = encode_command([b"MULTI"])
EXEC: Final = encode_command([b"EXEC"])


def select(index: int) -> bytes:
    return encode_command([b"SELECT", b"%d" % index])


def _read_int(data: bytes, pos: int, prefix: int) -> tuple[int, int] | None:
    """Parse ``<prefix><digits>\\r\\n`` at ``pos``: (value, next pos), None when cut."""
    end = data.find(b"\r\n", pos)
    if end < 0:
        if len(data) - pos > 32 or (pos < len(data) and data[pos] != prefix):
            raise AofError(f"bad header at offset {pos}")
        return None
    if data[pos] != prefix:
        raise AofError(f"expected {chr(prefix)!r} at offset {pos}")
    try:
        value = int(data[pos + 1:end])
    except ValueError:
        raise AofError(f"bad number at offset {pos}") from None
    if value < 0:
        raise AofError(f"negative length at offset {pos}")
    return value, end + 2


class AofReader:
    """Iterate over the complete commands of an AOF's bytes, one at a time.

    Replaying as the commands are parsed keeps the memory needed to load a
    file close to its size.  After the iteration ``good`` is the offset where
    the complete commands end: a transaction whose ``EXEC`` is missing is left
    out, as a command cut short is, and ``good`` is then the start of its
    ``MULTI``.  ``AofError`` means the bytes are damaged rather than cut short.

    ``hiredis.Reader`` does the parsing (in C: loading is several times faster
    than in Python); only a file that ends cut short is parsed once more, by
    ``_complete_prefix``, to find the exact offset to truncate it at.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.good = 0
        self.count = 0  # commands yielded

    def __iter__(self) -> Iterator[list[bytes]]:
        reader = hiredis.Reader()
        data = self.data
        fed = 0
        only_bytes = ONLY_BYTES
        txn: list[list[bytes]] | None = None
        while True:
            try:
                argv = reader.gets()
            except hiredis.ProtocolError as exc:
                raise AofError(f"not RESP: {exc}") from None
            if argv is False:
                if fed >= len(data):
                    break
                # Fed a chunk at a time: hiredis moves its unread bytes on
                # every command, so one huge feed makes loading quadratic.
                size = min(_CHUNK, len(data) - fed)
                reader.feed(data, fed, size)
                fed += size
                continue
            if argv.__class__ is not list or not argv or not only_bytes(map(type, argv)):
                raise AofError(f"not a command: {argv!r:.80}")
            name = argv[0].upper()
            if name == b"MULTI":
                if txn is not None:
                    raise AofError("MULTI inside MULTI")
                txn = []
            elif name == b"EXEC":
                if txn is None:
                    raise AofError("EXEC without MULTI")
                self.count += len(txn)
                yield from txn
                txn = None
            elif txn is not None:
                txn.append(argv)
            else:
                self.count += 1
                yield argv
        if txn is not None or not _at_boundary(reader):
            self.good = _complete_prefix(data)
        else:
            self.good = len(data)


_SENTINEL: Final = [b"pulsards:end-of-aof"]


def _at_boundary(reader: Any) -> bool:
    """Whether ``reader`` stopped between two commands (not inside one).

    A command fed after the end comes back as itself only then: inside a
    header it is a protocol error, inside a bulk string it is data, inside an
    array an element.
    """
    reader.feed(encode_command(_SENTINEL))
    try:
        return bool(reader.gets() == _SENTINEL and reader.gets() is False)
    except hiredis.ProtocolError:
        return False


_CHUNK: Final = 1 << 16


def _complete_prefix(data: bytes) -> int:
    """The length of the longest prefix of ``data`` made of complete commands
    and transactions (checking every byte as ``AofReader`` cannot say it)."""
    good = 0  # end of the last complete command outside a transaction
    in_txn = False
    pos = 0
    n = len(data)
    while pos < n:
        head = _read_int(data, pos, 42)  # '*'
        if head is None:
            break
        count, p = head
        argv: list[bytes] = []
        for _ in range(count):
            item = _read_int(data, p, 36)  # '$'
            if item is None:
                return good
            size, p = item
            if p + size + 2 > n:
                return good
            if data[p + size:p + size + 2] != b"\r\n":
                raise AofError(f"bulk string without CRLF at offset {p + size}")
            argv.append(data[p:p + size])
            p += size + 2
        pos = p
        if not argv:
            raise AofError(f"empty command at offset {pos}")
        name = argv[0].upper()
        if name == b"MULTI":
            in_txn = True
        elif name == b"EXEC":
            in_txn = False
            good = pos
        elif not in_txn:
            good = pos
    return good


def parse_aof(data: bytes) -> tuple[list[list[bytes]], int]:
    """The complete commands of ``data`` and the offset where they end
    (``AofReader`` at once)."""
    reader = AofReader(data)
    commands = list(reader)
    return commands, reader.good


# ------------------------------------------------------------------ rewrite
def _batches(cmd: bytes, key: bytes, items: list[bytes], per: int) -> Iterator[bytes]:
    for i in range(0, len(items), per):
        yield encode_command([cmd, key, *items[i:i + per]])


def rewrite_commands(dbs: Iterable[Database], now: int,
                     libraries: Iterable[bytes] = ()) -> Iterator[bytes]:
    """Commands that rebuild the function ``libraries`` and ``dbs`` (keys
    already expired at ``now`` left out)."""
    for code in libraries:
        yield encode_command([b"FUNCTION", b"LOAD", code])
    for db in dbs:
        if not db.data:
            continue
        yield select(db.index)
        expires = db.expires
        for key, value in db.data.items():
            when = expires.get(key)
            if when is not None and when < now:
                continue
            kind = type(value)
            if kind is bytes:
                yield encode_command([b"SET", key, value])
            elif kind is deque:
                yield from _batches(b"RPUSH", key, list(value), ITEMS_PER_COMMAND)
            elif kind is set:
                yield from _batches(b"SADD", key, list(value), ITEMS_PER_COMMAND)
            elif kind is dict:
                flat = [x for pair in value.items() for x in pair]
                yield from _batches(b"HSET", key, flat, 2 * ITEMS_PER_COMMAND)
            elif kind is ZSet:
                flat = [x for score, member in value for x in (repr(score).encode(), member)]
                yield from _batches(b"ZADD", key, flat, 2 * ITEMS_PER_COMMAND)
            elif kind is Stream:
                yield from map(encode_command, stream_commands(key, value))
            else:
                raise TypeError(f"cannot rewrite a {kind.__name__} into the AOF")
            if when is not None:
                yield encode_command([b"PEXPIREAT", key, b"%d" % when])


# -------------------------------------------------------------- propagation
# propagate[name](db, argv, reply) -> the commands to append (None: none).  A
# rule sees the database after the command ran, and its reply.
Rule = Callable[[Database, list[bytes], bytes], list[list[bytes]] | None]


def _expire_state(db: Database, key: bytes) -> list[list[bytes]]:
    """The key's TTL as it is now: PEXPIREAT, or DEL when the key is gone."""
    if key not in db.data:
        return [[b"DEL", key]]
    when = db.expires.get(key)
    if when is None:
        return [[b"PERSIST", key]]
    return [[b"PEXPIREAT", key, b"%d" % when]]


def _expire(db: Database, argv: list[bytes], reply: bytes) -> list[list[bytes]] | None:
    return _expire_state(db, argv[1]) if reply == b":1\r\n" else None


def _set(db: Database, argv: list[bytes], reply: bytes) -> list[list[bytes]] | None:
    if len(argv) == 3:
        return [argv]
    key = argv[1]
    if db.data.get(key) is not argv[2]:  # NX/XX refused: nothing stored
        return None
    when = db.expires.get(key)
    if when is None:
        return [[b"SET", key, argv[2]]]
    return [[b"SET", key, argv[2], b"PXAT", b"%d" % when]]


def _setex(db: Database, argv: list[bytes], reply: bytes) -> list[list[bytes]] | None:
    return _set(db, [b"SET", argv[1], argv[3], b"KEEPTTL"], reply)


def _getex(db: Database, argv: list[bytes], reply: bytes) -> list[list[bytes]] | None:
    if len(argv) == 2 or reply[:1] != b"$" or reply == b"$-1\r\n":
        return None
    return _expire_state(db, argv[1])


def _spop(db: Database, argv: list[bytes], reply: bytes) -> list[list[bytes]] | None:
    popped = decode_reply(reply)
    if not popped:
        return None
    members = popped if isinstance(popped, list) else [popped]
    return [[b"SREM", argv[1], *members]]


def _pop(name: bytes) -> Rule:
    def rule(db: Database, argv: list[bytes], reply: bytes) -> list[list[bytes]] | None:
        served = decode_reply(reply)
        return [[name, served[0]]] if served else None
    return rule


def _mpop(name: bytes) -> Rule:
    """BLMPOP/BZMPOP: ``[key, items]`` -> ``LMPOP 1 key LEFT COUNT n``."""
    def rule(db: Database, argv: list[bytes], reply: bytes) -> list[list[bytes]] | None:
        served = decode_reply(reply)
        if not served:
            return None
        numkeys = int(argv[2])
        where = argv[3 + numkeys]
        return [[name, b"1", served[0], where, b"COUNT", b"%d" % len(served[1])]]
    return rule


def _move(name: bytes, keep: int) -> Rule:
    """BLMOVE/BRPOPLPUSH: the non-blocking form without the timeout."""
    def rule(db: Database, argv: list[bytes], reply: bytes) -> list[list[bytes]] | None:
        if reply[:2] in (b"$-", b"_\r"):
            return None
        return [[name, *argv[1:keep]]]
    return rule


def _restore(db: Database, argv: list[bytes], reply: bytes) -> list[list[bytes]] | None:
    """RESTORE without its relative TTL: the value, then the deadline it left
    (or DEL: a deadline already past added nothing, and REPLACE deleted)."""
    key = argv[1]
    restored = [[b"RESTORE", key, b"0", argv[3], b"REPLACE"]] if key in db.data else []
    return restored + _expire_state(db, key)


def _migrate(db: Database, argv: list[bytes], reply: bytes) -> list[list[bytes]] | None:
    """MIGRATE as the DEL of the keys it moved (none with COPY), even when it
    failed part way: the keys the target took are gone."""
    from .commands.dump import migrate_options

    copy, _, _, keys = migrate_options(argv)
    gone = [key for key in keys if key not in db.data]
    return None if copy or not gone else [[b"DEL", *gone]]


def _unless_zero(db: Database, argv: list[bytes], reply: bytes) -> list[list[bytes]] | None:
    return None if reply == ZERO else [argv]


def _unless_nil(db: Database, argv: list[bytes], reply: bytes) -> list[list[bytes]] | None:
    return None if reply in NILS else [argv]


def _sort(db: Database, argv: list[bytes], reply: bytes) -> list[list[bytes]] | None:
    """SORT, GEORADIUS, GEORADIUSBYMEMBER write only with STORE (or STOREDIST):
    then they are replayed as they are (they read the same keys again)."""
    stores = (b"STORE", b"STOREDIST")
    return [argv] if any(arg.upper() in stores for arg in argv[2:]) else None


def _bitfield(db: Database, argv: list[bytes], reply: bytes) -> list[list[bytes]] | None:
    """BITFIELD writes only with SET or INCRBY (a type or value is never those words)."""
    return [argv] if any(arg.upper() in (b"SET", b"INCRBY") for arg in argv[2:]) else None


propagate: Final[dict[str, Rule]] = {
    "sort": _sort, "georadius": _sort, "georadiusbymember": _sort, "bitfield": _bitfield,
    "expire": _expire, "pexpire": _expire, "expireat": _expire, "pexpireat": _expire,
    "restore": _restore, "restore-asking": _restore, "migrate": _migrate,
    "set": _set, "setex": _setex, "psetex": _setex, "getex": _getex, "spop": _spop,
    "blpop": _pop(b"LPOP"), "brpop": _pop(b"RPOP"),
    "bzpopmin": _pop(b"ZPOPMIN"), "bzpopmax": _pop(b"ZPOPMAX"),
    "blmpop": _mpop(b"LMPOP"), "bzmpop": _mpop(b"ZMPOP"),
    "blmove": _move(b"LMOVE", 5), "brpoplpush": _move(b"RPOPLPUSH", 3),
    **STREAM_RULES,
    **{name: _unless_zero for name in (
        "del", "unlink", "persist", "setnx", "msetnx", "hsetnx", "renamenx", "move", "copy",
        "srem", "hdel", "zrem", "lrem", "smove", "lpushx", "rpushx", "xdel", "xack",
        "xgroup|destroy", "xgroup|createconsumer")},
    **{name: _unless_nil for name in (
        "lpop", "rpop", "getdel", "lmove", "rpoplpush", "lmpop", "zmpop")},
}
"""Rules for the commands not appended as they are (absent: appended unless an error)."""
