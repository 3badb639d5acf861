"""ACL: users, rules, permission checks and the ACL commands, compared byte for
byte with a redis-server of the test session's own (never the shared one:
users are server-wide).  Every test leaves both servers with the default
user alone, as it found them."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import Any

import hiredis
import pytest
import redis
from polling import wait_for

from .conftest import ServerProcess

pytestmark = pytest.mark.timeout(30)

Address = tuple[str, int]


class Conn:
    """A raw connection: requests out, the exact reply bytes back."""

    def __init__(self, address: Address) -> None:
        self.sock = socket.create_connection(address, timeout=5)

    def send(self, *commands: tuple[Any, ...]) -> bytes:
        """Send ``commands`` pipelined; the bytes of their replies."""
        self.sock.sendall(b"".join(_encode(c) for c in commands))
        reader, data, replies = hiredis.Reader(), b"", 0
        while replies < len(commands):
            chunk = self.sock.recv(1 << 16)
            assert chunk, f"connection closed after {data!r}"
            data += chunk
            reader.feed(chunk)
            while reader.gets() is not False:
                replies += 1
        return data

    def closed(self) -> bool:
        """Whether the server closed the connection (polled, never waited for)."""
        self.sock.setblocking(False)
        try:
            return self.sock.recv(1 << 16) == b""
        except BlockingIOError:
            return False
        except ConnectionError:
            return True
        finally:
            self.sock.setblocking(True)

    def close(self) -> None:
        self.sock.close()


def _query(address: Address, *command: Any) -> Any:
    """One command's parsed reply, as hiredis gives it (no client's conversions)."""
    conn = Conn(address)
    reader = hiredis.Reader()
    reader.feed(conn.send(command))
    conn.close()
    return reader.gets()


def _encode(args: tuple[Any, ...]) -> bytes:
    parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


def _reset(address: Address) -> None:
    with redis.Redis(*address) as client:
        client.config_set("requirepass", "")
        client.execute_command("ACL", "SETUSER", "default", "reset", "on", "nopass", "~*",
                               "&*", "+@all")
        for name in client.execute_command("ACL", "USERS"):
            if name != b"default":
                client.execute_command("ACL", "DELUSER", name)
        client.execute_command("ACL", "LOG", "RESET")
        client.config_set("acllog-max-len", "128")


@pytest.fixture
def servers(private_redis: Address, pulsards: ServerProcess) -> Iterator[list[Address]]:
    """[the private redis-server, pulsards], their users reset after the test."""
    both = [private_redis, (pulsards.host, pulsards.port)]
    try:
        yield both
    finally:
        for address in both:
            _reset(address)


def _agree(servers: list[Address], *commands: tuple[Any, ...]) -> bytes:
    """Run ``commands`` on a new connection to each server; the same bytes back."""
    replies = []
    for address in servers:
        conn = Conn(address)
        # HELLO's reply holds the connection's id, which differs.
        replies.append(re.sub(rb"\$2\r\nid\r\n:\d+", b"id", conn.send(*commands)))
        conn.close()
    assert replies[1] == replies[0]
    return replies[0]


def _as_user(servers: list[Address], user: str, rules: list[str],
             *commands: tuple[Any, ...]) -> bytes:
    """Create ``user`` with ``rules`` on both servers, run ``commands`` as it."""
    _agree(servers, ("ACL", "SETUSER", user, "reset", "on", ">pw", *rules))
    return _agree(servers, ("AUTH", user, "pw"), *commands)


def _rules(reply: list[Any]) -> dict[str, Any]:
    """GETUSER's fields, its command rules as a set (Redis lists the single
    commands in its hash table's order, which changes from run to run)."""
    fields = dict(zip(reply[::2], reply[1::2], strict=True))
    rules = fields.pop(b"commands").split()
    fields[b"commands"] = (rules[0], set(rules[1:]))
    return fields


# ------------------------------------------------------------------ rules
RULE_SETS = [
    ["on", ">p1", ">p2", "<p1", "~k*", "%R~r*", "%W~w*", "%RW~b*", "&ch*", "+@read",
     "-@string", "+client|id", "-keys"],
    ["+get", "+set", "+hget", "allchannels", "allkeys"],
    ["+@all", "-flushall", "-debug", "-@dangerous", "nopass"],
    ["+select|0", "+config|get", "+client", "-client|kill", "+@hash", "-hset"],
    ["#" + "a" * 64, "!" + "a" * 64, "allcommands", "-@write", "+set", "resetkeys", "~x"],
    ["(+get ~k*)", "(", "+set", "~s*)", "on", "+ping"],
    ["skip-sanitize-payload", "+@sortedset", "+@stream", "-xadd", "%R~a", "%W~a"],
]


