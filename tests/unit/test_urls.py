"""Connection strings, the registry and the Store attributes (no I/O)."""

from __future__ import annotations

import pytest

import stores
from stores import Command, InvalidURL, NoSuchStore, RemoteStore, Store, create_store
from stores.redis import RedisStore


def test_seed_examples_hold() -> None:
    store = create_store("redis://user:password@127.0.0.1:6500/11")
    assert (store.name, store.database) == ("redis", "11")
    assert store.dns == "redis://user:password@127.0.0.1:6500/11"
    store = create_store("redis://user:password@127.0.0.1:6500/11", namespace="test_")
    assert store.dns == "redis://user:password@127.0.0.1:6500/11?namespace=test_"


def test_private_attributes() -> None:
    store = create_store("redis://bob:s3cret@10.0.0.1:6500/2")
    assert store._host == ("10.0.0.1", 6500)
    assert (store._user, store._password) == ("bob", "s3cret")
    assert store.encoding == "utf-8"
    assert "s3cret" not in repr(store)


def test_default_ports_and_hosts() -> None:
    assert create_store("redis://localhost")._host == ("localhost", 6379)
    pulsar = create_store("pulsar://")
    assert pulsar._host == ("127.0.0.1", 6410)
    assert pulsar.name == "pulsar"
    assert create_store("pulsar://user:password@127.0.0.1:6410").dns == (
        "pulsar://user:password@127.0.0.1:6410/0")
    assert create_store("redis://").dns == "redis://127.0.0.1:6379/0"


def test_keywords_override_url_values_and_keep_order() -> None:
    store = create_store("redis://u:p@h:1/3?pool_size=4&namespace=a", database=5,
                         password="q", namespace="b", timeout=2)
    assert store.database == "5"
    assert store._password == "q"
    assert store.urlparams == {"pool_size": 4, "namespace": "b", "timeout": 2}
    assert store.dns == "redis://u:q@h:1/5?pool_size=4&namespace=b&timeout=2"


def test_numeric_params_are_converted() -> None:
    store = create_store("redis://h/0?pool_size=4&timeout=0.5&connect_timeout=3")
    assert store.urlparams == {"pool_size": 4, "timeout": 0.5, "connect_timeout": 3}
    assert store.pool.size == 4


def test_ipv6_hosts() -> None:
    store = create_store("redis://[::1]:7000/2")
    assert store._host == ("::1", 7000)
    assert store.dns == "redis://[::1]:7000/2"
    assert create_store("redis://[::1]")._host == ("::1", 6379)


def test_unix_socket_url() -> None:
    store = create_store("redis+unix:///tmp/redis.sock?database=3&pool_size=2")
    assert store._host == "/tmp/redis.sock"
    assert store.database == "3"
    assert store.dns == "redis+unix:///tmp/redis.sock?database=3&pool_size=2"


def test_percent_encoded_credentials_round_trip() -> None:
    store = create_store("redis://us%40er:p%2Fa%3Ass@h:1/0")
    assert (store._user, store._password) == ("us@er", "p/a:ss")
    assert create_store(store.dns).dns == store.dns


def test_rediss_builds_tls_context() -> None:
    store = create_store("rediss://h:6380/0?ssl_cert_reqs=none")
    assert isinstance(store, RedisStore)
    assert store._settings.ssl is not None
    assert store.dns == "rediss://h:6380/0?ssl_cert_reqs=none"


def test_store_instance_is_returned_as_is() -> None:
    store = create_store("redis://h/1")
    assert create_store(store) is store


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("127.0.0.1:6379", "missing scheme"),
        ("://h", "missing scheme"),
        ("mongo://h", "registered: "),
        ("redis://a@b@h", "more than one '@'"),
        ("redis://h:abc", "not a number"),
        ("redis://h:70000", "out of range"),
        ("redis://::1:6379", "IPv6 host must be in brackets"),
        ("redis://[::1", "unterminated"),
        ("redis://h/eleven", "database must be a number"),
        ("redis://:secret@h", "password without user"),
        ("redis://h/0#frag", "fragment"),
        ("redis://h/0?pool_size=lots", "pool_size='lots' is not a number"),
        ("redis://h/0?pool_size=0", "pool_size must be a positive integer"),
        ("redis://h/0?poolsize=3", "unknown parameter 'poolsize'"),
        ("redis://h/0?a=1&a=2", "given twice"),
        ("redis://h/0?protocol=4", "protocol must be 2 or 3"),
        ("redis://h/0?decode_responses=maybe", "not a boolean"),
        ("redis://h/0?ssl_cert_reqs=none", "needs a rediss:// URL"),
        ("redis://user@h/0", "needs a password"),
        ("redis+unix://relative.sock", "absolute path"),
    ],
)
def test_malformed_urls_name_the_bad_part(url: str, words: str) -> None:
    with pytest.raises(InvalidURL, match=None) as info:
        create_store(url)
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)


def test_unknown_scheme_lists_registered_ones() -> None:
    with pytest.raises(NoSuchStore) as info:
        create_store("mongo://h")
    for name in ("redis", "rediss", "pulsar"):
        assert name in str(info.value)


def test_non_string_url() -> None:
    with pytest.raises(InvalidURL, match="must be a str"):
        create_store(42)  # type: ignore[arg-type]


class MemoryStore(RemoteStore):
    """A store registered by a test: any parameters land in urlparams."""


def test_register_store_lazily_with_both_spellings() -> None:
    stores.register_store("memo", f"{__name__}:MemoryStore")
    stores.register_store("memo2", f"{__name__}.MemoryStore")
    try:
        for scheme in ("memo", "memo2"):
            store = create_store(f"{scheme}://a:b@h:9/db?x=1", y="2")
            assert isinstance(store, MemoryStore)
            assert store.dns == f"{scheme}://a:b@h:9/db?x=1&y=2"
            assert store.urlparams == {"x": "1", "y": "2"}
    finally:
        stores.data_stores.pop("memo")
        stores.data_stores.pop("memo2")


def test_register_store_bad_path() -> None:
    stores.register_store("broken", "no_such_module_xyz:Store")
    try:
        with pytest.raises(NoSuchStore, match="cannot be imported"):
            create_store("broken://h")
    finally:
        stores.data_stores.pop("broken")
    with pytest.raises(ValueError, match="dotted path"):
        stores.register_store("x", "nodots")


def test_data_stores_prefilled() -> None:
    assert {"redis", "rediss", "pulsar"} <= set(stores.data_stores)


async def test_base_store_methods() -> None:
    store = Store("memo", ("h", 1), database="d")
    assert await store.database_create() is None
    assert await store.table_all() is None
    remote = MemoryStore("memo", ("h", 1))
    assert remote.encode_bytes(b"x") == b"x"
    assert remote.decode_bytes("é") == "é".encode()
    assert remote.dencode_bytes("a") == b"a"
    with pytest.raises(NotImplementedError):
        await remote.execute("PING")
    async with remote as entered:
        assert entered is remote


def test_command() -> None:
    cmd = Command(["SET", "k", "v"])
    assert (cmd.args, cmd.action) == (("SET", "k", "v"), 0)
    assert Command.insert(["HSET", "h", "f", "v"]).action == Command.INSERT
    assert (Command.INSERT, Command.UPDATE, Command.DELETE) == (1, 2, 3)
    assert Command(["DEL", "k"], Command.DELETE) == Command.delete(["DEL", "k"])
