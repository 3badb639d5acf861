"""Apps for the arbiter tests (``python -m arbiter arbiter_testapps:NAME``)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from actors import Actor, expose
from arbiter import Arbiter, ChildSpec


class Worker(Actor):
    @expose
    def pid(self) -> int:
        return os.getpid()

    @expose
    def block(self, seconds: float) -> None:
        time.sleep(seconds)  # a wedged loop: no heartbeats meanwhile


class Crasher(Actor):
    """Becomes ready, then crashes shortly after: a crash loop."""

    async def on_start(self) -> None:
        async def crash() -> None:
            await asyncio.sleep(0.2)
            raise RuntimeError("deliberate crash")

        self.create_task(crash())


class SlowStopper(Worker):
    """Ignores the polite stop for longer than its shutdown time."""

    async def on_stop(self) -> None:
        await asyncio.sleep(60)


workers = [ChildSpec("worker", Worker, pool=True, count=2)]

trio = [ChildSpec("a", Worker), ChildSpec("b", Worker), ChildSpec("c", Worker)]

crashloop = [ChildSpec("steady", Worker), ChildSpec("crasher", Crasher)]

bootfail = [ChildSpec("fine", Worker), ChildSpec("broken", "arbiter_testapps:Missing")]

slowstop = [ChildSpec("slow", SlowStopper, shutdown=0.5), ChildSpec("brutal", SlowStopper,
                                                                   shutdown="brutal_kill")]


def setup(arbiter: Arbiter) -> list[dict[str, Any]]:
    """The hook form of the contract: specs built from the arbiter's config."""
    return [{"name": "hooked", "target": Worker, "pool": True,
             "count": 1 if arbiter.config.workers is None else arbiter.config.workers}]