@pytest.mark.parametrize("rules", RULE_SETS, ids=range(len(RULE_SETS)))
def test_getuser_and_list_agree(servers: list[Address], rules: list[str]) -> None:
    found = []
    for address in servers:
        assert _query(address, "ACL", "SETUSER", "u", *rules) == b"OK"
        user = _query(address, "ACL", "GETUSER", "u")
        selectors = [_rules(s) for s in user[-1]]
        found.append((_rules(user[:-2]), selectors, _query(address, "ACL", "USERS"),
                      [set(line.split()) for line in _query(address, "ACL", "LIST")
                       if b"(" not in line]))
    assert found[1] == found[0]


def test_getuser_raw_replies_agree(servers: list[Address]) -> None:
    """Byte for byte, in both protocols, where no single command is listed."""
    _agree(servers, ("ACL", "SETUSER", "v", "on", ">x", "~a*", "%R~b", "&c", "+@all", "-@admin",
                     "(~z* -@all +@read)"))
    for protocol in (2, 3):
        replies = []
        for address in servers:
            conn = Conn(address)
            conn.send(("HELLO", protocol))  # (its reply holds the connection's id)
            replies.append(conn.send(("ACL", "GETUSER", "v"), ("ACL", "GETUSER", "no"),
                                     ("ACL", "GETUSER", "default"), ("ACL", "LIST"),
                                     ("ACL", "USERS"), ("ACL", "WHOAMI")))
            conn.close()
        assert replies[1] == replies[0]


BAD_RULES = [
    ["blah"], ["+nosuch"], ["-nosuch"], ["+@nosuch"], ["+config|nosuch"], ["+config|get|x"],
    ["-select|0"], ["+get|"], ["#abc"], ["!" + "A" * 64], ["<nope"], ["allkeys", "~x"],
    ["allchannels", "&x"], ["~a b"], ["%X~a"], ["%~c"], ["%R"], ["(+get", "~k"],
    ["on", "(+get ~k) (~x"], ["(+nosuch)"], ["(+get (~x)", "y)"], ["+@all", "-@"],
]


def test_setuser_errors_agree(servers: list[Address]) -> None:
    commands = [("ACL", "SETUSER", "e", *rules) for rules in BAD_RULES]
    commands += [("ACL", "SETUSER", "a b"), ("ACL", "SETUSER", "e", ""),
                 ("ACL", "GETUSER", "e"), ("ACL", "DELUSER", "default", "e"),
                 ("ACL", "DELUSER", "nobody", "e"), ("ACL", "SETUSER"), ("ACL", "CAT", "a", "b"),
                 ("ACL", "CAT", "nosuch"), ("ACL", "GENPASS", "0"), ("ACL", "GENPASS", "4097"),
                 ("ACL", "GENPASS", "x"), ("ACL", "GENPASS", "1", "2"), ("ACL", "LOG", "x"),
                 ("ACL", "LOG", "1", "2"), ("ACL", "LOG", "-5"), ("ACL", "WHOAMI", "x"),
                 ("ACL", "NOSUCH"), ("ACL",), ("ACL", "LOAD"), ("ACL", "SAVE"),
                 ("ACL", "DRYRUN", "nosuch", "get", "x"), ("ACL", "DRYRUN", "default", "nosuch"),
                 ("ACL", "DRYRUN", "default", "get"), ("ACL", "DRYRUN", "default", "get", "x"),
                 ("ACL", "DRYRUN", "default", "client", "nosuch"), ("ACL", "HELP")]
    _agree(servers, *commands)


def test_genpass(servers: list[Address]) -> None:
    with redis.Redis(*servers[1]) as client:
        password = client.execute_command("ACL", "GENPASS")
        assert len(password) == 64 and int(password, 16) >= 0
        assert password != client.execute_command("ACL", "GENPASS")
        assert len(client.execute_command("ACL", "GENPASS", "5")) == 2


