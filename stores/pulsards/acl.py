"""ACL users, their rules and the permission check, as Redis 7.0 has them (no I/O).

A ``User`` has flags (``on``/``off``, ``nopass``), SHA-256 password hashes and
*selectors*: the root one and any ``(...)`` ones; a command is allowed when
one selector allows the command, every key it names and every channel.  A
``Selector`` keeps, as Redis does, the set of allowed commands (its bitmap:
``+config`` allows every subcommand), first arguments allowed for commands
otherwise denied (``+select|0``), key patterns with their read/write
permission, channel patterns.  ``Acl`` holds the users and the ACL LOG.
What ACL reads from the shared command table is ``aclspecs``'.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Final

from ..redis.commands import COMMANDS, CommandSpec
from . import aclspecs
from .aclspecs import READ, SUBCOMMANDS, WRITE, by_category, key_access, resolve

__all__ = ["DENIED_CHANNEL", "DENIED_CMD", "DENIED_KEY", "OK", "RuleError", "Selector",
           "User", "hash_password"]

# Check results, ordered as Redis orders them to pick the error to report.
OK: Final = 0
DENIED_CMD: Final = 1
DENIED_KEY: Final = 2
DENIED_CHANNEL: Final = 4
_ALL: Final = READ | WRITE

# Redis' ACLSetUserStringError texts.
UNKNOWN: Final = "Unknown command or category name in ACL"
SYNTAX: Final = "Syntax error"
_AFTER_ALLKEYS: Final = ("Adding a pattern after the * pattern (or the 'allkeys' flag) is not "
                         "valid and does not have any effect. Try 'resetkeys' to start with an "
                         "empty list of patterns")
_AFTER_ALLCHANNELS: Final = ("Adding a pattern after the * pattern (or the 'allchannels' flag) "
                             "is not valid and does not have any effect. Try 'resetchannels' to "
                             "start with an empty list of channels")
_NO_SUCH_PASS: Final = "The password you are trying to remove from the user does not exist"
_BAD_HASH: Final = ("The password hash must be exactly 64 characters and contain only "
                    "lowercase hexadecimal characters")
_SUB_FIRSTARG: Final = "Allowing first-arg of a subcommand is not supported"

# Commands whose arguments name channels (Redis hardcodes them too, in db.c):
# name -> (the arguments are patterns, first, last).  Unsubscribing is not checked.
_CHANNELS: Final = {"SUBSCRIBE": (False, 1, -1), "SSUBSCRIBE": (False, 1, -1),
                    "PSUBSCRIBE": (True, 1, -1), "PUBLISH": (False, 1, 1),
                    "SPUBLISH": (False, 1, 1)}
_SPACES: Final = frozenset(b" \t\n\v\f\r\0")
_HEX: Final = frozenset(b"0123456789abcdef")


class RuleError(ValueError):
    """An ACL rule that cannot be applied; the text is Redis' reason."""


def hash_password(password: bytes) -> str:
    """The SHA-256 hex digest Redis keeps instead of a password."""
    return hashlib.sha256(password).hexdigest()


def has_spaces(text: bytes) -> bool:
    """Whether ``text`` holds whitespace or NUL (refused in names and patterns)."""
    return not _SPACES.isdisjoint(text)


def _match(pattern: bytes, text: bytes) -> bool:
    """Glob matching as KEYS and PSUBSCRIBE match (``commands.args.glob_matcher``)."""
    global _match
    from .commands.args import glob_matcher

    def match(pattern: bytes, text: bytes) -> bool:
        return pattern == b"*" or glob_matcher(pattern).match(text) is not None

    _match = match
    return match(pattern, text)


