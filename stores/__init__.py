"""arbiter-stores' data-store API (pulsar's ``pulsar.apps.data``).

>>> from stores import create_store
>>> store = create_store('redis://user:password@127.0.0.1:6500/11')
>>> store.name, store.database
('redis', '11')
"""

from .errors import (
    AuthenticationError,
    ConnectionError,
    ExecAbortError,
    InvalidURL,
    LockError,
    NamespaceError,
    NoPermissionError,
    NoScriptError,
    NoSuchStore,
    PoolTimeout,
    ProtocolError,
    ResponseError,
    StoreError,
    TimeoutError,
    WatchError,
    WrongTypeError,
)
from .pubsub import Channels, Message, PubSub, PubSubClient
from .pulsards.startds import start_store
from .store import Command, RemoteStore, Store, create_store, data_stores, register_store

__all__ = [
    "AuthenticationError",
    "Channels",
    "Command",
    "ConnectionError",
    "ExecAbortError",
    "InvalidURL",
    "LockError",
    "Message",
    "NamespaceError",
    "NoPermissionError",
    "NoScriptError",
    "NoSuchStore",
    "PoolTimeout",
    "ProtocolError",
    "PubSub",
    "PubSubClient",
    "RemoteStore",
    "ResponseError",
    "Store",
    "StoreError",
    "TimeoutError",
    "WatchError",
    "WrongTypeError",
    "create_store",
    "data_stores",
    "register_store",
    "start_store",
]
