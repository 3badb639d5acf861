"""Request framing: raw bytes against Redis and pulsards, and the sans-I/O parts.

Raw-socket tests send the same bytes to the real Redis and to pulsards and
expect the same bytes back (and the same closing behaviour).  In-process
tests drive ``Client`` with a fake transport to check one write per read and
that splitting a stream anywhere changes nothing.
"""

from __future__ import annotations

import asyncio
import re
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import hiredis
import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st
from polling import wait_for

from stores.pulsards.config import Config
from stores.pulsards.parser import RequestParser, split_args
from stores.pulsards.protocol import Client
from stores.pulsards.reply import ProtocolError
from stores.pulsards.server import Server

pytestmark = pytest.mark.timeout(30)


def exchange(address: tuple[str, int], data: bytes, wait: float = 0.2) -> bytes:
    """Send ``data`` on a fresh connection; return what came back (``<EOF>`` if closed)."""
    with socket.create_connection(address, timeout=2) as sock:
        sock.sendall(data)
        sock.settimeout(wait)
        out = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return out + b"<EOF>"
                out += chunk
        except TimeoutError:
            return out


FRAMES = [
    b"*3\r\n:1\r\n", b"*1\r\n$-1\r\n", b"*1\r\n$600000000\r\n", b"*1\r\n$abc\r\n", b"*x\r\n",
    b'PING "a\r\n', b"*0\r\nPING\r\n", b"*-5\r\nPING\r\n", b"*1\r\n$4\r\nPINGxxPING\r\n",
    b'PING\nPING a\r\nECHO "a\\x41b\\n"\r\nECHO \'it\\\'s\'\r\n', b"\r\n\r\n   \r\nPING\r\n",
    b"*3000000000\r\n", b"*-0\r\nPING\r\n", b"*1\r\n$-0\r\n",
    b"FOO a b\r\n", b"*1\r\n$03\r\nget\r\n", b"*1\r\n$+3\r\nget\r\n",
    b"*2\r\n$4\r\nPING\r\n$3\r\nabc\r\n*1\r\n$3\r\nget\r\n", b"*1\r\n$4\r\nPING\r\nPING\r\n",
    b"*2\r\n$4\r\nECHO\r\n*1\r\n", b"ECHO a\" b\r\n", b"SET k v\r\nGET k\r\nDEL k\r\n",
    b"*1\r\n$4\r\nQUIT\r\nPING\r\n", b"*1\r\n" + b"$1\r\nx\r\n",
    b"SUBSCRIBE pds:a pds:b\r\nPING\r\nPING x\r\nGET x\r\nSUBSCRIBE pds:a\r\nUNSUBSCRIBE pds:b\r\n"
    b"UNSUBSCRIBE\r\nUNSUBSCRIBE\r\nPING\r\nGET x\r\n",
    b"PSUBSCRIBE pds:* pds:?\r\nSET a b\r\nPUNSUBSCRIBE pds:x\r\nPUNSUBSCRIBE\r\nGET a\r\n",
    b"SUBSCRIBE pds:a\r\nRESET\r\nGET a\r\nPUNSUBSCRIBE\r\n",
    b"PUBLISH pds:nobody x\r\nPUBSUB NUMSUB pds:nobody\r\nPUBSUB CHANNELS pds:nobody*\r\n",
    # sharded pub/sub: a namespace and a count of its own
    b"SSUBSCRIBE pds:s1 pds:s2\r\nPING\r\nSSUBSCRIBE pds:s1\r\nSUBSCRIBE pds:c\r\n"
    b"SUNSUBSCRIBE pds:s2\r\nSUNSUBSCRIBE\r\nSUNSUBSCRIBE\r\nUNSUBSCRIBE\r\nGET x\r\n",
    b"SSUBSCRIBE pds:me\r\nSPUBLISH pds:me hi\r\nPUBLISH pds:me no\r\nSUNSUBSCRIBE pds:me\r\n",
    b"SPUBLISH pds:nobody x\r\nPUBSUB SHARDNUMSUB pds:nobody pds:x\r\n"
    b"PUBSUB SHARDCHANNELS pds:nobody*\r\nPUBSUB SHARDCHANNELS\r\nSSUBSCRIBE\r\n",
    b"MULTI\r\nSSUBSCRIBE pds:m\r\nEXEC\r\nSUBSCRIBE pds:x\r\nSSUBSCRIBE pds:y\r\n"
    b"UNSUBSCRIBE\r\nPING\r\nSUNSUBSCRIBE\r\nPING\r\nRESET\r\n",
    b"*1\r\n$4\r\nPING\r\n*3000000000\r\n", b"*1\r\n$4\r\nPING\r\n*99999999\r\n$1\r\n",
    b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n~9999999\r\n", b"*1\r\n+PING\r\n",
    b"*2\r\n$4\r\nECHO\r\n*1\r\n$1\r\na\r\n", b"*2\r\n$4\r\nECHO\r\n_\r\n",
    # inline lines (bytes.split when there are no quotes)
    b"PING\nPING x\n", b"GET\r\n  PING \t x\x0b\x0cy \r\n", b"PING\r\nPI", b"QUIT\r\nPING\r\n",
    b"MULTI\r\nSET k v\r\nGETX\r\nEXEC\r\n", b"PING\r\n*1\r\n$4\r\nPING\r\n", b"PING a\rb\r\n",
    b"BLPOP pds:nolist 0.05\r\nPING\r\n", b"ping\r\nPiNg\r\nECHO \xff\xfe\r\n",
    # sdssplitargs: \v and \f are skipped before an argument and kept inside
    # one; a closing quote may be followed by them
    b"ECHO \x0b\x0cx\x0by\x0c\r\n", b'ECHO "a"\x0b\r\n', b"ECHO 'a'\x0c\r\n",
    # reply types that RESP3 spells apart: maps, sets, doubles, nulls
    b"HSET pds:h f 1\r\nHGETALL pds:h\r\nSADD pds:s x\r\nSMEMBERS pds:s\r\n"
    b"ZADD pds:z 1.5 a\r\nZSCORE pds:z a\r\nZRANGE pds:z 0 -1 WITHSCORES\r\n"
    b"ZMSCORE pds:z a b\r\nMULTI\r\nZINCRBY pds:z 1 a\r\nHGETALL pds:h\r\nEXEC\r\n"
    b"ZPOPMIN pds:z\r\nINCRBYFLOAT pds:f 1.5\r\nCONFIG GET maxclients\r\nGET pds:nil\r\n"
    b"DEL pds:h pds:s pds:z pds:f\r\n",
]

