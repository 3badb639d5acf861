"""The data-store API of pulsar's ``pulsar.apps.data``: stores and their registry.

``create_store(url, **kw)`` parses a connection string, looks its scheme up in
``data_stores`` (importing the class lazily) and builds the store; no I/O
happens until a coroutine method is awaited.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import quote

from .errors import InvalidURL, NoSuchStore
from .url import Host, build_url, parse_url

if TYPE_CHECKING:
    from .pubsub import Channels, PubSub

__all__ = ["Command", "RemoteStore", "Store", "create_store", "data_stores", "register_store"]

#: Registered stores: scheme -> dotted path of the ``Store`` class.
data_stores: dict[str, str] = {}


def register_store(name: str, dotted_path: str) -> None:
    """Register a new ``Store`` for scheme ``name``, found at ``dotted_path``.

    ``dotted_path`` is ``"package.module:Class"`` or ``"package.module.Class"``;
    the module is imported only when a store of that scheme is created.
    """
    if not name or "://" in name:
        raise ValueError(f"invalid store name {name!r}")
    if ":" not in dotted_path and "." not in dotted_path:
        raise ValueError(f"{dotted_path!r} is not a dotted path (module:Class or module.Class)")
    data_stores[name.lower()] = dotted_path


def store_class(name: str) -> type[Store]:
    """The ``Store`` class registered for scheme ``name`` (imported on first use)."""
    dotted_path = data_stores.get(name)
    if dotted_path is None:
        known = ", ".join(sorted(data_stores))
        raise NoSuchStore(f"no store registered for scheme {name!r} (registered: {known})")
    if ":" in dotted_path:
        module_name, attr = dotted_path.split(":", 1)
    else:
        module_name, _, attr = dotted_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise NoSuchStore(f"store {name!r} at {dotted_path!r} cannot be imported: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Store)):
        raise NoSuchStore(f"{dotted_path!r} is not a Store subclass")
    return cls


def create_store(url: str | Store, **kw: Any) -> Store:
    """Create a new ``Store`` for a valid ``url``; no connection is made.

    :param url: a connection string, e.g. ``pulsar://user:password@127.0.0.1:6410``
        or ``redis://user:password@127.0.0.1:6500/11?namespace=testdb``.  A
        ``Store`` instance is returned as it is.
    :param kw: additional parameters.  ``database``, ``user`` and ``password``
        override the URL's values; the others are added to the URL's query
        (replacing a parameter of the same name) and go to ``Store._init``.
        ``proxy`` is not a URL parameter: inside an actor process (and unless
        ``proxy=False``) stores that support it are proxies whose commands run
        in the store actor of their URL; ``proxy=True`` asks for one anywhere.
    :return: a ``Store``.
    """
    if isinstance(url, Store):
        return url
    explicit = kw.pop("proxy", None)
    parsed = parse_url(url)
    cls = store_class(parsed.scheme)
    if _inside_actor() if explicit is None else explicit:
        proxied = cls.proxy_class()
        if proxied is not None:
            cls = proxied
        elif explicit:
            raise ValueError(f"{parsed.scheme} stores cannot be proxied")
    params: dict[str, Any] = dict(parsed.params)
    database = kw.pop("database", None)
    if database is None:
        database = params.pop("database", None) if parsed.is_unix else parsed.database
    else:
        params.pop("database", None)
    user = kw.pop("user", parsed.user)
    password = kw.pop("password", parsed.password)
    params.update(kw)
    return cls(
        parsed.scheme, parsed.host,
        database=None if database is None else str(database),
        user=user, password=password, **params,
    )


def _inside_actor() -> bool:
    # Only an actor process has imported the runtime *and* runs an actor.
    runtime = sys.modules.get("actors")
    return runtime is not None and runtime.get_actor() is not None


class Command:
    """A command for ``execute_transaction``: its arguments and what it does.

    ``action`` tells an object mapper what the command does to a model
    (``INSERT``, ``UPDATE``, ``DELETE``, or 0 for anything else).
    """

    INSERT: ClassVar[int] = 1
    UPDATE: ClassVar[int] = 2
    DELETE: ClassVar[int] = 3

    __slots__ = ("action", "args")

    def __init__(self, args: Sequence[Any], action: int = 0) -> None:
        self.args = tuple(args)
        self.action = action

    @classmethod
    def insert(cls, args: Sequence[Any]) -> Command:
        return cls(args, cls.INSERT)

    @classmethod
    def update(cls, args: Sequence[Any]) -> Command:
        return cls(args, cls.UPDATE)

    @classmethod
    def delete(cls, args: Sequence[Any]) -> Command:
        return cls(args, cls.DELETE)

    def __repr__(self) -> str:
        return f"Command({list(self.args)!r}, action={self.action})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Command) and (self.args, self.action) == (
            other.args, other.action)

    def __hash__(self) -> int:
        return hash((self.args, self.action))


def _number(value: Any) -> int | float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    text = str(value)
    try:
        return int(text)
    except ValueError:
        return float(text)


class Store:
    """Base class for an asynchronous data stores.

    A ``Store`` should not be created directly, the high level
    ``create_store`` function should be used instead.
    """

    #: Port used when the URL gives none.
    default_port: ClassVar[int | None] = None
    #: Host used when the URL gives none.
    default_host: ClassVar[str] = "127.0.0.1"
    #: Database used when the URL gives none.
    default_database: ClassVar[str | None] = None
    #: URL parameters converted to numbers (``?pool_size=4`` works).
    numeric_params: ClassVar[frozenset[str]] = frozenset()
    #: URL parameters this store understands; ``None`` accepts any.
    known_params: ClassVar[frozenset[str] | None] = None

    def __init__(
        self,
        name: str,
        host: Host,
        database: str | None = None,
        user: str | None = None,
        password: str | None = None,
        encoding: str | None = None,
        **kw: Any,
    ) -> None:
        if not isinstance(host, str):
            hostname, port = host
            host = (hostname or self.default_host, self.default_port if port is None else port)
        #: The remote host, tuple or string
        self._host: Host = host
        #: The user name
        self._user = user
        #: The user password
        self._password = password
        self._name = name
        self._database = self.default_database if database is None else str(database)
        self._encoding = encoding or "utf-8"
        self._urlparams: dict[str, Any] = {}
        if encoding is not None:
            kw["encoding"] = encoding
        self._init(**self._convert(kw))

    def _convert(self, params: dict[str, Any]) -> dict[str, Any]:
        known = self.known_params
        for key, value in params.items():
            if known is not None and key not in known and key != "encoding":
                raise InvalidURL(
                    f"unknown parameter {key!r} for {self._name} stores "
                    f"(known: {', '.join(sorted(known))})"
                )
            if key in self.numeric_params and value is not None:
                try:
                    params[key] = _number(value)
                except ValueError:
                    raise InvalidURL(f"parameter {key}={value!r} is not a number") from None
        return params

    def _init(self, **kw: Any) -> None:
        """Process the extra parameters of the URL and of ``create_store``.

        The default keeps them all in ``urlparams``; subclasses validate and
        consume the ones they understand.
        """
        self._urlparams.update(kw)

    # ------------------------------------------------------------ attributes
    @property
    def name(self) -> str:
        """Store name"""
        return self._name

    @property
    def database(self) -> str | None:
        """Database name/number associated with this store."""
        return self._database

    @property
    def encoding(self) -> str:
        """Store encoding (usually utf-8)"""
        return self._encoding

    @property
    def dns(self) -> str:
        """Domain name server"""
        return build_url(self._name, self._host, self._user, self._password,
                         self._database, self._urlparams)

    @property
    def urlparams(self) -> dict[str, Any]:
        """url parameters in dns query"""
        return self._urlparams

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._redacted_dns()!r})"

    __str__ = __repr__

    def _redacted_dns(self) -> str:
        """``dns`` with the password masked, for logs and ``repr``."""
        if self._password is None:
            return self.dns
        return self.dns.replace(f":{quote(self._password, safe='')}@", ":*****@", 1)

    # ------------------------------------------------------------------ hooks
    @classmethod
    def proxy_class(cls) -> type[Store] | None:
        """The class of this store's proxies inside an actor tree (``None``: none)."""
        return None

    async def database_create(self, dbname: str | None = None, **kw: Any) -> Any:
        """Create a new database in this store.

        By default it does nothing, stores must implement this method only if
        they support database creation.

        :param dbname: optional database name. If not supplied a database with
            ``database`` is created.
        """
        return None

    async def table_all(self, **kw: Any) -> Any:
        """Information about the table/collection mapping model (none by default)."""
        return None


