"""A chat room: pubsub fan-out across worker processes with ``Channels``.

Run it, then connect a few terminals::

    python -m arbiter examples.chat -w 2
    nc 127.0.0.1 PORT            # PORT is in the log: "chat: connect with nc ..."

Every ``chat.N`` worker (a pool: ``-w`` sets how many) listens on the same
TCP port with ``SO_REUSEPORT``, so the kernel spreads connections over the
workers; the greeting says which worker you landed on.  A line typed by one
client is published with ``store.channels()`` (through the proxy store, i.e.
the store actor's one subscriber connection) and every worker writes it to its
own clients: users connected to different processes talk to each other.

Commands: ``/nick NAME`` renames you, ``/quit`` leaves; any other line is a
message.  Events are ``Channels`` JSON on the Redis channel ``chat:room``, so
``redis-cli SUBSCRIBE chat:room`` watches the room and ::

    redis-cli PUBLISH chat:room '{"event":"message","data":{"nick":"cli","text":"hi"}}'

speaks in it.

Environment: ``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``; the
example adds ``namespace=chat:`` and ``client_name=arbiter-chat`` unless the
URL sets them), ``CHAT_HOST`` (127.0.0.1), ``CHAT_PORT`` (default: a free
port, picked at start and logged), ``CHAT_ROOM`` (``room``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
from typing import Any

import stores
from actors import Actor
from arbiter import ChildSpec
from stores.proxy import store_child

from .support import DEFAULT_URL, redis_store, store_url

logger = logging.getLogger("examples.chat")

#: A client whose unsent output grows past this is too slow: it is dropped.
MAX_BACKLOG = 1 << 20
HELP = "/nick NAME to rename, /quit to leave; anything else is said to the room"


def free_port(host: str) -> int:
    """A port nobody listens on now (the workers bind it with SO_REUSEPORT)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def render(event: str, data: dict[str, Any]) -> str | None:
    """The line a room event shows as (None for events that show nothing)."""
    nick = data.get("nick", "?")
    if event == "message":
        return f"[{nick}] {data.get('text', '')}"
    if event == "join":
        return f"* {nick} joined (on {data.get('worker', '?')})"
    if event == "leave":
        return f"* {nick} left"
    if event == "nick":
        return f"* {data.get('old', '?')} is now {nick}"
    return None


class Client:
    """One TCP connection to this worker."""

    def __init__(self, cid: str, nick: str, writer: asyncio.StreamWriter) -> None:
        self.cid = cid
        self.nick = nick
        self.writer = writer

    def send(self, line: str) -> None:
        if self.writer.is_closing():
            return
        if self.writer.transport.get_write_buffer_size() > MAX_BACKLOG:
            logger.warning("dropping %s: it does not read its messages", self.nick)
            self.writer.close()
            return
        self.writer.write(line.encode() + b"\n")


class ChatWorker(Actor):
    """Pool worker: a line server on the shared port, relaying through Channels."""

    async def on_start(self) -> None:
        self.room = str(self.params["room"])
        self.clients: dict[str, Client] = {}
        self.sessions: set[asyncio.Task[Any]] = set()
        self.numbers = itertools.count(1)
        self.channels = redis_store(self.params["url"]).channels()
        # Subscribed before listening: no client can miss the room's first events.
        await self.channels.register(self.room, "*", self.on_event)
        host, port = self.params["host"], int(self.params["port"])
        self.server = await asyncio.start_server(self.serve, host, port, reuse_port=True)
        logger.info("%s: listening on %s:%d", self.name, host, port)

    async def on_stop(self) -> None:
        self.server.close()
        for client in list(self.clients.values()):
            client.send("* server stopping")
            client.writer.close()
        # Let the handlers say goodbye while the store actor still serves.
        if self.sessions:
            await asyncio.wait(self.sessions, timeout=2.0)
        with contextlib.suppress(stores.StoreError, OSError):
            await self.channels.close()

    def on_event(self, channel: str, event: str, data: Any) -> None:
        """A room event from any worker: show it to this worker's clients."""
        if not isinstance(data, dict) or (line := render(event, data)) is None:
            return
        for client in list(self.clients.values()):
            if client.cid != data.get("id"):
                client.send(line)

    async def say(self, event: str, client: Client, **extra: Any) -> None:
        data = {"id": client.cid, "nick": client.nick, "worker": self.name, **extra}
        try:
            await self.channels.publish(self.room, event, data)
        except (stores.StoreError, OSError) as exc:
            client.send(f"* not delivered: {exc}")

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client's session (asyncio runs it as a task of its own)."""
        task = asyncio.current_task()
        assert task is not None
        self.sessions.add(task)
        try:
            await self.session(reader, writer)
        except asyncio.CancelledError:
            pass  # the actor is going down; asyncio would log it as an error
        finally:
            self.sessions.discard(task)

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                      ) -> None:
        number = next(self.numbers)
        client = Client(f"{self.name}/{number}", f"guest{number}.{self.name}", writer)
        self.clients[client.cid] = client
        logger.info("%s: %s connected from %s", self.name, client.nick,
                    writer.get_extra_info("peername"))
        client.send(f"* welcome to the chat on {self.name}, you are {client.nick}; {HELP}")
        await self.say("join", client)
        try:
            await self.converse(reader, client)
        except (ConnectionError, ValueError) as exc:  # reset, or a line over the limit
            logger.info("%s: %s: %s", self.name, client.nick, exc)
        finally:
            del self.clients[client.cid]
            await self.say("leave", client)
            writer.close()
            logger.info("%s: %s left", self.name, client.nick)

    async def converse(self, reader: asyncio.StreamReader, client: Client) -> None:
        while line := await reader.readline():
            text = line.decode("utf-8", "replace").strip()
            if not text:
                continue
            if text == "/quit":
                client.send("* bye")
                return
            if text.startswith("/nick "):
                old, client.nick = client.nick, text[6:].strip() or client.nick
                await self.say("nick", client, old=old)
            elif text.startswith("/"):
                client.send(f"* unknown command; {HELP}")
            else:
                await self.say("message", client, text=text)


def setup(arbiter: Any) -> list[ChildSpec | dict[str, Any]]:
    """The app: the store actor, then chat workers (``-w``, default 2) sharing one port."""
    env = os.environ
    url = store_url(env.get("REDIS_URL", DEFAULT_URL),
                    namespace="chat:", client_name="arbiter-chat")
    host = env.get("CHAT_HOST", "127.0.0.1")
    port = int(env.get("CHAT_PORT", "0")) or free_port(host)
    room = env.get("CHAT_ROOM", "room")
    logger.info("chat: connect with nc %s %d (room %r on %s)", host, port, room, url)
    return [store_child(url),
            ChildSpec("chat", ChatWorker, pool=True, count=2,
                      params={"url": url, "host": host, "port": port, "room": room})]


children = setup
