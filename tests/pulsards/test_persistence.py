"""Persistence: the AOF under every fsync mode, kill -9, truncated files,
BGREWRITEAOF under load, SAVE/BGSAVE snapshots, the unix socket.

Every test starts its own ``python -m stores.pulsards`` in a temporary
directory and stops it (``Proc.stop``), so no process outlives a test.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import example, given, settings
from hypothesis import strategies as st
from polling import wait_for
from redis.backoff import NoBackoff
from redis.retry import Retry

from stores import create_store
from stores.pulsards.aoffile import AofError, encode_command, parse_aof
from stores.pulsards.snapshot import SnapshotError, decode_snapshot, encode_snapshot
from stores.pulsards.stream import Group, Nack, Stream
from stores.pulsards.zset import ZSet

pytestmark = pytest.mark.timeout(30)


class Proc:
    """A pulsards process whose stderr goes to a file (for its log lines)."""

    def __init__(self, directory: Path, *flags: str) -> None:
        self.dir = directory
        self.log = directory / f"server-{time.monotonic_ns()}.log"
        self.stderr = open(self.log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stores.pulsards", "--port", "0", "--dir", str(directory),
             "--loglevel", "notice", *flags],
            stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("pulsards ready port="):
            self.stop(signal.SIGKILL)
            raise RuntimeError(f"pulsards did not start: {line!r} {self.text()}")
        self.port = int(line.strip().split("=")[1])

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis(port=self.port, db=db)

    def text(self) -> str:
        return self.log.read_text()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.stderr.close()
        return self.proc.returncode


def _running_in(directory: Path) -> list[int]:
    """Pids of processes whose command line names ``directory`` (servers and
    their forked BGSAVE/BGREWRITEAOF children, which share the command line)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(directory).encode() in cmdline and b"stores.pulsards" in cmdline \
                and state != "Z":
            pids.append(int(entry.name))
    return pids


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[list[Proc]]:
    """Servers started by a test; every one is stopped at its end, and no
    process (server or child) may remain; the directory is removed."""
    started: list[Proc] = []
    yield started
    for proc in started:
        proc.stop(signal.SIGKILL)
    deadline = time.monotonic() + 5
    while _running_in(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)  # a child killed with its parent (PDEATHSIG) is on its way
    assert _running_in(tmp_path) == []
    shutil.rmtree(tmp_path, ignore_errors=True)


def start(procs: list[Proc], directory: Path, *flags: str) -> Proc:
    proc = Proc(directory, *flags)
    procs.append(proc)
    return proc


def dump(client: redis.Redis) -> dict[bytes, Any]:
    """Every key of the client's database: (type, value, absolute expiry ms)."""
    out: dict[bytes, Any] = {}
    for key in client.keys("*"):
        kind = client.type(key)
        value: Any
        if kind == b"string":
            value = client.get(key)
        elif kind == b"list":
            value = client.lrange(key, 0, -1)
        elif kind == b"set":
            value = sorted(client.smembers(key))
        elif kind == b"hash":
            value = client.hgetall(key)
        elif kind == b"zset":
            value = client.zrange(key, 0, -1, withscores=True)
        else:
            value = None
        out[key] = (kind, value, client.pexpiretime(key))
    return out


def dump_all(proc: Proc, dbs: int = 4) -> list[dict[bytes, Any]]:
    return [dump(proc.client(db)) for db in range(dbs)]


def fill(c: redis.Redis) -> None:
    """One key of every type, some with TTLs, through redis-py."""
    c.set("s", "v")
    c.set("ex", "v", ex=1000)
    c.execute_command("SETEX", "setex", 500, "v")
    c.set("keep", "1", px=800_000)
    c.incr("keep")
    c.rpush("l", *range(100))
    c.lpop("l")
    c.hset("h", mapping={"a": 1, "b": 2})
    c.sadd("set", *range(70))
    c.spop("set", 3)
    c.zadd("z", {"a": 1.5, "b": -2, "c": float("inf")})
    c.expire("h", 3000)
    c.pexpireat("z", int(time.time() * 1000) + 900_000)
    c.set("gone", "x", px=1)
    with c.pipeline(transaction=True) as tx:
        tx.incr("tx")
        tx.incr("tx")
        tx.rpush("txl", "a")
        tx.execute()