class Selector:
    """One set of permissions: commands, key patterns, channel patterns."""

    __slots__ = ("allchannels", "allcommands", "allkeys", "allowed", "channels", "firstargs",
                 "future", "patterns")

    def __init__(self) -> None:
        self.allkeys = self.allchannels = self.allcommands = False
        self.future = False  # Redis' reserved bit: +@all was given (LIST says "+@all ...")
        self.allowed: set[str] = set()
        self.firstargs: dict[str, list[bytes]] = {}
        self.patterns: dict[bytes, int] = {}  # in the order given -> READ|WRITE
        self.channels: dict[bytes, None] = {}

    def copy(self) -> Selector:
        new = Selector()
        new.allkeys, new.allchannels = self.allkeys, self.allchannels
        new.allcommands, new.future = self.allcommands, self.future
        new.allowed = set(self.allowed)
        new.firstargs = {k: list(v) for k, v in self.firstargs.items()}
        new.patterns = dict(self.patterns)
        new.channels = dict(self.channels)
        return new

    # ------------------------------------------------------------ rules
    def change(self, spec: CommandSpec, allow: bool) -> None:
        """Allow or deny a command, and all its subcommands (ACLChangeSelectorPerm)."""
        names = [spec.name, *SUBCOMMANDS.get(spec.name, ())]
        if allow:
            self.allowed.update(names)
        else:
            self.allowed.difference_update(names)
            self.allcommands = False
        self.firstargs.pop(spec.name, None)

    def apply(self, op: bytes) -> None:
        """Apply one rule (``~pattern``, ``+@read``, ``-get``...); ``RuleError`` if bad."""
        low = op.lower()
        if low in (b"allkeys", b"~*"):
            self.allkeys = True
            self.patterns.clear()
        elif low == b"resetkeys":
            self.allkeys = False
            self.patterns.clear()
        elif low in (b"allchannels", b"&*"):
            self.allchannels = True
            self.channels.clear()
        elif low == b"resetchannels":
            self.allchannels = False
            self.channels.clear()
        elif low in (b"allcommands", b"+@all"):
            self.allowed = set(COMMANDS)
            self.allcommands = self.future = True
            self.firstargs.clear()
        elif low in (b"nocommands", b"-@all"):
            self.allowed = set()
            self.allcommands = self.future = False
            self.firstargs.clear()
        elif op[:1] in (b"~", b"%"):
            self._add_pattern(op)
        elif op[:1] == b"&":
            if self.allchannels:
                raise RuleError(_AFTER_ALLCHANNELS)
            if has_spaces(op[1:]):
                raise RuleError(SYNTAX)
            self.channels[op[1:]] = None
        elif op[:2] in (b"+@", b"-@"):
            members = by_category(op[2:].lower().decode("latin-1"))
            if members is None:
                raise RuleError(UNKNOWN)
            for name in members:
                self.change(COMMANDS[name], op[:1] == b"+")
        elif op[:1] == b"+":
            self._allow(op[1:])
        elif op[:1] == b"-":
            spec = resolve(op[1:])
            if spec is None:
                raise RuleError(UNKNOWN)
            self.change(spec, False)
        else:
            raise RuleError(SYNTAX)

    def _add_pattern(self, op: bytes) -> None:
        if self.allkeys:
            raise RuleError(_AFTER_ALLKEYS)
        perm, offset = _ALL, 1
        if op[:1] == b"%":
            perm = 0
            while offset < len(op):
                ch = op[offset:offset + 1].upper()
                offset += 1
                if ch == b"~":
                    break
                if ch == b"R" and not perm & READ:
                    perm |= READ
                elif ch == b"W" and not perm & WRITE:
                    perm |= WRITE
                else:
                    raise RuleError(SYNTAX)
            if not perm:  # '%~key': neither R nor W ('%R' alone is Redis' empty pattern)
                raise RuleError(SYNTAX)
        pattern = op[offset:]
        if has_spaces(pattern):
            raise RuleError(SYNTAX)
        self.patterns[pattern] = self.patterns.get(pattern, 0) | perm

    def _allow(self, name: bytes) -> None:
        if b"|" not in name:
            spec = resolve(name)
            if spec is None:
                raise RuleError(UNKNOWN)
            self.change(spec, True)
            return
        head, _, sub = name.rpartition(b"|")
        spec = resolve(head)
        if spec is None:
            raise RuleError(UNKNOWN)
        if "|" in spec.name:
            raise RuleError(_SUB_FIRSTARG)
        if not sub:
            raise RuleError(SYNTAX)
        if spec.name in SUBCOMMANDS:
            found = resolve(name)
            if found is None:
                raise RuleError(UNKNOWN)
            self.change(found, True)
            return
        # A first argument of a command without subcommands (SELECT|0): Redis
        # logs a deprecation warning and allows it.
        allowed = self.firstargs.setdefault(spec.name, [])
        if all(arg.lower() != sub.lower() for arg in allowed):
            allowed.append(sub)

    # ------------------------------------------------------------ check
    def check(self, spec: CommandSpec, args: Sequence[bytes],
              keys: list[tuple[int, int]] | None) -> tuple[int, int]:
        """(OK or why not, the index of the denied key or channel) for one request;
        ``keys`` are ``key_access``'s (None: the command names no key)."""
        name = spec.name
        if not self.allcommands and name not in self.allowed and "no_auth" not in spec.flags:
            firstargs = self.firstargs.get(name)
            at = 2 if "|" in name else 1
            if (firstargs is None or len(args) <= at
                    or all(arg.lower() != args[at].lower() for arg in firstargs)):
                return DENIED_CMD, 0
        if not self.allkeys and keys:
            for index, need in keys:
                if not self._key_ok(args[index], need):
                    return DENIED_KEY, index
        channels = _CHANNELS.get(name)
        if not self.allchannels and channels is not None:
            literal, first, last = channels
            stop = len(args) if last < 0 else first + last
            for index in range(first, stop):
                if not self.channel_ok(args[index], literal):
                    return DENIED_CHANNEL, index
        return OK, 0

    def _key_ok(self, key: bytes, need: int) -> bool:
        for pattern, perm in self.patterns.items():
            if perm & need == need and _match(pattern, key):
                return True
        return False

    def channel_ok(self, channel: bytes, literal: bool) -> bool:
        """Whether a channel (a pattern, compared literally, for PSUBSCRIBE) is allowed."""
        if self.allchannels:
            return True
        if literal:
            return channel in self.channels
        return any(_match(pattern, channel) for pattern in self.channels)

    def full_key_access(self, need: int) -> bool:
        """Whether every key may be accessed so (``~*``, or ``%R~*`` for reads)."""
        return self.allkeys or self.patterns.get(b"*", 0) & need == need

    # --------------------------------------------------------- describe
    def describe_commands(self) -> str:
        """The command rules that rebuild this selector (``aclspecs.describe_commands``)."""
        return aclspecs.describe_commands(self.allowed, self.future, self.firstargs)

    def keys_text(self) -> str:
        """GETUSER's ``keys``: ``~*`` or the patterns (``%R~`` / ``%W~`` for one way)."""
        if self.allkeys:
            return "~*"
        marks = {_ALL: "~", READ: "%R~", WRITE: "%W~"}
        return " ".join(marks[perm] + pattern.decode("latin-1")
                        for pattern, perm in self.patterns.items())

    def channels_text(self) -> str:
        if self.allchannels:
            return "&*"
        return " ".join("&" + c.decode("latin-1") for c in self.channels)

    def describe(self) -> str:
        """ACL LIST's text of this selector: keys, channels, then commands."""
        keys = self.keys_text()
        channels = "&*" if self.allchannels else " ".join(
            ["resetchannels", *("&" + c.decode("latin-1") for c in self.channels)])
        return " ".join(part for part in (keys, channels, self.describe_commands()) if part)