# ------------------------------------------------------------ permissions
def test_commands_keys_channels_agree(servers: list[Address]) -> None:
    _as_user(
        servers, "bob",
        ["+get", "+set", "+multi", "+exec", "+eval", "+publish", "+subscribe", "+client|info",
         "+exists", "+type", "+object", "+sort", "+sort_ro", "+lpush", "+bitfield", "~k*",
         "%R~r*", "%W~w*", "&ch*"],
        ("GET", "k1"), ("GET", "x"), ("DEL", "k1"), ("CLIENT", "ID"), ("CLIENT", "KILL", "ID", 5),
        ("CLIENT", "NOSUCH"), ("SET", "w1", "v"), ("SET", "w1", "v", "GET"), ("GET", "r1"),
        ("SET", "r1", "v"), ("PUBLISH", "ch1", "m"), ("PUBLISH", "x", "m"), ("ACL", "WHOAMI"),
        ("EXISTS", "r1", "zz"), ("EXISTS", "r1", "w1"), ("TYPE", "w1"),
        ("OBJECT", "ENCODING", "w1"), ("SORT", "k1", "BY", "w_*"), ("SORT", "k1", "GET", "#"),
        ("SORT", "k1", "BY", "nosort"), ("SORT", "k1", "STORE", "w2"),
        ("SORT", "k1", "STORE", "r2"), ("SORT_RO", "k1", "BY", "x*"), ("LPUSH", "r1", "x"),
        ("BITFIELD", "r1", "GET", "u8", 0), ("BITFIELD", "r1", "SET", "u8", 0, 1),
        ("BITFIELD", "w1", "INCRBY", "u8", 0, 1), ("GET", "k1", "extra"),
        ("EVAL", "return redis.call('get','x')", 0), ("EVAL", "return redis.pcall('del','k')", 0),
        ("EVAL", "return redis.pcall('publish','nope','m')", 0),
        ("EVAL", "return redis.call('get',KEYS[1])", 1, "x"),
        ("EVAL", "return redis.call('get','k1')", 0),
        ("MULTI",), ("GET", "k1"), ("GET", "x"), ("DEL", "x"), ("EXEC",),
        ("SUBSCRIBE", "ch1", "nope"), ("SUBSCRIBE", "ch2"), ("PING",))


def test_rules_changed_before_exec_agree(servers: list[Address]) -> None:
    replies = []
    for address in servers:
        admin, user = Conn(address), Conn(address)
        admin.send(("ACL", "SETUSER", "m", "on", ">pw", "+@all", "~k*", "-flushall"))
        user.send(("AUTH", "m", "pw"), ("MULTI",), ("GET", "k1"), ("SET", "k2", "v"),
                  ("INCR", "k3"))
        admin.send(("ACL", "SETUSER", "m", "-get", "resetkeys", "~k2"))
        replies.append(user.send(("EXEC",), ("FLUSHALL",), ("PSUBSCRIBE", "a*")))
        admin.close()
        user.close()
    assert replies[1] == replies[0]


def test_selectors_agree(servers: list[Address]) -> None:
    _as_user(servers, "s", ["+get", "~a*", "(+set ~b*)", "(%R~c* +@read)", "&x"],
             ("GET", "a1"), ("GET", "b1"), ("SET", "b1", "v"), ("SET", "a1", "v"),
             ("GET", "c1"), ("HGET", "c1", "f"), ("HGET", "a1", "f"), ("MGET", "a1", "c1", "b1"),
             ("MSET", "b1", "1", "b2", "2"), ("ACL", "DRYRUN", "s", "get", "b1"))
    _agree(servers, ("ACL", "DRYRUN", "s", "get", "b1"), ("ACL", "DRYRUN", "s", "set", "b1", "v"),
           ("ACL", "DRYRUN", "s", "set", "c1", "v"), ("ACL", "DRYRUN", "s", "publish", "y", "m"),
           ("ACL", "DRYRUN", "s", "lpush", "a", "m"), ("ACL", "DRYRUN", "s", "config", "get", "x"))


def test_acl_log_agrees(servers: list[Address]) -> None:
    _as_user(servers, "bob", ["+get", "+multi", "+exec", "+eval", "~k*", "&ch*"],
             ("GET", "x"), ("GET", "x"), ("DEL", "k"), ("MULTI",), ("GET", "y"), ("EXEC",),
             ("EVAL", "return redis.pcall('get','z')", 0), ("AUTH", "bob", "wrong"),
             ("AUTH", "nobody", "x"), ("HELLO", 2, "AUTH", "bob", "bad"))
    logs = []
    for address in servers:
        with redis.Redis(*address, protocol=3) as client:
            client.response_callbacks.clear()
            entries = client.execute_command("ACL", "LOG")
            assert len(client.execute_command("ACL", "LOG", 2)) == 2
            assert entries[0][b"age-seconds"] < 5
            info = [dict(pair.split(b"=", 1) for pair in e[b"client-info"].split())
                    for e in entries]
            logs.append([({k: v for k, v in e.items() if k not in (b"age-seconds",
                                                                  b"client-info")},
                          i[b"user"], i[b"flags"]) for e, i in zip(entries, info, strict=True)])
            assert client.execute_command("ACL", "LOG", "RESET") == b"OK"
            assert client.execute_command("ACL", "LOG") == []
    assert logs[1] == logs[0]


