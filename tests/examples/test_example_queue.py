"""``examples.queue``: every job processed at least once, a consumer killed midway."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
from polling import until

from stores import create_store

pytestmark = [pytest.mark.redis, pytest.mark.processes, pytest.mark.timeout(40)]


async def test_queue_processes_every_job_despite_a_killed_worker(run_example, example_url):
    tree = run_example("examples.queue", "-w", "2", env={
        "REDIS_URL": example_url, "QUEUE_JOBS": 40, "QUEUE_RATE": 400,
        "QUEUE_WORK_MS": 100, "QUEUE_STALE": 1, "QUEUE_INTERVAL": 0.5,
    })
    store = create_store(example_url)
    client = store.client()
    ours = [f"t-{i}" for i in range(40)]
    try:
        await tree.wait_for(r"producer: done, 40 jobs queued")
        await client.lpush("jobs", *ours)
        await tree.wait_for(r"worker\.1: processed \d+ jobs")
        # Kill worker.1 with a job in hand, which must come back.  Each loop
        # takes a job, leases it (HSET leases job <time>), works 100 ms and
        # acknowledges; worker.1's two loops run in step, so killed between an
        # ack and the next take it would hold nothing.  A lease younger than
        # 60 ms is a job still in hand when the kill lands, and with 3 of those
        # among the 4 loops (2 per worker) worker.1 holds at least one.
        async def three_just_taken() -> bool:
            leases = await client.hgetall("leases")
            now = time.time()
            return sum(1 for taken in leases.values() if now - float(taken) < 0.06) >= 3

        await until(three_just_taken, deadline=10, what="3 jobs just taken at once")
        os.kill(tree.pid_of("worker.1"), signal.SIGKILL)
        await tree.wait_for(r"worker\.1 ready", count=2)
        expected = {f"job-{n}" for n in range(1, 41)} | set(ours)
        deadline = time.monotonic() + 20
        while True:
            done = {k.decode(): int(v) for k, v in (await client.hgetall("done")).items()}
            pending, processing = await client.llen("jobs"), await client.llen("processing")
            if set(done) >= expected and pending == processing == 0:
                break
            assert time.monotonic() < deadline, (sorted(expected - set(done)), tree.log)
            await asyncio.sleep(0.1)
        await tree.wait_for(r"reaper: re-queued job-\d+|reaper: re-queued t-\d+")
    finally:
        await store.close()
        code = tree.stop()
    assert set(done) == expected
    assert all(count >= 1 for count in done.values())
    assert code == 0, tree.log
    assert "Traceback" not in tree.log, tree.log
