"""CLIENT TRACKING: pulsards sends the invalidation messages Redis sends.

Scripts drive several raw connections of a private redis-server and of
pulsards (CLIENT TRACKING changes a connection for good: not for the shared
Redis).  After each step every connection sends a PING and everything it
received before the PONG is recorded, so the two servers' messages are
compared in order, per connection, with no waiting on the clock.
"""

from __future__ import annotations

import socket
from typing import Any

import hiredis
import pytest
import redis

from stores.pulsards.aoffile import encode_command

pytestmark = pytest.mark.timeout(60)

Step = tuple[int, tuple[str, ...]]
_PONGS = (b"PONG", [b"pong", b""])


class Conn:
    """A raw connection read with hiredis (RESP3 pushes come as lists)."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=10)
        self.reader = hiredis.Reader()

    def send(self, args: list[bytes]) -> None:
        self.sock.sendall(encode_command(args))

    def sync(self) -> list[Any]:
        """What arrived before the reply to a PING sent now."""
        self.send([b"PING"])
        got: list[Any] = []
        while True:
            item = self.reader.gets()
            if item is False:
                data = self.sock.recv(65536)
                assert data, "the server closed the connection"
                self.reader.feed(data)
                continue
            if item in _PONGS:
                return got
            got.append(item.args[0] if isinstance(item, Exception) else item)


def play(address: tuple[str, int], conns: int, steps: list[Step]) -> list[Any]:
    """Run ``steps`` ((connection, command)); "{id:N}" is connection N's id."""
    with redis.Redis(*address) as admin:
        admin.flushall()
    opened = [Conn(address) for _ in range(conns)]
    ids = []
    for conn in opened:
        conn.send([b"CLIENT", b"ID"])
        ids.append(conn.sync()[0])
    names = {f"{{id:{i}}}": str(cid) for i, cid in enumerate(ids)}
    record: list[Any] = []
    in_multi: set[int] = set()  # a PING would be queued: read them after EXEC
    closed: set[int] = set()
    try:
        for who, command in steps:
            opened[who].send([names.get(arg, arg).encode() for arg in command])
            name = command[0].upper()
            if name == "MULTI":
                in_multi.add(who)
            elif name in ("EXEC", "DISCARD"):
                in_multi.discard(who)
            elif name == "QUIT":
                closed.add(who)
            # The sender first: once its reply is in, the messages its command
            # caused (BCAST's at the end of the server's loop turn) are sent.
            order = [who, *(i for i in range(conns) if i != who)]
            got = {i: _masked(opened[i].sync(), ids, i == who and "GETREDIR" in command)
                   for i in order if i not in in_multi | closed}
            record.append([got.get(i, "in MULTI" if i in in_multi else "closed")
                           for i in range(conns)])
    finally:
        for conn in opened:
            conn.sock.close()
    return record


def _masked(items: list[Any], ids: list[int], getredir: bool) -> list[Any]:
    """Client ids (the servers number clients apart) as "id:N"."""
    def name(cid: int) -> str:
        return f"id:{ids.index(cid)}" if cid in ids else "id:gone"

    out: list[Any] = []
    for item in items:
        if isinstance(item, dict):  # HELLO's id, TRACKINGINFO's redirect
            item = {k: name(v) if k == b"redirect" and v > 0 else v
                    for k, v in item.items() if k != b"id"}
        elif isinstance(item, list) and item[:1] == [b"tracking-redir-broken"]:
            item = [item[0], name(item[1])]
        elif isinstance(item, list) and item[:1] == [b"flags"]:  # TRACKINGINFO in RESP2
            at = item.index(b"redirect") + 1
            if item[at] > 0:
                item = [*item[:at], name(item[at]), *item[at + 1:]]
        elif getredir and isinstance(item, int) and item > 0:
            item = name(item)
        out.append(item)
    return out


