"""``RedisStore``: the ``redis``, ``rediss`` and ``redis+unix`` schemes."""

from __future__ import annotations

import asyncio
import builtins
import ssl
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol

from ..errors import InvalidURL, StoreError, TimeoutError
from ..store import Command, RemoteStore
from ..url import Host
from .commands import CommandSpec, Namespace, lookup
from .connection import Connection, ConnectionSettings
from .pool import Pool
from .resp import encode_command

if TYPE_CHECKING:
    from .client import RedisClient
    from .pubsub import RedisPubSub

__all__ = ["ConnectionSession", "RedisStore", "Session"]

_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})

# Commands ``execute`` refuses, with the way to do it instead.
_ELSEWHERE: Final = {
    "MULTI": "client().pipeline(transaction=True) or execute_transaction()",
    "EXEC": "client().pipeline(transaction=True) or execute_transaction()",
    "DISCARD": "client().pipeline(transaction=True)",
    "WATCH": "client().pipeline().watch()",
    "UNWATCH": "client().pipeline().watch()",
    "SUBSCRIBE": "pubsub()", "PSUBSCRIBE": "pubsub()", "SSUBSCRIBE": "pubsub()",
    "UNSUBSCRIBE": "pubsub()", "PUNSUBSCRIBE": "pubsub()", "SUNSUBSCRIBE": "pubsub()",
    "MONITOR": "a dedicated connection (not supported by the pool)",
    "SELECT": "the URL's database (redis://host/<database>)",
    "AUTH": "the URL's user and password", "HELLO": "the URL's protocol parameter",
    "QUIT": "store.close()", "RESET": "store.close()",
}

_spec_cache: dict[Any, CommandSpec | None] = {}


class Session(Protocol):
    """Commands on a connection reserved for one caller (``Pipeline.watch``)."""

    def execute(self, args: Sequence[Any]) -> Awaitable[Any]: ...

    def execute_many(self, commands: Sequence[Sequence[Any]]) -> Awaitable[list[Any]]: ...

    @property
    def closed(self) -> bool: ...

    async def close(self) -> None: ...


