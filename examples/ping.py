"""Two workers ping each other through a named actor.

Run it::

    python -m arbiter examples.ping -w 2

The ``relay`` actor (a named singleton) knows the workers that joined it.
Every ``interval`` seconds each worker asks the relay to ping another worker
for it (worker -> relay -> peer -> relay -> worker) and logs the round trip,
then pings the same peer directly, actor to actor, without the relay.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

import actors
from actors import Actor, expose
from arbiter import ChildSpec

logger = logging.getLogger("examples.ping")


class Relay(Actor):
    """Named actor: remembers workers and forwards pings between them."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.members: list[str] = []

    @expose
    def join(self, name: str) -> list[str]:
        if name not in self.members:
            self.members.append(name)
        return list(self.members)

    @expose
    async def ping_peer(self, sender: str) -> str | None:
        """Ping a worker other than ``sender``; return its name (None if alone)."""
        peers = [m for m in self.members if m != sender]
        if not peers:
            return None
        peer = random.choice(peers)
        try:
            proxy = await actors.lookup(peer, wait=1.0)
            await proxy.call("ping", timeout=2.0)
        except (KeyError, ConnectionError, TimeoutError):
            self.members.remove(peer)  # gone: it will join again when replaced
            return None
        return peer


class Pinger(Actor):
    """Worker: pings a peer through the relay, then directly, and logs both times."""

    async def on_start(self) -> None:
        self.relay = await actors.lookup("relay", wait=5.0)
        await self.relay.call("join", self.name)
        self.create_task(self.loop(float(self.params.get("interval", 1.0))))

    async def loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.relay.call("join", self.name)
            start = time.perf_counter()
            peer = await self.relay.call("ping_peer", self.name)
            via_relay = (time.perf_counter() - start) * 1e3
            if peer is None:
                logger.info("%s: no peer yet", self.name)
                continue
            proxy = await actors.lookup(peer, wait=1.0)
            start = time.perf_counter()
            await proxy.call("ping")
            direct = (time.perf_counter() - start) * 1e3
            logger.info("%s -> %s: rtt %.2f ms via relay, %.2f ms direct",
                        self.name, peer, via_relay, direct)


children = [
    ChildSpec("relay", Relay),
    ChildSpec("worker", Pinger, pool=True, count=2, params={"interval": 1.0}),
]
