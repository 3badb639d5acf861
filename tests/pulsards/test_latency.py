"""The latency monitor on pulsards beside a redis-server of the test's own,
both with DEBUG enabled: DEBUG SLEEP makes a ``command`` event of a known
length on both."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from polling import wait_for

from .conftest import redis_server, start_pulsards


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[redis.Redis]]:
    """redis-py on a redis-server and a pulsards, DEBUG enabled on both."""
    directory = tmp_path_factory.mktemp("latency")
    with redis_server("--enable-debug-command", "yes") as address:
        server = start_pulsards("--enable-debug-command", "yes", "--dir", str(directory))
        made = [redis.Redis(*address), redis.Redis(server.host, server.port)]
        try:
            yield made
        finally:
            for client in made:
                client.close()
            server.stop()


def _outcome(client: redis.Redis, *command: Any) -> Any:
    try:
        return client.execute_command(*command)
    except redis.ResponseError as exc:
        return ("error", str(exc))


def test_events_are_recorded_as_redis_records_them(clients: list[redis.Redis]) -> None:
    seen = []
    for client in clients:
        client.response_callbacks.clear()
        client.execute_command("LATENCY", "RESET")
        off = [_outcome(client, "LATENCY", "LATEST"), client.execute_command("LATENCY", "DOCTOR")]
        client.execute_command("DEBUG", "SLEEP", "0.03")  # the monitor is off: nothing
        client.config_set("latency-monitor-threshold", 20)
        client.execute_command("DEBUG", "SLEEP", "0")  # under the threshold
        client.execute_command("DEBUG", "SLEEP", "0.05")
        client.execute_command("DEBUG", "SLEEP", "0.03")  # same second: the worst stays
        latest = client.execute_command("LATENCY", "LATEST")
        history = client.execute_command("LATENCY", "HISTORY", "command")
        graph = client.execute_command("LATENCY", "GRAPH", "command")
        seen.append({
            "off": [off[0], b"disabled" in off[1]],
            "events": [row[0] for row in latest],
            "worst": [50 <= row[3] < 200 for row in latest],
            "history": [len(history) in (1, 2), all(50 <= ms < 200 for _, ms in history[:1])
                        or len(history) == 2],
            "graph": graph.split(b"\n")[0].startswith(b"command - high "),
            "errors": [_outcome(client, "LATENCY", "GRAPH", "nosuch"),
                       _outcome(client, "LATENCY", "HISTORY", "nosuch"),
                       _outcome(client, "LATENCY", "RESET", "nosuch", "command", "command"),
                       _outcome(client, "LATENCY", "LATEST"),
                       _outcome(client, "LATENCY", "NOPE"),
                       _outcome(client, "CONFIG", "SET", "latency-monitor-threshold", "-1"),
                       _outcome(client, "CONFIG", "SET", "latency-monitor-threshold", "x")],
            "doctor": b"command" not in client.execute_command("LATENCY", "DOCTOR"),
        })
        client.config_set("latency-monitor-threshold", 0)
    real, ours = seen
    assert ours == real
    assert ours["events"] == [b"command"]


def test_histogram_is_empty_and_tracking_stays_off(clients: list[redis.Redis]) -> None:
    ours = clients[1]
    assert ours.execute_command("LATENCY", "HISTOGRAM") == {}
    assert ours.config_get("latency-tracking") == {b"latency-tracking": b"no"}
    with pytest.raises(redis.ResponseError, match="no per-command latency histograms"):
        ours.config_set("latency-tracking", "yes")
    ours.config_set("latency-tracking", "no")


def test_a_slow_expiry_cycle_is_an_event(clients: list[redis.Redis]) -> None:
    ours = clients[1]
    ours.execute_command("LATENCY", "RESET")
    ours.config_set("latency-monitor-threshold", 1)
    try:
        # The expiry cycle removes 20,000 keys past their deadline: more than 1 ms.
        ours.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        pipe = ours.pipeline(transaction=False)
        for i in range(20_000):
            pipe.set(f"k{i}", "v", px=1)
        pipe.execute()
        ours.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        wait_for(lambda: ours.dbsize() == 0, 10, "the expiry cycle")
        events = [row[0] for row in ours.execute_command("LATENCY", "LATEST")]
        assert b"expire-cycle" in events
        assert b"expire-cycle" in ours.execute_command("LATENCY", "DOCTOR")
    finally:
        ours.config_set("latency-monitor-threshold", 0)
        ours.flushall()
