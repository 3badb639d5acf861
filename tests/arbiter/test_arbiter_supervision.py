"""Supervision with real processes: ``python -m arbiter`` run as users run it."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import time
from typing import Any

import pytest
from arbiter_procs import group_members

import actors
from actors import ActorInfo, ActorProxy

pytestmark = [pytest.mark.processes, pytest.mark.timeout(40)]


async def ping(info: dict[str, Any]) -> str:
    proxy = ActorProxy(ActorInfo.from_wire(info))
    conn = await proxy.connect()
    try:
        return str(await proxy.call("ping", timeout=5))
    finally:
        conn.close()


async def test_kill_9_worker_is_replaced_within_a_second(run_tree: Any) -> None:
    tree = run_tree("arbiter_testapps:workers", "-w", "2")
    before = await tree.wait_running({"worker.1", "worker.2"})
    victim = before["worker.1"]["pid"]
    os.kill(victim, signal.SIGKILL)
    killed = time.monotonic()
    after = await tree.wait_running({"worker.1", "worker.2"}, exclude_pids={victim})
    assert await ping(after["worker.1"]) == "pong"
    elapsed = time.monotonic() - killed
    print(f"replacement serving after {elapsed:.3f}s")
    assert elapsed < 1.0, f"replacement took {elapsed:.2f}s"
    assert after["worker.2"]["pid"] == before["worker.2"]["pid"]  # one_for_one
    assert f"worker.1 (pid {victim}) exited: killed by SIGKILL" in tree.log


async def test_one_for_all_restarts_siblings(run_tree: Any) -> None:
    tree = run_tree("arbiter_testapps:trio", "--strategy", "one_for_all")
    before = await tree.wait_running({"a", "b", "c"})
    os.kill(before["b"]["pid"], signal.SIGKILL)
    old = {c["pid"] for c in before.values()}
    after = await tree.wait_running({"a", "b", "c"}, exclude_pids=old)
    assert all([await ping(c) == "pong" for c in after.values()])


async def test_rest_for_one_restarts_later_siblings_only(run_tree: Any) -> None:
    tree = run_tree("arbiter_testapps:trio", "--strategy", "rest_for_one")
    before = await tree.wait_running({"a", "b", "c"})
    os.kill(before["b"]["pid"], signal.SIGKILL)
    after = await tree.wait_running(
        {"a", "b", "c"}, exclude_pids={before["b"]["pid"], before["c"]["pid"]})
    assert after["a"]["pid"] == before["a"]["pid"]


async def test_crash_loop_halts_within_the_period(run_tree: Any) -> None:
    tree = run_tree("arbiter_testapps:crashloop", "--period", "5", "--intensity", "1")
    await tree.wait_running({"steady", "crasher"})
    started = time.monotonic()
    code = await asyncio.to_thread(tree.wait_exit, 15)
    assert code == 4, tree.log
    assert time.monotonic() - started < 5.0
    assert "crash loop: crasher" in tree.log
    assert "deliberate crash" in tree.log  # the last exit reasons are named
    assert not group_members(tree.pid)


async def test_boot_failure_exits_3_with_reason(run_tree: Any) -> None:
    tree = run_tree("arbiter_testapps:bootfail")
    code = await asyncio.to_thread(tree.wait_exit, 20)
    assert code == 3
    assert "child broken failed to start" in tree.log and "Missing" in tree.log
    assert not group_members(tree.pid)


async def test_bad_app_is_a_boot_failure(run_tree: Any) -> None:
    tree = run_tree("arbiter_testapps:nothing_here")
    assert await asyncio.to_thread(tree.wait_exit, 20) == 3
    assert "nothing_here" in tree.log


async def test_sigterm_stops_everything_and_exits_0(run_tree: Any) -> None:
    pidfile = f"/tmp/arb-test-{os.getpid()}.pid"
    tree = run_tree("arbiter_testapps:workers", "-w", "3", "--pid", pidfile)
    running = await tree.wait_running({"worker.1", "worker.2", "worker.3"})
    with open(pidfile) as f:
        assert f.read().strip() == str(tree.pid)
    assert stat.S_IMODE(os.stat(tree.runtime_dir).st_mode) == 0o700
    os.kill(tree.pid, signal.SIGTERM)
    assert await asyncio.to_thread(tree.wait_exit, 20) == 0
    assert not group_members(tree.pid)
    assert not os.path.exists(pidfile) and not os.path.exists(tree.runtime_dir)
    for child in running.values():
        assert f"{child['name']} (pid {child['pid']}) exited: exit code 0" in tree.log
    # Reverse start order: worker.3 and friends stop together (same spec); logged.
    assert "arbiter stopping" in tree.log


async def test_sigterm_stops_in_reverse_start_order(run_tree: Any) -> None:
    tree = run_tree("arbiter_testapps:trio")
    await tree.wait_running({"a", "b", "c"})
    os.kill(tree.pid, signal.SIGTERM)
    assert await asyncio.to_thread(tree.wait_exit, 20) == 0
    log = tree.log
    stops = [log.index(f"arbiter: stopping {name} (pid") for name in "cba"]
    exits = [log.index(f"arbiter: {name} (pid") for name in "cba"]  # "c (pid N) exited: ..."
    # each child has exited before the next one is asked to stop
    assert stops[0] < exits[0] < stops[1] < exits[1] < stops[2]


async def test_sigint_fast_stop_exits_0(run_tree: Any) -> None:
    tree = run_tree("arbiter_testapps:workers")
    await tree.wait_running({"worker.1", "worker.2"})
    os.kill(tree.pid, signal.SIGINT)
    assert await asyncio.to_thread(tree.wait_exit, 10) == 0
    assert not group_members(tree.pid)


async def test_sigkill_of_arbiter_leaves_no_process_after_2s(run_tree: Any) -> None:
    tree = run_tree("arbiter_testapps:workers", "-w", "3")
    await tree.wait_running({"worker.1", "worker.2", "worker.3"})
    assert len(group_members(tree.pid)) == 4
    os.kill(tree.pid, signal.SIGKILL)
    tree.proc.wait(5)
    deadline = time.monotonic() + 2.0
    while group_members(tree.pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert not group_members(tree.pid)


async def test_slow_child_is_killed_after_its_shutdown_time(run_tree: Any) -> None:
    tree = run_tree("arbiter_testapps:slowstop")
    await tree.wait_running({"slow", "brutal"})
    started = time.monotonic()
    os.kill(tree.pid, signal.SIGTERM)
    assert await asyncio.to_thread(tree.wait_exit, 20) == 0
    assert time.monotonic() - started < 5.0
    assert "slow" in tree.log and "still alive after its shutdown time: SIGKILL" in tree.log
    assert "brutal (pid" in tree.log and "killed by SIGKILL" in tree.log


async def test_hup_ttin_ttou(run_tree: Any) -> None:
    tree = run_tree("arbiter_testapps:workers", "-w", "2", "--intensity", "0")
    before = await tree.wait_running({"worker.1", "worker.2"})
    os.kill(tree.pid, signal.SIGTTIN)
    await tree.wait_running({"worker.1", "worker.2", "worker.3"})
    os.kill(tree.pid, signal.SIGTTOU)
    await tree.wait_running({"worker.1", "worker.2"})
    os.kill(tree.pid, signal.SIGHUP)  # rolling restart: every worker replaced
    after = await tree.wait_running(
        {"worker.1", "worker.2"}, exclude_pids={c["pid"] for c in before.values()})
    assert all([await ping(c) == "pong" for c in after.values()])
    # intensity 0: any charged restart would have halted the tree.
    assert tree.proc.poll() is None


async def test_silent_actor_is_restarted(run_tree: Any) -> None:
    tree = run_tree("arbiter_testapps:workers", "-w", "1", "--timeout", "1",
                    "--graceful-timeout", "0.5")
    before = await tree.wait_running({"worker.1"})
    proxy = ActorProxy(ActorInfo.from_wire(before["worker.1"]))
    conn = await proxy.connect()
    proxy.notify("block", 30)  # wedge its loop: heartbeats stop
    after = await tree.wait_running({"worker.1"}, exclude_pids={before["worker.1"]["pid"]})
    conn.close()
    assert "silent for" in tree.log
    assert await ping(after["worker.1"]) == "pong"


async def test_setup_hook_contract(run_tree: Any) -> None:
    tree = run_tree("arbiter_testapps:setup", "-w", "2")
    await tree.wait_running({"hooked.1", "hooked.2"})


async def test_ping_example(run_tree: Any) -> None:
    tree = run_tree("examples.ping", "-w", "2")
    await tree.wait_running({"relay", "worker.1", "worker.2"})
    deadline = time.monotonic() + 10
    while "via relay" not in tree.log and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert "worker.1 -> worker.2: rtt" in tree.log or "worker.2 -> worker.1: rtt" in tree.log
    assert "actor tree:" in tree.log and "relay" in tree.log
    os.kill(tree.pid, signal.SIGTERM)
    assert await asyncio.to_thread(tree.wait_exit, 20) == 0


async def test_spawn_and_lookup_through_the_hub(run_tree: Any) -> None:
    tree = run_tree("arbiter_testapps:workers", "-w", "1")
    await tree.wait_running({"worker.1"})
    info = await tree.call("spawn", "arbiter_testapps:Worker", "extra", {}, {}, timeout=20)
    assert await ping(info) == "pong"
    assert (await tree.call("lookup", "extra"))["pid"] == info["pid"]
    with pytest.raises(KeyError):
        await tree.call("lookup", "missing")
    assert actors.get_actor() is None
