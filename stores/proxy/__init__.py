"""Stores inside the actor tree: ``StoreActor`` owns a URL's pool, ``ProxyStore`` calls it.

Importing this package registers the ``stores`` exceptions with the mailbox
runtime, so a reply error raised in the store actor arrives in the worker as
the same class (``WrongTypeError``, ``NoScriptError`` ...).
"""

import actors

from .. import errors
from .actor import StoreActor
from .store import ProxyPubSub, ProxyStore, actor_name, actor_url, proxy_class, store_child

for _cls in (
    errors.StoreError, errors.InvalidURL, errors.ConnectionError, errors.ProtocolError,
    errors.TimeoutError, errors.PoolTimeout, errors.NamespaceError, errors.WatchError,
    errors.LockError, errors.ResponseError, errors.WrongTypeError, errors.NoScriptError,
    errors.ExecAbortError, errors.AuthenticationError, errors.NoPermissionError,
):
    actors.register_error(_cls)

__all__ = ["ProxyPubSub", "ProxyStore", "StoreActor", "actor_name", "actor_url", "proxy_class",
           "store_child"]
