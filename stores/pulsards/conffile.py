"""Config files in redis.conf syntax, without I/O: ``parse_config(text)``.

One directive a line: a name and its arguments separated by blanks; lines
that are empty or start with ``#`` are ignored; arguments may be quoted as
Redis' ``sdssplitargs`` does (``"..."`` with ``\\n \\r \\t \\b \\a \\\\ \\"
\\xHH`` escapes, ``'...'`` with only ``\\'``); names are case-insensitive.
A directive that is unknown, has the wrong number of arguments or a bad value
raises ``ConfigFileError`` naming the line, as redis-server's
``*** FATAL CONFIG FILE ERROR ***`` does.
"""

from __future__ import annotations

from typing import Final

from .config import OPTIONS, Config

__all__ = ["ConfigFileError", "parse_config", "split_args"]

_ESCAPES: Final = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a", "\\": "\\",
                   '"': '"'}
_HEX: Final = "0123456789abcdefABCDEF"


class ConfigFileError(ValueError):
    """A bad line in a config file; ``str()`` is the message to print."""

    def __init__(self, lineno: int, line: str, reason: str) -> None:
        super().__init__(f"*** FATAL CONFIG FILE ERROR (pulsards) ***\n"
                         f"Reading the configuration file, at line {lineno}\n"
                         f">>> '{line}'\n{reason}")
        self.lineno = lineno
        self.reason = reason


def split_args(line: str) -> list[str]:
    """Split a line as ``sdssplitargs``; ``ValueError`` on unbalanced quotes."""
    args: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            return args
        current: list[str] = []
        if line[i] == '"':
            i += 1
            while True:
                if i >= n:
                    raise ValueError("unbalanced quotes")
                ch = line[i]
                if (ch == "\\" and i + 3 < n and line[i + 1] == "x"
                        and line[i + 2] in _HEX and line[i + 3] in _HEX):
                    current.append(chr(int(line[i + 2:i + 4], 16)))
                    i += 4
                    continue
                if ch == "\\" and i + 1 < n:
                    current.append(_ESCAPES.get(line[i + 1], line[i + 1]))
                    i += 2
                    continue
                if ch == '"':
                    i += 1
                    break
                current.append(ch)
                i += 1
        elif line[i] == "'":
            i += 1
            while True:
                if i >= n:
                    raise ValueError("unbalanced quotes")
                ch = line[i]
                if ch == "\\" and i + 1 < n and line[i + 1] == "'":
                    current.append("'")
                    i += 2
                    continue
                if ch == "'":
                    i += 1
                    break
                current.append(ch)
                i += 1
        else:
            while i < n and not line[i].isspace():
                current.append(line[i])
                i += 1
            args.append("".join(current))
            continue
        # A closing quote must be followed by a blank or the end of the line.
        if i < n and not line[i].isspace():
            raise ValueError("closing quote must be followed by a space")
        args.append("".join(current))


def parse_config(text: str, config: Config | None = None) -> Config:
    """Apply the directives of ``text`` to ``config`` (a new ``Config`` by default)."""
    config = config or Config()
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            args = split_args(line)
        except ValueError as exc:
            raise ConfigFileError(lineno, line, f"Unbalanced quotes in configuration line "
                                                f"({exc})") from None
        name = args[0].lower()
        values = args[1:]
        if name == "user" and values:
            _add_user(config, values, lineno, line)
            continue
        if name not in OPTIONS:
            raise ConfigFileError(lineno, line, "Bad directive or wrong number of arguments")
        # bind takes several addresses and save several pairs; the rest one value.
        if name in ("bind", "save") and (values or name == "save"):
            text_value = " ".join(values)
        elif len(values) != 1:
            raise ConfigFileError(lineno, line, "Bad directive or wrong number of arguments")
        else:
            text_value = values[0]
        try:
            config.apply(name, text_value)
        except ValueError as exc:
            raise ConfigFileError(lineno, line, str(exc)) from None
    return config


def _add_user(config: Config, args: list[str], lineno: int, line: str) -> None:
    """A ``user <name> <rules...>`` line: checked now (the errors Redis finds
    while reading its config file), its users created at start."""
    from .aclfile import check_directive, directive_rules

    reason = check_directive(args, config.users)
    if reason is not None:
        raise ConfigFileError(lineno, line, reason)
    config.users.append(directive_rules(args))
