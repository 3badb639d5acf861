"""pulsards' command handlers, one module per family.

Importing this package registers every handler in ``table.HANDLERS``.
"""

from . import connection, hashes, keys, lists, server, sets, strings, transactions

__all__ = ["connection", "hashes", "keys", "lists", "server", "sets", "strings",
           "transactions"]