# ------------------------------------------------------------------ AOF
def test_always_kill9_keeps_every_acknowledged_write(tmp_path: Path, procs: list[Proc]) -> None:
    proc = start(procs, tmp_path, "--appendonly", "yes", "--appendfsync", "always")
    c = proc.client()
    fill(c)
    proc.client(2).set("db2", "two")
    # A blocked pop served by a later push is in the file as its LPOP.
    blocker = proc.client()
    got: list[Any] = []
    thread = threading.Thread(target=lambda: got.append(blocker.blpop(["bl"], 5)))
    thread.start()
    wait_for(lambda: c.info("clients")["blocked_clients"] == 1, what="the BLPOP blocked")
    c.rpush("bl", "x", "y")
    thread.join()
    assert got == [(b"bl", b"x")]

    # A writer whose every acknowledged INCR must survive the kill.
    acked = [0]
    stop = threading.Event()

    def writer() -> None:
        w = proc.client(1)
        try:
            while not stop.is_set():
                acked[0] = int(w.incr("counter"))
        except redis.ConnectionError:
            pass

    thread = threading.Thread(target=writer)
    thread.start()
    wait_for(lambda: acked[0] >= 200, what="200 acknowledged INCRs")
    before = dump_all(proc)
    proc.stop(signal.SIGKILL)
    stop.set()
    thread.join()
    assert acked[0] > 0

    again = start(procs, tmp_path, "--appendonly", "yes")
    after = dump_all(again)
    counter = int(after[1].pop(b"counter")[1])
    assert counter >= acked[0]
    before[1].pop(b"counter", None)
    assert after == before
    assert after[0][b"ex"][2] == before[0][b"ex"][2] > 0  # the same absolute deadline
    assert b"gone" not in after[0]
    assert after[0][b"bl"][1] == [b"y"]
    assert after[2] == {b"db2": (b"string", b"two", -1)}
    assert "DB loaded from append only file" in again.text()


async def test_our_client_under_always_and_a_unix_socket(tmp_path: Path,
                                                         procs: list[Proc]) -> None:
    sock = tmp_path / "pulsards.sock"
    proc = start(procs, tmp_path, "--appendonly", "yes", "--appendfsync", "always",
                 "--unixsocket", str(sock))
    store = create_store(f"redis+unix://{sock}?database=3")
    try:
        c = store.client()
        assert await c.set("k", "v", ex=100) is True
        assert await c.rpush("l", "a", "b") == 2
        async with c.pipeline(transaction=True) as tx:
            tx.incr("n")
            tx.incr("n")
            assert await tx.commit() == [1, 2]
        ttl = await c.pexpiretime("k")
    finally:
        await store.close()
    proc.stop(signal.SIGKILL)
    again = start(procs, tmp_path, "--appendonly", "yes")
    c3 = again.client(3)
    assert c3.get("k") == b"v" and c3.pexpiretime("k") == ttl
    assert c3.lrange("l", 0, -1) == [b"a", b"b"] and c3.get("n") == b"2"


@pytest.mark.parametrize("mode", ["everysec", "no"])
def test_everysec_and_no(tmp_path: Path, procs: list[Proc], mode: str) -> None:
    proc = start(procs, tmp_path, "--appendonly", "yes", "--appendfsync", mode)
    c = proc.client()
    assert c.config_get("appendfsync") == {"appendfsync": mode}
    for i in range(200):
        c.set(f"k{i}", i)
    # Replies leave after the write(): a killed process loses nothing acknowledged
    # (only a machine crash can lose what the OS had not written yet).
    proc.stop(signal.SIGKILL)
    again = start(procs, tmp_path, "--appendonly", "yes", "--appendfsync", mode)
    assert again.client().dbsize() == 200
    assert again.client().info("persistence")["aof_enabled"] == 1
    again.client().set("last", "1")
    # SIGTERM or Ctrl-C (SIGINT): fsync, exit 0.
    assert again.stop(signal.SIGTERM if mode == "everysec" else signal.SIGINT) == 0
    assert b"$4\r\nlast\r\n" in (tmp_path / "appendonly.aof").read_bytes()


def _groups_view(c: redis.Redis) -> Any:
    """What a consumer of stream ``s`` relies on, without clock readings."""
    pending = [(p["message_id"], p["consumer"], p["times_delivered"])
               for p in c.xpending_range("s", "g", "-", "+", 100)]
    groups = [{k: v for k, v in g.items()} for g in c.xinfo_groups("s")]
    return pending, groups, c.xrange("s"), sorted(x["name"] for x in c.xinfo_consumers("s", "g"))


