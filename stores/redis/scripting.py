"""Lua scripts (EVALSHA with a NOSCRIPT fallback) and a lock built on them."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import LockError, NoScriptError

if TYPE_CHECKING:
    from .client import Pipeline, RedisClient

__all__ = ["Lock", "Script"]


class Script:
    """A registered Lua script; ``await script(keys=[...], args=[...])`` runs it.

    It is sent by SHA1 (EVALSHA); when the server does not know it (NOSCRIPT,
    e.g. after SCRIPT FLUSH or a restart) the source is sent once with EVAL,
    which caches it again.  Keys are namespaced like any other key.
    """

    def __init__(self, client: RedisClient, source: str | bytes) -> None:
        self.client = client
        self.source = source.encode() if isinstance(source, str) else source
        self.sha = hashlib.sha1(self.source).hexdigest()

    async def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = (),
                       client: RedisClient | Pipeline | None = None) -> Any:
        from .client import Pipeline

        # Not ``client or self.client``: an empty pipeline is falsy (``__len__``).
        target = self.client if client is None else client
        if isinstance(target, Pipeline):
            target._scripts.append(self)
            return target.evalsha(self.sha, len(keys), *keys, *args)
        try:
            return await target.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await target.eval(self.source, len(keys), *keys, *args)

    async def load(self) -> None:
        """Make sure the server has the script cached (pipelines need that)."""
        await self.client.script_load(self.source)


_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""

_EXTEND = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then
    return 0
end
local ttl = redis.call('pttl', KEYS[1])
if ttl < 0 then
    return redis.call('persist', KEYS[1])
end
return redis.call('pexpire', KEYS[1], ttl + tonumber(ARGV[2]))
"""


class Lock:
    """A lock in one Redis key: ``SET key token NX PX`` to take, Lua to release.

    ``timeout`` (seconds) bounds how long a crashed holder keeps the lock;
    ``blocking_timeout`` bounds how long ``acquire`` waits (``None``: forever).
    Only the holder's token can release or extend it.
    """

    def __init__(self, client: RedisClient, name: str, timeout: float | None = 10.0,
                 sleep: float = 0.1, blocking_timeout: float | None = None) -> None:
        self.client = client
        self.name = name
        self.timeout = timeout
        self.sleep = sleep
        self.blocking_timeout = blocking_timeout
        self.token: bytes | None = None
        self._release = client.register_script(_RELEASE)
        self._extend = client.register_script(_EXTEND)

    async def acquire(self, blocking: bool = True) -> bool:
        """Take the lock; ``False`` if not blocking (or timed out) and it is held."""
        token = secrets.token_hex(16).encode()
        px = None if self.timeout is None else max(1, int(self.timeout * 1000))
        deadline = None if self.blocking_timeout is None else (
            time.monotonic() + self.blocking_timeout)
        while True:
            if await self.client.set(self.name, token, nx=True, px=px):
                self.token = token
                return True
            if not blocking or (deadline is not None and time.monotonic() >= deadline):
                return False
            await asyncio.sleep(self.sleep)

    async def release(self) -> None:
        """Give the lock back; ``LockError`` if it is no longer ours."""
        token, self.token = self.token, None
        if token is None:
            raise LockError(f"lock {self.name!r} is not held")
        if not await self._release(keys=[self.name], args=[token]):
            raise LockError(f"lock {self.name!r} expired or was taken by someone else")

    async def extend(self, additional: float) -> None:
        """Add ``additional`` seconds to the lock's time to live."""
        if self.token is None or not await self._extend(
                keys=[self.name], args=[self.token, int(additional * 1000)]):
            raise LockError(f"lock {self.name!r} is not held")

    async def locked(self) -> bool:
        """True when anyone holds the lock."""
        return bool(await self.client.exists(self.name))

    async def __aenter__(self) -> Lock:
        if not await self.acquire():
            raise LockError(f"could not acquire lock {self.name!r} "
                            f"within {self.blocking_timeout}s")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.release()
