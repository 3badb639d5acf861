"""pulsards' command handlers, one module per family.

Importing this package registers every handler in ``table.HANDLERS``.
"""

from . import (
    acl,
    bitfield,
    bitmaps,
    connection,
    debug,
    diagnostics,
    dump,
    functions,
    geo,
    hashes,
    help,
    hyperloglog,
    keys,
    lists,
    monitor,
    pubsub,
    scripting,
    server,
    sets,
    sort,
    sortedsets,
    streamgroups,
    streamreads,
    streams,
    strings,
    tracking,
    transactions,
    zsetops,
    zsetpops,
)

__all__ = ["acl", "bitfield", "bitmaps", "connection", "debug", "diagnostics", "dump",
           "functions", "geo", "hashes", "help", "hyperloglog", "keys", "lists", "monitor",
           "pubsub", "scripting", "server", "sets", "sort", "sortedsets", "streamgroups",
           "streamreads", "streams", "strings", "tracking", "transactions", "zsetops",
           "zsetpops"]
