"""What the example apps share: their store URL and a typed ``create_store``."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from stores import Store, create_store
from stores.redis import RedisStore

DEFAULT_URL = "redis://127.0.0.1:6379/0"


def store_url(url: str, **defaults: str) -> str:
    """``url`` with the ``defaults`` query parameters it does not set already."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for key, value in defaults.items():
        query.setdefault(key, value)
    return urlunsplit(parts._replace(query=urlencode(query, safe=":")))


def redis_store(url: str, **kw: Any) -> RedisStore:
    """``create_store(url)``: inside an actor, the proxy of the URL's store actor."""
    store = create_store(url, **kw)
    if not isinstance(store, RedisStore):
        raise TypeError(f"{url}: a Redis-protocol store is needed")
    return store


def host_port(store: Store) -> tuple[str, int]:
    """The TCP address a store connects to."""
    host = store._host
    if isinstance(host, str):
        raise TypeError(f"{store} is on a unix socket, not TCP")
    return host[0], host[1] or 0
