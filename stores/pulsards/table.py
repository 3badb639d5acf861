"""pulsards' command table: handlers bound to the shared Redis command specs.

Command facts (arity, flags, key positions, group) come from
``stores.redis.commands.COMMANDS``, the same table the client uses; this
module only adds which handler runs each command.  Handlers register with
``@command("GET")`` (``"CONFIG|GET"`` for a subcommand) in the modules of
``stores.pulsards.commands``; ``build_dispatch`` turns the registry into the
dict the connection looks names up in.

A handler is ``handler(client, args) -> bytes``: ``args`` are the request's
``bytes`` (the command name included) and the result is the encoded reply.

A command may also register a *batch* handler (``@batch("GET")``): the
connection hands it a whole read of that one command (same name, same
number of arguments), as pipelining clients send, as the columns of its
arguments (``columns[0]`` the first argument of every request, the key of a
GET run), and it answers them all at once with C-level loops, or returns
``None`` when any request needs the one-by-one path (a key with a TTL, an
option, a watcher...).  It must decide that before it changes anything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from ..redis.command_table import COMMAND_ROWS
from ..redis.commands import COMMANDS, CommandSpec
from .reply import CommandError

if TYPE_CHECKING:
    from .protocol import Client

__all__ = ["BATCHES", "HANDLERS", "BatchHandler", "Entry", "Handler", "all_entries", "batch",
           "build_dispatch", "command", "implemented"]

Handler = Callable[["Client", list[bytes]], bytes]
BatchHandler = Callable[["Client", "list[Sequence[bytes]]"], "bytes | None"]

HANDLERS: Final[dict[str, Handler]] = {}
BATCHES: Final[dict[str, BatchHandler]] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of ``name``."""
    key = name.upper()
    if key not in COMMANDS:
        raise KeyError(f"{name} is not in the shared command table")

    def register(handler: Handler) -> Handler:
        HANDLERS[key] = handler
        return handler

    return register


def batch(name: str) -> Callable[[BatchHandler], BatchHandler]:
    """Register the decorated function as the batch handler of ``name``."""
    key = name.upper()

    def register(handler: BatchHandler) -> BatchHandler:
        BATCHES[key] = handler
        return handler

    return register


class Entry:
    """What the connection needs to run one command, resolved once at start."""

    __slots__ = ("batch", "batch_plain", "handler", "hi", "lo", "name", "no_auth", "plain",
                 "spec", "subcommands")

    def __init__(self, spec: CommandSpec, handler: Handler,
                 batch: BatchHandler | None = None) -> None:
        self.spec = spec
        # ``handler`` is ``plain`` (the registered one) as wrapped by what is on:
        # keyspace events, the AOF (``Server.rewire``).
        self.handler = self.plain = handler
        # ``batch`` is ``batch_plain`` while ``handler`` is ``plain``, else None:
        # a wrapper must see each command.
        self.batch = self.batch_plain = batch
        # Arity as an inclusive range of len(args): fixed N, or at least -N.
        self.lo = spec.arity if spec.arity >= 0 else -spec.arity
        self.hi = spec.arity if spec.arity >= 0 else 1 << 30
        self.no_auth = "no_auth" in spec.flags
        self.name = spec.name.lower()
        self.subcommands: dict[bytes, Entry] = {}

    def spec_of(self, args: list[bytes]) -> CommandSpec:
        """The spec of the subcommand ``args`` name, else this command's own."""
        if self.subcommands and len(args) > 1:
            sub = self.subcommands.get(args[1].upper())
            if sub is not None:
                return sub.spec
        return self.spec


def _container(parent: str, own: Handler | None) -> Handler:
    def dispatch(client: Client, args: list[bytes]) -> bytes:
        if len(args) == 1 and own is not None:  # COMMAND alone is a command too
            return own(client, args)
        entry = client.server.dispatch[parent.encode()].subcommands.get(args[1].upper())
        if entry is None:
            sub = args[1].decode("utf-8", "replace")
            raise CommandError(f"ERR unknown subcommand '{sub[:128]}'. Try {parent} HELP.")
        if not entry.lo <= len(args) <= entry.hi:
            raise CommandError(f"ERR wrong number of arguments for '{entry.name}' command")
        if client.locked and not entry.no_auth:
            raise CommandError("NOAUTH Authentication required.")
        return entry.handler(client, args)

    return dispatch


