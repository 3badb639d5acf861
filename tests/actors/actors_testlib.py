"""Actors used by the runtime tests (imported by the actor processes too)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import actors
from actors import Actor, current_connection, expose, register_error


@register_error
class RegisteredError(Exception):
    """A project exception both sides registered."""


class UnregisteredError(Exception):
    """Known only to the actor process."""


ERRORS: dict[str, type[BaseException]] = {
    "KeyError": KeyError,
    "ValueError": ValueError,
    "TimeoutError": TimeoutError,
    "RegisteredError": RegisteredError,
    "UnregisteredError": UnregisteredError,
}


class Echo(Actor):
    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.seen: list[int] = []
        self.running = 0
        self.max_running = 0
        self.ticks: list[asyncio.Task[None]] = []

    @expose
    def echo(self, value: Any) -> Any:
        return value

    @expose
    async def slow(self, delay: float, value: Any = None) -> Any:
        await asyncio.sleep(delay)
        return value

    @expose
    def record(self, i: int) -> None:
        self.seen.append(i)

    @expose
    def get_seen(self) -> list[int]:
        return self.seen

    @expose
    async def tracked(self, delay: float) -> int:
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            await asyncio.sleep(delay)
        finally:
            self.running -= 1
        return self.max_running

    @expose
    def max_concurrency(self) -> int:
        return self.max_running

    @expose
    def fail(self, kind: str, message: str) -> None:
        raise ERRORS[kind](message)

    @expose
    def block(self, seconds: float) -> None:
        time.sleep(seconds)  # a stuck actor: no heartbeat meanwhile

    @expose
    def pid(self) -> int:
        return os.getpid()

    @expose
    async def spawn_child(self, name: str) -> dict[str, Any]:
        proxy = await actors.spawn(Echo, name=name)
        info: dict[str, Any] = await proxy.call("info")
        return info

    @expose
    async def call_peer(self, name: str, method: str, *args: Any) -> Any:
        proxy = await actors.lookup(name, wait=5.0)
        return await proxy.call(method, *args)

    @expose
    def subscribe(self, count: int) -> str:
        conn = current_connection()
        assert conn is not None

        async def push() -> None:
            for i in range(count):
                conn.notify("tick", i, b"\xff")
                await asyncio.sleep(0.01)

        self.create_task(push())
        return "subscribed"


async def main_function(value: int) -> None:
    """A function target: runs and returns (the actor then stops)."""
    await asyncio.sleep(value)
