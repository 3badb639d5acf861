"""``PulsardsActor``: a pulsards server running as an actor of the tree."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from actors import Actor, expose

from .config import Config
from .server import Server

__all__ = ["PulsardsActor"]


class PulsardsActor(Actor):
    """Serves the Redis protocol on ``bind``:``port`` (``port=0``: a free one).

    Other keyword parameters are server options (``databases``,
    ``maxclients``, ``requirepass`` ...), as ``python -m stores.pulsards``
    takes them.
    """

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        known = {f.name for f in fields(Config)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"pulsards has no option {', '.join(unknown)} "
                             f"(known: {', '.join(sorted(known))})")
        self.server = Server(Config(**params))

    async def on_start(self) -> None:
        await self.server.start()
        self.logger.info("pulsards serving on %s:%d", self.server.config.bind, self.server.port)

    async def on_stop(self) -> None:
        await self.server.stop()

    @expose
    def server_address(self) -> list[Any]:
        """``[host, port]`` the server listens on (the real port when asked for 0)."""
        host = (self.server.config.bind.split() or ["127.0.0.1"])[0]
        return [host, self.server.port]
