"""The command table: key positions, namespaces, options, methods (no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from stores import NamespaceError
from stores.redis.client import Pipeline, RedisClient, command_args
from stores.redis.commands import COMMANDS, METHODS, Namespace, find_keys, lookup
from stores.redis.replies import info, with_scores


def keys(*args: Any) -> list[Any] | None:
    spec = lookup(args)
    assert spec is not None
    found = find_keys(spec, args)
    return None if found is None else [args[i] for i in found]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("GET", "a"), ["a"]),
        (("MSET", "a", 1, "b", 2), ["a", "b"]),
        (("DEL", "a", "b", "c"), ["a", "b", "c"]),
        (("EVAL", "return 1", 2, "k1", "k2", "arg"), ["k1", "k2"]),
        (("ZUNIONSTORE", "dst", 2, "s1", "s2", "WEIGHTS", 1, 2), ["dst", "s1", "s2"]),
        (("XREAD", "COUNT", 2, "STREAMS", "s1", "s2", "0", "0"), ["s1", "s2"]),
        (("BLMPOP", 0, 2, "l1", "l2", "LEFT"), ["l1", "l2"]),
        (("OBJECT", "ENCODING", "k"), ["k"]),
        (("GEORADIUS", "g", 0, 0, 1, "km", "STORE", "dst"), ["g", "dst"]),
        (("SORT", "k", "LIMIT", 0, 10), ["k"]),
        (("PING",), []),
    ],
)
def test_find_keys_follows_redis_key_specs(args: tuple[Any, ...], expected: list[Any]) -> None:
    assert keys(*args) == expected


def test_sort_with_patterns_cannot_be_located() -> None:
    assert keys("SORT", "k", "BY", "w_*") is None


def test_namespace_prefixes_keys_and_channels() -> None:
    ns = Namespace("app:")
    assert ns.apply(lookup(["MSET", "a", 1, b"b", 2]), ["MSET", "a", 1, b"b", 2]) == [
        "MSET", "app:a", 1, b"app:b", 2]
    assert ns.apply(lookup(["PUBLISH", "c", "m"]), ["PUBLISH", "c", "m"]) == [
        "PUBLISH", "app:c", "m"]
    assert ns.apply(lookup(["SCAN", 0]), ["SCAN", 0]) == ["SCAN", 0, "MATCH", "app:*"]
    assert ns.apply(lookup(["KEYS", "x*"]), ["KEYS", "x*"]) == ["KEYS", "app:x*"]
    assert ns.strip(b"app:a") == b"a"
    assert ns.strip("app:b") == "b"  # noqa: B005 - Namespace.strip removes a prefix


@pytest.mark.parametrize("args", [("FLUSHDB",), ("RANDOMKEY",), ("DBSIZE",),
                                  ("SORT", "k", "GET", "x_*")])
def test_namespace_refuses_commands_it_cannot_scope(args: tuple[Any, ...]) -> None:
    with pytest.raises(NamespaceError):
        Namespace("app:").apply(lookup(args), args)


def test_options_become_command_words() -> None:
    spec = COMMANDS["SET"]
    assert command_args(spec, ("k", "v"), {"ex": 10, "nx": True, "get": False}) == (
        "SET", "k", "v", "EX", 10, "NX")
    assert command_args(COMMANDS["ZADD"], ("z", 1, "a"), {"nx": True}) == (
        "ZADD", "z", "NX", 1, "a")
    assert command_args(COMMANDS["ZRANGE"], ("z", 0, 5), {"byscore": True, "limit": (0, 2)}) == (
        "ZRANGE", "z", 0, 5, "BYSCORE", "LIMIT", 0, 2)


def test_every_core_family_has_methods() -> None:
    groups = {spec.group for spec in METHODS.values()}
    assert {"string", "bitmap", "generic", "list", "hash", "set", "sorted-set",
            "hyperloglog", "geo", "stream", "pubsub", "scripting", "server",
            "connection"} <= groups
    for name in ("set", "get", "delete", "blpop", "hgetall", "zadd", "pfadd", "geoadd",
                 "xadd", "publish", "evalsha", "config_get", "client_list", "object_encoding"):
        assert callable(getattr(RedisClient, name)), name
        assert callable(getattr(Pipeline, name)), name
    for hidden in ("multi", "exec", "subscribe", "select", "auth"):
        assert hidden not in METHODS


def test_client_checks_arity_before_sending() -> None:
    with pytest.raises(TypeError, match="wrong number of arguments for 'get' command"):
        COMMANDS["GET"].check_arity(3)
    pipe = Pipeline(None, False)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'config get' command"):
        pipe.config_get()
    assert len(pipe) == 0


def test_unknown_method_is_a_clear_error() -> None:
    with pytest.raises(AttributeError, match="no command method 'sett'"):
        RedisClient(None).sett  # type: ignore[arg-type]  # noqa: B018


def test_reply_conversions() -> None:
    assert with_scores([b"a", b"1", b"b", b"2.5"], ("ZRANGE", "z", 0, -1, "WITHSCORES")) == [
        (b"a", 1.0), (b"b", 2.5)]
    assert with_scores([[b"a", 1.0]], ("ZRANGE", "z", 0, -1, "withscores")) == [(b"a", 1.0)]
    assert with_scores([b"a"], ("ZRANGE", "z", 0, -1)) == [b"a"]
    parsed = info(b"# Server\r\nredis_version:7.0.15\r\nuptime_in_seconds:5\r\n"
                  b"db0:keys=1,expires=0,avg_ttl=0\r\n")
    assert parsed["redis_version"] == "7.0.15"
    assert parsed["uptime_in_seconds"] == 5
    assert parsed["db0"] == {"keys": 1, "expires": 0, "avg_ttl": 0}
