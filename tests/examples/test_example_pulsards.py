"""examples.pulsards and examples.demo (what ``make run`` starts): pulsards in the tree."""

from __future__ import annotations

import signal

import redis
from with_redis import free_port


async def test_pulsards_example_prints_an_address_redis_cli_can_use(run_example):
    tree = run_example("examples.pulsards", env={})
    try:
        [match] = await tree.wait_for(r"pulsards is serving on 127\.0\.0\.1:(\d+)")
        port = int(match.group(1))
        assert redis.Redis(port=port).get("hello") == b"from examples.pulsards"
    finally:
        code = tree.stop(signal.SIGTERM)
    assert code == 0, tree.log
    assert "Traceback" not in tree.log, tree.log


async def test_demo_runs_counters_on_pulsards_until_ctrl_c(run_example):
    port = free_port()
    tree = run_example("examples.demo", "-w", "2", env={"PULSARDS_PORT": port})
    try:
        await tree.wait_for(rf"redis-cli -p {port} KEYS 'counter:\*'")
        await tree.wait_for(r"total: \d+ ops/s from 2 worker\(s\); store connections: 1",
                            timeout=20)
        hits = redis.Redis(port=port).keys("counter:*")
        assert hits, "the workers wrote no counter into pulsards"
    finally:
        code = tree.stop(signal.SIGINT, group=True)
    assert code == 0, tree.log
    assert "Traceback" not in tree.log, tree.log