def test_acllog_max_len(servers: list[Address]) -> None:
    for address in servers:
        conn = Conn(address)
        assert conn.send(("CONFIG", "GET", "acllog-max-len")).endswith(b"$3\r\n128\r\n")
        conn.send(("CONFIG", "SET", "acllog-max-len", 2), ("AUTH", "a", "x"), ("AUTH", "b", "x"),
                  ("AUTH", "c", "x"))
        conn.close()
        log = _query(address, "ACL", "LOG")
        assert [e[e.index(b"username") + 1] for e in log] == [b"c", b"b"]


# ----------------------------------------------------------- authenticate
def test_auth_agrees(servers: list[Address]) -> None:
    _agree(servers, ("ACL", "SETUSER", "alice", "on", ">secret", "+@all", "~*"),
           ("ACL", "SETUSER", "off1", "off", ">x", "+@all"),
           ("ACL", "SETUSER", "free", "on", "nopass", "+ping"))
    _agree(servers, ("AUTH", "x"), ("AUTH", "alice", "nope"), ("AUTH", "off1", "x"),
           ("AUTH", "a", "b", "c"), ("ACL", "WHOAMI"), ("AUTH", "free", "anything"),
           ("ACL", "WHOAMI"), ("AUTH", "default", "x"), ("ACL", "WHOAMI"),
           ("HELLO", 3, "AUTH", "alice", "secret", "SETNAME", "bad name"), ("ACL", "WHOAMI"),
           ("HELLO", 2, "AUTH", "alice", "secret"), ("RESET",), ("ACL", "WHOAMI"))
    _agree(servers, ("CONFIG", "SET", "requirepass", "pw"))
    _agree(servers, ("GET", "k"), ("HELLO", 3), ("AUTH", "alice", "secret"), ("ACL", "WHOAMI"),
           ("RESET",), ("GET", "k"), ("AUTH", "pw"), ("GET", "k"),
           ("ACL", "SETUSER", "default", "off"))
    _agree(servers, ("PING",), ("HELLO", 3), ("AUTH", "pw"), ("AUTH", "default", "pw"),
           ("HELLO", 3, "AUTH", "default", "pw"), ("AUTH", "alice", "secret"), ("PING",),
           ("ACL", "SETUSER", "default", "on"), ("CONFIG", "SET", "requirepass", ""),
           ("RESET",), ("ACL", "WHOAMI"))


def test_requirepass_opens_waiting_connections(servers: list[Address]) -> None:
    for address in servers:
        with redis.Redis(*address) as admin:
            admin.config_set("requirepass", "pw")
            waiting = Conn(address)
            assert waiting.send(("PING",)).startswith(b"-NOAUTH")
            admin.execute_command("AUTH", "pw")
            admin.config_set("requirepass", "")
            assert waiting.send(("PING",)) == b"+PONG\r\n"
            waiting.close()


def test_deluser_off_and_revoked_channels(servers: list[Address]) -> None:
    for address in servers:
        with redis.Redis(*address) as admin:
            admin.execute_command("ACL", "SETUSER", "bob", "on", ">pw", "+@all", "~*", "&ch")
            one, two, sub = Conn(address), Conn(address), Conn(address)
            for conn in (one, two, sub):
                assert conn.send(("AUTH", "bob", "pw")) == b"+OK\r\n"
            assert b"user=bob" in one.send(("CLIENT", "INFO"))
            assert sub.send(("SUBSCRIBE", "ch")).endswith(b":1\r\n")
            admin.execute_command("ACL", "SETUSER", "bob", "off")  # connections stay
            assert one.send(("PING",)) == b"+PONG\r\n"
            admin.execute_command("ACL", "SETUSER", "bob", "resetchannels", "&ch*")
            assert sub.send(("PING",)).startswith(b"*2")  # still allowed its channel
            admin.execute_command("ACL", "SETUSER", "bob", "resetchannels", "&other")
            wait_for(sub.closed, what="the subscriber's close")
            with pytest.raises(redis.ResponseError, match="No such user 'x'"):
                admin.execute_command("CLIENT", "KILL", "USER", "x")
            assert admin.execute_command("CLIENT", "KILL", "USER", "bob") == 2
            wait_for(one.closed, what="CLIENT KILL USER")
            three = Conn(address)
            admin.execute_command("ACL", "SETUSER", "bob", "on")
            assert three.send(("AUTH", "bob", "pw"), ("ACL", "DELUSER", "bob")) == \
                b"+OK\r\n:1\r\n"
            wait_for(three.closed, what="ACL DELUSER of its own user")
            for conn in (one, two, sub, three):
                conn.close()