# The same frames behind an inline SELECT (the inline fast path reads inline
# frames), a quoted one (the exact parser reads them all) and a RESP one (the
# hiredis fast path reads them first).
PREFIXES = {"inline": b"SELECT 12\r\n", "quoted": b'SELECT "12"\r\n',
            "resp": b"*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n",
            "resp3": b"HELLO 3\r\nSELECT 12\r\n"}

# HELLO's reply holds the connection's id, which differs between the servers.
_client_id = re.compile(rb"\$2\r\nid\r\n:[0-9]+\r\n")


@pytest.mark.parametrize("prefix", PREFIXES.values(), ids=PREFIXES.keys())
@pytest.mark.parametrize("frame", FRAMES, ids=range(len(FRAMES)))
def test_raw_frames_answered_like_redis(frame: bytes, prefix: bytes, pulsards: Any) -> None:
    from .conftest import AGREE_DB, _redis_address

    # pulsards' fixture flushed it; frames that write (a SET in RESP3's
    # subscribed mode) must not leave keys for the next frame on Redis either.
    with redis.Redis(*_redis_address(), db=AGREE_DB) as real:
        real.flushdb()
    with ThreadPoolExecutor(2) as pool:  # both at once: the waits overlap
        want = pool.submit(exchange, _redis_address(), prefix + frame)
        got = pool.submit(exchange, (pulsards.host, pulsards.port), prefix + frame)
        assert _client_id.sub(b"", got.result()) == _client_id.sub(b"", want.result())


def test_huge_inline_and_query_buffer_limits(pulsards: Any) -> None:
    address = (pulsards.host, pulsards.port)
    assert exchange(address, b"x" * 70000) == \
        b"-ERR Protocol error: too big inline request\r\n<EOF>"
    assert exchange(address, b"*1\r\n" + b"$" + b"9" * 70000) == \
        b"-ERR Protocol error: too big bulk count string\r\n<EOF>"
    # Other connections are untouched by a client's protocol error.
    assert exchange(address, b"PING\r\n") == b"+PONG\r\n"


