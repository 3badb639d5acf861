"""``start_store``: pulsards started as an actor when a pulsar URL does not answer."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from typing import Any

import pytest
import redis
from procs import live_children

import arbiter
import stores
from stores import InvalidURL, start_store


def pulsards_children(arb: arbiter.Arbiter) -> list[dict[str, Any]]:
    return [c.info() for c in arb.ordered_children() if c.spec.name.startswith("pulsards.")]


def port_of(store: stores.Store) -> int:
    host = store._host
    assert not isinstance(host, str) and host[1] is not None
    return host[1]


@pytest.mark.processes
@pytest.mark.timeout(40)
async def test_starts_pulsards_on_a_free_port_and_reuses_it(tree: arbiter.Arbiter) -> None:
    store = await start_store(tree, "pulsar://127.0.0.1:0/2")
    port = port_of(store)
    assert port != 0
    assert store.database == "2"
    assert await store.ping()
    await store.client().set("greeting", "hello")
    # An independent client sees the data in database 2 of the real server.
    assert redis.Redis(port=port, db=2).get("greeting") == b"hello"
    again = await start_store(tree, "pulsar://127.0.0.1:0/2")
    assert again.dns == store.dns
    assert len(pulsards_children(tree)) == 1
    # A store that already answers is used as it is.
    used = await start_store(tree, store.dns)
    assert used.dns == store.dns
    assert len(pulsards_children(tree)) == 1
    await store.close()


@pytest.mark.processes
@pytest.mark.timeout(40)
async def test_without_app_it_uses_the_current_tree(tree: arbiter.Arbiter) -> None:
    store = await start_store(None, "pulsar://127.0.0.1:0?databases=4")
    assert await store.execute("CONFIG", "GET", "databases") == [b"databases", b"4"]
    assert len(pulsards_children(tree)) == 1
    await store.close()


@pytest.mark.processes
@pytest.mark.timeout(40)
async def test_a_running_server_is_used_as_is(tree: arbiter.Arbiter) -> None:
    server = subprocess.Popen([sys.executable, "-m", "stores.pulsards", "--port", "0"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split("port=")[1])
        store = await start_store(tree, f"pulsar://127.0.0.1:{port}")
        assert await store.ping()
        assert pulsards_children(tree) == []
        await store.close()
    finally:
        server.terminate()
        server.wait(10)


async def test_workers_must_be_zero() -> None:
    with pytest.raises(ValueError, match="multi-core pulsards is not available yet"):
        await start_store(None, "pulsar://127.0.0.1:0", workers=2)


async def test_other_urls_are_plain_create_store() -> None:
    store = await start_store(None, "redis://127.0.0.1:1/3?namespace=x")
    assert isinstance(store, stores.RemoteStore)
    assert store.dns == "redis://127.0.0.1:1/3?namespace=x"
    remote = await start_store(None, "pulsar://10.1.2.3:7000/1")
    assert remote.dns == "pulsar://10.1.2.3:7000/1"


@pytest.mark.processes
@pytest.mark.timeout(40)
async def test_bad_server_option_is_a_clear_error(tree: arbiter.Arbiter, tmp_path: Any) -> None:
    with pytest.raises(InvalidURL, match="databases='many' is not a number"):
        await start_store(tree, "pulsar://127.0.0.1:0?databases=many")
    assert pulsards_children(tree) == []
    with pytest.raises(InvalidURL, match="appendfsync='sometimes'"):
        await start_store(tree, "pulsar://127.0.0.1:0?appendfsync=sometimes")
    assert pulsards_children(tree) == []
    # The persistence options pass through to the server (no longer refused).
    store = await start_store(tree, f"pulsar://127.0.0.1:0?appendonly=yes&dir={tmp_path}")
    assert await store.execute("CONFIG", "GET", "appendonly") == [b"appendonly", b"yes"]
    await store.client().set("kept", "1")
    assert b"kept" in (tmp_path / "appendonly.aof").read_bytes()
    await store.close()


@pytest.mark.processes
@pytest.mark.timeout(60)
def test_plain_script_gets_an_embedded_arbiter_stopped_at_exit(tmp_path: Any) -> None:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent("""
        import asyncio
        from stores import start_store

        async def main():
            store = await start_store(None, "pulsar://127.0.0.1:0")
            print(store._host[1], await store.ping(), flush=True)
            await store.close()

        if __name__ == "__main__":
            asyncio.run(main())
    """))
    env = {**os.environ, "TMPDIR": "/tmp"}
    before = set(live_children())
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=50, env=env)
    assert result.returncode == 0, result.stderr
    port_text, pong = result.stdout.split()
    assert pong == "True"
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", int(port_text)), 1):
        pass  # the server went away with the script
    assert set(live_children()) - before == set()
