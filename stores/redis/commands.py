"""The declarative command table and what is built on it.

``COMMANDS`` maps an upper-case command name (``"SET"``, ``"CONFIG|GET"``) to a
``CommandSpec`` made from the generated ``command_table`` rows plus a reply
converter.  From it come:

* the client's methods (``client.set``, ``client.config_get``, ...),
* key positions (``find_keys``), used to prefix keys with a namespace,
* which commands need a connection of their own (blocking, pubsub, WATCH).

pulsards answers ``COMMAND`` from the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ..errors import NamespaceError
from . import replies
from .command_table import COMMAND_ROWS

__all__ = ["COMMANDS", "METHODS", "CommandSpec", "Namespace", "find_key_flags", "find_keys",
           "lookup"]

# Commands the client exposes through other objects, never as plain methods.
_HIDDEN: Final = frozenset({
    "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH",  # pipeline(transaction=True), watch()
    "SUBSCRIBE", "UNSUBSCRIBE", "PSUBSCRIBE", "PUNSUBSCRIBE",  # store.pubsub()
    "SSUBSCRIBE", "SUNSUBSCRIBE", "MONITOR", "SYNC", "PSYNC", "REPLCONF",
    "QUIT", "RESET", "HELLO", "AUTH", "SELECT",  # connection state is the pool's
    "READONLY", "READWRITE", "ASKING",  # (a cluster connection's state, too)
})

# Flagged blocking, but they block only when given the BLOCK option.
_BLOCK_OPTION: Final = frozenset({"XREAD", "XREADGROUP"})

# Method names that differ from the lower-cased command name.
_RENAMED: Final = {"DEL": "delete"}

# Commands that touch the whole database: meaningless (or harmful) under a namespace.
_KEYSPACE_WIDE: Final = frozenset({"FLUSHDB", "FLUSHALL", "SWAPDB", "DBSIZE", "RANDOMKEY"})


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One Redis command: facts from Redis plus how the client treats it."""

    name: str  # ``SET`` or ``CONFIG|GET``
    arity: int
    flags: frozenset[str]
    first_key: int
    last_key: int
    key_step: int
    group: str
    key_specs: tuple[tuple[Any, ...], ...]
    reply: Callable[..., Any] | None = None
    words: tuple[str, ...] = field(default=())  # ("CONFIG", "GET")
    # Read on every command: plain attributes, computed once.
    blocking: bool = field(init=False)
    #: Needs a connection of its own (it can hold the connection for long).
    exclusive: bool = field(init=False)

    def __post_init__(self) -> None:
        blocking = "blocking" in self.flags
        object.__setattr__(self, "blocking", blocking)
        object.__setattr__(self, "exclusive", blocking or self.name in _HIDDEN)

    def holds(self, args: Sequence[Any]) -> bool:
        """Whether this call of an ``exclusive`` command needs a connection of
        its own: XREAD and XREADGROUP only with BLOCK (without it they answer
        at once, and share the pipelined connection like any command)."""
        if self.name not in _BLOCK_OPTION:
            return True
        return any(isinstance(arg, str | bytes) and arg.upper() in ("BLOCK", b"BLOCK")
                   for arg in args[1:])

    @property
    def method(self) -> str:
        """The client method name: ``set``, ``config_get``, ``delete``."""
        base = _RENAMED.get(self.name) or self.name.lower()
        return base.replace("|", "_").replace("-", "_")

    @property
    def keyless(self) -> bool:
        return not self.key_specs

    def check_arity(self, nargs: int) -> None:
        """Raise ``TypeError`` when ``nargs`` (command words included) breaks arity."""
        if (self.arity >= 0 and nargs != self.arity) or (self.arity < 0 and nargs < -self.arity):
            name = " ".join(self.words).lower()
            raise TypeError(f"wrong number of arguments for '{name}' command")


def _build() -> dict[str, CommandSpec]:
    table = {}
    for name, arity, flags, first, last, step, group, specs in COMMAND_ROWS:
        words = tuple(name.split("|"))
        table[name] = CommandSpec(
            name, arity, frozenset(flags.split()), first, last, step, group, specs,
            replies.CONVERTERS.get(name), words,
        )
    return table