def test_a_subscriber_that_had_every_channel_loses_the_revoked_ones(
        servers: list[Address]) -> None:
    for address in servers:
        with redis.Redis(*address) as admin:
            admin.execute_command("ACL", "SETUSER", "su", "on", ">pw", "+@all", "~*", "&*")
            sub = Conn(address)
            assert sub.send(("AUTH", "su", "pw")) == b"+OK\r\n"
            assert sub.send(("SUBSCRIBE", "foo")).endswith(b":1\r\n")
            admin.execute_command("ACL", "SETUSER", "su", "resetchannels", "&bar")
            wait_for(sub.closed, what="the subscriber's close")
            assert admin.publish("foo", "secret") == 0
            sub.close()


def test_keys_a_restricted_user_is_checked_on_are_redis_ones(servers: list[Address]) -> None:
    """MIGRATE's KEYS replace its key argument; a numkeys out of range names
    no key (the command answers its own error, not NOPERM)."""
    replies = []
    for address in servers:
        with redis.Redis(*address) as admin:
            admin.execute_command("ACL", "SETUSER", "keyed", "on", ">pw", "+@all", "~allowed*")
        conn = Conn(address)
        assert conn.send(("AUTH", "keyed", "pw")) == b"+OK\r\n"
        replies.append([conn.send(command) for command in (
            ("MIGRATE", "127.0.0.1", "1", "", "0", "10", "KEYS", "allowed1"),
            ("MIGRATE", "127.0.0.1", "1", "", "0", "10", "KEYS", "other"),
            ("EVAL", "return 1", "5", "allowed"),
            ("ZUNIONSTORE", "allowedd", "99999999999999999999", "a"),
            ("ZUNIONSTORE", "allowedd", "0", "a"),
            ("SET", "other", "v"))])
        conn.close()
    assert replies[1] == replies[0]
    assert replies[0][0] == b"+NOKEY\r\n" and replies[0][-1].startswith(b"-NOPERM")


# ------------------------------------------------------------ categories
def test_categories_agree(servers: list[Address]) -> None:
    from stores.pulsards.table import build_dispatch

    names = set()
    for entry in build_dispatch().values():
        names.add(entry.spec.name.lower().encode())
        names.update(sub.spec.name.lower().encode() for sub in entry.subcommands.values())
    real, ours = (redis.Redis(*address) for address in servers)
    with real, ours:
        categories = real.execute_command("ACL", "CAT")
        assert ours.execute_command("ACL", "CAT") == categories
        for category in categories:
            expected = set(real.execute_command("ACL", "CAT", category)) & names
            assert set(ours.execute_command("ACL", "CAT", category)) == expected, category


def test_command_info_categories_and_key_flags_agree(servers: list[Address]) -> None:
    theirs = {e[0]: e for e in _query(servers[0], "COMMAND")}
    for entry in _query(servers[1], "COMMAND"):
        expected = theirs[entry[0]]
        assert entry[6] == expected[6], entry[0]
        assert [s[1] for s in entry[8]] == [s[s.index(b"flags") + 1] for s in expected[8]]


# -------------------------------------------------------------- hot path
def test_only_restricted_users_leave_the_hot_path() -> None:
    """A connection of a user allowed everything is not gated (costs nothing
    per request); one whose commands are checked is, until it is allowed all."""
    from stores.pulsards.config import Config
    from stores.pulsards.protocol import Client
    from stores.pulsards.server import Server

    server = Server(Config(port=0))
    client = Client(server)
    assert client.user is server.acl.default and not client.gated
    server.acl.setuser(b"u", [b"on", b"nopass", b"+@all", b"~*"])
    user = server.acl.users[b"u"]
    assert user.restricted  # no channels
    server.acl.setuser(b"u", [b"&*"])
    assert not user.restricted
    server.acl.setuser(b"u", [b"-flushall"])
    assert user.restricted
