"""pulsards' command handlers, one module per family.

Importing this package registers every handler in ``table.HANDLERS``.
"""

from . import (
    bitmaps,
    connection,
    hashes,
    hyperloglog,
    keys,
    lists,
    pubsub,
    scripting,
    server,
    sets,
    sort,
    sortedsets,
    strings,
    transactions,
    zsetops,
    zsetpops,
)

__all__ = ["bitmaps", "connection", "hashes", "hyperloglog", "keys", "lists", "pubsub",
           "scripting", "server", "sets", "sort", "sortedsets", "strings", "transactions",
           "zsetops", "zsetpops"]
