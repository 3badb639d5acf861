"""The proxy store answers as a direct store: the same replies, the same errors.

Every command of pulsards' agreement scripts (the families, their edge cases
and their errors) runs through ``store.execute`` of a direct store and of a
proxy store, each from an empty database of the real Redis: replies must be
equal, and errors of the same class with the same message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

import arbiter
from stores import create_store
from stores.proxy import ProxyStore
from stores.redis import RedisStore
from tests.pulsards.test_agree import BITMAPS, HASHES, SETS, STRINGS, ZSETS, Script
from tests.pulsards.test_agree_streams import BASICS, SETID_INFO, TRIMS
from tests.pulsards.test_agree_zsets import ALGEBRA, OTHERS, RANGESTORE, SCORES

pytestmark = [pytest.mark.processes, pytest.mark.redis, pytest.mark.timeout(60)]

SCRIPTS = {"strings": STRINGS, "hashes": HASHES, "sets": SETS, "bitmaps": BITMAPS,
           "zsets": ZSETS, "algebra": ALGEBRA, "rangestore": RANGESTORE, "others": OTHERS,
           "scores": SCORES, "streams": BASICS, "stream-trims": TRIMS,
           "stream-info": SETID_INFO}


@pytest.fixture
async def pstore(tree: arbiter.Arbiter, proxy_url: str) -> AsyncIterator[RedisStore]:
    s = create_store(proxy_url, proxy=True)
    assert isinstance(s, ProxyStore)
    try:
        yield s
    finally:
        await s.close()


async def _run(store: RedisStore, script: Script) -> list[Any]:
    await store.execute("FLUSHDB")
    out: list[Any] = []
    for command in script:
        unordered = command[0] == "~"
        try:
            reply = await store.execute(*(command[1:] if unordered else command))
        except Exception as exc:
            reply = (type(exc), str(exc))
        if unordered and isinstance(reply, list):
            reply = sorted(reply, key=repr)
        out.append(reply)
    return out


@pytest.mark.parametrize("name", SCRIPTS)
async def test_same_replies_and_errors_as_a_direct_store(store: RedisStore, pstore: RedisStore,
                                                         name: str) -> None:
    script = SCRIPTS[name]
    direct = await _run(store, script)
    proxied = await _run(pstore, script)
    wrong = [f"{command}: proxy {p!r} != direct {d!r}"
             for command, d, p in zip(script, direct, proxied, strict=True) if p != d]
    assert not wrong, "\n".join(wrong)