def _agree(private_redis: tuple[str, int], pulsards: Any, conns: int,
           steps: list[Step]) -> None:
    real = play(private_redis, conns, steps)
    ours = play((pulsards.host, pulsards.port), conns, steps)
    wrong = [f"step {i} {steps[i]}: pulsards {o!r} != redis {r!r}"
             for i, (r, o) in enumerate(zip(real, ours, strict=True)) if r != o]
    assert not wrong, "\n".join(wrong)
    assert any(any(got) for step in real for got in step[1:] if got)


def _steps(text: str) -> list[Step]:
    """Lines of "N command args..." (quotes hold an argument with spaces)."""
    import shlex

    steps = []
    for line in text.strip().splitlines():
        who, *command = shlex.split(line)
        steps.append((int(who), tuple(command)))
    return steps


DEFAULT = _steps("""
0 HELLO 3
0 CLIENT TRACKING ON
0 CLIENT TRACKINGINFO
0 CLIENT GETREDIR
0 GET a
0 MGET a b
1 SET a 1
1 SET a 2
0 GET a
0 SET a 3
0 GET b
1 DEL b
1 DEL b
0 EXISTS c
1 SET c 1
0 HGET h f
1 HSET h f v
0 SELECT 1
0 GET x
1 SET x in-db-0
0 SELECT 0
0 GET m
0 MULTI
0 GET n
0 SET m 1
0 SET n 1
0 EXEC
0 GET e
0 EVAL "redis.call('set', KEYS[1], 'x') return 1" 1 e
0 GET f
0 FLUSHDB
0 GET g
1 FLUSHALL
0 GET h
1 RPUSH h x
0 EVAL_RO "return redis.call('get', KEYS[1])" 1 ro
1 SET ro 1
0 CLIENT TRACKING OFF
0 GET z
1 SET z 1
0 CLIENT TRACKINGINFO
""")

BCAST = _steps("""
0 HELLO 3
0 CLIENT TRACKING ON BCAST PREFIX user: PREFIX job: NOLOOP
0 CLIENT TRACKINGINFO
1 SET user:1 x
1 SET other x
0 SET user:2 y
1 MSET job:1 a user:3 b job:2 c
0 MSET user:4 a user:5 b
1 DEL user:1 user:3
0 CLIENT TRACKING ON BCAST PREFIX us
0 CLIENT TRACKING ON BCAST PREFIX sess:
0 CLIENT TRACKINGINFO
1 SET sess:9 v
0 CLIENT TRACKING ON
0 CLIENT TRACKING OFF
0 CLIENT TRACKING ON BCAST
1 SET anything v
0 FLUSHDB
""")

OPT = _steps("""
0 HELLO 3
0 CLIENT CACHING YES
0 CLIENT TRACKING ON OPTIN
0 CLIENT CACHING NO
0 CLIENT CACHING MAYBE
0 GET a
1 SET a 1
0 CLIENT CACHING YES
0 CLIENT TRACKINGINFO
0 GET a
1 SET a 2
0 CLIENT CACHING YES
0 MULTI
0 GET b
0 GET c
0 EXEC
1 MSET b 1 c 1
0 CLIENT TRACKING ON OPTOUT
0 CLIENT TRACKING OFF
0 CLIENT TRACKING ON OPTOUT
0 GET d
1 SET d 1
0 CLIENT CACHING NO
0 GET d
1 SET d 2
0 CLIENT TRACKING ON BCAST
0 CLIENT TRACKING ON OPTIN OPTOUT
0 CLIENT TRACKING ON OPTIN BCAST
0 CLIENT TRACKING ON PREFIX a
0 CLIENT TRACKING ON REDIRECT 999999
0 CLIENT TRACKING ON REDIRECT {id:1} REDIRECT {id:1}
0 CLIENT TRACKING ON REDIRECT x
0 CLIENT TRACKING ON BOGUS
0 CLIENT TRACKING MAYBE
0 CLIENT TRACKING ON BCAST PREFIX a PREFIX ab
""")

