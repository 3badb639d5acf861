"""A job queue over Redis lists: blocking pops, at-least-once with a processing list.

Run it::

    python -m arbiter examples.queue -w 3
    redis-cli LPUSH queue:jobs my-job-1 my-job-2     # add jobs of your own

Actors (all through the proxy store, i.e. one store actor for the URL):

``producer``
    pushes ``QUEUE_RATE`` jobs a second (``job-N``, ids from ``INCR seq``) on
    the list ``jobs`` with ``LPUSH``; ``QUEUE_JOBS`` > 0 stops it after that
    many.  ``QUEUE_RATE=0`` produces nothing: push jobs yourself.
``worker.N`` (a pool: ``-w``)
    ``QUEUE_CONCURRENCY`` loops each take a job with ``BLMOVE jobs processing
    RIGHT LEFT 1`` (a blocking pop that atomically keeps the job in the list
    ``processing``), record a lease (``HSET leases job time``), work on it for
    ``QUEUE_WORK_MS``, then acknowledge it in one MULTI/EXEC: ``LREM
    processing``, ``HDEL leases``, ``HINCRBY done job 1``, ``INCR acks``.
    Each logs how many jobs it processed.
``reaper``
    every ``QUEUE_INTERVAL`` seconds re-queues (Lua: ``LREM processing`` then
    ``RPUSH jobs``, so it is retried next) every job whose lease is older than
    ``QUEUE_STALE`` seconds, or which has sat in ``processing`` that long with
    no lease (its worker died between the pop and the lease); then logs the
    queue's figures.

A job is lost only if Redis loses it: a worker killed at any point leaves its
jobs in ``processing`` and the reaper hands them out again, so a job may be
processed twice (``done`` counts how often; ``acks - HLEN done`` is the number
of repeats), never zero times.

Environment: ``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``; the example
adds ``namespace=queue:``, ``client_name=arbiter-queue`` and ``pool_size=32``
unless the URL sets them: every waiting ``BLMOVE`` holds a connection of the
store actor), ``QUEUE_RATE`` (20), ``QUEUE_JOBS`` (0: no limit),
``QUEUE_CONCURRENCY`` (2 per worker), ``QUEUE_WORK_MS`` (50), ``QUEUE_STALE``
(5), ``QUEUE_INTERVAL`` (1).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

import stores
from actors import Actor
from arbiter import ChildSpec
from stores.proxy import store_child

from .support import DEFAULT_URL, redis_store, store_url

logger = logging.getLogger("examples.queue")

#: Seconds a BLMOVE waits before the loop looks around again.
BLOCK = 1
#: Errors of a store (actor) that is away for a moment: wait and go on.
TRANSIENT = (stores.ConnectionError, stores.TimeoutError, OSError)

REQUEUE = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then
    redis.call('RPUSH', KEYS[2], ARGV[1])
    redis.call('HDEL', KEYS[3], ARGV[1])
    return 1
end
return 0
"""


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Producer(Actor):
    """Named singleton: pushes ``rate`` jobs a second, ``total`` of them (0: forever)."""

    async def on_start(self) -> None:
        self.client = redis_store(self.params["url"]).client()
        self.create_task(self.run(), name="produce")

    async def run(self) -> None:
        rate, total = float(self.params["rate"]), int(self.params["total"])
        if rate <= 0:
            logger.info("producer: QUEUE_RATE=0, push jobs with LPUSH on 'jobs'")
            return
        tick = max(0.05, 1.0 / rate)
        pushed, credit = 0, 0.0
        last_log = time.monotonic()
        while not total or pushed < total:
            await asyncio.sleep(tick)
            credit += rate * tick
            batch = int(credit) if not total else min(int(credit), total - pushed)
            if batch:
                try:
                    pushed += await self.push(batch)
                except TRANSIENT as exc:
                    logger.warning("producer: %s", exc)
                    continue
                credit -= batch
            if time.monotonic() - last_log >= float(self.params["interval"]):
                last_log = time.monotonic()
                logger.info("producer: %d jobs queued", pushed)
        logger.info("producer: done, %d jobs queued", pushed)

    async def push(self, count: int) -> int:
        last = int(await self.client.incrby("seq", count))
        await self.client.lpush("jobs", *(f"job-{n}" for n in range(last - count + 1, last + 1)))
        return count


