"""What ACL reads from the shared command table: categories, subcommands,
the commands ACL rules name, and the keys a request touches with the access
it needs (no I/O; ``acl`` builds users and checks on it).

Categories are derived as Redis 7.0 derives them: its command files give each
command a type category (``@string``, ``@list``..., which is the command's
group here) and a few more by hand; ``setImplicitACLCategories`` adds
``@write``, ``@read`` (not for scripting commands), ``@admin`` and
``@dangerous``, ``@pubsub``, ``@fast``, ``@blocking`` from the flags, and
``@slow`` to whatever is not ``@fast``.  The commands whose hand-written
categories differ from their group are listed in ``_HAND_WRITTEN``; a test
compares every category with a real redis-server.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Final

from ..redis.commands import COMMANDS, CommandSpec, find_key_flags

__all__ = ["CATEGORIES", "READ", "SUBCOMMANDS", "TOP_LEVEL", "WRITE", "by_category",
           "categories", "describe_commands", "key_access", "key_flags", "resolve"]

READ: Final = 1
WRITE: Final = 2

# Redis' categories, in its order (ACL CAT, COMMAND INFO).
CATEGORIES: Final = (
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
    "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking",
    "dangerous", "connection", "transaction", "scripting",
)
_GROUP_CATEGORY: Final = {
    "generic": "keyspace", "sorted-set": "sortedset", "transactions": "transaction",
    "connection": "connection", "string": "string", "list": "list", "hash": "hash",
    "set": "set", "bitmap": "bitmap", "hyperloglog": "hyperloglog", "geo": "geo",
    "stream": "stream", "pubsub": "pubsub", "scripting": "scripting",
}
# The categories Redis 7.0.15's command files give instead of the group's
# (COMMAND's subcommands inherit COMMAND's).
_HAND_WRITTEN: Final = {
    "COMMAND": "connection", "WAIT": "connection", "DBSIZE": "keyspace",
    "FLUSHALL": "keyspace dangerous", "FLUSHDB": "keyspace dangerous",
    "SWAPDB": "keyspace dangerous", "KEYS": "keyspace dangerous",
    "MIGRATE": "keyspace dangerous", "RESTORE": "keyspace dangerous",
    "RESTORE-ASKING": "keyspace dangerous", "INFO": "dangerous",
    "LASTSAVE": "admin dangerous", "ROLE": "admin dangerous",
    "SORT": "set sortedset list dangerous", "SORT_RO": "set sortedset list dangerous",
    "PUBSUB|HELP": "", "ASKING": "connection", "READONLY": "connection",
    "READWRITE": "connection",
}
_FLAG_CATEGORY: Final = {"write": "write", "admin": "admin", "pubsub": "pubsub",
                         "fast": "fast", "blocking": "blocking"}

# Container -> its subcommands' names; the top-level names, sorted.
SUBCOMMANDS: Final[dict[str, tuple[str, ...]]] = {}
for _name in sorted(COMMANDS):
    if "|" in _name:
        _parent = _name.split("|")[0]
        SUBCOMMANDS[_parent] = (*SUBCOMMANDS.get(_parent, ()), _name)
TOP_LEVEL: Final = tuple(sorted(name for name in COMMANDS if "|" not in name))


@cache
def categories(spec: CommandSpec) -> frozenset[str]:
    """The ACL categories of a command (without the ``@``)."""
    parent = spec.name.split("|")[0]
    hand = _HAND_WRITTEN.get(spec.name, _HAND_WRITTEN.get(parent))
    if hand is not None:
        cats = set(hand.split())
    elif spec.name in SUBCOMMANDS and spec.name != "COMMAND":
        cats = set()  # a container has no category of its own (CONFIG, CLIENT...)
    else:
        group = _GROUP_CATEGORY.get(spec.group)
        cats = {group} if group else set()
    cats.update(cat for flag, cat in _FLAG_CATEGORY.items() if flag in spec.flags)
    if "readonly" in spec.flags and "scripting" not in cats:
        cats.add("read")
    if "admin" in spec.flags:
        cats.add("dangerous")
    if "fast" not in cats:
        cats.add("slow")
    return frozenset(cats)


@cache
def by_category(category: str) -> frozenset[str] | None:
    """The names of the commands (subcommands included) in a category, None
    for an unknown category."""
    if category not in CATEGORIES:
        return None
    return frozenset(name for name, spec in COMMANDS.items() if category in categories(spec))


@cache
def _with_subcommands(category: str) -> frozenset[str]:
    """What ``+@category`` allows: its commands and all their subcommands."""
    members = by_category(category) or frozenset()
    return members.union(*(SUBCOMMANDS.get(name, ()) for name in members))


def describe_commands(allowed: set[str], future: bool,
                      firstargs: dict[str, list[bytes]]) -> str:
    """The command rules that give exactly ``allowed`` (Redis' way): ``+@all``
    (when it was given: ``future``) or ``-@all``, then the category that fits
    best while one fits better than not, then single commands and first args."""
    additive = not future
    fake = set() if additive else set(COMMANDS)  # what the rules so far allow
    left = set(allowed)  # what the categories so far did not account for
    rules = ["-@all" if additive else "+@all"]
    applied: set[str] = set()
    while True:
        best, mindiff, maxsame = "", 1 << 30, 0
        for cat in CATEGORIES:
            members = by_category(cat) or frozenset()
            if cat in applied:
                continue
            on = len(members & left)
            diff, same = (len(members) - on, on) if additive else (on, len(members) - on)
            if same > diff and (diff < mindiff or (diff == mindiff and same > maxsame)):
                best, mindiff, maxsame = cat, diff, same
        if not best:
            break
        names = _with_subcommands(best)
        if additive:
            fake |= names
            left -= names
        else:
            fake -= names
            left |= names
        rules.append(("+@" if additive else "-@") + best)
        applied.add(best)
    for top in TOP_LEVEL:
        for name in (top, *SUBCOMMANDS.get(top, ())):
            mine = name in allowed
            if mine != (name in fake):
                rules.append(("+" if mine else "-") + name.lower())
                changed = {name, *SUBCOMMANDS.get(name, ())}
                fake = fake | changed if mine else fake - changed
            if not mine:
                rules += [f"+{name.lower()}|{arg.decode('latin-1')}"
                          for arg in firstargs.get(name, ())]
    return " ".join(rules)


def resolve(name: bytes, strict: bool = True, sub: bytes | None = None) -> CommandSpec | None:
    """The spec of a command as ACL rules name it (``config|get``; ``strict``),
    or of a request's command and first argument (``strict=False``, ``sub``).
    Unknown subcommands resolve to None, as Redis' lookupCommand has it."""
    if strict:
        parts = name.upper().split(b"|")
        if len(parts) > 2:
            return None
        head, sub = parts[0], parts[1] if len(parts) == 2 else None
    else:
        head = name.upper()
    spec = COMMANDS.get(head.decode("latin-1"))
    if spec is None or "|" in spec.name:
        return None
    if sub is None or spec.name not in SUBCOMMANDS:
        return None if strict and sub is not None else spec
    return COMMANDS.get(f"{spec.name}|{sub.upper().decode('latin-1')}")


def key_flags(spec: CommandSpec, args: Sequence[bytes]) -> list[tuple[int, str]] | None:
    """(index, Redis' key flags) of each key ``args`` names, as Redis' key
    procedures find them (COMMAND GETKEYS and GETKEYSANDFLAGS answer from
    this; None: the arguments do not say).

    The key specs decide, but for the commands Redis reads with procedures
    of their own: SET and BITFIELD (flags depending on their options), SORT
    (whose STORE key spec is unknown) and MIGRATE (KEYS replaces the key).
    """
    name = spec.name
    if name == "SET":
        return [(1, "RW access update" if any(a.upper() == b"GET" for a in args[3:])
                 else "OW update")]
    if name == "BITFIELD":
        return [(1, "RO access" if _bitfield_reads_only(args) else "RW access update")]
    if name in ("SORT", "SORT_RO"):
        return _sort_keys(args, name == "SORT")
    if name == "MIGRATE":
        return _migrate_keys(args)
    return find_key_flags(spec, args, strict=True)


def key_access(spec: CommandSpec, args: Sequence[bytes]) -> list[tuple[int, int]]:
    """(index, READ/WRITE permission needed) of each key ``args`` names.

    Key flags decide, as in Redis: ``access`` needs read, ``insert``,
    ``update`` and ``delete`` need write.
    """
    fixed = _fixed_keys(spec) if spec.name not in _OWN_PROCEDURES else None
    if fixed is not None:  # most commands: keys at fixed places (GET, HSET...)
        argc = len(args)
        return [key for key in fixed if key[0] < argc]
    return [(index, _need(flags)) for index, flags in key_flags(spec, args) or ()]


# The commands key_flags reads as Redis' key procedures do, not by key specs.
_OWN_PROCEDURES: Final = frozenset({"SET", "BITFIELD", "SORT", "SORT_RO", "MIGRATE"})


def _need(flags: str) -> int:
    need = READ if "access" in flags else 0
    if "insert" in flags or "update" in flags or "delete" in flags:
        need |= WRITE
    return need


@cache
def _fixed_keys(spec: CommandSpec) -> tuple[tuple[int, int], ...] | None:
    """The keys of a command whose key specs are all fixed indexes, else None."""
    keys = []
    for ks in spec.key_specs:
        if ks[0] != "index" or ks[2] != "range" or ks[3] < 0:
            return None
        keys += [(i, _need(ks[-1])) for i in range(ks[1], ks[1] + ks[3] + 1, ks[4] or 1)]
    return tuple(keys)


def _bitfield_reads_only(args: Sequence[bytes]) -> bool:
    i = 2
    while i < len(args):
        word, left = args[i].upper(), len(args) - i - 1
        if word == b"GET" and left >= 2:
            i += 3
        elif word == b"OVERFLOW" and left >= 1:
            i += 2
        else:
            return False  # SET, INCRBY or a syntax error: not read-only
    return True


def _sort_keys(args: Sequence[bytes], store: bool) -> list[tuple[int, str]]:
    found = [(1, "RO access")]
    i = 2
    while i < len(args):
        word = args[i].upper()
        if word == b"LIMIT":
            i += 2
        elif word in (b"GET", b"BY"):
            i += 1
        elif word == b"STORE" and store and i + 1 < len(args):
            found[1:] = [(i + 1, "OW update")]  # the last STORE wins, as in Redis
            i += 1
        i += 1
    return found


def _migrate_keys(args: Sequence[bytes]) -> list[tuple[int, str]]:
    """MIGRATE's key, or those after KEYS (then the key must be empty)."""
    skip = {b"AUTH": 1, b"AUTH2": 2}
    i = 6
    while i < len(args):
        word = args[i].upper()
        if word == b"KEYS":
            if args[3]:
                return []
            return [(j, "RW access delete") for j in range(i + 1, len(args))]
        i += 1 + skip.get(word, 0)
    return [(3, "RW access delete")] if len(args) > 3 else []