def build_dispatch() -> dict[bytes, Entry]:
    """Name -> entry for every implemented command, upper and lower case."""
    from . import commands  # noqa: F401 - importing registers the handlers

    table: dict[bytes, Entry] = {}
    for name, handler in HANDLERS.items():
        if "|" in name:
            continue
        table[name.encode()] = Entry(COMMANDS[name], handler, BATCHES.get(name))
    for name, handler in HANDLERS.items():
        if "|" not in name:
            continue
        parent, sub = name.split("|")
        key = parent.encode()
        if key not in table or not table[key].subcommands:
            table[key] = Entry(COMMANDS[parent], _container(parent, HANDLERS.get(parent)))
        table[key].subcommands[sub.encode()] = Entry(COMMANDS[name], handler)
    for key in list(table):
        table[key.lower()] = table[key]
    return table


def all_entries(dispatch: dict[bytes, Entry]) -> list[Entry]:
    """Every entry of ``dispatch`` once (it holds each under two names), and
    every subcommand's."""
    tops = {id(entry): entry for entry in dispatch.values()}.values()
    return [one for entry in tops for one in (entry, *entry.subcommands.values())]


def implemented() -> list[CommandSpec]:
    """Specs of the implemented top-level commands (COMMAND, COMMAND COUNT)."""
    from . import commands  # noqa: F401 - importing registers the handlers

    return [COMMANDS[name] for name in sorted(HANDLERS) if "|" not in name] + [
        COMMANDS[parent] for parent in sorted({n.split("|")[0] for n in HANDLERS if "|" in n})
        if parent not in HANDLERS
    ]


# ------------------------------------------------------------- COMMAND INFO
# Flags in the order Redis lists them: the generated rows keep that order.
_FLAG_ORDER: Final = {row[0]: row[2].split() for row in COMMAND_ROWS}

def acl_categories(spec: CommandSpec) -> list[str]:
    """COMMAND INFO's ACL categories, in Redis' order (``aclspecs`` derives them)."""
    from .aclspecs import CATEGORIES, categories

    cats = categories(spec)
    return ["@" + cat for cat in CATEGORIES if cat in cats]


def _key_spec(ks: tuple[Any, ...], spec: CommandSpec) -> dict[str, Any]:
    flags = ks[-1].split()
    if ks[0] == "unknown":
        return {"flags": flags, "begin_search": {"type": "unknown", "spec": {}},
                "find_keys": {"type": "unknown", "spec": {}}}
    if ks[0] == "index":
        begin = {"type": "index", "spec": {"index": ks[1]}}
        rest = ks[2:]
    else:
        begin = {"type": "keyword", "spec": {"keyword": ks[1], "startfrom": ks[2]}}
        rest = ks[3:]
    if rest[0] == "range":
        find = {"type": "range", "spec": {"lastkey": rest[1], "keystep": rest[2],
                                            "limit": rest[3]}}
    else:
        find = {"type": "keynum", "spec": {"keynumidx": rest[1], "firstkey": rest[2],
                                             "keystep": rest[3]}}
    return {"flags": flags, "begin_search": begin, "find_keys": find}


def command_info(spec: CommandSpec, subcommands: list[CommandSpec]) -> list[Any]:
    """The ``COMMAND INFO`` entry of ``spec`` as plain Python values."""
    return [
        spec.name.lower(), spec.arity, _FLAG_ORDER.get(spec.name, sorted(spec.flags)),
        spec.first_key, spec.last_key,
        spec.key_step, acl_categories(spec), [],
        [_key_spec(ks, spec) for ks in spec.key_specs],
        [command_info(sub, []) for sub in subcommands],
    ]