# ------------------------------------------------------------- in process
class FakeTransport:
    """Records writes; enough of asyncio.Transport for ``Client``."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def get_write_buffer_size(self) -> int:
        return 0  # writes are taken at once

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1)


def connect(server: Server) -> tuple[Client, FakeTransport]:
    client = Client(server)
    transport = FakeTransport()
    client.connection_made(transport)  # type: ignore[arg-type]
    return client, transport


def feed(client: Client, data: bytes) -> None:
    """``data`` as one read, then the end of the loop's turn (the queued writes)."""
    client.data_received(data)
    client.server.write_pending()


async def next_turn() -> None:
    """Let the loop end its turn: the replies queued in it are written."""
    loop = asyncio.get_running_loop()
    turn = loop.create_future()
    loop.call_soon(turn.set_result, None)  # after write_pending, queued before it
    await turn


def pack(*commands: tuple[Any, ...]) -> bytes:
    return b"".join(hiredis.pack_command(c) for c in commands)


async def test_a_pipeline_is_answered_in_one_write() -> None:
    server = Server(Config(port=0))
    client, transport = connect(server)
    feed(client, pack(*[("SET", f"k{i}", i) for i in range(16)], ("GET", "k3"),
                      ("NOSUCH",), ("GET",), ("INCR", "k1")))
    assert len(transport.writes) == 1
    assert transport.writes[0] == (
        b"+OK\r\n" * 16 + b"$1\r\n3\r\n"
        + b"-ERR unknown command 'NOSUCH', with args beginning with: \r\n"
        + b"-ERR wrong number of arguments for 'get' command\r\n:2\r\n")
    assert client.parser is None  # still on the fast path


async def test_replies_are_written_at_the_end_of_the_loop_turn() -> None:
    # As Redis writes its output buffers before it polls again: the clients a
    # turn served get their replies back to back.
    server = Server(Config(port=0))
    (a, a_out), (b, b_out) = connect(server), connect(server)
    a.data_received(pack(("SET", "k", "1"), ("GET", "k")))
    b.data_received(pack(("GET", "k")))
    b.data_received(pack(("PING",)))  # a second read in the turn joins the first's
    assert a_out.writes == b_out.writes == []
    await next_turn()
    assert a_out.writes == [b"+OK\r\n$1\r\n1\r\n"]
    assert b_out.writes == [b"$1\r\n1\r\n+PONG\r\n"]


async def test_a_lone_connection_is_answered_at_once() -> None:
    server = Server(Config(port=0))
    client, transport = connect(server)
    client.data_received(pack(("PING",)))
    assert transport.writes == [b"+PONG\r\n"]


async def test_a_message_follows_the_replies_queued_before_it() -> None:
    server = Server(Config(port=0))
    (sub, sub_out), (pub, pub_out) = connect(server), connect(server)
    feed(sub, pack(("HELLO", 3), ("SUBSCRIBE", "ch")))
    sub_out.writes.clear()
    sub.data_received(pack(("PING", "first")))
    pub.data_received(pack(("PUBLISH", "ch", "second")))
    await next_turn()
    assert sub_out.writes == [b"$5\r\nfirst\r\n"
                              b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$6\r\nsecond\r\n"]
    assert pub_out.writes == [b":1\r\n"]


async def test_quit_and_close_write_the_queued_replies_first() -> None:
    server = Server(Config(port=0))
    (a, a_out), (b, b_out), (c, c_out) = connect(server), connect(server), connect(server)
    a.data_received(pack(("PING",), ("QUIT",), ("PING",)))  # nothing after QUIT runs
    b.data_received(pack(("ECHO", "x")))
    b.close()  # (the idle timeout, SHUTDOWN)
    c.data_received(pack(("ECHO", "y")))
    c.abort()  # CLIENT KILL: unsent replies are dropped
    assert (a_out.writes, a_out.closed) == ([], False)
    assert (b_out.writes, b_out.closed) == ([b"$1\r\nx\r\n"], True)
    await next_turn()
    assert (a_out.writes, a_out.closed) == ([b"+PONG\r\n+OK\r\n"], True)
    assert c_out.writes == []


STREAM = pack(("SET", "a", "x" * 300), ("GET", "a"), ("RPUSH", "l", "1", "2"),
              ("LRANGE", "l", "0", "-1"), ("PING",)) + b"PING inline\r\n" + pack(
    ("ECHO", ""), ("MSET", "b", "1", "c", "2"), ("MGET", "a", "b", "c")) + b"\r\nGET b\r\n"


def replies_for(chunks: list[bytes]) -> bytes:
    server = Server(Config(port=0))
    client, transport = connect(server)
    for chunk in chunks:
        feed(client, chunk)
    return b"".join(transport.writes)


async def test_splitting_the_stream_anywhere_changes_nothing() -> None:
    whole = replies_for([STREAM])
    assert whole.count(b"\r\n") > 10
    assert replies_for([bytes([b]) for b in STREAM]) == whole
    for cut in range(1, len(STREAM), 7):
        assert replies_for([STREAM[:cut], STREAM[cut:]]) == whole, cut


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=20), min_size=1, max_size=5), st.data())
def test_parser_reads_what_clients_encode(args: list[bytes], data: st.DataObject) -> None:
    encoded = hiredis.pack_command(tuple(args)) * 2
    cut = data.draw(st.integers(0, len(encoded)))
    parser = RequestParser()
    parser.feed(encoded[:cut])
    got = []
    while (req := parser.gets()) is not None:
        got.append(req)
    parser.feed(encoded[cut:])
    while (req := parser.gets()) is not None:
        got.append(req)
    assert got == [args, args]
    assert parser.idle()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=60))