class ConnectionSession:
    """A ``Session`` on a connection taken from the pool, given back by ``close``."""

    def __init__(self, connection: Connection, release: Any) -> None:
        self.connection = connection
        self._release = release

    def execute(self, args: Sequence[Any]) -> Awaitable[Any]:
        return self.connection.execute(args)

    def execute_many(self, commands: Sequence[Sequence[Any]]) -> Awaitable[list[Any]]:
        return self.connection.execute_many(commands)

    @property
    def closed(self) -> bool:
        return self.connection.closed

    async def close(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            await release.__aexit__(None, None, None)


def _spec_of(args: Sequence[Any]) -> CommandSpec | None:
    head = args[0]
    try:
        spec = _spec_cache[head]
    except (KeyError, TypeError):
        spec = lookup(args)
        if spec is not None and "|" in spec.name:
            return spec  # depends on the subcommand: not cacheable by head
        if isinstance(head, str | bytes) and len(_spec_cache) < 4096:
            _spec_cache[head] = spec
    return spec


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidURL(f"parameter {name}={value!r} is not a boolean (use true or false)")


class RedisStore(RemoteStore):
    """A Redis client store: a bounded, auto-pipelining connection pool.

    URL parameters: ``namespace`` (prefix of every key and channel),
    ``pool_size`` (10), ``timeout`` (per command, seconds, none by default),
    ``connect_timeout`` (5), ``wait_timeout`` (pool wait, 5), ``client_name``,
    ``protocol`` (2 or 3), ``decode_responses`` (false), and for ``rediss``
    ``ssl_ca_certs``, ``ssl_certfile``, ``ssl_keyfile``, ``ssl_cert_reqs``
    (``required``/``optional``/``none``) and ``ssl_check_hostname``.
    """

    default_port: ClassVar[int | None] = 6379
    default_database: ClassVar[str | None] = "0"
    numeric_params: ClassVar[frozenset[str]] = frozenset(
        {"pool_size", "timeout", "connect_timeout", "wait_timeout", "protocol"})
    known_params: ClassVar[frozenset[str] | None] = frozenset({
        "namespace", "pool_size", "timeout", "connect_timeout", "wait_timeout",
        "client_name", "protocol", "decode_responses", "ssl_ca_certs", "ssl_certfile",
        "ssl_keyfile", "ssl_cert_reqs", "ssl_check_hostname",
    })

    def _init(self, **kw: Any) -> None:
        self._urlparams.update(kw)
        database = self._database or "0"
        if not database.isdigit():
            raise InvalidURL(f"redis database must be a number, not {database!r}")
        if self._user is not None and self._password is None:
            raise InvalidURL("a redis user needs a password (user:password@host)")
        protocol = kw.get("protocol", 2)
        if protocol not in (2, 3):
            raise InvalidURL(f"protocol must be 2 or 3, not {protocol!r}")
        self._decode = _flag("decode_responses", kw.get("decode_responses", False))
        namespace = kw.get("namespace")
        self._namespace = Namespace(str(namespace)) if namespace else None
        self._timeout: float | None = kw.get("timeout")
        pool_size = kw.get("pool_size", 10)
        if not isinstance(pool_size, int) or pool_size < 1:
            raise InvalidURL(f"pool_size must be a positive integer, not {pool_size!r}")
        self._settings = ConnectionSettings(
            self._address(self._host),
            database=int(database),
            user=self._user,
            password=self._password,
            client_name=kw.get("client_name"),
            protocol=protocol,
            connect_timeout=kw.get("connect_timeout", 5.0),
            ssl=self._ssl_context(kw),
            encoding=self._encoding if self._decode else None,
        )
        self._pool = Pool(self._settings, pool_size, kw.get("wait_timeout", 5.0))

    @staticmethod
    def _address(host: Host) -> tuple[str, int] | str:
        if isinstance(host, str):
            return host
        name, port = host
        return name, port or 6379

    def _ssl_context(self, kw: dict[str, Any]) -> ssl.SSLContext | None:
        ssl_keys = [k for k in kw if k.startswith("ssl_")]
        if self._name != "rediss":
            if ssl_keys:
                raise InvalidURL(f"{ssl_keys[0]} needs a rediss:// URL")
            return None
        context = ssl.create_default_context(cafile=kw.get("ssl_ca_certs"))
        reqs = str(kw.get("ssl_cert_reqs", "required")).lower()
        modes = {"required": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL,
                 "none": ssl.CERT_NONE}
        if reqs not in modes:
            raise InvalidURL(f"ssl_cert_reqs must be one of {', '.join(modes)}, not {reqs!r}")
        context.check_hostname = _flag("ssl_check_hostname",
                                       kw.get("ssl_check_hostname", reqs != "none"))
        context.verify_mode = modes[reqs]
        if kw.get("ssl_certfile"):
            context.load_cert_chain(kw["ssl_certfile"], kw.get("ssl_keyfile"))
        return context

    @classmethod
    def proxy_class(cls) -> type[RedisStore]:
        """``Proxy<Class>``: the same store, its commands run by a store actor."""
        from ..proxy.store import proxy_class

        return proxy_class(cls)

    # ------------------------------------------------------------- properties
    @property
    def namespace(self) -> str | None:
        """The prefix of every key and channel, or ``None``."""
        return self._namespace.prefix if self._namespace else None

    @property
    def pool(self) -> Pool:
        """The connection pool (``pool.size``, ``pool.in_use``)."""
        return self._pool

    @property
    def protocol(self) -> int:
        """RESP version spoken: 2 or 3."""
        return self._settings.protocol

    # -------------------------------------------------------------------- I/O
    async def connect(self) -> Any:
        """Open (or reuse) the shared connection."""
        return await self._pool.shared()

    def execute(self, *args: Any, **options: Any) -> Any:
        """Execute a command and return the server's reply.

        Replies are not converted (``client()`` methods convert); error
        replies raise ``ResponseError`` subclasses.  ``timeout=`` overrides the
        store's command timeout for this call.
        """
        if not args:
            raise TypeError("execute() needs a command")
        spec = _spec_of(args)
        timeout = options.pop("timeout", self._timeout) if options else self._timeout
        if options:
            raise TypeError(f"unknown execute() options: {', '.join(options)}")
        return self.send(spec, args, timeout)

    def send(self, spec: CommandSpec | None, args: Sequence[Any],
             timeout: float | None = None) -> Any:
        """Send ``args``; return an awaitable of the raw reply (a future when possible).

        Keys are namespaced here; ``_transmit`` moves the bytes.
        """
        if spec is not None and spec.exclusive:
            instead = _ELSEWHERE.get(spec.words[0])
            if instead is not None:
                raise StoreError(f"{spec.words[0]} cannot run through execute(): use {instead}")
        namespace = self._namespace
        if namespace is None:
            return self._transmit(spec, args, timeout)
        return self._namespaced(spec, namespace.apply(spec, args), timeout)

    async def _namespaced(self, spec: CommandSpec | None, args: Sequence[Any],
                          timeout: float | None) -> Any:
        reply = await self._transmit(spec, args, timeout)
        if spec is None or self._namespace is None:
            return reply
        return self._namespace.strip_reply(spec, reply)

    # The three ways bytes reach the server; a proxy store overrides them.
    def _transmit(self, spec: CommandSpec | None, args: Sequence[Any],
                  timeout: float | None) -> Any:
        """Send namespaced ``args``; an awaitable of the raw reply."""
        if spec is not None and spec.exclusive and spec.holds(args):
            return self._exclusive(args)
        conn = self._pool._shared
        if conn is not None and timeout is None:
            protocol = conn.protocol
            if protocol._closed_exc is None:  # open: the fast path, a bare future
                return protocol.request(encode_command(args))
        return self._shared_call(args, timeout)

    async def send_many(self, commands: Sequence[Sequence[Any]],
                        exclusive: bool = False) -> list[Any]:
        """Send namespaced ``commands`` in one write; raw replies, errors included.

        ``exclusive`` runs them on a connection of their own (a blocking
        command must not stall the shared connection).
        """
        if exclusive:
            async with self._pool.acquire() as conn:
                return await conn.execute_many(commands)
        conn = self._pool.shared_now() or await self._pool.shared()
        return await conn.execute_many(commands)

    async def session(self) -> Session:
        """A connection for the caller alone (WATCH ... EXEC), until ``close()``."""
        release = self._pool.acquire()
        conn = await release.__aenter__()
        return ConnectionSession(conn, release)

    async def _shared_call(self, args: Sequence[Any], timeout: float | None) -> Any:
        conn = self._pool.shared_now() or await self._pool.shared()
        return await self._wait(conn.execute(args), timeout, args)

    async def _exclusive(self, args: Sequence[Any]) -> Any:
        async with self._pool.acquire() as conn:
            # Blocking commands wait as long as their own timeout says.
            return await conn.execute(args)

    @staticmethod
    async def _wait(future: Any, timeout: float | None, args: Sequence[Any]) -> Any:
        if timeout is None:
            return await future
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise
        except builtins.TimeoutError:
            name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
            raise TimeoutError(f"{name.upper()} got no reply within {timeout}s") from None

    async def ping(self) -> bool:
        """``True`` when the server answers PING."""
        reply = await self.execute("PING")
        return reply in (b"PONG", "PONG")

    def client(self) -> RedisClient:
        """A client with a method for every Redis command (``client.set(...)``)."""
        from .client import RedisClient

        return RedisClient(self)

    def pubsub(self, protocol: Any = None, **kw: Any) -> RedisPubSub:
        """A ``PubSub`` handler with its own connection (opened on first subscribe)."""
        from .pubsub import RedisPubSub

        return RedisPubSub(self, protocol=protocol, **kw)

    async def flush(self) -> Any:
        """Delete every key of the database (of the namespace, with one)."""
        if self._namespace is None:
            return await self.execute("FLUSHDB")
        removed = 0
        cursor = 0
        while True:
            cursor, keys = await self.client().scan(cursor, count=1000)
            if keys:
                removed += await self.execute("UNLINK", *keys)
            if cursor == 0:
                return removed

    async def execute_transaction(self, commands: Sequence[Command]) -> list[Any]:
        """Run ``commands`` in MULTI/EXEC; return their replies (errors raise)."""
        pipe = self.client().pipeline(transaction=True)
        for command in commands:
            pipe.execute_command(*command.args)
        return await pipe.commit()

    async def close(self) -> None:
        """Close every connection of the pool."""
        await self._pool.close()
