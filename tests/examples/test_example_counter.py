"""``examples.counter``: two workers, one store actor, one Redis connection."""

from __future__ import annotations

import re
import signal

import pytest

from stores import create_store

pytestmark = [pytest.mark.redis, pytest.mark.processes, pytest.mark.timeout(30)]


async def test_counter_counts_and_shares_one_connection(run_example, example_url):
    tree = run_example("examples.counter", "-w", "2", env={
        "REDIS_URL": example_url, "COUNTER_SECONDS": 2, "COUNTER_INTERVAL": 0.5,
        "COUNTER_TASKS": 20, "COUNTER_KEYS": 4,
    })
    try:
        await tree.wait_for(r"worker\.[12]: \d+ ops/s", count=2)
        running = await tree.wait_for(r"total: (\d+) ops/s from 2 worker\(s\); "
                                      r"store connections: (\d+)")
        (summary,) = await tree.wait_for(
            r"summary: (\d+) INCRs in [\d.]+ s by 2 workers = (\d+) ops/s aggregate; "
            r"counters sum (\d+) \((\w+)\); store connections: (\d+)")
    finally:
        code = tree.stop()
    ops, rate, counted, verdict, connections = summary.groups()
    assert int(ops) > 0 and int(rate) > 0
    assert (int(counted), verdict) == (int(ops), "ok")
    # Two workers and the stats actor, all through one pipelined connection.
    assert int(running[0].group(2)) == 1
    assert int(connections) == 1
    done = re.findall(r"(worker\.\d) done: (\d+) ops", tree.log)
    assert sorted(name for name, _ in done) == ["worker.1", "worker.2"]
    assert sum(int(n) for _, n in done) == int(ops)

    store = create_store(example_url)
    try:
        values = await store.client().mget(*(f"hits:{i}" for i in range(4)))
        assert sum(int(v) for v in values) == int(ops)
    finally:
        await store.close()
    assert code == 0, tree.log
    assert "Traceback" not in tree.log, tree.log


async def test_counter_runs_until_ctrl_c(run_example, example_url):
    """COUNTER_SECONDS=0: no end of its own; Ctrl-C (SIGINT to the whole
    process group, as a terminal sends it) stops it cleanly mid-hammering."""
    tree = run_example("examples.counter", "-w", "2", env={
        "REDIS_URL": example_url, "COUNTER_SECONDS": 0, "COUNTER_INTERVAL": 0.3,
        "COUNTER_TASKS": 10,
    })
    try:
        await tree.wait_for(r"total: \d+ ops/s from 2 worker\(s\); store connections: 1",
                            count=2)
    finally:
        code = tree.stop(signal.SIGINT, group=True)
    assert code == 0, tree.log
    assert "summary:" not in tree.log and " done: " not in tree.log
    assert "Traceback" not in tree.log, tree.log
