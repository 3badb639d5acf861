"""Actor runtime: processes that talk through msgpack mailboxes.

Public API::

    Actor, expose                 define an actor and what it exposes
    spawn, lookup, stop, get_actor  start / find / stop actors, the current one
    ActorProxy, ActorInfo         handles on actors (call, notify)
    Connection, current_connection, defaults
    register_error, RemoteError, ConnectionLost, UnknownMethodError, ProtocolError
    Codec, encode                 the sans-I/O wire codec

``actors`` imports neither ``arbiter`` nor ``stores``.
"""

from .actor import Actor, FunctionActor, expose
from .codec import Codec, ProtocolError, encode
from .connection import Connection, current_connection, defaults
from .errors import (
    ActorError,
    ConnectionLost,
    RemoteError,
    UnknownMethodError,
    register_error,
)
from .runtime import (
    ActorInfo,
    ActorProxy,
    Hub,
    get_actor,
    get_hub,
    lookup,
    set_hub,
    set_hub_factory,
    spawn,
    stop,
    target_path,
)

__all__ = [
    "Actor",
    "ActorError",
    "ActorInfo",
    "ActorProxy",
    "Codec",
    "Connection",
    "ConnectionLost",
    "FunctionActor",
    "Hub",
    "ProtocolError",
    "RemoteError",
    "UnknownMethodError",
    "current_connection",
    "defaults",
    "encode",
    "expose",
    "get_actor",
    "get_hub",
    "lookup",
    "register_error",
    "set_hub",
    "set_hub_factory",
    "spawn",
    "stop",
    "target_path",
]
