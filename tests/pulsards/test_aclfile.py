"""ACL files (``aclfile``: loaded at start, ACL LOAD, ACL SAVE) and ``user``
directives of the config file, compared with redis-servers of the test's
own, each with its files under ``tmp_path`` (users are server-wide).
Replies are compared byte for byte; where a server must refuse to start,
pulsards' message is Redis' with "Redis" read as "pulsards"."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import redis
from polling import wait_for

from stores.pulsards.conffile import ConfigFileError, parse_config

from .conftest import ServerProcess, redis_server, start_pulsards
from .test_acl import Address, Conn, _query

pytestmark = pytest.mark.timeout(30)

ACL = "sub/users.acl"  # relative to --dir, as redis-server reads it
# Users whose ACL LIST lines are the same on both servers (Redis lists
# several single commands in its hash table's order).
USERS = [
    ("alice", "on", ">pw", "~*", "+@all"),
    ("bob", "on", "nopass", "+ping"),
    ("carol", "off", "#" + "ab" * 32, "%R~a*", "~\xe9t\xe9", "&news", "+@hash", "+get"),
    ("dave", "on", ">x", "(~k* +get)", "resetchannels", "&*"),
]


class Both(NamedTuple):
    """A redis-server and pulsards, each with ``--aclfile sub/users.acl`` in a
    directory of its own."""

    addresses: list[Address]
    dirs: list[Path]

    def write(self, content: bytes) -> None:
        """The same ACL file for both."""
        for directory in self.dirs:
            (directory / ACL).write_bytes(content)

    def agree(self, *commands: tuple[object, ...]) -> bytes:
        """Run ``commands`` on a new connection to each; the same bytes back."""
        replies = []
        for address in self.addresses:
            conn = Conn(address)
            replies.append(conn.send(*commands))
            conn.close()
        assert replies[1] == replies[0]
        return replies[0]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Both]:
    dirs = []
    for name in ("redis", "pulsards"):
        directory = tmp_path_factory.mktemp(name)
        (directory / "sub").mkdir()
        (directory / ACL).write_text("")
        dirs.append(directory)
    with redis_server("--dir", str(dirs[0]), "--aclfile", ACL) as real:
        ours = start_pulsards("--dir", str(dirs[1]), "--aclfile", ACL)
        try:
            yield Both([real, (ours.host, ours.port)], dirs)
        finally:
            assert ours.stop() == 0


@contextlib.contextmanager
def redis_with_config(conf: Path) -> Iterator[Address]:
    """A redis-server reading ``conf`` (its first argument, which
    ``redis_server`` cannot give), stopped at the end."""
    from with_redis import answers, free_port

    port = free_port()
    proc = subprocess.Popen(["redis-server", str(conf), "--port", str(port), "--save", "",
                             "--dir", str(conf.parent)], stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: answers("127.0.0.1", port, timeout=0.2), what="redis-server")
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        proc.wait(10)


# ------------------------------------------------------------ ACL LOAD
BAD_FILES = [
    b"user alice on >pw ~* +@all\n# a comment is refused\n",
    b"user alice on\nuser alice off\n",
    b"user a on >pw ~* +nosuch +@nosuch blah allkeys ~x -nosuch\nuser b blah foo\n",
    b"usr alice\nuser\nUSER b on\n",
    b"user a on\nuser b\ton\n",
    b'user "a b" on\n',
    b"user a on #abc\nuser b on ~x ~y\t~z\n",
    b"user a on (+nosuch ~x) (+get ~x) (%Q~y)\n",
    b"user a on \xff\n",
]
GOOD_FILES = [
    b"",
    b"\n  \n\t\n",
    b"user a  on\r\nuser b on +get ~k\r\n",
    b"user a on (~x +get) ( ~y\t+set ) ( ~z +incr )\n",
    b"user default on nopass ~* &* +@all\nuser c on >pw &x* -@all +ping\n",
]


def test_acl_load_refuses_a_bad_file_whole(both: Both) -> None:
    both.agree(("ACL", "SETUSER", "kept", "on", ">pw", "+ping"))
    for content in BAD_FILES:
        both.write(content)
        assert both.agree(("ACL", "LOAD"), ("ACL", "LIST")).startswith(b"-ERR ")
    for directory in both.dirs:
        (directory / ACL).unlink()
    assert b"No such file or directory" in both.agree(("ACL", "LOAD"))
    listed = both.agree(("ACL", "LIST"))
    assert b"user kept on" in listed  # every user as it was


def test_acl_load_replaces_the_users(both: Both) -> None:
    for content in GOOD_FILES:
        both.write(content)
        both.agree(("ACL", "LOAD"), ("ACL", "LIST"), ("ACL", "GETUSER", "a"))


def test_acl_load_closes_the_other_users_connections(both: Both) -> None:
    """Redis 7.0 closes the connections of every user but default on ACL LOAD,
    whether the file changed, kept or removed the user; default's connections
    stay and follow default's new rules."""
    both.write(b"user keep on >pw ~* &* +@all\nuser change on >pw ~* &* +@all\n"
                b"user gone on >pw ~* +@all\nuser default on nopass ~* &* +@all\n")
    both.agree(("ACL", "LOAD"))
    both.write(b"user keep on >pw ~* &* +@all\nuser change on >pw ~x +get\n"
                b"user default on nopass ~* &* +@all -flushall\n")
    for address in both.addresses:
        conns = {name: Conn(address) for name in ("keep", "change", "gone", "sub")}
        for name, conn in conns.items():
            assert conn.send(("AUTH", "keep" if name == "sub" else name, "pw")) == b"+OK\r\n"
        assert conns["sub"].send(("SUBSCRIBE", "ch")).endswith(b":1\r\n")
        default = Conn(address)
        assert default.send(("ACL", "LOAD")) == b"+OK\r\n"
        for name, conn in conns.items():
            wait_for(conn.closed, what=f"the close of {name}'s connection")
            conn.close()
        assert default.send(("PING",), ("ACL", "WHOAMI")) == b"+PONG\r\n$7\r\ndefault\r\n"
        assert default.send(("FLUSHALL",)).startswith(b"-NOPERM")
        own = Conn(address)
        assert own.send(("AUTH", "keep", "pw"), ("ACL", "LOAD")) == b"+OK\r\n+OK\r\n"
        wait_for(own.closed, what="the close of ACL LOAD's caller")
        for conn in (own, default):
            conn.close()
    both.write(b"")
    both.agree(("ACL", "LOAD"))