def test_parser_never_crashes_on_garbage(data: bytes) -> None:
    parser = RequestParser(max_bulk_len=1 << 20)
    parser.feed(data)
    try:
        while parser.gets() is not None:
            pass
    except ProtocolError as exc:
        assert str(exc)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=60))
def test_server_survives_garbage(data: bytes) -> None:
    async def run() -> None:
        server = Server(Config(port=0))
        client, transport = connect(server)
        feed(client, data or b"\n")
        good, good_transport = connect(server)
        feed(good, b"PING\r\n")
        assert good_transport.writes == [b"+PONG\r\n"]
        for chunk in transport.writes:
            assert chunk.endswith(b"\r\n")

    asyncio.run(run())


def test_split_args_like_sdssplitargs() -> None:
    assert split_args(b'set "a b" \'c d\' e') == [b"set", b"a b", b"c d", b"e"]
    assert split_args(b'"\\x41\\n\\t"') == [b"A\n\t"]
    assert split_args(b"   ") == []
    assert split_args(b'"unterminated') is None
    assert split_args(b'"a"b') is None
    # Redis splits a C string: a NUL ends the line (see docs: Redis itself
    # never finds the newline after a NUL and waits for more).
    assert split_args(b"ECHO a\0b c") == [b"ECHO", b"a"]
    assert split_args(b'ECHO "a\0b"') is None


# ------------------------------------------------------------------ MONITOR
# Sent by one client while another monitors; the monitor's lines must match
# Redis' (timestamps and the client's port aside).  A redis-server of the
# test's own: MONITOR on the shared one would see other clients' commands.
WATCHED = (b'SET k "a\\x00b\\n\\"q\\\\"\r\nAUTH foo\r\nCONFIG GET port\r\nMULTI\r\nINCR n\r\n'
           b"EXEC\r\nEVAL \"return redis.call('get', KEYS[1])\" 1 k\r\n"
           b"FUNCTION LOAD \"#!lua name=m\\nredis.register_function('mf', function(keys, args) "
           b"return redis.call('set', keys[1], args[1]) end)\"\r\nFCALL mf 1 k v\r\n"
           b"FCALL_RO mf 1 k v\r\nFUNCTION DELETE m\r\n"
           b"HELLO 3 AUTH default x\r\nHELLO 2\r\nCLIENT ID\r\nCLIENT LIST\r\nSELECT 2\r\n"
           b"PING\r\nBLPOP nothing 0.01\r\nNOSUCH\r\nGET\r\nSELECT 0\r\nXADD s 1-1 f \xff\r\n")
OWN = b"PING\r\nGET x\r\nMONITOR\r\nECHO \"hi\"\r\n"
_LINE = re.compile(rb"^\+[0-9]+\.[0-9]{6} \[([0-9]+) ([^\]]+)\] (.*)$")


def _monitored(address: tuple[str, int]) -> tuple[bytes, list[bytes]]:
    """What the monitor gets back for its own commands, then the lines it sees."""
    with socket.create_connection(address, timeout=2) as mon, \
            socket.create_connection(address, timeout=2) as other:
        mon.sendall(b"MONITOR\r\n")
        assert mon.recv(100) == b"+OK\r\n"
        mon.sendall(OWN)
        own = exchange_on(mon)
        port = other.getsockname()[1]
        other.sendall(WATCHED)
        other.settimeout(1)
        other.recv(65536)
        lines = []
        for line in exchange_on(mon).split(b"\r\n")[:-1]:
            match = _LINE.match(line)
            assert match, line
            db, source, args = match.groups()
            who = b"other" if source.endswith(b":%d" % port) else source
            lines.append(b"[%s %s] %s" % (db, who, args))
        own_port = mon.getsockname()[1]
        return re.sub(rb"\+[0-9]+\.[0-9]{6} \[0 [^\]]*:%d\]" % own_port, b"[own]", own), lines


