"""The ``make run`` demo: pulsards in the tree, and counter workers hammering it.

Run it::

    python -m arbiter examples.demo -w 2

Children, in start order: ``pulsards`` (the Redis-compatible server, on
``PULSARDS_PORT`` or 6410, or a free port when that one is taken), the store
actor of its URL, ``stats`` and the ``worker`` pool of ``examples.counter``
(INCR loops through the proxy store, until Ctrl-C), and ``guide``, which
prints how to look at the data with ``redis-cli``.  Ctrl-C (the arbiter's
fast stop) ends every actor at once; SIGTERM stops them in order: workers
first, pulsards last.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from arbiter import ChildSpec
from stores.pulsards.actor import PulsardsActor

from . import counter
from .support import host_port, redis_store

DEFAULT_PORT = 6410


def pick_port(preferred: int) -> int:
    """``preferred`` when it is free on 127.0.0.1, else any free port."""
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError("no free port")


async def guide(url: str, workers: int) -> None:
    """Wait for the server, then print where everything is."""
    store = redis_store(url, proxy=False)
    while True:
        try:
            await store.ping()
            break
        except OSError:
            await asyncio.sleep(0.1)
    host, port = host_port(store)
    await store.close()
    print(f"""
  pulsards (Redis protocol) on {host}:{port}, {workers} counter worker(s) using it
  through one store actor.  Look at it with:

      redis-cli -p {port} KEYS 'counter:*'
      redis-cli -p {port} MGET counter:hits:0 counter:hits:1
      redis-cli -p {port} CLIENT LIST

  Ctrl-C stops the whole tree.
""", flush=True)
    await asyncio.Event().wait()


def setup(arbiter: Any) -> list[ChildSpec | dict[str, Any]]:
    workers = arbiter.config.workers or 2
    port = pick_port(int(os.environ.get("PULSARDS_PORT", DEFAULT_PORT)))
    url = f"pulsar://127.0.0.1:{port}/0?namespace=counter:&client_name=arbiter-demo"
    return [
        ChildSpec("pulsards", PulsardsActor, params={"port": port}),
        *counter.app(url, workers, seconds=0.0, interval=5.0),
        ChildSpec("guide", guide, params={"url": url, "workers": workers}),
    ]


children = setup
