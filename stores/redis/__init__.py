"""The Redis client: RESP codec, connection pool, command methods, pubsub."""

from .client import Pipeline, RedisClient
from .pubsub import RedisPubSub
from .scripting import Lock, Script
from .store import RedisStore

__all__ = ["Lock", "Pipeline", "RedisClient", "RedisPubSub", "RedisStore", "Script"]
