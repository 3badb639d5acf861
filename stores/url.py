"""Connection strings: ``<scheme>://<user>:<password>@<host>/<database>?k=v``.

``parse_url`` splits a string into a ``ParsedURL`` and rejects malformed ones
with ``InvalidURL`` naming the bad part; ``build_url`` is its inverse, used by
``Store.dns``.  Unix-socket URLs (``redis+unix:///path/to.sock?database=3``)
carry the socket path where the host would be and the database in the query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from .errors import InvalidURL

__all__ = ["ParsedURL", "build_url", "format_host", "parse_url"]

Host = tuple[str, int | None] | str


@dataclass
class ParsedURL:
    """The parts of a connection string, still as text except the port."""

    scheme: str
    host: Host  # (hostname, port or None), or a unix socket path
    user: str | None = None
    password: str | None = None
    database: str | None = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def is_unix(self) -> bool:
        return isinstance(self.host, str)


def parse_url(url: str) -> ParsedURL:
    """Split ``url`` into its parts; raise ``InvalidURL`` naming what is wrong."""
    if not isinstance(url, str):
        raise InvalidURL(f"a connection string must be a str, not {type(url).__name__}")
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme:
        raise InvalidURL(f"{url!r}: missing scheme (expected <scheme>://...)")
    scheme = scheme.lower()
    if not scheme.replace("+", "").replace("-", "").replace(".", "").isalnum():
        raise InvalidURL(f"{url!r}: invalid scheme {scheme!r}")
    if "#" in rest:
        raise InvalidURL(f"{url!r}: fragments ('#...') are not allowed in a connection string")
    rest, _, query = rest.partition("?")
    params = _parse_query(url, query)
    if scheme.endswith("+unix"):
        if not rest.startswith("/"):
            raise InvalidURL(f"{url!r}: a unix socket URL needs an absolute path "
                             f"({scheme}:///path/to.sock)")
        return ParsedURL(scheme, unquote(rest), params=params)
    netloc, slash, path = rest.partition("/")
    user = password = None
    if netloc.count("@") > 1:
        raise InvalidURL(f"{url!r}: more than one '@' in the address "
                         "(percent-encode '@' in a password as %40)")
    if "@" in netloc:
        userinfo, _, netloc = netloc.partition("@")
        name, colon, secret = userinfo.partition(":")
        user = unquote(name) or None
        password = unquote(secret) if colon else None
        if password is not None and user is None:
            raise InvalidURL(f"{url!r}: password without user (for Redis' default user "
                             "write default:<password>@)")
    host = _parse_host(url, netloc)
    database = unquote(path.rstrip("/")) or None if slash else None
    return ParsedURL(scheme, host, user, password, database, params)


def _parse_query(url: str, query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    if not query:
        return params
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InvalidURL(f"{url!r}: malformed query string {query!r}") from None
    for key, value in pairs:
        if key in params:
            raise InvalidURL(f"{url!r}: parameter {key!r} given twice")
        params[key] = value
    return params


def _parse_host(url: str, netloc: str) -> tuple[str, int | None]:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise InvalidURL(f"{url!r}: unterminated '[' in IPv6 host")
        host, after = netloc[1:end], netloc[end + 1:]
        if after and not after.startswith(":"):
            raise InvalidURL(f"{url!r}: unexpected {after!r} after IPv6 host")
        port_text = after[1:] if after else None
    else:
        if netloc.count(":") > 1:
            raise InvalidURL(f"{url!r}: IPv6 host must be in brackets, e.g. [::1]:6379")
        host, colon, port_text_ = netloc.partition(":")
        port_text = port_text_ if colon else None
    port = None
    if port_text is not None:
        if not port_text.isdigit():
            raise InvalidURL(f"{url!r}: port {port_text!r} is not a number")
        port = int(port_text)
        if port > 65535:
            raise InvalidURL(f"{url!r}: port {port} is out of range (0-65535)")
    return host, port


def format_host(host: Host) -> str:
    """``host:port`` with IPv6 in brackets, or the socket path."""
    if isinstance(host, str):
        return host
    name, port = host
    if ":" in name:
        name = f"[{name}]"
    return name if port is None else f"{name}:{port}"


def build_url(
    scheme: str,
    host: Host,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
    params: dict[str, Any] | None = None,
) -> str:
    """The connection string of these parts (the inverse of ``parse_url``)."""
    query = dict(params or {})
    if isinstance(host, str):
        address = quote(host)
        if database is not None:
            query = {"database": database, **query}
        path = ""
    else:
        address = format_host(host)
        path = f"/{quote(database, safe='')}" if database is not None else ""
    auth = ""
    if user is not None:
        auth = quote(user, safe="")
        if password is not None:
            auth += ":" + quote(password, safe="")
        auth += "@"
    url = f"{scheme}://{auth}{address}{path}"
    if query:
        url += "?" + urlencode({k: _query_value(v) for k, v in query.items()}, safe="*/:")
    return url


def _query_value(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)
