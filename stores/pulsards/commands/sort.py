"""SORT and SORT_RO, as Redis 7.0's sortCommandGeneric.

The rules, in Redis' order: options are read first (a bad one answers before
the key is looked up); the key must be a list, a set or a sorted set (missing
is empty); ``BY`` a pattern without ``*`` means no sorting (lists and sorted
sets keep their order, a set is sorted ALPHA when the result is stored or a
script asks, so that it is deterministic); numeric sorting breaks ties by the
elements' bytes, ALPHA compares bytes (Redis' ``strcoll`` under a C or
C.UTF-8 locale) and puts elements whose BY key is missing first; LIMIT is
clamped to the elements there are; ``GET #`` is the element, ``GET p*->f``
a hash field; STORE writes a list (missing GETs as empty strings) or deletes
the destination when there is nothing to store.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from ...redis.commands import COMMANDS
from ..reply import SYNTAX, WRONGTYPE, CommandError, bulks, integer
from ..table import command
from ..zset import ZSet
from .args import strtod, to_int

if TYPE_CHECKING:
    from ..keyspace import Database
    from ..protocol import Client

__all__: list[str] = []

_NOT_DOUBLE = CommandError("ERR One or more scores can't be converted into double")


class _Options:
    __slots__ = ("alpha", "by", "count", "desc", "gets", "nosort", "offset", "store")

    def __init__(self) -> None:
        self.desc = self.alpha = self.nosort = False
        self.offset, self.count = 0, -1
        self.by: bytes | None = None
        self.store: bytes | None = None
        self.gets: list[bytes] = []


def _options(args: list[bytes], readonly: bool, limited: bool) -> _Options:
    """SORT's options; ``limited``: the user may not read every key, so the
    BY and GET patterns (which name keys) are refused, as Redis refuses them."""
    opts = _Options()
    i, n = 2, len(args)
    while i < n:
        word = args[i].upper()
        left = n - i - 1
        if word == b"ASC":
            opts.desc = False
        elif word == b"DESC":
            opts.desc = True
        elif word == b"ALPHA":
            opts.alpha = True
        elif word == b"LIMIT" and left >= 2:
            opts.offset, opts.count = to_int(args[i + 1]), to_int(args[i + 2])
            i += 2
        elif word == b"STORE" and left >= 1 and not readonly:
            opts.store = args[i + 1]
            i += 1
        elif word == b"BY" and left >= 1:
            opts.by = args[i + 1]
            if limited and b"*" in opts.by:
                raise CommandError("ERR BY option of SORT denied due to insufficient ACL "
                                   "permissions.")
            # A BY without "*" means no sorting, whatever BY comes after it.
            opts.nosort = opts.nosort or b"*" not in opts.by
            i += 1
        elif word == b"GET" and left >= 1:
            if limited:
                raise CommandError("ERR GET option of SORT denied due to insufficient ACL "
                                   "permissions.")
            opts.gets.append(args[i + 1])
            i += 1
        else:
            raise SYNTAX
        i += 1
    return opts


def lookup_by_pattern(db: Database, pattern: bytes, element: bytes) -> bytes | None:
    """The value ``pattern`` names for ``element`` (Redis' lookupKeyByPattern)."""
    if pattern == b"#":
        return element
    star = pattern.find(b"*")
    if star < 0:
        return None
    arrow = pattern.find(b"->", star + 1)
    field = None
    if arrow >= 0 and arrow + 2 < len(pattern):
        field = pattern[arrow + 2:]
        pattern = pattern[:arrow]
    value = db.lookup(pattern[:star] + element + pattern[star + 1:])
    if field is not None:
        return value.get(field) if value.__class__ is dict else None
    return value if value.__class__ is bytes else None


def _elements(value: Any, dontsort: bool, desc: bool) -> list[bytes]:
    """The elements to sort, in the order Redis loads them."""
    if value is None:
        return []
    if value.__class__ is ZSet:
        members = [member for _, member in value]
        return members[::-1] if dontsort and desc else members
    if value.__class__ is deque:
        return list(reversed(value)) if dontsort and desc else list(value)
    return list(value)


def _sort(c: Client, args: list[bytes], readonly: bool) -> bytes:
    user = c.user
    spec = COMMANDS["SORT_RO" if readonly else "SORT"]
    opts = _options(args, readonly, user.restricted and not user.full_key_access(spec, args))
    db = c.db
    value = db.lookup(args[1])
    if value is not None and value.__class__ not in (deque, set, ZSet):
        raise WRONGTYPE
    by = opts.by
    dontsort = opts.nosort
    alpha = opts.alpha
    if dontsort and value.__class__ is set and (opts.store is not None or _in_script(c)):
        dontsort, alpha, by = False, True, None  # a set's order is not reproducible
    elements = _elements(value, dontsort, opts.desc)
    size = len(elements)
    start = min(max(opts.offset, 0), size)
    count = min(max(opts.count, -1), size)
    end = size - 1 if count < 0 else start + count - 1
    if start >= size:
        start, end = size - 1, size - 2
    end = min(end, size - 1)
    if not dontsort:
        elements = _sorted(db, elements, by, alpha, opts.desc)
    chosen = elements[start:end + 1] if end >= start else []
    gets = opts.gets
    if not gets:
        values: list[bytes | None] = list(chosen)
    else:
        values = [lookup_by_pattern(db, pattern, element)
                  for element in chosen for pattern in gets]
    if opts.store is None:
        return bulks(values, c.resp3)
    return _store(c, opts.store, values)


def _sorted(db: Database, elements: list[bytes], by: bytes | None, alpha: bool,
            desc: bool) -> list[bytes]:
    if alpha:
        if by is None:
            return sorted(elements, reverse=desc)
        # Missing BY values first; ties keep the loading order (a stable sort,
        # as glibc's qsort is).
        keyed = [(lookup_by_pattern(db, by, e), e) for e in elements]
        keyed.sort(key=lambda pair: (pair[0] is not None, pair[0] or b""), reverse=desc)
        return [e for _, e in keyed]
    scored = []
    for element in elements:
        text = element if by is None else lookup_by_pattern(db, by, element)
        score = 0.0
        if text is not None:
            parsed = strtod(text)
            if parsed is None or parsed[1] or parsed[0] != parsed[0]:
                raise _NOT_DOUBLE
            score = parsed[0]
        scored.append((score, element))
    scored.sort(reverse=desc)  # equal scores: by the elements' bytes, as Redis
    return [e for _, e in scored]


def _store(c: Client, key: bytes, values: list[bytes | None]) -> bytes:
    """A list of the values (a missing GET as an empty string), as Redis stores it."""
    c.db.store(key, deque(b"" if v is None else v for v in values))
    return integer(len(values))


def _in_script(c: Client) -> bool:
    state = c.server.scripting
    return state is not None and state.caller is c


@command("SORT")
def sort(c: Client, args: list[bytes]) -> bytes:
    return _sort(c, args, False)


@command("SORT_RO")
def sort_ro(c: Client, args: list[bytes]) -> bytes:
    return _sort(c, args, True)

