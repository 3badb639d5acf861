"""Random ACL users running random commands: pulsards allows and refuses what
Redis does.

Hypothesis draws a user's rules (commands, categories, subcommands and first
arguments, key patterns with their read/write forms, channels, selectors) and
a script of commands over a few keys and channels, which that user then runs
on a private redis-server and on pulsards.  Every reply must be the same
bytes: allowed commands run alike, refused ones give the same NOPERM text.
``ACL DRYRUN`` is asked too.  ``FUZZ_EXAMPLES`` explores, as for the other
fuzzers.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .test_acl import Address, Conn, servers  # noqa: F401 - the fixture below uses it
from .test_fuzz_agree import _EXPLORE

pytestmark = pytest.mark.timeout(120 + _EXPLORE // 10)

PATTERN = st.sampled_from(["k*", "k1", "a*", "*", "[ak]1", "k?"])
CHANNEL = st.sampled_from(["ch*", "ch1", "news", "*"])
RULE = st.one_of(
    st.sampled_from(["+@all", "-@all", "allcommands", "nocommands", "+@read", "-@read",
                     "+@write", "-@write", "+@string", "-@string", "+@list", "+@dangerous",
                     "-@dangerous", "+@keyspace", "-@keyspace", "+@pubsub", "-@pubsub",
                     "+@scripting", "+@connection", "+@fast", "-@fast", "+@slow",
                     "+get", "-get", "+set", "-set", "+lpush", "+publish", "+subscribe",
                     "+config|get", "-config|get", "+client|info", "+select|0",
                     "+eval", "+sort", "+object|encoding", "-object", "+copy",
                     "allkeys", "resetkeys", "allchannels", "resetchannels", "reset"]),
    PATTERN.map(lambda p: "~" + p), PATTERN.map(lambda p: "%R~" + p),
    PATTERN.map(lambda p: "%W~" + p), PATTERN.map(lambda p: "%RW~" + p),
    CHANNEL.map(lambda c: "&" + c),
    st.lists(st.sampled_from(["+get", "+set", "+@read", "~a*", "%R~k*", "&news"]),
             min_size=1, max_size=3).map(lambda rules: "(" + " ".join(rules) + ")"),
)
KEY = st.sampled_from(["k1", "k2", "a1", "other"])
COMMAND = st.one_of(
    st.tuples(st.just("GET"), KEY), st.tuples(st.just("SET"), KEY, st.just("v")),
    st.tuples(st.just("SET"), KEY, st.just("v"), st.just("GET")),
    st.tuples(st.just("LPUSH"), KEY, st.just("x")), st.tuples(st.just("LRANGE"), KEY,
                                                            st.just("0"), st.just("-1")),
    st.tuples(st.just("MGET"), KEY, KEY), st.tuples(st.just("COPY"), KEY, KEY),
    st.tuples(st.just("RENAME"), KEY, KEY), st.tuples(st.just("DEL"), KEY),
    st.tuples(st.just("PUBLISH"), st.sampled_from(["ch1", "news", "other"]), st.just("m")),
    st.tuples(st.just("CONFIG"), st.just("GET"), st.just("maxclients")),
    st.tuples(st.just("SELECT"), st.sampled_from(["0", "1"])),
    st.tuples(st.just("OBJECT"), st.just("ENCODING"), KEY),
    st.tuples(st.just("EVAL"), st.just("return redis.call('get', KEYS[1])"), st.just("1"),
              KEY),
    st.tuples(st.just("SORT"), KEY, st.just("BY"), st.just("nosort"), st.just("GET"),
              st.sampled_from(["#", "k*"])),
    st.tuples(st.just("PING")), st.tuples(st.just("FLUSHDB")),
)


@pytest.fixture
def both(servers: list[Address]) -> list[Address]:  # noqa: F811 - test_acl's fixture
    """[a private redis-server, pulsards]; their users reset after the test."""
    return servers


def _run(address: Address, rules: list[str], script: list[tuple[str, ...]]) -> list[bytes]:
    admin = Conn(address)
    try:
        # Database 0: the user's (SELECT may be refused to it); emptied after.
        replies = [admin.send(("FLUSHDB",), ("SET", "k1", "1"),
                              ("RPUSH", "k2", "b", "a"), ("SET", "a1", "2")),
                   admin.send(("ACL", "SETUSER", "fz", "reset", "on", ">pw", *rules))]
        if not replies[-1].startswith(b"-"):
            replies += [admin.send(("ACL", "DRYRUN", "fz", *command)) for command in script]
            user = Conn(address)
            try:
                replies.append(user.send(("AUTH", "fz", "pw")))
                replies += [user.send(command) for command in script]
            finally:
                user.close()
        return replies
    finally:
        admin.send(("ACL", "DELUSER", "fz"), ("FLUSHDB",))
        admin.close()


@settings(max_examples=_EXPLORE or 200, derandomize=not _EXPLORE, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rules=st.lists(RULE, max_size=6), script=st.lists(COMMAND, min_size=1, max_size=8))
def test_random_users_are_allowed_and_refused_as_on_redis(
        both: list[Address], rules: list[str], script: list[tuple[str, ...]]) -> None:
    real = _run(both[0], rules, script)
    ours = _run(both[1], rules, script)
    labels: list[Any] = ["setup", "setuser"]
    if len(real) > 2:
        labels += [*[("dryrun", c) for c in script], "auth", *script]
    assert len(ours) == len(real), f"rules {rules}: pulsards {ours!r} != redis {real!r}"
    wrong = [f"{label}: pulsards {o!r} != redis {r!r}"
             for label, r, o in zip(labels, real, ours, strict=True) if r != o]
    assert not wrong, f"rules {rules}\n" + "\n".join(wrong)