def test_consumer_groups_survive_kill9_under_always(tmp_path: Path, procs: list[Proc]) -> None:
    proc = start(procs, tmp_path, "--appendonly", "yes", "--appendfsync", "always")
    c = proc.client()
    for i in range(1, 8):
        c.xadd("s", {"n": i}, id=f"{i}-0")
    c.xgroup_create("s", "g", id="0")
    c.xreadgroup("g", "alice", {"s": ">"}, count=3)
    c.xreadgroup("g", "bob", {"s": ">"}, count=2)
    c.xreadgroup("g", "alice", {"s": "0"})  # history: deliveries counted again
    c.xack("s", "g", "1-0")
    c.xclaim("s", "g", "carol", 0, ["2-0", "4-0"])
    c.xdel("s", "5-0")
    c.xautoclaim("s", "g", "dave", 0, "0-0", count=1)
    c.xreadgroup("g", "erin", {"s": ">"}, noack=True)
    c.xgroup_createconsumer("s", "g", "frank")
    before = _groups_view(c)
    assert before[0] and before[1][0]["entries-read"] == 7
    proc.stop(signal.SIGKILL)
    again = start(procs, tmp_path, "--appendonly", "yes")
    assert _groups_view(again.client()) == before
    # BGREWRITEAOF writes the groups out, but (as Redis' rewrite) not the pending
    # entry whose stream entry was deleted: 5-0, delivered to bob, then XDEL'd.
    again.client().bgrewriteaof()
    wait_for(lambda: again.client().info("persistence")["aof_rewrite_in_progress"] == 0,
             what="the rewrite")
    again.stop()
    third = start(procs, tmp_path, "--appendonly", "yes")
    pending, groups, entries, consumers = before
    groups[0]["pending"] -= 1
    assert _groups_view(third.client()) == (
        [p for p in pending if p[0] != b"5-0"], groups, entries, consumers)


def test_aof_holds_deterministic_commands(tmp_path: Path, procs: list[Proc]) -> None:
    proc = start(procs, tmp_path, "--appendonly", "yes", "--appendfsync", "always")
    c = proc.client()
    c.set("k", "v", ex=100)
    c.expire("k", 50)
    c.sadd("s", "a")
    c.spop("s")
    c.zadd("z", {"m": 1, "n": 2})
    c.bzpopmin(["z"], 1)
    c.rpush("l", "x")
    c.blpop(["l"], 1)
    c.delete("missing")
    c.set("short", "v", px=1)
    time.sleep(0.01)
    assert c.get("short") is None  # expired: a DEL in the file
    with c.pipeline(transaction=True) as tx:
        tx.set("t", "1").incr("t").execute()
    proc.client(5).set("five", "5")
    with c.pipeline(transaction=True) as tx:
        tx.get("t").execute()  # no write: nothing appended
    commands, _ = parse_aof((tmp_path / "appendonly.aof").read_bytes())
    names = [argv[0].upper() for argv in commands]
    assert b"EXPIRE" not in names and b"SPOP" not in names and b"BLPOP" not in names
    assert [b"SREM", b"s", b"a"] in commands
    assert [b"ZPOPMIN", b"z"] in commands and [b"LPOP", b"l"] in commands
    assert [b"DEL", b"short"] in commands and [b"DEL", b"missing"] not in commands
    assert commands[0] == [b"SELECT", b"0"]
    assert [b"SELECT", b"5"] in commands
    pexpireat = [argv for argv in commands if argv[0] == b"PEXPIREAT"]
    assert pexpireat == [[b"PEXPIREAT", b"k", b"%d" % c.pexpiretime("k")]]
    raw = (tmp_path / "appendonly.aof").read_bytes()
    assert encode_command([b"MULTI"]) + encode_command([b"SET", b"t", b"1"]) in raw
    assert raw.count(b"MULTI") == 1


def _aof_with(tmp_path: Path, *commands: list[bytes]) -> Path:
    path = tmp_path / "appendonly.aof"
    path.write_bytes(b"".join(encode_command(c) for c in commands))
    return path


def test_truncated_aof_loads_what_is_complete(tmp_path: Path, procs: list[Proc]) -> None:
    whole = encode_command([b"SET", b"a", b"1"]) + encode_command([b"SET", b"b", b"2"])
    cut = encode_command([b"SET", b"c", b"33333"])[:-4]
    path = tmp_path / "appendonly.aof"
    path.write_bytes(whole + cut)
    proc = start(procs, tmp_path, "--appendonly", "yes")
    c = proc.client()
    assert dump(c) == {b"a": (b"string", b"1", -1), b"b": (b"string", b"2", -1)}
    assert "short read while loading the AOF" in proc.text()
    assert "aof-load-truncated" in proc.text()
    c.set("d", "4")
    assert proc.stop() == 0
    # The file was cut back to its last complete command before appending.
    again = start(procs, tmp_path, "--appendonly", "yes")
    assert sorted(again.client().keys()) == [b"a", b"b", b"d"]


def test_transaction_without_exec_is_dropped(tmp_path: Path, procs: list[Proc]) -> None:
    _aof_with(tmp_path, [b"SET", b"a", b"1"], [b"MULTI"], [b"SET", b"b", b"2"])
    proc = start(procs, tmp_path, "--appendonly", "yes")
    assert proc.client().keys() == [b"a"]
    assert (tmp_path / "appendonly.aof").read_bytes() == encode_command([b"SET", b"a", b"1"])


