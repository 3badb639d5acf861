"""``actors.spawn`` from a plain script: an embedded arbiter started on demand."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytestmark = [pytest.mark.processes, pytest.mark.timeout(40)]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

SCRIPT = """
import asyncio, os, sys
import actors
{setup}

async def main():
    echo = await actors.spawn("actors_testlib:Echo", name="echo")
    print("pid", await echo.call("pid"), flush=True)
    print("echo", (await echo.call("echo", b"plain script")).decode(), flush=True)
    {ending}

if __name__ == "__main__":
    asyncio.run(main())
"""


def run_script(tmp: Path, setup: str, ending: str = "") -> tuple[str, int]:
    script = tmp / "script.py"
    script.write_text(textwrap.dedent(SCRIPT).format(setup=setup, ending=ending))
    path = [str(HERE), str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in path if p))
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "echo plain script" in done.stdout, done.stdout + done.stderr
    child = int(done.stdout.split("pid ")[1].split()[0])
    return done.stderr, child


def assert_gone(pid: int) -> None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return
    assert state == "Z", f"actor {pid} outlived the script"


def test_spawn_with_explicit_factory_then_exit(tmp_path: Path) -> None:
    setup = "import arbiter\nactors.set_hub_factory(arbiter.start_embedded)"
    _, child = run_script(tmp_path, setup)
    assert_gone(child)


def test_script_that_stops_its_arbiter(tmp_path: Path) -> None:
    setup = "import arbiter\nactors.set_hub_factory(arbiter.start_embedded)"
    ending = "await (await actors.get_hub()).shutdown()"
    _, child = run_script(tmp_path, setup, ending)
    assert_gone(child)


def test_spawn_on_demand_without_importing_arbiter(tmp_path: Path) -> None:
    # pyproject declares the hook; without it spawn in a plain script cannot work.
    assert list(entry_points(group="actors.hub"))
    _, child = run_script(tmp_path, "")
    assert_gone(child)
