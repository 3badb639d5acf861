"""``RedisProtocol`` fed by hand: replies matched to waiters however reads cut them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from stores.errors import ConnectionError, ProtocolError, ResponseError
from stores.redis.connection import RedisProtocol

# Six replies of every RESP2 kind, then the reply of a single command.
PIPELINE = b"+OK\r\n:42\r\n$5\r\nhello\r\n-ERR no\r\n*2\r\n$1\r\na\r\n:7\r\n$-1\r\n"
SINGLE = b"+PONG\r\n"


class Transport:
    """What the protocol needs of a transport; records how it was ended."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True


def connected() -> tuple[RedisProtocol, Transport]:
    protocol = RedisProtocol(asyncio.get_running_loop())
    transport = Transport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    return protocol, transport


def check_pipeline(replies: list[Any]) -> None:
    assert replies[:3] == [b"OK", 42, b"hello"]
    assert isinstance(replies[3], ResponseError) and str(replies[3]) == "ERR no"
    assert replies[4:] == [[b"a", 7], None]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 21, len(PIPELINE) + len(SINGLE)])
async def test_a_pipeline_and_the_next_command_get_their_replies_however_reads_cut_them(
        size: int) -> None:
    protocol, _ = connected()
    batch = protocol.request_many(b"", 6)
    single = protocol.request(b"")
    data = PIPELINE + SINGLE
    for i in range(0, len(data), size):
        assert not single.done()
        protocol.data_received(data[i:i + size])
    check_pipeline(batch.result())
    assert single.result() == b"PONG"
    assert protocol.pending == 0


async def test_two_pipelines_in_one_read_are_kept_apart() -> None:
    protocol, _ = connected()
    first = protocol.request_many(b"", 6)
    second = protocol.request_many(b"", 2)
    protocol.data_received(PIPELINE + b":1\r\n:2\r\n")
    check_pipeline(first.result())
    assert second.result() == [1, 2]


async def test_a_malformed_reply_inside_a_pipeline_fails_it_and_every_later_waiter() -> None:
    protocol, transport = connected()
    batch = protocol.request_many(b"", 3)
    single = protocol.request(b"")
    protocol.data_received(b"+OK\r\n+OK\r\n:notanumber\r\n+PONG\r\n")
    with pytest.raises(ProtocolError, match="malformed reply"):
        batch.result()
    with pytest.raises(ProtocolError):
        single.result()
    assert transport.aborted
    assert protocol.pending == 0


async def test_an_empty_pipeline_is_answered_at_once_and_takes_no_reply() -> None:
    protocol, transport = connected()
    empty = protocol.request_many(b"", 0)
    assert empty.result() == []
    single = protocol.request(b"*1\r\n$4\r\nPING\r\n")
    protocol.data_received(SINGLE)
    assert single.result() == b"PONG"
    assert transport.written == [b"*1\r\n$4\r\nPING\r\n"]
    with pytest.raises(ValueError):
        protocol.request_many(b"*1\r\n$4\r\nPING\r\n", 0)
    with pytest.raises(ValueError):
        protocol.request_many(b"", -1)
    assert protocol.pending == 0


async def test_a_push_between_a_pipelines_replies_is_not_taken_as_one() -> None:
    """On RESP3 a tracking invalidation may arrive in the middle of a pipeline's
    replies: it goes to ``on_push`` and the pipeline keeps its own replies."""
    pushed: list[Any] = []
    protocol = RedisProtocol(asyncio.get_running_loop(), on_push=pushed.append, resp3=True)
    protocol.connection_made(Transport())  # type: ignore[arg-type]
    batch = protocol.request_many(b"", 3)
    protocol.data_received(b":1\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n:2\r\n:3\r\n")
    assert batch.result() == [1, 2, 3]
    assert len(pushed) == 1 and pushed[0] == [b"invalidate", [b"k"]]


async def test_an_empty_pipeline_on_a_closed_connection_fails_like_any_other() -> None:
    protocol, _ = connected()
    protocol.connection_lost(None)
    with pytest.raises(ConnectionError):
        protocol.request_many(b"", 0)
