"""Random pipelines cut into random reads: pulsards answers them as Redis does.

A random script (the commands of the other fuzzer, blocking ones and
MULTI/EXEC among them) is sent to a redis-server of the session's own in one
write, and fed to an in-process pulsards connection (``Client.data_received``)
in reads cut at random byte offsets, the loop turning between them.  The
replies, in order, must be Redis': the fast path, the exact parser, blocked
clients with requests queued behind them and transactions must not reorder,
drop or repeat a reply wherever the reads end.  ``FUZZ_EXAMPLES`` explores,
as for the other fuzzers.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import hiredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stores.pulsards.config import Config
from stores.pulsards.server import Server

from .test_fuzz_agree import _EXPLORE, BLOCKING, COMMANDS, _c
from .test_protocol import connect

pytestmark = pytest.mark.timeout(120 + _EXPLORE // 10)

# A command in four is one that blocks or opens or ends a transaction: the
# ones that change how the requests after them are read.
TEMPLATE = st.one_of(
    st.sampled_from(COMMANDS), st.sampled_from(COMMANDS), st.sampled_from(COMMANDS),
    st.sampled_from([*BLOCKING, _c("MULTI"), _c("EXEC"), _c("DISCARD"), _c("PING"),
                     _c("ECHO", st.sampled_from(["", "x", "a b"]))]))


def _normal(command: tuple[Any, ...], reply: Any) -> Any:
    """A reply as compared: errors as text, unordered ones sorted."""
    if isinstance(reply, hiredis.ReplyError):
        return ("error", str(reply))
    if isinstance(reply, list):
        items = [_normal((), item) for item in reply]
        return sorted(items, key=repr) if command[:1] == ("~",) else items
    return reply


def _replies(data: bytes, count: int, more: Any) -> list[Any]:
    """The first ``count`` replies in ``data`` (``more()`` gives further bytes)."""
    reader = hiredis.Reader()
    reader.feed(data)
    got: list[Any] = []
    while len(got) < count:
        item = reader.gets()
        if item is False:
            reader.feed(more())
            continue
        got.append(item)
    assert reader.gets() is False, "more replies than commands"
    return got


def _on_redis(address: tuple[str, int], stream: bytes, count: int) -> list[Any]:
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(b"SELECT 12\r\nFLUSHDB\r\n" + stream)
        got = _replies(b"", count + 2, lambda: sock.recv(65536))
    return got[2:]


async def _on_pulsards(chunks: list[bytes], count: int) -> list[Any]:
    server = Server(Config(port=0))
    client, transport = connect(server)
    loop = asyncio.get_running_loop()
    answered = asyncio.Event()
    write = transport.write

    def counted(data: bytes) -> None:  # sets ``answered`` once every reply is in
        write(data)
        reader = hiredis.Reader()
        reader.feed(b"".join(transport.writes))
        seen = 0
        while reader.gets() is not False:  # (a reply may be 0, == False)
            seen += 1
        if seen >= count:
            answered.set()

    transport.write = counted  # type: ignore[method-assign]
    for chunk in chunks:
        client.data_received(chunk)
        turn = loop.create_future()  # the loop's ready callbacks run between reads
        loop.call_soon(turn.set_result, None)
        await turn
    await asyncio.wait_for(answered.wait(), 10)  # blocking commands' timeouts meanwhile
    return _replies(b"".join(transport.writes), count, _no_more)


def _no_more() -> bytes:
    raise AssertionError("a reply is cut short")


@settings(max_examples=_EXPLORE or 100, derandomize=not _EXPLORE, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_pipelines_in_random_reads_agree_with_redis(
        private_redis: tuple[str, int], data: Any) -> None:
    templates = data.draw(st.lists(TEMPLATE, min_size=1, max_size=25))
    script = [template(data) for template in templates]
    commands = [command[1:] if command[0] == "~" else command for command in script]
    encoded = [hiredis.pack_command(tuple(command)) for command in commands]
    stream = b"".join(encoded)
    # Cuts anywhere, and (often) between two commands: where a read ends
    # after a command that blocks.
    ends = [sum(map(len, encoded[:i + 1])) for i in range(len(encoded) - 1)]
    anywhere = st.integers(1, len(stream) - 1) if len(stream) > 1 else st.nothing()
    between = st.sampled_from(ends) if ends else st.nothing()
    cuts = sorted(set(data.draw(st.lists(st.one_of(anywhere, between), max_size=6))))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    expected = _on_redis(private_redis, stream, len(script))
    got = asyncio.run(_on_pulsards(chunks, len(script)))
    for command, want, have in zip(script, expected, got, strict=True):
        assert _normal(command, have) == _normal(command, want), \
            f"{command}: pulsards {have!r} != redis {want!r}\nscript: {script}\ncuts: {cuts}"