class User:
    """A user: flags, password hashes and selectors (the root one first)."""

    __slots__ = ("enabled", "name", "nopass", "passwords", "restricted", "sanitize",
                 "selectors")

    def __init__(self, name: bytes) -> None:
        self.name = name
        self.enabled = False
        self.nopass = False
        self.sanitize = ""  # "", "sanitize-payload" or "skip-sanitize-payload"
        self.passwords: list[str] = []
        self.selectors = [Selector()]
        # Whether commands must be checked: the connection's gate (only users
        # allowed everything, everywhere, keep the hot path).
        self.restricted = True

    def copy(self) -> User:
        new = User(self.name)
        new.assign(self)
        return new

    def assign(self, other: User) -> None:
        """Take ``other``'s rules (ACL SETUSER changes a user in place: its
        connections see the new rules at once)."""
        self.enabled, self.nopass, self.sanitize = other.enabled, other.nopass, other.sanitize
        self.passwords = list(other.passwords)
        self.selectors = [s.copy() for s in other.selectors]
        self.update()

    def update(self) -> None:
        root = self.selectors[0]
        self.restricted = not (root.allcommands and root.allkeys and root.allchannels)

    def apply(self, op: bytes) -> None:
        """Apply one ACL SETUSER rule (ACLSetUser); ``RuleError`` if it is bad."""
        low = op.lower()
        if not op:
            return  # an empty rule does nothing, as in Redis
        if low in (b"on", b"off"):
            self.enabled = low == b"on"
        elif low in (b"sanitize-payload", b"skip-sanitize-payload"):
            self.sanitize = low.decode()
        elif low == b"nopass":
            self.nopass = True
            self.passwords.clear()
        elif low == b"resetpass":
            self.nopass = False
            self.passwords.clear()
        elif op[:1] in (b">", b"#"):
            digest = hash_password(op[1:]) if op[:1] == b">" else _checked_hash(op[1:])
            if digest not in self.passwords:
                self.passwords.append(digest)
            self.nopass = False
        elif op[:1] in (b"<", b"!"):
            digest = hash_password(op[1:]) if op[:1] == b"<" else _checked_hash(op[1:])
            if digest not in self.passwords:
                raise RuleError(_NO_SUCH_PASS)
            self.passwords.remove(digest)
        elif op[:1] == b"(" and op[-1:] == b")":
            from .parser import split_args  # sdssplitargs, as Redis splits a selector

            selector = Selector()
            for rule in split_args(op[1:-1]) or ():
                selector.apply(rule)
            self.selectors.append(selector)
        elif low == b"clearselectors":
            del self.selectors[1:]
        elif low == b"reset":
            for rule in (b"resetpass", b"resetkeys", b"resetchannels", b"off",
                         b"sanitize-payload", b"clearselectors", b"-@all"):
                self.apply(rule)
        else:
            self.selectors[0].apply(op)
        self.update()

    def check_password(self, password: bytes) -> bool:
        """Whether ``password`` opens this user (any does with nopass; none when off)."""
        if not self.enabled:
            return False
        if self.nopass:
            return True
        digest = hash_password(password)
        # Every hash is compared, in constant time: no early exit to time.
        return sum(hmac.compare_digest(digest, known) for known in self.passwords) > 0

    def check(self, spec: CommandSpec, args: Sequence[bytes]) -> tuple[int, int]:
        """OK, or the most relevant denial over the selectors (Redis' pick: the
        worst reason, then the last argument)."""
        keys = key_access(spec, args) if spec.key_specs else None
        reason, index = DENIED_CMD, 0
        for selector in self.selectors:
            result, at = selector.check(spec, args, keys)
            if result == OK:
                return OK, 0
            if result > reason or (result == reason and at > index):
                reason, index = result, at
        return reason, index

    def full_key_access(self, spec: CommandSpec, args: Sequence[bytes]) -> bool:
        """Whether a selector that allows this request may also read every key
        (SORT's BY and GET patterns need it)."""
        keys = key_access(spec, args) if spec.key_specs else None
        return any(s.check(spec, args, keys)[0] == OK and s.full_key_access(READ)
                   for s in self.selectors)

    def flags(self) -> list[str]:
        """GETUSER's flags, in Redis' order."""
        return ["on" if self.enabled else "off", *["nopass"] * self.nopass,
                *[self.sanitize] * bool(self.sanitize)]

    def describe(self) -> str:
        """ACL LIST's line of this user, after ``user <name> ``."""
        root, *others = self.selectors
        parts = [*self.flags(), *("#" + p for p in self.passwords), root.describe()]
        parts += [f"({s.describe()})" for s in others]
        return " ".join(parts)