def test_damaged_aof_refuses_to_start(tmp_path: Path) -> None:
    (tmp_path / "appendonly.aof").write_bytes(b"*1\r\n$4\r\nPING\r\nGARBAGE\r\n*1\r\n")
    result = subprocess.run(
        [sys.executable, "-m", "stores.pulsards", "--port", "0", "--dir", str(tmp_path),
         "--appendonly", "yes"], capture_output=True, text=True, timeout=20)
    assert result.returncode == 1
    assert "Bad file format reading the append only file" in result.stderr
    _aof_with(tmp_path, [b"NOSUCHCOMMAND", b"x"])
    result = subprocess.run(
        [sys.executable, "-m", "stores.pulsards", "--port", "0", "--dir", str(tmp_path),
         "--appendonly", "yes"], capture_output=True, text=True, timeout=20)
    assert result.returncode == 1
    assert "Unknown command 'NOSUCHCOMMAND'" in result.stderr


def _wait_info(c: redis.Redis, field: str, value: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while c.info("persistence")[field] != value:
        assert time.monotonic() < deadline, f"{field} never became {value}"
        time.sleep(0.05)


def test_bgrewriteaof_while_writes_continue(tmp_path: Path, procs: list[Proc]) -> None:
    proc = start(procs, tmp_path, "--appendonly", "yes", "--appendfsync", "everysec")
    c = proc.client()
    for i in range(300):  # history the rewrite compacts away
        c.set("churn", i)
        c.rpush("list", i)
    c.ltrim("list", -50, -1)
    fill(c)
    assert (tmp_path / "appendonly.aof").read_bytes().count(b"churn") == 300
    stop = threading.Event()

    rounds = {0: 0, 3: 0}

    def writer(db: int) -> None:
        w = proc.client(db)
        i = 0
        while not stop.is_set():
            w.set(f"w{i % 97}", i)
            w.hincrby("hits", f"f{i % 13}", 1)
            w.expire(f"w{i % 97}", 5000)
            i += 1
            rounds[db] = i

    threads = [threading.Thread(target=writer, args=(db,)) for db in (0, 3)]
    for t in threads:
        t.start()
    wait_for(lambda: min(rounds.values()) >= 50, what="writes before the rewrite")
    assert c.bgrewriteaof()
    _wait_info(c, "aof_rewrites", 1)
    switched = dict(rounds)
    # Writes appended after the switch too.
    wait_for(lambda: all(rounds[db] >= switched[db] + 50 for db in rounds),
             what="writes after the rewrite")
    stop.set()
    for t in threads:
        t.join()
    info = c.info("persistence")
    assert info["aof_last_bgrewrite_status"] == "ok"
    live = dump_all(proc)
    assert (tmp_path / "appendonly.aof").read_bytes().count(b"churn") == 1  # compacted
    proc.stop(signal.SIGKILL)
    again = start(procs, tmp_path, "--appendonly", "yes")
    assert dump_all(again) == live


def test_config_set_appendonly_at_run_time(tmp_path: Path, procs: list[Proc]) -> None:
    proc = start(procs, tmp_path)
    c = proc.client()
    c.set("before", "1", ex=1000)
    assert c.config_set("appendonly", "yes")
    _wait_info(c, "aof_rewrites", 1)
    c.set("after", "2")
    assert c.config_get("appendonly") == {"appendonly": "yes"}
    live = dump(c)
    proc.stop(signal.SIGKILL)
    again = start(procs, tmp_path, "--appendonly", "yes")
    assert dump(again.client()) == live
    assert again.client().config_set("appendonly", "no")
    assert again.client().info("persistence")["aof_enabled"] == 0


# -------------------------------------------------------------- snapshot
def test_save_bgsave_and_restart(tmp_path: Path, procs: list[Proc]) -> None:
    proc = start(procs, tmp_path, "--dbfilename", "snap.pdb")
    c = proc.client()
    fill(c)
    proc.client(3).rpush("other", "x")
    first = c.lastsave()
    assert c.save()
    assert (tmp_path / "snap.pdb").read_bytes()[:8] == b"PULSARDS"
    live = dump_all(proc)
    proc.stop(signal.SIGKILL)

    again = start(procs, tmp_path, "--dbfilename", "snap.pdb")
    c = again.client()
    assert dump_all(again) == live
    c.set("later", "1")
    time.sleep(1.05)  # LASTSAVE has a resolution of one second
    assert c.bgsave()
    _wait_info(c, "rdb_saves", 1)
    assert c.lastsave() > first
    assert c.info("persistence")["rdb_last_bgsave_status"] == "ok"
    live = dump_all(again)
    assert again.stop() == 0
    third = start(procs, tmp_path, "--dbfilename", "snap.pdb")
    assert dump_all(third) == live


def test_children_die_with_a_killed_server(tmp_path: Path, procs: list[Proc]) -> None:
    proc = start(procs, tmp_path, "--appendonly", "yes")
    c = proc.client()
    pipe = c.pipeline(transaction=False)
    for i in range(100):
        pipe.mset({f"k{i}:{j}": "v" * 20 for j in range(1000)})
    pipe.execute()
    assert c.bgsave()
    assert c.info("persistence")["rdb_bgsave_in_progress"] == 1
    assert len(_running_in(tmp_path)) == 2  # the server and its child
    proc.stop(signal.SIGKILL)
    deadline = time.monotonic() + 5
    while _running_in(tmp_path):
        assert time.monotonic() < deadline, "the BGSAVE child outlived its server"
        time.sleep(0.05)
    assert not (tmp_path / "dump.pdb").exists()


def test_aof_wins_over_the_snapshot(tmp_path: Path, procs: list[Proc]) -> None:
    proc = start(procs, tmp_path)
    proc.client().set("from", "snapshot")
    proc.client().save()
    proc.stop()
    _aof_with(tmp_path, [b"SET", b"from", b"aof"])
    assert start(procs, tmp_path, "--appendonly", "yes").client().get("from") == b"aof"
    # With appendonly no the snapshot is what loads.
    assert start(procs, tmp_path).client().get("from") == b"snapshot"
    # appendonly yes without an AOF: the snapshot loads and becomes the AOF.
    (tmp_path / "appendonly.aof").unlink()
    assert start(procs, tmp_path, "--appendonly", "yes").client().get("from") == b"snapshot"
    assert b"snapshot" in (tmp_path / "appendonly.aof").read_bytes()


def test_shutdown_exits_cleanly(tmp_path: Path, procs: list[Proc]) -> None:
    proc = start(procs, tmp_path, "--appendonly", "yes", "--appendfsync", "no")
    c = redis.Redis(port=proc.port, retry=Retry(NoBackoff(), 0))
    c.set("k", "v")
    c.shutdown(save=True)  # redis-py takes the closed connection as success
    assert proc.proc.wait(10) == 0
    assert (tmp_path / "dump.pdb").exists()
    assert b"$1\r\nk\r\n" in (tmp_path / "appendonly.aof").read_bytes()


# ------------------------------------------------------- pure round trips
keys = st.binary(max_size=20)
values = st.one_of(
    st.binary(max_size=300),
    st.lists(st.binary(max_size=8), min_size=1, max_size=300),
    st.sets(st.binary(max_size=8), min_size=1, max_size=20),
    st.dictionaries(st.binary(max_size=8), st.binary(max_size=8), min_size=1, max_size=20),
    st.dictionaries(st.binary(max_size=8), st.floats(allow_nan=False), min_size=1,
                    max_size=20),
)


def _stored(value: Any) -> Any:
    """The keyspace's representation of a generated value."""
    from collections import deque

    if isinstance(value, list):
        return deque(value)
    if isinstance(value, dict) and value and isinstance(next(iter(value.values())), float):
        zset = ZSet()
        for member, score in value.items():
            zset.add(member, score)
        return zset
    return value


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, ZSet) else value


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.integers(0, 300), st.dictionaries(
    keys, st.tuples(values, st.one_of(st.none(), st.integers(-2**63, 2**63 - 1))),
    max_size=8), max_size=3))
