"""A plain script: ``create_store(url, proxy=True)`` starts an embedded arbiter on
demand, and the store actor is gone when the script ends; without ``proxy`` the
script keeps a direct store."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from procs import alive

pytestmark = [pytest.mark.processes, pytest.mark.redis, pytest.mark.timeout(30)]

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import asyncio, actors
from stores import create_store
from stores.proxy import ProxyStore, actor_name

async def main():
    direct = create_store({url!r})
    print("direct", type(direct).__name__, isinstance(direct, ProxyStore), flush=True)
    await direct.close()
    store = create_store({url!r}, proxy=True)
    print("ping", await store.ping(), flush=True)
    print("set", await store.client().set("script-key", 1), flush=True)
    info = await (await actors.lookup(actor_name(store))).call("info")
    print("actor", info["pid"], flush=True)

if __name__ == "__main__":
    asyncio.run(main())
"""


def test_script_spawns_the_store_actor_on_demand_and_leaves_nothing(
        tmp_path: Path, proxy_url: str, redis_py: object) -> None:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(SCRIPT).format(url=proxy_url))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=25)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert lines["direct"] == "RedisStore False"
    assert lines["ping"] == "True" and lines["set"] == "True"
    assert redis_py.get("script-key") == b"1"  # type: ignore[attr-defined]
    assert not alive(int(lines["actor"])), "the store actor outlived the script"