REDIRECT = _steps("""
2 SUBSCRIBE __redis__:invalidate
0 CLIENT TRACKING ON REDIRECT {id:2}
0 CLIENT GETREDIR
0 CLIENT TRACKINGINFO
0 GET a
1 SET a 1
0 GET b
0 FLUSHDB
3 HELLO 3
1 CLIENT TRACKING ON REDIRECT {id:3} NOLOOP
1 GET c
0 SET c 1
1 GET c
1 SET c 2
0 GET k
2 QUIT
1 SET k 1
0 CLIENT TRACKINGINFO
3 CLIENT TRACKING ON REDIRECT {id:1}
3 GET r
1 QUIT
0 SET r 1
3 CLIENT TRACKINGINFO
0 SET r 2
""")

# A move signals its destination first, then its source (lmoveHandlePush).
MOVES = _steps("""
0 HELLO 3
0 CLIENT TRACKING ON
1 RPUSH a 1 2
1 RPUSH b 0
0 MGET a b
1 LMOVE a b LEFT RIGHT
0 MGET a b
1 RPOPLPUSH a b
0 MGET a b
1 BRPOPLPUSH b a 0.01
0 MGET a b
1 BLMOVE a b RIGHT LEFT 0.01
""")


@pytest.mark.parametrize(("conns", "steps"), [(2, DEFAULT), (2, BCAST), (2, OPT), (4, REDIRECT),
                                              (2, MOVES)],
                         ids=["default", "bcast", "optin-optout", "redirect", "moves"])
def test_invalidations_as_redis(private_redis: tuple[str, int], pulsards: Any, conns: int,
                                steps: list[Step]) -> None:
    _agree(private_redis, pulsards, conns, steps)


def test_push_bytes_as_redis(private_redis: tuple[str, int], pulsards: Any) -> None:
    """The raw bytes: a push (``>``), after the reply of the command that caused it."""
    seen = []
    for address in (private_redis, (pulsards.host, pulsards.port)):
        with redis.Redis(*address) as admin:
            admin.flushall()
        conn = Conn(address)
        try:
            conn.sock.sendall(b"HELLO 3\r\nCLIENT TRACKING ON\r\nGET k\r\nSET k v\r\n"
                              b"FLUSHALL\r\nPING\r\n")
            raw = b""
            while not raw.endswith(b"+PONG\r\n"):
                raw += conn.sock.recv(65536)
            seen.append(raw[raw.index(b"+OK\r\n"):])  # after HELLO's map (ids differ)
        finally:
            conn.sock.close()
    assert seen[1] == seen[0]
    assert seen[0] == (b"+OK\r\n_\r\n+OK\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
                       b"+OK\r\n>2\r\n$10\r\ninvalidate\r\n_\r\n+PONG\r\n")


def test_expiry_invalidates(pulsards: Any) -> None:
    conn = Conn((pulsards.host, pulsards.port))
    try:
        for command in ([b"HELLO", b"3"], [b"CLIENT", b"TRACKING", b"ON"],
                        [b"SET", b"k", b"v", b"PX", b"50"], [b"GET", b"k"]):
            conn.send(command)
            conn.sync()
        got: list[Any] = []
        while not got:  # the expiry cycle removes it within a tick or two
            got = conn.sync()
        assert got == [[b"invalidate", [b"k"]]]
    finally:
        conn.sock.close()


def test_table_limit_invalidates_the_oldest_keys(pulsards: Any) -> None:
    address = (pulsards.host, pulsards.port)
    with redis.Redis(*address) as admin:
        admin.config_set("tracking-table-max-keys", 2)
        conn = Conn(address)
        try:
            for command in ([b"HELLO", b"3"], [b"CLIENT", b"TRACKING", b"ON"],
                            [b"MGET", b"a", b"b"]):
                conn.send(command)
                conn.sync()
            conn.send([b"GET", b"c"])
            assert conn.sync() == [None, [b"invalidate", [b"a"]]]
            stats = admin.info()
            assert (stats["tracking_clients"], stats["tracking_total_keys"]) == (1, 2)
            line = next(x for x in admin.client_list() if "t" in x["flags"])
            assert line["redir"] == "0"
        finally:
            conn.sock.close()
            admin.config_set("tracking-table-max-keys", 1_000_000)
