"""pulsards: the Redis-compatible data store of the project.

``PulsarStore`` is the client side of the ``pulsar://`` scheme: pulsards
speaks RESP, so the store is the Redis client with pulsards' default address
(``127.0.0.1:6410``).
"""

from typing import Any, ClassVar

from ..redis.store import RedisStore
from .startds import SERVER_PARAMS, start_store

__all__ = ["PulsarStore", "start_store"]


class PulsarStore(RedisStore):
    """A store talking to a pulsards server (``pulsar://host:port/db``).

    Server options in the URL (``databases``, ``maxclients`` ...) are for
    ``start_store``; the client ignores them.
    """

    default_port: ClassVar[int | None] = 6410
    known_params: ClassVar[frozenset[str] | None] = (
        (RedisStore.known_params or frozenset()) | SERVER_PARAMS)

    def _init(self, **kw: Any) -> None:
        super()._init(**kw)
