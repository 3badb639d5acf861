"""ACL files and ``user`` directives, as Redis 7.0 reads and writes them.

An ACL file holds one ``user <name> <rules...>`` line per user, what ACL LIST
prints.  ``parse_file`` reads one into new users, all or nothing, with the
errors Redis reports (each naming the file and line); ``dump`` writes them
back.  ``check_directive`` validates a config file's ``user`` line (Redis'
``ACLAppendUserForLoading``) and ``configure_users`` applies those lines at
start; ``replace_users`` puts a loaded file's users in place of the others.
Those are free of I/O; ``load_at_startup``, ``read_users`` and ``save_users``
are the thin layer that opens and writes the file.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

from .acl import UNKNOWN, Acl, RuleError, User, has_spaces, merge_selectors

if TYPE_CHECKING:
    from .config import Config

__all__ = ["AclFileError", "acl_path", "check_directive", "configure_users", "directive_rules",
           "dump", "load_at_startup", "parse_file", "read_users", "replace_users",
           "save_users", "user_line"]

log = logging.getLogger("stores.pulsards")

_GIVE_UP: Final = ("WARNING: ACL errors detected, no change to the previously active ACL "
                   "rules was performed")
_MIXED: Final = ("Configuring pulsards with users defined in redis.conf and at the same "
                 "setting an ACL file path is invalid. This setup is very likely to lead to "
                 "configuration errors and security holes, please define either an ACL file "
                 "or declare users directly in your redis.conf, but not both.")
_CRITICAL: Final = "Critical error while loading ACLs. Exiting."
_DUPLICATE: Final = "Duplicate user found. A user can only be defined once in config files"


class AclFileError(Exception):
    """Users that cannot be loaded; ``str()`` is Redis' text (several errors
    joined on one line for a file, as Redis joins them)."""


def parse_file(data: bytes, filename: str) -> dict[bytes, User]:
    """The users of an ACL file (Redis' ``ACLLoadFromFile``), ``default``
    among them; ``AclFileError`` with every error found, Redis' text, if one
    line is bad.  ``filename`` is the ``aclfile`` setting, which the errors name."""
    users: dict[bytes, User] = {}
    errors: list[str] = []
    for lineno, raw in enumerate(data.split(b"\n"), 1):
        line = raw.strip(b" \t\r\n")
        if not line:
            continue
        # Split on single spaces, as Redis does (sdssplitlen): no quoting, a tab
        # is part of a word, two spaces make an empty rule (which does nothing).
        argv = line.split(b" ")
        if argv[0] != b"user" or len(argv) < 2:
            errors.append(f"{filename}:{lineno} should start with user keyword followed by "
                          f"the username. ")
            continue
        name = argv[1]
        if has_spaces(name):
            # The stray quote at the start is Redis' own.
            errors.append(f"'{filename}:{lineno}: username '{_text(name)}' contains invalid "
                          f"characters. ")
            continue
        if name in users:
            errors.append(f"WARNING: Duplicate user '{_text(name)}' found on line {lineno}. ")
            continue
        user = users[name] = User(name)
        try:
            rules = merge_selectors(argv[2:])
        except RuleError:
            # Redis 7.0.15 means to say this but crashes (a NULL dereference).
            errors.append(f"{filename}:{lineno}: Unmatched parenthesis in selector "
                          f"definition. ")
            continue
        reported = False
        for rule in rules:
            rule = rule.strip(b"\t\r\n")
            try:
                user.apply(rule)
            except RuleError as exc:
                # Unknown commands are all reported (they reveal no secret);
                # of the other errors only a line's first, which may cause the next.
                if str(exc) == UNKNOWN:
                    errors.append(f"{filename}:{lineno}: Error in applying operation "
                                  f"'{_text(rule)}': {exc}. ")
                elif not reported:
                    errors.append(f"{filename}:{lineno}: {exc}. ")
                    reported = True
    if errors:
        raise AclFileError("".join(errors) + _GIVE_UP)
    if b"default" not in users:
        users[b"default"] = Acl().default  # a file without it: a fresh one, nopass
    return users


def user_line(user: User) -> bytes:
    """ACL LIST's line of a user, which rebuilds it (patterns are bytes,
    described as latin-1 text: encoded back so)."""
    return b"user %s %s" % (user.name, user.describe().encode("latin-1"))


def dump(users: Mapping[bytes, User]) -> bytes:
    """The ACL file of ``users`` (ACL SAVE's): ACL LIST's lines, sorted by name."""
    return b"".join(user_line(users[name]) + b"\n" for name in sorted(users))


def replace_users(acl: Acl, users: dict[bytes, User]) -> list[User]:
    """Put a loaded file's ``users`` in place of ``acl``'s; the users that
    were replaced (every one but ``default``, whose object keeps serving its
    connections with the new rules, as in Redis)."""
    acl.default.assign(users[b"default"])
    gone = [user for user in acl.users.values() if user is not acl.default]
    acl.users = {**users, b"default": acl.default}
    return gone


def check_directive(args: Sequence[str], seen: Sequence[list[bytes]]) -> str | None:
    """Redis' error for a config file's ``user <name> <rules...>`` line
    (``args`` after ``user``), None when it may be loaded at start.  ``seen``
    are the lines before (``directive_rules``' results).

    As in Redis, unknown commands are only found at start (``configure_users``),
    and the word an error names is ``argv[j]`` for the ``j``-th rule of the
    line, where ``argv`` starts with ``user``: Redis' off-by-two, copied."""
    argv = ["user", *args]
    name = args[0].encode()
    if any(directive[0] == name for directive in seen):
        return f"Error in user declaration '{argv[1]}': {_DUPLICATE}"
    rules = [arg.encode() for arg in args[1:]]
    try:
        merged = merge_selectors(rules)
    except RuleError:
        # Redis names the word where the selector opens and reports whatever
        # errno was left: an unknown name, in redis-server 7.0.15.
        return f"Error in user declaration '{argv[_left_open(rules)]}': {UNKNOWN}"
    probe = User(name)
    for j, rule in enumerate(merged):
        try:
            probe.apply(rule)
        except RuleError as exc:
            if str(exc) != UNKNOWN:
                return f"Error in user declaration '{argv[j]}': {exc}"
    return None


def _left_open(rules: Sequence[bytes]) -> int:
    """The index of the selector ``merge_selectors`` found left open."""
    opened = -1
    for j, rule in enumerate(rules):
        if opened < 0:
            if rule[:1] == b"(" and rule[-1:] != b")":
                opened = j
        elif rule[-1:] == b")":
            opened = -1
    return opened


def directive_rules(args: Sequence[str]) -> list[bytes]:
    """A checked ``user`` line as ``configure_users`` takes it: the name,
    then the rules with selectors merged."""
    return [args[0].encode(), *merge_selectors([arg.encode() for arg in args[1:]])]


def configure_users(acl: Acl, directives: Sequence[Sequence[bytes]]) -> None:
    """Create the config file's users (Redis' ``ACLLoadConfiguredUsers``);
    ``user default`` resets the default user first.  ``AclFileError`` (Redis'
    log lines) when one cannot be: the server must not start."""
    for name, *rules in directives:
        if has_spaces(name):
            raise AclFileError(f"Spaces not allowed in ACL usernames\n{_CRITICAL}")
        user = acl.users.get(name)
        if user is None:
            user = acl.users[name] = User(name)
        else:
            user.apply(b"reset")
        for rule in rules:
            try:
                user.apply(rule)
            except RuleError as exc:
                raise AclFileError(f"Error loading ACL rule '{_text(rule)}' for the user named "
                                   f"'{_text(name)}': {exc}\n{_CRITICAL}") from None
        if not user.enabled:  # likely a mistake, which Redis warns about too
            log.info("The user '%s' is disabled (there is no 'on' modifier in the user "
                     "description). Make sure this is not a configuration error.", _text(name))


# ----------------------------------------------------------------- I/O
def acl_path(config: Config) -> str | None:
    """Where the ACL file is (None without ``aclfile``): a relative path is
    relative to ``dir``, which is redis-server's working directory."""
    if not config.aclfile:
        return None
    return os.path.join(os.path.abspath(config.dir), config.aclfile)


def read_users(config: Config) -> dict[bytes, User]:
    """The users of the ``aclfile``; ``AclFileError`` (Redis' text) if it
    cannot be read or a line is bad."""
    path = acl_path(config)
    assert path is not None
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise AclFileError(f"Error loading ACLs, opening file '{config.aclfile}': "
                           f"{exc.strerror}") from None
    return parse_file(data, config.aclfile)


def load_at_startup(acl: Acl, config: Config) -> None:
    """The users of the config file or of the ACL file (Redis'
    ``ACLLoadUsersAtStartup``), before the server listens; ``AclFileError``
    with Redis' text when it must not start."""
    if config.aclfile and config.users:
        raise AclFileError(_MIXED)
    configure_users(acl, config.users)
    if config.aclfile:
        try:
            users = read_users(config)
        except AclFileError as exc:
            raise AclFileError(f"Aborting pulsards startup because of ACL errors: {exc}") \
                from None
        replace_users(acl, users)


def save_users(config: Config, users: Mapping[bytes, User]) -> None:
    """Write ``users`` to the ``aclfile`` (ACL SAVE): a temp file beside it,
    fsynced, renamed over it; ``OSError`` if that fails (the file is intact)."""
    # (Imported here: persistence imports the commands, which import this module.)
    from .persistence import write_file

    path = acl_path(config)
    assert path is not None
    # Redis' temp name, so that two servers sharing a directory never collide.
    temp = f"{path}.tmp-{os.getpid()}-{time.time_ns() // 10**6}"
    write_file(path, [dump(users)], temp)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")
