"""The Redis client: one method per command, generated from the command table.

``client.set("k", "v", ex=10, nx=True)`` sends ``SET k v EX 10 NX``: positional
arguments go first, then each keyword becomes an option — ``name=value`` adds
``NAME value`` (a tuple adds every item), ``name=True`` adds ``NAME``,
``False``/``None`` adds nothing.  Replies go through the command's converter
(``replies.py``).  ``Pipeline`` has the same methods, queueing instead of
sending; ``await pipe.commit()`` sends them all in one write.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from ..errors import ExecAbortError, ResponseError, StoreError, WatchError
from .commands import METHODS, CommandSpec

if TYPE_CHECKING:
    from .scripting import Lock, Script
    from .store import RedisStore, Session

__all__ = ["Pipeline", "RedisClient"]

# Commands whose options come right after the key, before the positional tail.
_OPTIONS_AFTER_KEY: Final = frozenset({"ZADD", "GEOADD", "XADD"})
# Commands whose options (COUNT, BLOCK, NOACK) must come before the STREAMS word.
_OPTIONS_BEFORE_STREAMS: Final = frozenset({"XREAD", "XREADGROUP"})


def command_args(spec: CommandSpec, args: tuple[Any, ...], options: dict[str, Any]
                 ) -> tuple[Any, ...]:
    """The full argument tuple of a method call: command words, args, options."""
    if not options:
        return (*spec.words, *args)
    opts: list[Any] = []
    for name, value in options.items():
        if value is None or value is False:
            continue
        opts.append(name.upper())
        if value is True:
            continue
        if isinstance(value, tuple | list):
            opts.extend(value)
        else:
            opts.append(value)
    if spec.name in _OPTIONS_AFTER_KEY and args:
        return (*spec.words, args[0], *opts, *args[1:])
    if spec.name in _OPTIONS_BEFORE_STREAMS:
        at = next((i for i, a in enumerate(args) if _upper(a) == "STREAMS"), len(args))
        return (*spec.words, *args[:at], *opts, *args[at:])
    return (*spec.words, *args, *opts)


def _upper(arg: Any) -> str:
    if isinstance(arg, bytes):
        return arg.decode("latin-1").upper()
    return str(arg).upper() if isinstance(arg, str) else ""


class _Commands(abc.ABC):
    """Base of classes whose methods are generated from ``METHODS``."""

    @abc.abstractmethod
    def _command(self, spec: CommandSpec, args: tuple[Any, ...]) -> Any:
        """Run (or queue) the command ``args`` described by ``spec``."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        raise AttributeError(
            f"{type(self).__name__} has no command method {name!r} "
            "(use execute_command() for commands the table does not have)"
        )


def _make_method(spec: CommandSpec) -> Callable[..., Any]:
    words = spec.words

    def method(self: _Commands, *args: Any, **options: Any) -> Any:
        full = (*words, *args) if not options else command_args(spec, args, options)
        return self._command(spec, full)

    method.__name__ = method.__qualname__ = spec.method
    method.__doc__ = f"``{' '.join(words)}`` — Redis {spec.group} command (arity {spec.arity})."
    return method


def _install_methods(cls: type[_Commands]) -> None:
    for name, spec in METHODS.items():
        if name not in cls.__dict__:
            setattr(cls, name, _make_method(spec))


class RedisClient(_Commands):
    """A method for every Redis command; ``store.client()`` makes one.

    Methods are coroutine functions returning converted replies.  A client
    bound to a ``session`` (from ``Pipeline.watch``) runs its commands there.
    """

    def __init__(self, store: RedisStore, session: Session | None = None) -> None:
        self._store = store
        self._session = session

    @property
    def store(self) -> RedisStore:
        return self._store

    async def _command(self, spec: CommandSpec, args: tuple[Any, ...]) -> Any:
        spec.check_arity(len(args))
        store = self._store
        if self._session is not None:
            reply = await self._bound(spec, args)
        else:
            reply = await store.send(spec, args, store._timeout)
        convert = spec.reply
        return reply if convert is None else convert(reply, args)

    async def _bound(self, spec: CommandSpec, args: tuple[Any, ...]) -> Any:
        namespace = self._store._namespace
        if namespace is not None:
            args = tuple(namespace.apply(spec, args))
        assert self._session is not None
        reply = await self._session.execute(args)
        return reply if namespace is None else namespace.strip_reply(spec, reply)

    async def execute_command(self, *args: Any) -> Any:
        """Send any command as it is and return the raw reply."""
        if self._session is not None:
            from .commands import lookup
            spec = lookup(args)
            if spec is not None:
                return await self._bound(spec, args)
            return await self._session.execute(args)
        return await self._store.execute(*args)

    def pipeline(self, transaction: bool = False) -> Pipeline:
        """A pipeline; ``transaction=True`` wraps it in MULTI/EXEC."""
        return Pipeline(self._store, transaction)

    async def transaction(self, func: Callable[[Pipeline], Any], *watches: Any,
                          retries: int = 10) -> list[Any]:
        """Run ``func(pipe)`` under WATCH ``watches`` and commit, retrying on ``WatchError``.

        ``func`` reads through ``pipe.immediate`` and queues writes on ``pipe``.
        """
        for attempt in range(retries + 1):
            async with self.pipeline(transaction=True) as pipe:
                if watches:
                    await pipe.watch(*watches)
                result = func(pipe)
                if hasattr(result, "__await__"):
                    await result
                try:
                    return await pipe.commit()
                except WatchError:
                    if attempt == retries:
                        raise
        raise AssertionError("unreachable")

    def register_script(self, source: str | bytes) -> Script:
        """A Lua script run with EVALSHA (falling back to EVAL on NOSCRIPT)."""
        from .scripting import Script

        return Script(self, source)

    def lock(self, name: str, timeout: float | None = 10.0, sleep: float = 0.1,
             blocking_timeout: float | None = None) -> Lock:
        """An async lock held in key ``name`` (``async with client.lock("l"):``)."""
        from .scripting import Lock

        return Lock(self, name, timeout=timeout, sleep=sleep, blocking_timeout=blocking_timeout)


