"""Proxy store vs direct store, against Redis and against pulsards.

``python benchmarks/proxy_bench.py [--quick]`` (``REDIS_URL`` is respected; the
benchmark uses database 14 and flushes it).  It runs an embedded arbiter,
starts pulsards with ``start_store`` on a free port, and measures:

(a) one process, 50 tasks doing INCR: through the proxy store (commands travel
    over the mailbox to the store actor) vs a direct store in the same
    process; interleaved rounds, medians.  Target: proxy >= 0.7x direct.
    Also the CPU time (``/proc``) the worker, the store actor and the server
    spend per round of 50 commands in each mode, next to the round's length:
    the rounds are sequential, so the proxy's round lasts about the sum.
(b) N = 2 and 4 worker processes, 50 tasks each: all sharing one store actor
    (auto-pipelined there) vs each worker with its own direct pool.
    Aggregate ops/s and the server connections the mode holds (``CLIENT
    LIST`` filtered by a per-run ``client_name``).  Target: shared >= 1.0x
    aggregate with <= 1/N the connections, out of reach on a machine whose
    cores the workers already fill (see docs/proxy.rst).  Also the CPU time
    the workers, the store actor and the server spend per command in each
    mode: when the processes outnumber the cores, every core is busy in both
    modes and the aggregate ratio cannot exceed the ratio of those totals
    (printed as ``own/shared``).

Ratios are printed next to the numbers; nothing is asserted.  The machine's
other load moves every figure: compare only numbers from the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from typing import Any

import actors
from actors import Actor, expose
from stores import create_store, start_store

TASKS = 50


async def hammer(store: Any, seconds: float, tasks: int = TASKS) -> int:
    """INCR from ``tasks`` coroutines for ``seconds``; the number of replies."""
    client = store.client()
    deadline = time.perf_counter() + seconds
    done = 0

    async def loop(i: int) -> None:
        nonlocal done
        key = f"bench:{i % 8}"
        while time.perf_counter() < deadline:
            await client.incr(key)
            done += 1

    await asyncio.gather(*(loop(i) for i in range(tasks)))
    return done


class BenchWorker(Actor):
    """A worker process: runs ``hammer`` through a proxy or a direct store."""

    store: Any = None

    @expose
    async def open_store(self, url: str, proxy: bool) -> None:
        """Create the store and warm it up: connections, store actor lookup."""
        self.store = create_store(url, proxy=proxy)
        await hammer(self.store, 0.2)

    @expose
    async def run(self, seconds: float) -> int:
        return await hammer(self.store, seconds)

    @expose
    async def close_store(self) -> None:
        await self.store.close()
        self.store = None


async def connections(url: str, client_name: str) -> int:
    """Server connections opened under ``client_name``."""
    probe = create_store(url, proxy=False)
    try:
        clients = await probe.client().client_list()
    finally:
        await probe.close()
    return sum(1 for c in clients if c.get("name") == client_name)


def with_name(url: str, name: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}client_name={name}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def single_process(url: str, rounds: int, seconds: float
                         ) -> tuple[float, float, dict[str, dict[str, float]]]:
    """(a): medians of direct and proxy ops/s in this process, and the CPU
    each process spent per round of ``TASKS`` commands in each mode."""
    name = f"bench-a-{uuid.uuid4().hex[:8]}"
    direct = create_store(with_name(url, name), proxy=False)
    proxy = create_store(with_name(url, name), proxy=True)
    await hammer(direct, 0.2)
    await hammer(proxy, 0.2)
    pids = {"worker": os.getpid(), "store actor": (await proxy.actor()).info.pid,
            "server": int((await direct.client().info("server"))["process_id"])}
    results: dict[str, list[float]] = {"direct": [], "proxy": []}
    cpu = {label: dict.fromkeys(pids, 0.0) for label in results}
    done = dict.fromkeys(results, 0)
    for _ in range(rounds):
        for label, store in (("direct", direct), ("proxy", proxy)):
            before = {who: cpu_seconds(pid) for who, pid in pids.items()}
            count = await hammer(store, seconds)
            for who, pid in pids.items():
                cpu[label][who] += cpu_seconds(pid) - before[who]
            done[label] += count
            results[label].append(count / seconds)
    await direct.close()
    await proxy.close()
    per_round = {label: {who: used / done[label] * TASKS * 1e6 for who, used in spent.items()}
                 for label, spent in cpu.items()}
    return (statistics.median(results["direct"]), statistics.median(results["proxy"]),
            per_round)


async def many_workers(url: str, workers: list[Any], proxy: bool, seconds: float,
                       server_pid: int) -> tuple[float, int, dict[str, float]]:
    """(b): aggregate ops/s of ``workers``, the server connections they held,
    and the CPU each kind of process spent per command."""
    name = f"bench-b-{uuid.uuid4().hex[:8]}"
    target = with_name(url, name)
    pids = {"server": [server_pid], "workers": [w.info.pid for w in workers],
            "store actor": []}
    if proxy:  # spawned here, found by the workers
        pids["store actor"].append((await create_store(target, proxy=True).actor()).info.pid)
    await asyncio.gather(*(w.call("open_store", target, proxy) for w in workers))
    before = {who: sum(map(cpu_seconds, ids)) for who, ids in pids.items()}
    done = sum(await asyncio.gather(
        *(w.call("run", seconds, timeout=seconds + 30) for w in workers)))
    cpu = {who: (sum(map(cpu_seconds, ids)) - before[who]) / done * 1e6
           for who, ids in pids.items()}
    held = await connections(url, name)  # pools stay open until close_store
    await asyncio.gather(*(w.call("close_store") for w in workers))
    return done / seconds, held, cpu


async def bench_server(label: str, url: str, pool: list[Any], rounds: int, seconds: float
                       ) -> None:
    flush = create_store(url, proxy=False)
    await flush.execute("FLUSHDB")
    direct, proxied, per_round = await single_process(url, rounds, seconds)
    print(f"\n{label}: {url}")
    print(f"(a) one process, {TASKS} tasks, INCR       ops/s      ratio")
    print(f"    direct store                     {direct:>10,.0f}")
    print(f"    proxy store (via store actor)    {proxied:>10,.0f}   {proxied / direct:5.2f}x")
    print(f"    CPU us per {TASKS} commands          worker  store actor  server  "
          f"time per {TASKS}")
    for mode, ops in (("direct", direct), ("proxy", proxied)):
        used = per_round[mode]
        print(f"      {mode:<28} {used['worker']:>8.0f} {used['store actor']:>12.0f} "
              f"{used['server']:>7.0f} {TASKS / ops * 1e6:>9.0f}")
    print(f"(b) N workers x {TASKS} tasks         aggregate ops/s  server conns  ratio")
    server_pid = int((await flush.client().info("server"))["process_id"])
    spent = {}
    for n in (2, 4):
        workers = pool[:n]
        own, own_conns, spent[n, "own"] = await many_workers(
            url, workers, False, seconds, server_pid)
        shared, shared_conns, spent[n, "shared"] = await many_workers(
            url, workers, True, seconds, server_pid)
        print(f"    N={n} each its own pool          {own:>12,.0f}  {own_conns:>11}")
        print(f"    N={n} one shared store actor     {shared:>12,.0f}  {shared_conns:>11}"
              f"  {shared / own:5.2f}x ops, {shared_conns}/{own_conns} conns")
    print("    CPU us per command           workers  store actor  server   total")
    for (n, mode), used in spent.items():
        total = sum(used.values())
        label = "each its own pool" if mode == "own" else "one shared store actor"
        line = (f"      N={n} {label:<24}{used['workers']:>6.2f} {used['store actor']:>12.2f}"
                f" {used['server']:>7.2f} {total:>7.2f}")
        if mode == "shared":
            # With every core busy in both modes, ops/s go as 1 / CPU per command.
            line += f"   own/shared {sum(spent[n, 'own'].values()) / total:4.2f}x"
        print(line)
    await flush.execute("FLUSHDB")
    await flush.close()


async def main(quick: bool) -> None:
    rounds, seconds = (3, 0.5) if quick else (5, 1.5)
    base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0]
    redis_url = f"{base}/14"
    print(f"proxy benchmark: python {sys.version.split()[0]}, "
          f"{rounds} rounds x {seconds}s, {os.cpu_count()} cores")
    pool = [await actors.spawn(BenchWorker, f"bench.worker.{i}") for i in range(4)]
    pulsards = await start_store(None, "pulsar://127.0.0.1:0/0")
    await bench_server("Redis", redis_url, pool, rounds, seconds)
    await bench_server("pulsards", pulsards.dns, pool, rounds, seconds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    try:
        import uvloop

        uvloop.run(main(parser.parse_args().quick))
    except ImportError:
        asyncio.run(main(parser.parse_args().quick))
