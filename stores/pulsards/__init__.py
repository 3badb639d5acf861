"""pulsards: the Redis-compatible data store of the project.

``PulsarStore`` is the client side of the ``pulsar://`` scheme: pulsards
speaks RESP, so the store is the Redis client with pulsards' default address
(``127.0.0.1:6410``).
"""

from typing import ClassVar

from ..redis.store import RedisStore

__all__ = ["PulsarStore"]


class PulsarStore(RedisStore):
    """A store talking to a pulsards server (``pulsar://host:port/db``)."""

    default_port: ClassVar[int | None] = 6410