def test_snapshot_round_trip(dbs: dict[int, dict[bytes, tuple[Any, int | None]]]) -> None:
    source = {i: [(k, _stored(v), e) for k, (v, e) in entries.items()]
              for i, entries in dbs.items()}
    data = b"".join(encode_snapshot(source.items(), chunk=64))
    decoded = decode_snapshot(data).dbs
    expected = {i: entries for i, entries in source.items() if entries}
    assert {i: [(k, _plain(v), e) for k, v, e in entries] for i, entries in decoded.items()} \
        == {i: [(k, _plain(v), e) for k, v, e in entries] for i, entries in expected.items()}
    # Any damage is detected rather than half loaded.
    for cut in (len(data) - 1, len(data) // 2, 9):
        with pytest.raises(SnapshotError):
            decode_snapshot(data[:cut])
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x40
    with pytest.raises(SnapshotError):
        decode_snapshot(bytes(flipped))


_ANY_COMMAND = st.lists(st.binary(max_size=12), min_size=1, max_size=5).filter(
    lambda argv: argv[0].upper() not in (b"MULTI", b"EXEC"))


@settings(max_examples=60, deadline=None)
@given(st.lists(_ANY_COMMAND, max_size=10), st.data())
def test_aof_parse_round_trip_and_any_cut(commands: list[list[bytes]], data: Any) -> None:
    encoded = [encode_command(c) for c in commands]
    whole = b"".join(encoded)
    assert parse_aof(whole) == (commands, len(whole))
    cut = data.draw(st.integers(0, len(whole)))
    parsed, good = parse_aof(whole[:cut])
    assert good <= cut
    # What loads is exactly the commands that were complete before the cut.
    ends = [sum(map(len, encoded[:i + 1])) for i in range(len(encoded))]
    complete = sum(1 for end in ends if end <= cut)
    assert parsed == commands[:complete]
    assert good == (ends[complete - 1] if complete else 0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.lists(_ANY_COMMAND, min_size=1, max_size=3)),
                max_size=6), st.data())