def exchange_on(sock: socket.socket, wait: float = 0.3) -> bytes:
    sock.settimeout(wait)
    out = b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except TimeoutError:
        pass
    return out


def test_monitor_shows_what_redis_shows(private_redis: tuple[str, int], pulsards: Any) -> None:
    want = _monitored(private_redis)
    got = _monitored((pulsards.host, pulsards.port))
    assert got == want
    assert b'[0 other] "SET" "k" "a\\x00b\\n\\"q\\\\"' in want[1]  # the escapes are tested
    # Nobody monitors any more: requests are back on the fast path.
    with redis.Redis(pulsards.host, pulsards.port) as client:
        assert client.ping() is True
        assert "O" not in {c["flags"] for c in client.client_list()}


# CLIENT REPLY OFF and SKIP drop replies (SKIP: the next command's; neither
# answers itself), ON answers again, RESET clears them; CLIENT NO-EVICT.
_REPLY_SCRIPT = (
    b"FLUSHDB\r\nCLIENT REPLY OFF\r\nSET a 1\r\nGET a\r\nNOSUCH\r\nCLIENT REPLY ON\r\nGET a\r\n"
    b"CLIENT REPLY SKIP\r\nGET a\r\nECHO x\r\nCLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nECHO y\r\n"
    b"CLIENT REPLY SKIP\r\nCLIENT REPLY SKIP\r\nECHO z\r\nECHO w\r\nCLIENT REPLY OFF\r\n"
    b"CLIENT REPLY SKIP\r\nECHO q\r\nRESET\r\nECHO r\r\nCLIENT REPLY BOGUS\r\nCLIENT REPLY\r\n"
    b"CLIENT NO-EVICT ON\r\nCLIENT NO-EVICT maybe\r\nCLIENT REPLY SKIP\r\nMULTI\r\nSET b 1\r\n"
    b"EXEC\r\nCLIENT REPLY OFF\r\nINCR c\r\nCLIENT REPLY ON\r\nGET c\r\nPING\r\n")


def test_client_reply_drops_replies_as_redis(private_redis: tuple[str, int],
                                             pulsards: Any) -> None:
    seen = []
    for address in (private_redis, (pulsards.host, pulsards.port)):
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(_REPLY_SCRIPT)
            raw = b""
            while not raw.endswith(b"+PONG\r\n"):
                raw += sock.recv(65536)
            seen.append(raw)
    assert seen[1] == seen[0]
    assert seen[0].startswith(b"+OK\r\n+OK\r\n$1\r\n1\r\n$1\r\nx\r\n+OK\r\n$1\r\ny\r\n$1\r\nw\r\n")


def test_client_no_evict_shows_in_client_list(rp: redis.Redis) -> None:
    assert rp.execute_command("CLIENT", "NO-EVICT", "ON") == b"OK"
    assert "e" in rp.client_info()["flags"]
    rp.execute_command("CLIENT", "NO-EVICT", "OFF")
    assert rp.client_info()["flags"] == "N"


def test_a_blocked_clients_later_requests_wait_for_its_reply(
        either: tuple[str, int]) -> None:
    """Requests read while a client is blocked are answered after the
    blocking command, in order (a pipelining client relies on it)."""
    with socket.create_connection(either, timeout=5) as sock, \
            redis.Redis(*either, db=12) as admin:
        sock.sendall(b"SELECT 12\r\nCLIENT ID\r\n")
        reader = hiredis.Reader()
        replies: list[Any] = []

        def read(count: int) -> list[Any]:
            while len(replies) < count:
                item = reader.gets()
                if item is False:
                    reader.feed(sock.recv(65536))
                else:
                    replies.append(item)
            return replies[:count]

        own_id = read(2)[1]
        sock.sendall(b"BLPOP nothing 0.3\r\n")
        wait_for(lambda: any(c["id"] == str(own_id) and "b" in c["flags"]
                             for c in admin.client_list()), 5, "the client to block")
        sock.sendall(b"PING\r\nECHO after\r\n")  # a later read, while blocked
        assert read(5)[2:] == [None, b"PONG", b"after"]
