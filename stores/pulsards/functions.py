"""Redis 7 functions: the libraries FUNCTION LOAD keeps and FCALL runs.

The commands are in ``commands.functions``; the Lua side (the loading
environment, ``redis.register_function``, running a function) is in
``sandbox.lua`` and ``lua.Scripting``.  The rules, as Redis 7.0's:

* a library is its code, whose first line ``#!lua name=<name>`` names it;
  loading runs the code once, and what it registers with
  ``redis.register_function`` are its functions (at least one);
* library names are case-sensitive, function names are not, and a function
  name belongs to one library only: a load that would take one from another
  library fails and changes nothing (REPLACE only replaces the same library);
* a function flagged ``no-writes`` may write nothing and is the only kind
  FCALL_RO runs;
* libraries are server state, not data: FLUSHALL leaves them, the AOF logs
  the FUNCTION commands that change them, a rewrite and a snapshot start with
  every library's code, and FUNCTION DUMP/RESTORE move them in Redis' payload.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from .lua import scripting
from .luajson import ScriptError
from .parser import split_args, string2ll
from .reply import CommandError

if TYPE_CHECKING:
    from .protocol import Client
    from .server import Server

__all__ = ["FLAG_ORDER", "Function", "Functions", "Library", "Registry", "parse_library"]

# Redis' scripts_flags_def: the order FUNCTION LIST shows flags in.
FLAG_ORDER: Final = ("no-writes", "allow-oom", "allow-stale", "no-cluster",
                     "allow-cross-slot-keys")

_NAME_ERROR: Final = ("Library names can only contain letters, numbers, or underscores(_) "
                      "and must be at least one character long")


def _valid_name(name: bytes) -> bool:
    return bool(name) and name.isascii() and name.replace(b"_", b"a").isalnum()


class Function:
    """One registered function: its Lua callback and what FUNCTION LIST shows."""

    __slots__ = ("callback", "description", "flags", "library", "name")

    def __init__(self, name: bytes, callback: Any, flags: tuple[str, ...],
                 description: bytes | None, library: Library) -> None:
        self.name = name
        self.callback = callback
        self.flags = flags
        self.description = description
        self.library = library


class Library:
    """A loaded library: its name, its whole code and its functions."""

    __slots__ = ("code", "functions", "name")

    def __init__(self, name: bytes, code: bytes) -> None:
        self.name = name
        self.code = code
        self.functions: dict[bytes, Function] = {}  # by name as registered


def parse_library(code: bytes) -> tuple[bytes, bytes]:
    """The library's name and the code after its first line, checked in
    Redis' order (CommandError with Redis' text)."""
    if not code.startswith(b"#!"):
        raise CommandError("ERR Missing library metadata")
    end = code.find(b"\n")
    if end < 0:
        raise CommandError("ERR Invalid library metadata")
    parts = split_args(code[:end])
    if not parts:
        raise CommandError("ERR Invalid library metadata")
    name: bytes | None = None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                raise CommandError("ERR Invalid metadata value, name argument was given "
                                   "multiple times")
            name = part[5:]
            continue
        raise CommandError("ERR Invalid metadata value given: "
                           + part.decode("utf-8", "replace"))
    if name is None:
        raise CommandError("ERR Library name was not given")
    if not _valid_name(name):
        raise CommandError("ERR " + _NAME_ERROR)
    engine = parts[0][2:]
    if engine.upper() != b"LUA":
        raise CommandError(f"ERR Engine '{engine.decode('utf-8', 'replace')}' not found")
    return name, code[end:]


class Registry:
    """Libraries by name and their functions by lower-cased name."""

    __slots__ = ("functions", "libraries")

    def __init__(self) -> None:
        self.libraries: dict[bytes, Library] = {}
        self.functions: dict[bytes, Function] = {}

    def link(self, library: Library) -> None:
        """Add ``library``, replacing the one of the same name."""
        old = self.libraries.get(library.name)
        if old is not None:
            self.unlink(old)
        self.libraries[library.name] = library
        for name, function in library.functions.items():
            # Two names differing in case only: the first registered is found.
            self.functions.setdefault(name.lower(), function)

    def unlink(self, library: Library) -> None:
        del self.libraries[library.name]
        for name in library.functions:
            function = self.functions.get(name.lower())
            if function is not None and function.library is library:
                del self.functions[name.lower()]


class Functions:
    """One server's libraries (``current``) and how they change."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.current = Registry()

    def load(self, code: bytes, replace: bool) -> bytes:
        """FUNCTION LOAD: compile and register a library; its name."""
        library = self.compile(code, replace, self.current)
        self.current.link(library)
        return library.name

    def compile(self, code: bytes, replace: bool, into: Registry) -> Library:
        """Run a library's code and check it may join ``into`` (not joined yet)."""
        name, body = parse_library(code)
        old = into.libraries.get(name)
        if old is not None and not replace:
            raise CommandError(f"ERR Library '{name.decode('utf-8', 'replace')}' already exists")
        library = Library(name, code)
        scripting(self.server).load_library(body, _registrar(library))
        if not library.functions:
            raise CommandError("ERR No functions registered")
        for fname in library.functions:
            owner = into.functions.get(fname.lower())
            if owner is not None and owner.library is not old:
                raise CommandError(f"ERR Function {fname.decode('utf-8', 'replace')} "
                                   "already exists")
        return library

    def delete(self, name: bytes) -> None:
        """FUNCTION DELETE."""
        library = self.current.libraries.get(name)
        if library is None:
            raise CommandError("ERR Library not found")
        self.current.unlink(library)

    def flush(self) -> None:
        """FUNCTION FLUSH."""
        self.current = Registry()

    def restore(self, codes: list[bytes], policy: bytes) -> None:
        """FUNCTION RESTORE of the libraries in ``codes``: all or none."""
        staged = Registry()
        for code in codes:
            staged.link(self.compile(code, False, staged))
        if policy == b"FLUSH":
            self.current = staged
            return
        current = self.current
        old = [current.libraries[name] for name in staged.libraries if name in current.libraries]
        if old and policy != b"REPLACE":
            raise CommandError(f"ERR Library {old[0].name.decode('utf-8', 'replace')} "
                               "already exists")
        for library in old:
            current.unlink(library)
        for key, function in staged.functions.items():
            if key in current.functions:
                for library in old:
                    current.link(library)
                raise CommandError(f"ERR Function {function.name.decode('utf-8', 'replace')} "
                                   "already exists")
        for library in staged.libraries.values():
            current.link(library)

    # ------------------------------------------------------------ calling
    def call(self, c: Client, args: list[bytes], read_only: bool) -> bytes:
        """FCALL / FCALL_RO ``args``."""
        function = self.current.functions.get(args[1].lower())
        if function is None:
            raise CommandError("ERR Function not found")
        numkeys = string2ll(args[2])
        if numkeys is None:
            raise CommandError("ERR Bad number of keys provided")
        if numkeys > len(args) - 3:
            raise CommandError("ERR Number of keys can't be greater than number of args")
        if numkeys < 0:
            raise CommandError("ERR Number of keys can't be negative")
        no_writes = "no-writes" in function.flags
        if read_only and not no_writes:
            raise CommandError("ERR Can not execute a script with write flag using *_ro command.")
        return scripting(self.server).call_function(
            c, function.callback, function.name, args[3:3 + numkeys], args[3 + numkeys:],
            no_writes)

    def codes(self) -> list[bytes]:
        """Every library's code, for the AOF rewrite, snapshots and FUNCTION DUMP."""
        return [library.code for library in self.current.libraries.values()]


def _registrar(library: Library) -> Any:
    """``register(name, callback, flags, description)`` for the sandbox's
    ``redis.register_function``, which has checked the arguments' types."""
    def register(name: bytes, callback: Any, flags: Any, description: bytes | None) -> None:
        if not _valid_name(name):
            raise ScriptError(b"ERR " + _NAME_ERROR.encode())
        if name in library.functions:
            raise ScriptError(b"ERR Function already exists in the library")
        given = {flag.decode() for flag in flags.values()}
        library.functions[name] = Function(
            name, callback, tuple(f for f in FLAG_ORDER if f in given), description, library)

    return register