def test_aof_cut_inside_a_transaction_drops_all_of_it(
        groups: list[tuple[bool, list[list[bytes]]]], data: Any) -> None:
    units: list[tuple[bytes, list[list[bytes]]]] = []  # (bytes, commands) loaded together
    for in_txn, argvs in groups:
        if in_txn:
            block = [[b"MULTI"], *argvs, [b"EXEC"]]
            units.append((b"".join(encode_command(a) for a in block), argvs))
        else:
            units += [(encode_command(a), [a]) for a in argvs]
    whole = b"".join(raw for raw, _ in units)
    cut = data.draw(st.integers(0, len(whole)))
    expected: list[list[bytes]] = []
    end = pos = 0
    for raw, argvs in units:
        if pos + len(raw) > cut:
            break
        pos += len(raw)
        expected += argvs
        end = pos
    assert parse_aof(whole[:cut]) == (expected, end)


def test_aof_parse_rejects_garbage() -> None:
    with pytest.raises(AofError):
        parse_aof(b"*1\r\n$4\r\nPING\r\nhello world\r\n")
    with pytest.raises(AofError):
        parse_aof(b"*1\r\n$2\r\nPINGxx\r\n")
    assert parse_aof(b"*1\r\n$4\r\nPI") == ([], 0)


# ------------------------------------- replaying the AOF rebuilds the data
_K = st.sampled_from([b"a", b"b", b"c"])
_V = st.sampled_from([b"1", b"2", b"x", b"-3"])
_N = st.sampled_from([b"1", b"2", b"3"])
_TTL = st.sampled_from([b"100", b"5000"])
_COMMANDS = st.one_of(
    st.tuples(st.just(b"SET"), _K, _V),
    st.tuples(st.just(b"SET"), _K, _V, st.sampled_from([b"NX", b"XX", b"GET", b"KEEPTTL"])),
    st.tuples(st.just(b"SET"), _K, _V, st.sampled_from([b"EX", b"PX"]), _TTL),
    st.tuples(st.sampled_from([b"SETEX", b"PSETEX"]), _K, _TTL, _V),
    st.tuples(st.sampled_from([b"INCR", b"DECR", b"DEL", b"PERSIST", b"LPOP", b"GETDEL"]), _K),
    st.tuples(st.sampled_from([b"APPEND", b"INCRBY", b"INCRBYFLOAT", b"SREM"]), _K, _V),
    st.tuples(st.sampled_from([b"RPUSH", b"LPUSH", b"SADD", b"PFADD"]), _K, _V, _V, _V),
    st.tuples(st.sampled_from([b"EXPIRE", b"PEXPIRE"]), _K, _TTL),
    st.tuples(st.just(b"EXPIRE"), _K, _TTL, st.sampled_from([b"NX", b"XX", b"GT", b"LT"])),
    st.tuples(st.just(b"GETEX"), _K, st.sampled_from([b"PERSIST", b"EX"])).map(
        lambda t: (*t, b"100") if t[2] == b"EX" else t),
    st.tuples(st.just(b"SPOP"), _K, _N),
    st.tuples(st.just(b"HSET"), _K, _V, _V),
    st.tuples(st.just(b"HINCRBYFLOAT"), _K, _V, st.just(b"0.1")),
    st.tuples(st.just(b"ZADD"), _K, _N, _V),
    st.tuples(st.sampled_from([b"ZPOPMIN", b"ZPOPMAX"]), _K),
    st.tuples(st.sampled_from([b"RENAME", b"COPY", b"LMOVE"]), _K, _K).map(
        lambda t: (*t, b"LEFT", b"RIGHT") if t[0] == b"LMOVE" else t),
    st.tuples(st.sampled_from([b"MOVE"]), _K, st.sampled_from([b"0", b"1"])),
    st.tuples(st.just(b"SELECT"), st.sampled_from([b"0", b"1"])),
    st.tuples(st.sampled_from([b"MULTI", b"EXEC", b"FLUSHDB"])),
    st.tuples(st.just(b"SWAPDB"), st.just(b"0"), st.just(b"1")),
    # SORT ... STORE is replayed as it is; a script as the commands it ran.
    st.tuples(st.just(b"SORT"), _K, st.sampled_from([b"ALPHA", b"DESC"]), st.just(b"STORE"),
              _K),
    st.tuples(st.just(b"SORT"), _K, st.just(b"BY"), st.just(b"nosort"), st.just(b"STORE"), _K),
    st.tuples(st.just(b"GEOADD"), _K, st.sampled_from([b"13.36", b"15.08"]),
              st.sampled_from([b"38.11", b"37.5"]), _V),
    st.tuples(st.just(b"GEORADIUS"), _K, st.just(b"14"), st.just(b"38"), st.just(b"300"),
              st.just(b"km"), st.sampled_from([b"STORE", b"STOREDIST"]), _K),
    st.tuples(st.just(b"EVAL"), st.just(b"redis.call('rpush', KEYS[1], ARGV[1]) "
                                        b"return redis.call('incr', KEYS[2])"),
              st.just(b"2"), _K, _K, _V),
    # Streams: "*" is replayed as the ID it made, "~" trims as what they removed.
    st.tuples(st.just(b"XADD"), _K, st.just(b"*"), _V, _V),
    st.tuples(st.just(b"XADD"), _K, st.sampled_from([b"MAXLEN", b"MINID"]),
              st.sampled_from([b"~", b"="]), st.sampled_from([b"0", b"2"]),
              st.just(b"*"), _V, _V),
    st.tuples(st.just(b"XTRIM"), _K, st.sampled_from([b"MAXLEN", b"MINID"]), st.just(b"~"),
              st.sampled_from([b"1", b"99999999999999"]), st.just(b"LIMIT"), _N),
    st.tuples(st.just(b"XDEL"), _K, st.sampled_from([b"0-1", b"1-0"])),
    st.tuples(st.just(b"XSETID"), _K, st.just(b"99999999999999-0"), st.just(b"ENTRIESADDED"),
              st.just(b"1000")),
    # Consumer groups: deliveries are replayed as XCLAIMs, positions as XGROUP SETID.
    st.tuples(st.just(b"XGROUP"), st.just(b"CREATE"), _K, st.just(b"g"),
              st.sampled_from([b"0", b"$"]), st.just(b"MKSTREAM")),
    st.tuples(st.just(b"XREADGROUP"), st.just(b"GROUP"), st.just(b"g"),
              st.sampled_from([b"c1", b"c2"]), st.just(b"COUNT"), _N, st.just(b"STREAMS"), _K,
              st.sampled_from([b">", b"0"])),
    st.tuples(st.just(b"XREADGROUP"), st.just(b"GROUP"), st.just(b"g"), st.just(b"c3"),
              st.just(b"NOACK"), st.just(b"STREAMS"), _K, st.just(b">")),
    st.tuples(st.just(b"XAUTOCLAIM"), _K, st.just(b"g"), st.sampled_from([b"c1", b"c3"]),
              st.just(b"0"), st.just(b"0"), st.just(b"COUNT"), _N),
    st.tuples(st.just(b"XGROUP"), st.sampled_from([b"SETID"]), _K, st.just(b"g"),
              st.just(b"0")),
    st.tuples(st.just(b"XGROUP"), st.sampled_from([b"DELCONSUMER", b"CREATECONSUMER"]), _K,
              st.just(b"g"), st.sampled_from([b"c1", b"c4"])),
)