# ------------------------------------------------------------ ACL SAVE
def test_acl_save_writes_what_acl_load_reads(both: Both) -> None:
    both.write(b"")
    both.agree(("ACL", "LOAD"))
    both.agree(*(("ACL", "SETUSER", *rules) for rules in USERS), ("ACL", "SAVE"))
    real, ours = ((directory / ACL).read_bytes() for directory in both.dirs)
    assert ours == real
    assert b"user carol off" in ours and "~\xe9t\xe9".encode() in ours
    assert sorted(os.listdir(both.dirs[1] / "sub")) == ["users.acl"]  # no temp file left
    both.agree(("ACL", "DELUSER", "alice"), ("ACL", "LOAD"), ("ACL", "LIST"),
           ("ACL", "GETUSER", "carol"))
    # The file's directory gone: ACL SAVE fails, the old file stays.
    for directory in both.dirs:
        (directory / "sub").rename(directory / "away")
    try:
        both.agree(("ACL", "SAVE"), ("ACL", "LOAD"))
    finally:
        for directory in both.dirs:
            (directory / "away").rename(directory / "sub")


def test_config_get_and_set_aclfile(both: Both, private_redis: Address,
                                    pulsards: ServerProcess) -> None:
    both.agree(("CONFIG", "GET", "aclfile"), ("CONFIG", "SET", "aclfile", "x.acl"))
    # Without one: "", and ACL LOAD/SAVE keep their error (test_acl compares it).
    Both([private_redis, (pulsards.host, pulsards.port)], []).agree(("CONFIG", "GET", "aclfile"))


# ------------------------------------------------------------- restart
def test_users_survive_a_restart(tmp_path: Path) -> None:
    """ACL SAVE, stop, start again: the same users.  The file's default user
    wins over --requirepass on both servers (Redis loads the file after it)."""
    for name in ("redis", "pulsards"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "users.acl").write_text("user alice on >pw ~* +@all\n")
    flags = ("--dir", str(tmp_path / "pulsards"), "--aclfile", "users.acl")
    server = start_pulsards(*flags)
    try:
        address = (server.host, server.port)
        assert _query(address, "ACL", "USERS") == [b"alice", b"default"]
        for rules in USERS[1:]:
            assert _query(address, "ACL", "SETUSER", *rules) == b"OK"
        assert _query(address, "ACL", "SAVE") == b"OK"
        before = _query(address, "ACL", "LIST")
    finally:
        assert server.stop() == 0
    server = start_pulsards(*flags, "--requirepass", "rp")
    try:
        address = (server.host, server.port)
        assert _query(address, "ACL", "LIST") == before
        with redis.Redis(*address, username="dave", password="x") as client:
            assert client.get("k1") is None  # what dave's selector allows
    finally:
        assert server.stop() == 0
    with redis_server("--dir", str(tmp_path / "redis"), "--aclfile", "users.acl") as real:
        for rules in USERS[1:]:
            assert _query(real, "ACL", "SETUSER", *rules) == b"OK"
        assert _query(real, "ACL", "SAVE") == b"OK"
    with redis_server("--dir", str(tmp_path / "redis"), "--aclfile", "users.acl",
                      "--requirepass", "rp") as real:
        assert _query(real, "ACL", "LIST") == before
    assert (tmp_path / "pulsards" / "users.acl").read_bytes() == \
        (tmp_path / "redis" / "users.acl").read_bytes()