class Pipeline(_Commands):
    """Commands queued and sent in one write; ``await pipe.commit()`` runs them.

    Methods queue a command and return the pipeline, so calls can be chained.
    ``await pipe.watch(*keys)`` binds the pipeline to a connection of its own
    and watches ``keys``; ``pipe.immediate`` then runs commands at once on that
    connection (read, decide, queue, commit).  A watched key changed by
    someone else makes ``commit`` raise ``WatchError``.
    """

    def __init__(self, store: RedisStore, transaction: bool = False) -> None:
        self._store = store
        self.transaction = transaction
        # (spec for namespacing, arguments, convert the reply)
        self._queue: list[tuple[CommandSpec | None, tuple[Any, ...], bool]] = []
        self._scripts: list[Script] = []
        self._session: Session | None = None

    def __len__(self) -> int:
        return len(self._queue)

    def _command(self, spec: CommandSpec | None, args: tuple[Any, ...],
                 convert: bool = True) -> Pipeline:
        if spec is not None:
            spec.check_arity(len(args))
        self._queue.append((spec, args, convert))
        return self

    def execute_command(self, *args: Any) -> Pipeline:
        """Queue any command; ``commit`` returns its raw reply."""
        from .commands import lookup

        return self._command(lookup(args), args, convert=False)

    @property
    def immediate(self) -> RedisClient:
        """A client running commands now, on the watched connection."""
        if self._session is None:
            raise StoreError("pipe.immediate needs await pipe.watch(...) first")
        return RedisClient(self._store, self._session)

    async def watch(self, *keys: Any) -> None:
        """WATCH ``keys`` on a connection this pipeline keeps until commit/reset."""
        if self._session is None:
            self._session = await self._store.session()
        namespace = self._store._namespace
        if namespace is not None:
            keys = tuple(namespace.key(k) for k in keys)
        await self._session.execute(("WATCH", *keys))

    async def reset(self) -> None:
        """Forget queued commands, UNWATCH and give the connection back."""
        self._queue.clear()
        session, self._session = self._session, None
        if session is not None:
            try:
                if not session.closed:
                    await session.execute(("UNWATCH",))
            finally:
                await session.close()

    async def __aenter__(self) -> Pipeline:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.reset()

    async def commit(self, raise_on_error: bool = True) -> list[Any]:
        """Send every queued command in one write; return their converted replies.

        With ``raise_on_error`` the first error reply is raised after every
        reply was read; otherwise errors are returned in the list.
        """
        queue, self._queue = self._queue, []
        try:
            if not queue:
                return []
            namespace = self._store._namespace
            commands: list[Sequence[Any]]
            if namespace is None:
                commands = [args for _, args, _ in queue]
            else:
                commands = [namespace.apply(spec, args) for spec, args, _ in queue]
            for script in self._scripts:
                await script.load()
            if self.transaction:
                commands = [("MULTI",), *commands, ("EXEC",)]
            if self._session is not None:
                replies = await self._session.execute_many(commands)
            else:
                # A blocking command would stall every user of the shared
                # connection until it returns: run on a connection of its own.
                blocking = not self.transaction and any(
                    spec is not None and spec.blocking and spec.holds(args)
                    for spec, args, _ in queue)
                replies = await self._store.send_many(commands, exclusive=blocking)
            if self.transaction:
                replies = self._exec_replies(replies)
            results = replies  # converted in place: one pass, no second list
            first_error = None
            for i, (spec, args, convert) in enumerate(queue):
                reply = replies[i]
                if isinstance(reply, Exception):
                    if first_error is None and isinstance(reply, ResponseError):
                        first_error = reply
                    continue
                if spec is not None:
                    if namespace is not None:
                        reply = namespace.strip_reply(spec, reply)
                    if convert and spec.reply is not None:
                        reply = spec.reply(reply, args)
                    results[i] = reply
        finally:
            if self._session is not None:
                self._queue, queued = [], self._queue
                await self.reset()
                self._queue = queued
        if raise_on_error and first_error is not None:
            raise first_error
        return results

    @staticmethod
    def _exec_replies(replies: list[Any]) -> list[Any]:
        exec_reply = replies[-1]
        if isinstance(exec_reply, ExecAbortError):
            # Report why: the first command the server refused to queue.
            cause = next((r for r in replies[1:-1] if isinstance(r, ResponseError)), None)
            raise ExecAbortError(f"{exec_reply} ({cause})" if cause else str(exec_reply))
        if isinstance(exec_reply, Exception):
            raise exec_reply
        if exec_reply is None:
            raise WatchError("a watched key changed: the transaction was not executed")
        return list(exec_reply)


_install_methods(RedisClient)
_install_methods(Pipeline)