def _comparable(value: Any, ghosts: bool = True) -> Any:
    """A value in a form == compares; ``ghosts=False`` leaves out the pending
    entries whose stream entry is gone (a rewrite drops them, as Redis')."""
    if isinstance(value, ZSet):
        return list(value)
    if isinstance(value, Stream):
        groups = {name: (g.last_id, g.entries_read, sorted(g.consumers),
                         {sid: (n.consumer.name if n.consumer else None, n.time, n.count)
                          for sid, n in g.pel.items() if ghosts or sid in value.entries})
                  for name, g in value.groups.items()}
        return (list(value.entries.items()), value.last_id, value.max_deleted_id,
                value.entries_added, groups)
    return value


def _state(server: Any, ghosts: bool = True) -> list[dict[bytes, Any]]:
    out = []
    for db in server.keyspace.dbs[:2]:
        out.append({key: (_comparable(value, ghosts), db.expires.get(key))
                    for key, value in db.data.items()})
    return out


def test_stream_snapshot_round_trip() -> None:
    s = Stream()
    for i in range(1, 260):
        s.append((i, i % 3), (b"f", b"%d" % i, b"g" * (i % 5), b"v"), 100, 4096)
    s.delete((7, 1))
    s.trim(maxlen=200, approx=True, limit=10000)
    s.last_id, s.entries_added = (10**15, 3), 1000
    empty = Stream()
    empty.last_id, empty.max_deleted_id = (5, 5), (4, 0)
    group = s.groups[b"g"] = Group((200, 0), 17)
    reader, _ = group.consumer(b"reader", 1234)
    group.consumer(b"idle", 99)
    for sid in [(150, 0), (7, 1), (190, 1)]:  # (7, 1) was deleted: still pending
        group.assign(sid, reader, Nack(reader, 5000 + sid[0], sid[1] + 1))
    data = b"".join(encode_snapshot([(0, [(b"s", s, None), (b"e", empty, 123)])]))
    decoded = decode_snapshot(data).dbs[0]
    assert [(k, _comparable(v), e) for k, v, e in decoded] == [
        (b"s", _comparable(s), None), (b"e", _comparable(empty), 123)]
    assert decoded[0][1].range((0, 0), (300, 0), 2) == s.range((0, 0), (300, 0), 2)