COMMANDS: Final = _build()
# Methods of the client: every command of the core families except the hidden ones.
METHODS: Final = {
    spec.method: spec for spec in COMMANDS.values()
    if spec.name not in _HIDDEN and spec.group and spec.name not in ("COMMAND|DOCS",)
}


def lookup(args: Sequence[Any]) -> CommandSpec | None:
    """The spec of the command ``args`` starts with (subcommands included)."""
    if not args:
        return None
    head = args[0]
    name = (head.decode() if isinstance(head, bytes) else str(head)).upper()
    spec = COMMANDS.get(name)
    if spec is not None and len(args) > 1 and f"{name}|" in _PARENTS:
        sub = args[1]
        sub_name = (sub.decode() if isinstance(sub, bytes) else str(sub)).upper()
        return COMMANDS.get(f"{name}|{sub_name}", spec)
    return spec


_PARENTS: Final = frozenset(name.split("|")[0] + "|" for name in COMMANDS if "|" in name)


# ------------------------------------------------------------------------ keys
def _word(arg: Any) -> str:
    if isinstance(arg, bytes):
        return arg.decode("latin-1").upper()
    return str(arg).upper()


def find_keys(spec: CommandSpec, args: Sequence[Any]) -> list[int] | None:
    """Indexes of the key arguments of ``args`` (command words included).

    Follows Redis' key-spec algorithm (``begin_search`` then ``find_keys``).
    Returns ``None`` when a key spec cannot be resolved from the arguments
    (Redis marks those ``unknown``) and the arguments use it.
    """
    found = find_key_flags(spec, args)
    return None if found is None else [index for index, _ in found]


def find_key_flags(spec: CommandSpec, args: Sequence[Any], strict: bool = False
                   ) -> list[tuple[int, str]] | None:
    """Like ``find_keys``, each index paired with its key spec's flags
    (``"RW access update"``: what ACL's read and write key patterns check).

    ``strict``: a key count below 1 or past the arguments makes the result
    None, as Redis' key-spec search calls such a spec invalid (COMMAND
    GETKEYS, ACL); otherwise it finds no key or the keys that are there."""
    argc = len(args)
    found: list[tuple[int, str]] = []
    for ks in spec.key_specs:
        flags = ks[-1]
        if ks[0] == "unknown":
            if _uses_unknown_spec(spec, args):
                return None
            continue
        if ks[0] == "index":
            start, rest = ks[1], ks[2:]
        else:  # keyword
            keyword, startfrom, rest = ks[1], ks[2], ks[3:]
            start = _search_keyword(args, keyword, startfrom)
            if start is None:
                continue
        if start >= argc:
            continue
        if rest[0] == "range":
            lastkey, step, limit = rest[1], rest[2], rest[3]
            if lastkey >= 0:
                last = start + lastkey
            elif limit <= 1:
                last = argc + lastkey
            else:
                last = start + (argc - start) // limit + lastkey
        else:  # keynum
            numidx, firstkey, step = rest[1], rest[2], rest[3]
            try:
                numkeys = int(args[start + numidx])
            except (IndexError, ValueError):
                return None
            start = start + firstkey
            last = start + (numkeys - 1) * step
            if strict and (numkeys < 1 or last >= argc):
                return None  # Redis' invalid spec: no key is known (EVAL s 0 too)
        found.extend((i, flags) for i in range(start, min(last, argc - 1) + 1, step or 1))
    return found


def _search_keyword(args: Sequence[Any], keyword: str, startfrom: int) -> int | None:
    argc = len(args)
    # A negative startfrom searches backwards from the end (MIGRATE's KEYS).
    indexes = range(startfrom, argc) if startfrom >= 0 else range(argc + startfrom, 0, -1)
    for i in indexes:
        if _word(args[i]) == keyword:
            return i + 1
    return None


def _uses_unknown_spec(spec: CommandSpec, args: Sequence[Any]) -> bool:
    # SORT and SORT_RO: BY/GET patterns and STORE are the only unresolvable parts.
    if spec.name in ("SORT", "SORT_RO"):
        return any(_word(a) in ("BY", "GET", "STORE") for a in args[2:])
    return True