# -------------------------------------------------------- user directives
def test_user_directives_agree(tmp_path: Path) -> None:
    conf = tmp_path / "users.conf"
    conf.write_text("requirepass ignored\n"
                    "user default on >pw ~* &* +@all\n"
                    'user alice on ">p w" ~* "+@all"\n'
                    "user bob on nopass (~k* +get) ( ~s*  +set )\n"
                    "user carol\n")
    ours = start_pulsards(str(conf))  # (a config file may follow the flags)
    try:
        with redis_with_config(conf) as real:
            replies = []
            for address in (real, (ours.host, ours.port)):
                conn = Conn(address)
                replies.append(conn.send(("PING",), ("AUTH", "ignored"), ("AUTH", "pw"),
                                         ("ACL", "LIST"), ("AUTH", "alice", "p w")))
                conn.close()
            assert replies[1] == replies[0]
    finally:
        assert ours.stop() == 0


BAD_DIRECTIVES = [
    "user alice on >pw\nuser alice off",
    "user alice on bogus",
    "user alice bogus",
    "user alice on nopass ~x #abc",
    "user alice on (+get ~x",
    "user alice on (+get) (~x +set",
    "user",
]


def test_bad_user_directives_are_redis_config_errors(tmp_path: Path) -> None:
    """Errors found while reading the config file: Redis' text, naming the
    line (and, as Redis does, a word two places before the bad rule)."""
    for text in BAD_DIRECTIVES:
        conf = tmp_path / "bad.conf"
        conf.write_text(text + "\n")
        real = subprocess.run(["redis-server", str(conf), "--port", "0"], capture_output=True,
                              text=True, timeout=10)
        assert real.returncode == 1
        expected = real.stderr.split("***\n", 1)[1].rstrip("\n")
        with pytest.raises(ConfigFileError) as info:
            parse_config(text + "\n")
        assert str(info.value).split("***\n", 1)[1] == expected


START_FAILURES = {
    "missing file": ("", ["--aclfile", "none.acl"]),
    "bad file": ("", ["--aclfile", "bad.acl"]),
    "users and aclfile": ("user alice on\naclfile none.acl\n", []),
    "unknown command": ("user alice on +nosuch\n", []),
    "spaces in a name": ("user 'a b' on\n", []),
}


def test_bad_users_stop_the_server_as_redis(tmp_path: Path) -> None:
    """What redis-server finds once its config is read: it logs Redis' text
    and exits with status 1; pulsards prints the same before listening."""
    from with_redis import free_port

    (tmp_path / "bad.acl").write_text("user a on +nosuch\n# no comments\n")
    procs = []
    try:
        for case, (text, flags) in START_FAILURES.items():
            conf = tmp_path / f"{case}.conf"
            conf.write_text(text)
            # (A port: redis-server with port 0 exits before it loads users.)
            base = [str(conf), "--port", str(free_port()), "--dir", str(tmp_path), *flags]
            procs.append((case, subprocess.Popen(["redis-server", *base, "--save", ""],
                                                 stdout=subprocess.PIPE, text=True),
                          subprocess.Popen([sys.executable, "-m", "stores.pulsards", *base],
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           text=True)))
        for case, real, ours in procs:
            theirs, _ = real.communicate(timeout=10)
            out, err = ours.communicate(timeout=10)
            assert (real.returncode, ours.returncode, out) == (1, 1, ""), case
            # Redis' warnings after "Server initialized", where it loads users
            # (but not the host's: memory overcommit...).
            logged = theirs.split(" # Server initialized\n", 1)[1].splitlines()
            lines = [line.split(" # ", 1)[1].replace("Redis", "pulsards") for line in logged
                     if " # " in line and " # WARNING " not in line]
            assert lines and err.splitlines()[-len(lines):] == lines, case
    finally:
        for _, *pair in procs:
            for proc in pair:
                if proc.poll() is None:  # (started after all: a failed test)
                    proc.kill()
                    proc.communicate()
