"""``start_store`` launching pulsards as an actor of the tree.

Run it::

    python -m arbiter examples.pulsards
    PULSARDS_URL=pulsar://127.0.0.1:6410 python -m arbiter examples.pulsards

The ``launcher`` actor calls ``start_store(None, PULSARDS_URL)`` (default
``pulsar://127.0.0.1:0``: a free port).  Nobody answers there, so the arbiter
spawns a ``pulsards.*`` actor serving the Redis protocol; the launcher writes a
key through the returned store and prints the address to point ``redis-cli``
at.  The tree serves until Ctrl-C (or SIGTERM), which stops both actors.
"""

from __future__ import annotations

import asyncio
import logging
import os

from arbiter import ChildSpec
from stores import RemoteStore, start_store

from .support import host_port

logger = logging.getLogger("examples.pulsards")


async def launch(url: str) -> None:
    """Start (or find) pulsards, say where it is, then keep the tree serving."""
    store = await start_store(None, url)
    assert isinstance(store, RemoteStore)
    host, port = host_port(store)
    await store.execute("SET", "hello", "from examples.pulsards")
    print(f"pulsards is serving on {host}:{port}; connect with: "
          f"redis-cli -h {host} -p {port}   (try: GET hello)", flush=True)
    await store.close()
    await asyncio.Event().wait()


children = [ChildSpec("launcher", launch,
                      params={"url": os.environ.get("PULSARDS_URL", "pulsar://127.0.0.1:0")})]