@settings(max_examples=60, deadline=None)
@given(st.lists(_COMMANDS, max_size=40))
@example([(b"SADD", b"a", b"1", b"2", b"x"), (b"SPOP", b"a", b"2"), (b"SET", b"b", b"1"),
          (b"EXPIRE", b"b", b"100"), (b"MULTI",), (b"INCR", b"b"), (b"SELECT", b"1"),
          (b"RPUSH", b"c", b"1", b"2", b"x"), (b"EXEC",), (b"LMOVE", b"c", b"c", b"LEFT",
                                                          b"RIGHT")])
async def test_replaying_the_aof_rebuilds_the_data(commands: list[tuple[bytes, ...]]) -> None:
    import tempfile

    from stores.pulsards.aoffile import rewrite_commands
    from stores.pulsards.config import Config
    from stores.pulsards.keyspace import now_ms
    from stores.pulsards.protocol import Client
    from stores.pulsards.server import Server

    with tempfile.TemporaryDirectory() as directory:
        config = Config(port=0, dir=directory, appendonly="yes", databases=2)
        server = Server(config)
        server.persistence.load()
        client = Client(server)
        for argv in commands:
            client.execute(list(argv))
        if client.multi is not None:
            client.execute([b"EXEC"])
        live = _state(server)
        without_ghosts = _state(server, ghosts=False)
        server.persistence.shutdown()
        again = Server(Config(port=0, dir=directory, appendonly="yes", databases=2))
        again.persistence.load()
        assert _state(again) == live
        again.persistence.shutdown()
        # What BGREWRITEAOF writes rebuilds the same (live) keys too.
        now = now_ms()
        rewritten = Path(directory) / "rewritten"
        rewritten.mkdir()
        (rewritten / "appendonly.aof").write_bytes(
            b"".join(rewrite_commands(server.keyspace.dbs, now)))
        third = Server(Config(port=0, dir=str(rewritten), appendonly="yes", databases=2))
        third.persistence.load()
        unexpired = [{k: v for k, v in db.items() if v[1] is None or v[1] > now}
                     for db in without_ghosts]
        assert _state(third, ghosts=False) == unexpired
        third.persistence.shutdown()


async def test_a_failed_append_acknowledges_nothing(tmp_path: Path) -> None:
    import asyncio

    from stores.pulsards.config import Config
    from stores.pulsards.server import Server

    server = Server(Config(port=0, dir=str(tmp_path), appendonly="yes", appendfsync="always"))
    await server.start()
    try:
        aof = server.aof
        assert aof is not None and aof.fd is not None
        os.close(aof.fd)
        aof.fd = os.open("/dev/full", os.O_WRONLY)  # every write fails: ENOSPC
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(encode_command([b"SET", b"k", b"v"]))
        assert await asyncio.wait_for(reader.read(100), 5) == b""  # closed, no +OK
        writer.close()
        await asyncio.wait_for(server.serve_forever(), 5)  # the server stopped itself
    finally:
        await server.stop()


def test_snapshots_hold_libraries_and_version_1_files_still_load() -> None:
    import zlib

    data = b"".join(encode_snapshot([(0, [(b"k", b"v", None)])], libraries=[b"#!lua name=x"]))
    assert data[8] == 2
    assert decode_snapshot(data) == ({0: [(b"k", b"v", None)]}, [b"#!lua name=x"])
    # Version 1: the same records without libraries, as pulsards wrote before.
    old = b"PULSARDS\x01\xfe\x00\x00\x01k\x01v\xff"
    old += zlib.crc32(old).to_bytes(4, "little")
    assert decode_snapshot(old) == ({0: [(b"k", b"v", None)]}, [])
    with pytest.raises(SnapshotError, match="version 3"):
        decode_snapshot(b"PULSARDS\x03" + old[9:-4] + zlib.crc32(
            b"PULSARDS\x03" + old[9:-4]).to_bytes(4, "little"))
