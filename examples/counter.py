"""N workers hammer shared counters through one store actor.

Run it::

    python -m arbiter examples.counter -w 4
    REDIS_URL=redis://127.0.0.1:6379/11 COUNTER_SECONDS=0 python -m arbiter examples.counter

Every ``worker.N`` (a pool: ``-w`` sets how many) runs ``COUNTER_TASKS``
coroutines that ``INCR`` one of ``COUNTER_KEYS`` shared counters in a loop,
through the proxy store that ``create_store`` returns inside an actor: the
commands of all workers travel over their mailboxes to the one store actor of
the URL, which pipelines them on its shared Redis connection.  Each worker
logs its throughput every ``COUNTER_INTERVAL`` seconds and reports it to the
``stats`` actor, which logs the aggregate and how many Redis connections the
store actor holds (``CLIENT LIST`` filtered by the URL's ``client_name``).

After ``COUNTER_SECONDS`` (default 5) the workers stop and ``stats`` logs a
summary line checking that the counters add up to the INCRs counted.  With
``COUNTER_SECONDS=0`` they never stop: a long-running demo until Ctrl-C.

Environment: ``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``; the
example adds ``namespace=counter:`` and ``client_name=arbiter-counter`` unless
the URL sets them), ``COUNTER_SECONDS``, ``COUNTER_INTERVAL`` (1),
``COUNTER_TASKS`` (50 per worker), ``COUNTER_KEYS`` (8).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from typing import Any

import actors
import stores
from actors import Actor, expose
from arbiter import ChildSpec
from stores.proxy import store_child

from .support import DEFAULT_URL, redis_store, store_url

logger = logging.getLogger("examples.counter")

def counter_keys(count: int) -> list[str]:
    return [f"hits:{i}" for i in range(count)]


async def store_connections(store: Any) -> int:
    """Connections open on the server under the store's ``client_name``."""
    name = store.urlparams.get("client_name")
    clients = await store.client().client_list()
    return sum(1 for c in clients if c.get("name") == name)


class Stats(Actor):
    """Named singleton: collects the workers' reports, logs aggregate figures."""

    def __init__(self, url: str, workers: int, keys: int, interval: float,
                 **params: Any) -> None:
        super().__init__(url=url, workers=workers, keys=keys, interval=interval, **params)
        self.workers = workers
        self.keys = counter_keys(keys)
        self.interval = interval
        self.reports: dict[str, dict[str, Any]] = {}
        self.summarised = False

    async def on_start(self) -> None:
        self.store = redis_store(self.params["url"])
        await self.store.client().delete(*self.keys)
        self.create_task(self.loop(), name="stats")

    @expose
    def report(self, name: str, rate: float, total: int, elapsed: float, done: bool) -> None:
        self.reports[name] = {"rate": rate, "total": total, "elapsed": elapsed, "done": done}

    async def loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
            except (stores.StoreError, OSError) as exc:
                logger.warning("stats: store unavailable: %s", exc)

    async def tick(self) -> None:
        running = [r for r in self.reports.values() if not r["done"]]
        if running:
            rate = sum(r["rate"] for r in running)
            logger.info("total: %.0f ops/s from %d worker(s); store connections: %d",
                        rate, len(running), await store_connections(self.store))
        finished = [r for r in self.reports.values() if r["done"]]
        if not self.summarised and len(finished) >= self.workers:
            self.summarised = True
            await self.summary(finished)

    async def summary(self, finished: list[dict[str, Any]]) -> None:
        ops = sum(r["total"] for r in finished)
        elapsed = max(r["elapsed"] for r in finished)
        values = await self.store.client().mget(*self.keys)
        counted = sum(int(v or 0) for v in values)
        logger.info("summary: %d INCRs in %.1f s by %d workers = %.0f ops/s aggregate; "
                    "counters sum %d (%s); store connections: %d",
                    ops, elapsed, len(finished), ops / elapsed if elapsed else 0.0, counted,
                    "ok" if counted == ops else "MISMATCH",
                    await store_connections(self.store))


class Hammer(Actor):
    """Pool worker: ``tasks`` coroutines INCR random shared counters."""

    outage = False  # set while the store is unreachable

    async def on_start(self) -> None:
        self.store = redis_store(self.params["url"])
        self.stats = await actors.lookup("stats", wait=5.0)
        self.total = 0
        self.create_task(self.run(), name="hammer")

    async def run(self) -> None:
        seconds = float(self.params["seconds"])
        deadline = time.monotonic() + seconds if seconds > 0 else None
        keys = counter_keys(int(self.params["keys"]))
        started = time.monotonic()
        workers = [asyncio.create_task(self.hammer(keys, deadline))
                   for _ in range(int(self.params["tasks"]))]
        reporter = asyncio.create_task(self.report_loop(started))
        try:
            await asyncio.gather(*workers)
        finally:
            reporter.cancel()
            for task in workers:
                task.cancel()
        elapsed = time.monotonic() - started
        logger.info("%s done: %d ops in %.1f s = %.0f ops/s",
                    self.name, self.total, elapsed, self.total / elapsed)
        await self.stats.call("report", self.name, 0.0, self.total, elapsed, True)

    async def hammer(self, keys: list[str], deadline: float | None) -> None:
        client = self.store.client()
        while deadline is None or time.monotonic() < deadline:
            try:
                await client.incr(random.choice(keys))
            except (stores.ConnectionError, stores.TimeoutError) as exc:
                # The store actor went away: the proxy finds the restarted one.
                # One line per outage, not one per coroutine.
                if not self.outage:
                    self.outage = True
                    logger.warning("%s: %s; retrying", self.name, exc)
                await asyncio.sleep(0.2)
                continue
            self.outage = False
            self.total += 1

    async def report_loop(self, started: float) -> None:
        interval = float(self.params["interval"])
        last, last_at = 0, started
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            rate = (self.total - last) / (now - last_at)
            last, last_at = self.total, now
            logger.info("%s: %.0f ops/s (%d total)", self.name, rate, self.total)
            try:
                await self.stats.call("report", self.name, rate, self.total, now - started,
                                      False, timeout=interval)
            except (OSError, TimeoutError) as exc:
                logger.warning("%s: stats unavailable: %s", self.name, exc)


def app(url: str, workers: int, seconds: float = 5.0, interval: float = 1.0,
        tasks: int = 50, keys: int = 8) -> list[ChildSpec | dict[str, Any]]:
    """The children: the store actor of ``url``, ``stats``, then ``workers`` hammers."""
    hammer = {"url": url, "seconds": seconds, "interval": interval, "tasks": tasks,
              "keys": keys}
    logger.info("counter: %d worker(s) on %s", workers, url)
    return [
        store_child(url),
        ChildSpec("stats", Stats, params={"url": url, "workers": workers, "keys": keys,
                                          "interval": interval}),
        ChildSpec("worker", Hammer, pool=True, count=workers, params=hammer),
    ]


def setup(arbiter: Any) -> list[ChildSpec | dict[str, Any]]:
    """The app from the environment; ``-w`` workers (default 2)."""
    env = os.environ
    url = store_url(env.get("REDIS_URL", DEFAULT_URL),
                    namespace="counter:", client_name="arbiter-counter")
    return app(url, arbiter.config.workers or 2,
               seconds=float(env.get("COUNTER_SECONDS", "5")),
               interval=float(env.get("COUNTER_INTERVAL", "1")),
               tasks=int(env.get("COUNTER_TASKS", "50")),
               keys=int(env.get("COUNTER_KEYS", "8")))


children = setup