class Consumer(Actor):
    """Pool worker: ``concurrency`` loops of BLMOVE, work, acknowledge."""

    async def on_start(self) -> None:
        self.client = redis_store(self.params["url"]).client()
        self.processed = 0
        for i in range(int(self.params["concurrency"])):
            self.create_task(self.consume(), name=f"consume-{i}")
        self.create_task(self.report(), name="report")

    async def consume(self) -> None:
        work = float(self.params["work_ms"]) / 1000
        while True:
            try:
                job = await self.client.blmove("jobs", "processing", "RIGHT", "LEFT", BLOCK)
                if job is None:
                    continue
                await self.client.hset("leases", job, time.time())
                await asyncio.sleep(work)  # the work itself
                await self.ack(job)
            except TRANSIENT as exc:
                logger.warning("%s: %s", self.name, exc)
                await asyncio.sleep(0.5)
                continue
            self.processed += 1

    async def ack(self, job: Any) -> None:
        tx = self.client.pipeline(transaction=True)
        tx.lrem("processing", 1, job).hdel("leases", job).hincrby("done", job, 1).incr("acks")
        await tx.commit()

    async def report(self) -> None:
        interval, last = float(self.params["interval"]), 0
        while True:
            await asyncio.sleep(interval)
            if self.processed != last:
                logger.info("%s: processed %d jobs (%.1f jobs/s)", self.name, self.processed,
                            (self.processed - last) / interval)
                last = self.processed


class Reaper(Actor):
    """Named singleton: re-queues stale jobs, logs the queue's figures."""

    async def on_start(self) -> None:
        self.client = redis_store(self.params["url"]).client()
        self.requeue = self.client.register_script(REQUEUE)
        self.unleased: dict[str, float] = {}  # job -> first seen without a lease
        self.requeued = 0
        self.create_task(self.run(), name="reap")

    async def run(self) -> None:
        while True:
            await asyncio.sleep(float(self.params["interval"]))
            try:
                await self.reap(float(self.params["stale"]))
                await self.log_figures()
            except TRANSIENT as exc:
                logger.warning("reaper: %s", exc)

    async def reap(self, stale: float) -> None:
        jobs = {text(j) for j in await self.client.lrange("processing", 0, -1)}
        leases = {text(k): float(v) for k, v in (await self.client.hgetall("leases")).items()}
        now = time.time()
        self.unleased = {j: t for j, t in self.unleased.items() if j in jobs}
        for job in jobs:
            started = leases.get(job) or self.unleased.setdefault(job, now)
            if now - started > stale and await self.requeue(
                    keys=["processing", "jobs", "leases"], args=[job]):
                self.requeued += 1
                self.unleased.pop(job, None)
                logger.info("reaper: re-queued %s (stale for %.1f s)", job, now - started)

    async def log_figures(self) -> None:
        pipe = self.client.pipeline()
        pipe.llen("jobs").llen("processing").hlen("done").get("acks")
        pending, processing, done, acks = await pipe.commit()
        logger.info("queue: %d pending, %d processing, %d done, %d processed twice or more, "
                    "%d re-queued", pending, processing, done, int(acks or 0) - done,
                    self.requeued)


def setup(arbiter: Any) -> list[ChildSpec | dict[str, Any]]:
    """The app: the store actor, ``reaper``, ``producer``, then the consumer pool."""
    env = os.environ
    url = store_url(env.get("REDIS_URL", DEFAULT_URL), namespace="queue:",
                    client_name="arbiter-queue", pool_size="32")
    interval = float(env.get("QUEUE_INTERVAL", "1"))
    logger.info("queue: %s; add jobs with LPUSH on 'jobs' (redis-cli LPUSH queue:jobs ...)",
                url)
    return [
        store_child(url),
        ChildSpec("reaper", Reaper, params={"url": url, "interval": interval,
                                            "stale": float(env.get("QUEUE_STALE", "5"))}),
        ChildSpec("producer", Producer, restart="transient",
                  params={"url": url, "interval": interval,
                          "rate": float(env.get("QUEUE_RATE", "20")),
                          "total": int(env.get("QUEUE_JOBS", "0"))}),
        ChildSpec("worker", Consumer, pool=True, count=2,
                  params={"url": url, "interval": interval,
                          "concurrency": int(env.get("QUEUE_CONCURRENCY", "2")),
                          "work_ms": float(env.get("QUEUE_WORK_MS", "50"))}),
    ]


children = setup