class RemoteStore(Store):
    """Base class for remote data stores.

    It is a producer for accessing and retrieving data from remote data
    servers such as redis.  ``async with create_store(url) as store:`` closes
    the store at the end of the block.
    """

    def __init__(
        self,
        name: str,
        host: Host,
        loop: Any = None,
        protocol_factory: Callable[..., Any] | None = None,
        **kw: Any,
    ) -> None:
        self._protocol_factory = protocol_factory
        super().__init__(name, host, **kw)

    async def connect(self) -> Any:
        """Connect with store server"""
        raise NotImplementedError

    async def execute(self, *args: Any, **options: Any) -> Any:
        """Execute a command"""
        raise NotImplementedError

    async def ping(self) -> bool:
        """Used to check if the data server is available"""
        raise NotImplementedError

    def client(self) -> Any:
        """Get a client for this store if implemented"""
        raise NotImplementedError(f"{self._name} stores have no client")

    def pubsub(self, **kw: Any) -> PubSub:
        """Obtain a ``PubSub`` handler for this store if implemented"""
        raise NotImplementedError(f"{self._name} stores have no publish/subscribe")

    def channels(self, **kw: Any) -> Channels:
        """Obtain a ``Channels`` handler for this store if implemented.

        The default builds ``Channels`` over ``self.pubsub()``; keyword
        arguments (``namespace``, ``status_channel``) go to ``Channels``.
        """
        from .pubsub import Channels

        protocol = kw.pop("protocol", None)
        return Channels(self.pubsub(protocol=protocol), **kw)

    async def close(self) -> None:
        """Close all open connections"""

    async def flush(self) -> Any:
        """Flush the store."""
        raise NotImplementedError

    async def execute_transaction(self, commands: Sequence[Command]) -> list[Any]:
        """Execute ``commands`` (a sequence of ``Command``) as one transaction."""
        raise NotImplementedError

    def encode_bytes(self, data: bytes) -> bytes | str:
        """Encode bytes data

        :param data: a bytes string
        :return: bytes or string (binary-safe stores keep bytes)
        """
        return data

    def decode_bytes(self, data: bytes | str) -> bytes:
        """Decode bytes data

        :param data: bytes or string
        :return: bytes
        """
        if isinstance(data, str):
            return data.encode(self._encoding)
        return data

    #: The seed's spelling of ``decode_bytes``, kept for compatibility.
    dencode_bytes = decode_bytes

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


register_store("redis", "stores.redis:RedisStore")
register_store("rediss", "stores.redis:RedisStore")
register_store("redis+unix", "stores.redis:RedisStore")
register_store("pulsar", "stores.pulsards:PulsarStore")
