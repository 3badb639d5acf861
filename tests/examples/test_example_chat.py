"""``examples.chat``: a line typed on one worker reaches clients of another."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from stores import create_store

pytestmark = [pytest.mark.redis, pytest.mark.processes, pytest.mark.timeout(30)]

GREETING = re.compile(r"welcome to the chat on (chat\.\d+), you are (\S+);")


class Peer:
    """A test client: the worker it landed on and its nick, from the greeting."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 worker: str, nick: str) -> None:
        self.reader, self.writer, self.worker, self.nick = reader, writer, worker, nick

    async def say(self, text: str) -> None:
        self.writer.write(text.encode() + b"\n")
        await self.writer.drain()

    async def expect(self, line: str, timeout: float = 5.0) -> None:
        """Read lines until ``line`` (other room events may come first)."""
        async with asyncio.timeout(timeout):
            while (got := (await self.reader.readline()).decode()) != line + "\n":
                assert got, f"connection closed before {line!r}"

    def close(self) -> None:
        self.writer.close()


async def connect(port: int) -> Peer:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    greeting = (await asyncio.wait_for(reader.readline(), 5)).decode()
    match = GREETING.search(greeting)
    assert match, greeting
    return Peer(reader, writer, *match.groups())


async def peers_on_two_workers(port: int, attempts: int = 40) -> tuple[Peer, Peer]:
    """Connect until two clients sit on different workers (the kernel picks,
    SO_REUSEPORT); close the extra ones."""
    first = await connect(port)
    for _ in range(attempts):
        other = await connect(port)
        if other.worker != first.worker:
            return first, other
        other.close()
    raise AssertionError(f"every connection landed on {first.worker}")


async def test_chat_fans_out_across_workers(run_example, example_url):
    tree = run_example("examples.chat", "-w", "2", env={"REDIS_URL": example_url})
    peers: list[Peer] = []
    try:
        (address,) = await tree.wait_for(r"connect with nc 127\.0\.0\.1 (\d+)")
        await tree.wait_for(r"chat\.\d: listening on 127\.0\.0\.1:", count=2)
        alice, bob = peers = list(await peers_on_two_workers(int(address.group(1))))
        await alice.say("/nick alice")
        await bob.expect(f"* {alice.nick} is now alice")
        await alice.say("hello from " + alice.worker)
        await bob.expect(f"[alice] hello from {alice.worker}")
        await bob.say("hi from " + bob.worker)
        await alice.expect(f"[{bob.nick}] hi from {bob.worker}")

        # The room is a plain Redis channel carrying Channels events.
        store = create_store(example_url)
        try:
            event = {"event": "message", "data": {"nick": "redis", "text": "hello both"}}
            assert await store.pubsub().publish("room", json.dumps(event)) == 1
        finally:
            await store.close()
        await alice.expect("[redis] hello both")
        await bob.expect("[redis] hello both")
        await alice.say("/quit")
        await alice.expect("* bye")
        await bob.expect("* alice left")
    finally:
        for peer in peers:
            peer.close()
        code = tree.stop()
    assert code == 0, tree.log
    assert "Traceback" not in tree.log, tree.log
