"""Quickstart: the ``stores`` API against a real Redis, step by step.

``make quickstart`` runs this script; ``python examples/quickstart.py`` does too.  It
connects to ``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``) under the
namespace ``quickstart:``, so every key and channel it touches starts with
``quickstart:`` and nothing else in the database is read or changed.  Its keys
are deleted at the end, even when a step fails.

Steps: ``create_store``, ``execute``, ``client()`` methods, a pipeline, a
transaction (MULTI/EXEC, then WATCH through ``client.transaction``) and
publish/subscribe.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from stores import create_store
from stores.redis import Pipeline, RedisClient, RedisStore

DEFAULT_URL = "redis://127.0.0.1:6379/0"
NAMESPACE = "quickstart:"


def step(title: str) -> None:
    print(f"\n== {title}")


def show(what: str, value: Any) -> None:
    print(f"   {what:<52} -> {value!r}")


def make_store(url: str) -> RedisStore:
    """``create_store`` parses the URL and builds the store; no I/O yet."""
    step("create_store")
    store = create_store(url, namespace=NAMESPACE)
    if not isinstance(store, RedisStore):
        raise SystemExit(f"quickstart needs a redis:// URL, got {store!r}")
    show("create_store(url, namespace=...)", store)
    show("store.name, store.database", (store.name, store.database))
    show("store.urlparams", store.urlparams)
    return store


async def use_execute(store: RedisStore) -> None:
    """``execute`` sends any command and returns the raw reply."""
    step("store.execute: raw commands, raw replies")
    show("await store.ping()", await store.ping())
    show("await store.execute('SET', 'greeting', 'hello')",
         await store.execute("SET", "greeting", "hello"))
    show("await store.execute('GET', 'greeting')", await store.execute("GET", "greeting"))
    show("await store.execute('HSET', 'user:1', ...)",
         await store.execute("HSET", "user:1", "name", "ada", "lang", "python"))
    show("await store.execute('HGETALL', 'user:1')", await store.execute("HGETALL", "user:1"))


async def use_client(client: RedisClient) -> None:
    """Client methods take keyword options and convert replies."""
    step("store.client(): one method per command, converted replies")
    show("await client.set('session', 'x', ex=60, nx=True)",
         await client.set("session", "x", ex=60, nx=True))
    show("await client.ttl('session')", await client.ttl("session"))
    show("await client.incr('visits')", await client.incr("visits"))
    show("await client.incrbyfloat('visits', 0.5)", await client.incrbyfloat("visits", 0.5))
    show("await client.hgetall('user:1')", await client.hgetall("user:1"))
    show("await client.rpush('queue', 'a', 'b', 'c')", await client.rpush("queue", "a", "b", "c"))
    show("await client.lrange('queue', 0, -1)", await client.lrange("queue", 0, -1))
    show("await client.sadd('tags', 'x', 'y')", await client.sadd("tags", "x", "y"))
    show("await client.smembers('tags')", await client.smembers("tags"))
    show("await client.zadd('scores', 3, 'bob', 5, 'ada')",
         await client.zadd("scores", 3, "bob", 5, "ada"))
    show("await client.zrange('scores', 0, -1, withscores=True)",
         await client.zrange("scores", 0, -1, withscores=True))
    show("await client.exists('greeting', 'nope')", await client.exists("greeting", "nope"))
    show("await client.keys('*')  (namespace stripped)", sorted(await client.keys("*")))


async def use_pipeline(client: RedisClient) -> None:
    """A pipeline queues commands and sends them in one write."""
    step("pipeline: queue, then one round trip")
    pipe = client.pipeline()
    pipe.set("a", 1).incr("a").incrby("a", 10).get("a")
    show("len(pipe) before commit", len(pipe))
    show("await pipe.commit()", await pipe.commit())


async def use_transaction(client: RedisClient) -> None:
    """MULTI/EXEC pipelines, and optimistic locking with WATCH."""
    step("transaction: MULTI ... EXEC")
    pipe = client.pipeline(transaction=True)
    pipe.set("balance", 100).decrby("balance", 30).get("balance")
    show("await pipe.commit()  (MULTI/EXEC)", await pipe.commit())

    step("transaction with WATCH: client.transaction(func, 'balance')")

    async def withdraw(pipe: Pipeline) -> None:
        # Read through pipe.immediate (runs now, on the watched connection),
        # then queue the writes; commit runs them in MULTI/EXEC.
        balance = int(await pipe.immediate.get("balance"))
        show("balance read under WATCH", balance)
        pipe.set("balance", balance - 20)

    show("await client.transaction(withdraw, 'balance')",
         await client.transaction(withdraw, "balance"))
    show("await client.get('balance')", await client.get("balance"))


async def use_pubsub(store: RedisStore) -> None:
    """Subscribe, publish, receive, through a connection of its own."""
    step("publish/subscribe")
    pubsub = store.pubsub()
    received: asyncio.Queue[tuple[Any, Any]] = asyncio.Queue()
    pubsub.add_client(lambda channel, message: received.put_nowait((channel, message)))
    try:
        await pubsub.subscribe("news")
        show("await pubsub.subscribe('news')", sorted(pubsub.subscribed))
        show("await pubsub.count('news')", await pubsub.count("news"))
        show("await pubsub.publish('news', 'hello')", await pubsub.publish("news", "hello"))
        show("received (channel, message)", await asyncio.wait_for(received.get(), 5))
    finally:
        await pubsub.close()
        show("await pubsub.close()", "closed")


async def cleanup(store: RedisStore) -> None:
    """Under a namespace, ``flush`` deletes only the namespace's keys."""
    step("cleanup")
    show(f"await store.flush()  (keys under {NAMESPACE!r})", await store.flush())
    await store.close()


async def main(url: str) -> int:
    store = make_store(url)
    try:
        await use_execute(store)
        client = store.client()
        await use_client(client)
        await use_pipeline(client)
        await use_transaction(client)
        await use_pubsub(store)
    finally:
        await cleanup(store)
    print("\ndone")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(os.environ.get("REDIS_URL", DEFAULT_URL))))