def _checked_hash(text: bytes) -> str:
    if len(text) != 64 or not _HEX.issuperset(text):
        raise RuleError(_BAD_HASH)
    return text.decode()


class LogEntry:
    """One ACL LOG entry (Redis' ACLLogEntry)."""

    __slots__ = ("cinfo", "context", "count", "ctime", "object", "reason", "username")

    def __init__(self, reason: str, context: str, obj: bytes, username: bytes, ctime: int,
                 cinfo: str) -> None:
        self.count = 1
        self.reason, self.context, self.object = reason, context, obj
        self.username, self.ctime, self.cinfo = username, ctime, cinfo

    def same(self, other: LogEntry) -> bool:
        """Whether ``other`` only counts again for this one (within 60 s)."""
        return (self.reason == other.reason and self.context == other.context
                and abs(self.ctime - other.ctime) <= 60000 and self.object == other.object
                and self.username == other.username)


class Acl:
    """The server's users (``default`` always among them) and its ACL LOG."""

    def __init__(self, requirepass: str = "") -> None:
        self.default = User(b"default")
        for rule in (b"+@all", b"~*", b"&*", b"on", b"nopass"):
            self.default.apply(rule)
        self.users: dict[bytes, User] = {b"default": self.default}
        self.log: list[LogEntry] = []  # newest first
        self.set_default_password(requirepass)

    def set_default_password(self, password: str) -> None:
        """``requirepass``: the default user's only password, or nopass for ""."""
        self.default.apply(b"resetpass")
        self.default.apply(b">" + password.encode() if password else b"nopass")

    def open_default(self) -> bool:
        """Whether a new connection is authenticated as ``default`` at once."""
        return self.default.nopass and self.default.enabled

    def authenticate(self, name: bytes, password: bytes) -> User | None:
        """The user ``name``, if ``password`` opens it."""
        user = self.users.get(name)
        return user if user is not None and user.check_password(password) else None

    def setuser(self, name: bytes, rules: list[bytes]) -> tuple[User, User | None]:
        """Create or change a user with every rule or none (``RuleError``: Redis'
        message); returns the user and, for a change, its rules before."""
        if has_spaces(name):
            raise RuleError("Usernames can't contain spaces or null characters")
        merged = merge_selectors(rules)
        existing = self.users.get(name)
        staged = existing.copy() if existing is not None else User(name)
        for rule in merged:
            try:
                staged.apply(rule)
            except RuleError as exc:
                raise RuleError(f"Error in ACL SETUSER modifier '{rule.decode('utf-8', 'replace')}'"
                                f": {exc}") from None
        if existing is None:
            self.users[name] = staged
            return staged, None
        before = existing.copy()
        existing.assign(staged)
        return existing, before

    def add_log(self, entry: LogEntry, max_len: int) -> None:
        """Log a denial, or count it again on a like entry among the last 10."""
        for i, old in enumerate(self.log[:10]):
            if old.same(entry):
                del self.log[i]
                old.count += 1
                old.ctime, old.cinfo = entry.ctime, entry.cinfo
                self.log.insert(0, old)
                return
        self.log.insert(0, entry)
        del self.log[max_len:]


def merge_selectors(rules: list[bytes]) -> list[bytes]:
    """Join a selector written across arguments (``(~key`` ``+get)``), as
    Redis does; ``RuleError`` for one left open."""
    merged: list[bytes] = []
    opened = -1
    for i, rule in enumerate(rules):
        if opened < 0 and rule[:1] == b"(" and rule[-1:] != b")":
            opened = i
            merged.append(rule)
        elif opened >= 0:
            merged[-1] += b" " + rule
            if rule[-1:] == b")":
                opened = -1
        else:
            merged.append(rule)
    if opened >= 0:
        text = rules[opened].decode("utf-8", "replace")
        raise RuleError(f"Unmatched parenthesis in acl selector starting at '{text}'.")
    return merged