# Glob metacharacters of KEYS/SCAN MATCH/PSUBSCRIBE patterns, escaped in a prefix.
_GLOB_ESCAPES: Final = str.maketrans({c: "\\" + c for c in "*?[]\\"})


class Namespace:
    """Prefixes keys and channels with a fixed string, and strips it from replies.

    In patterns (KEYS, SCAN MATCH, PSUBSCRIBE, PUBSUB CHANNELS) the prefix is
    glob-escaped: a namespace ``app[1]:`` must not match keys of ``app1:``.
    """

    __slots__ = ("bglob", "bprefix", "glob", "prefix")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.bprefix = prefix.encode()
        self.glob = prefix.translate(_GLOB_ESCAPES)
        self.bglob = self.glob.encode()

    def pattern(self, pattern: Any) -> Any:
        """``pattern`` restricted to the namespace (the prefix matched literally)."""
        if isinstance(pattern, bytes):
            return self.bglob + pattern
        if isinstance(pattern, str):
            return self.glob + pattern
        return self.key(pattern)

    def strip_pattern(self, pattern: Any) -> Any:
        if isinstance(pattern, bytes) and pattern.startswith(self.bglob):
            return pattern[len(self.bglob):]
        if isinstance(pattern, str) and pattern.startswith(self.glob):
            return pattern[len(self.glob):]
        return pattern

    def key(self, key: Any) -> Any:
        if isinstance(key, bytes):
            return self.bprefix + key
        if isinstance(key, str):
            return self.prefix + key
        if isinstance(key, int | float) and not isinstance(key, bool):
            return f"{self.prefix}{key}"
        return key  # encode_command reports the bad type

    def strip(self, key: Any) -> Any:
        if isinstance(key, bytes) and key.startswith(self.bprefix):
            return key[len(self.bprefix):]
        if isinstance(key, str) and key.startswith(self.prefix):
            return key[len(self.prefix):]
        return key

    def apply(self, spec: CommandSpec | None, args: Sequence[Any]) -> list[Any]:
        """Return ``args`` with every key (and channel) prefixed."""
        out = list(args)
        if spec is None:
            raise NamespaceError(f"unknown command {_word(args[0])!r} cannot be namespaced")
        name = spec.name
        if name in _KEYSPACE_WIDE:
            raise NamespaceError(
                f"{name} acts on the whole database, not on namespace {self.prefix!r}"
            )
        if name in ("PUBLISH", "SUBSCRIBE", "UNSUBSCRIBE"):
            for i in range(1, len(out)):
                out[i] = self.key(out[i])
            if name == "PUBLISH":
                out[2] = args[2]
            return out
        if name in ("PSUBSCRIBE", "PUNSUBSCRIBE"):
            return [out[0], *(self.pattern(p) for p in out[1:])]
        if name == "PUBSUB|NUMSUB":
            for i in range(2, len(out)):
                out[i] = self.key(out[i])
            return out
        if name == "PUBSUB|CHANNELS":
            if len(out) == 2:
                out.append(self.glob + "*")
            else:
                out[2] = self.pattern(out[2])
            return out
        if name == "KEYS":
            out[1] = self.pattern(out[1])
            return out
        if name == "SCAN":
            return self._scan(out)
        indexes = find_keys(spec, out)
        if indexes is None:
            raise NamespaceError(
                f"the keys of {' '.join(spec.words)} cannot be located in its arguments, "
                f"so it cannot run under namespace {self.prefix!r}"
            )
        for i in indexes:
            out[i] = self.key(out[i])
        return out

    def _scan(self, out: list[Any]) -> list[Any]:
        for i in range(2, len(out) - 1):
            if _word(out[i]) == "MATCH":
                out[i + 1] = self.pattern(out[i + 1])
                return out
        out.extend(("MATCH", self.glob + "*"))
        return out

    def strip_reply(self, spec: CommandSpec, reply: Any) -> Any:
        """Remove the prefix from key names a reply carries."""
        return replies.strip_keys(spec.name, reply, self.strip)
