"""Config files (redis.conf syntax), flags over the file, CONFIG GET/SET of
the persistence options."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from stores.pulsards.conffile import ConfigFileError, parse_config, split_args
from stores.pulsards.config import Config

from .test_persistence import Proc

pytestmark = pytest.mark.timeout(30)


def test_split_args_as_sdssplitargs() -> None:
    assert split_args('  set  "a b"  \'c d\'  e ') == ["set", "a b", "c d", "e"]
    assert split_args(r'x "\x41\n\"q\\" ' + r"'it\'s'") == ["x", 'A\n"q\\', "it's"]
    assert split_args('requirepass ""') == ["requirepass", ""]
    for bad in ('"open', "'open", '"a"b'):
        with pytest.raises(ValueError):
            split_args(bad)


def test_parse_config() -> None:
    config = parse_config(
        "# a comment\n"
        "\n"
        "port 7000\n"
        "BIND 127.0.0.1 ::1\n"
        'requirepass "se cret"\n'
        "appendonly yes\n"
        "appendfsync always\n"
        "dir /tmp\n"
        "dbfilename data.pdb\n"
        "proto-max-bulk-len 2mb\n"
        'save ""\n')
    assert config.port == 7000
    assert config.bind == "127.0.0.1 ::1"
    assert config.requirepass == "se cret"
    assert (config.appendonly, config.appendfsync) == ("yes", "always")
    assert (config.dir, config.dbfilename) == ("/tmp", "data.pdb")
    assert config.proto_max_bulk_len == 2 * 1024 * 1024
    assert Config().dbfilename == "dump.pdb" and Config().appendfilename == "appendonly.aof"


@pytest.mark.parametrize(("text", "reason"), [
    ("daemonize yes", "Bad directive or wrong number of arguments"),
    ("port", "Bad directive or wrong number of arguments"),
    ("port 1 2", "Bad directive or wrong number of arguments"),
    ("port many", "couldn't be parsed into an integer"),
    ("appendfsync sometimes", "always, everysec, no"),
    ("appendonly maybe", "'yes' or 'no'"),
    ("dbfilename a/b", "can't be a path"),
    ("dir /no/such/dir", "No such directory"),
    ("save 900 1", "not supported"),
    ('requirepass "x', "Unbalanced quotes"),
])
def test_bad_lines_name_the_line(text: str, reason: str) -> None:
    with pytest.raises(ConfigFileError) as info:
        parse_config(f"port 7000\n{text}\n")
    assert info.value.lineno == 2
    assert reason in str(info.value)
    assert f">>> '{text}'" in str(info.value)


def test_config_file_and_flags_over_it(tmp_path: Path) -> None:
    conf = tmp_path / "pulsards.conf"
    conf.write_text(f"# test\nport 1\ndatabases 4\nappendonly yes\ndir {tmp_path}\n"
                    "appendfilename 'my file.aof'\nmaxclients 50\n")
    # --port 0 overrides the file's port 1.
    proc = subprocess.Popen([sys.executable, "-m", "stores.pulsards", str(conf), "--port", "0",
                             "--maxclients", "60"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().split("port=")[1])
        c = redis.Redis(port=port)
        got = c.config_get("*")
        assert got["databases"] == "4" and got["maxclients"] == "60"
        assert got["appendonly"] == "yes" and got["appendfilename"] == "my file.aof"
        assert got["dir"] == str(tmp_path)
        c.set("k", "v")
        assert b"$1\r\nk\r\n" in (tmp_path / "my file.aof").read_bytes()
        c.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        proc.stdout.close()  # type: ignore[union-attr]


@pytest.mark.parametrize(("args", "message"), [
    (["{conf}"], "Bad directive or wrong number of arguments"),
    (["{missing}"], "can't open config file"),
    (["--appendfsync", "sometimes"], "invalid choice"),
    (["--dir", "/no/such/dir"], "No such directory"),
    (["--notify-keyspace-events", "KEQ"], "Invalid event class character"),
])
def test_bad_config_exits_non_zero(tmp_path: Path, args: list[str], message: str) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text("port 0\nno-such-option 1\n")
    argv = [a.format(conf=conf, missing=tmp_path / "missing.conf") for a in args]
    result = subprocess.run([sys.executable, "-m", "stores.pulsards", "--port", "0", *argv],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode != 0
    assert message in result.stderr
    if args == ["{conf}"]:
        assert "at line 2" in result.stderr and "no-such-option" in result.stderr


def test_config_get_set_persistence_options(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    proc = Proc(tmp_path)
    try:
        c = proc.client()
        assert c.config_get("dir") == {"dir": str(tmp_path)}
        assert c.config_get("appendonly") == {"appendonly": "no"}
        assert c.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert c.config_get("dbfilename") == {"dbfilename": "dump.pdb"}
        assert c.config_get("save") == {"save": ""}
        assert c.config_set("dbfilename", "x.pdb")
        assert c.config_set("dir", str(other))
        assert c.config_set("appendfsync", "always")
        c.set("k", "v")
        assert c.save()
        assert (other / "x.pdb").exists()
        with pytest.raises(redis.ResponseError, match="can't be a path"):
            c.config_set("dbfilename", "../x.pdb")
        with pytest.raises(redis.ResponseError, match="immutable"):
            c.config_set("appendfilename", "x.aof")
        with pytest.raises(redis.ResponseError, match="No such directory"):
            c.config_set("dir", str(tmp_path / "nope"))
        with pytest.raises(redis.ResponseError, match="not supported"):
            c.config_set("save", "900 1")
        assert c.config_set("save", "")
        info = c.info("persistence")
        assert info["rdb_saves"] == 1 and info["aof_enabled"] == 0
    finally:
        assert proc.stop() == 0
