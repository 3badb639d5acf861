"""``start_store``: ``create_store`` that starts pulsards when nobody answers."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final

from ..errors import InvalidURL
from ..store import Store, create_store
from ..url import parse_url

__all__ = ["SERVER_PARAMS", "start_store"]

#: URL parameters that configure the pulsards server ``start_store`` starts.
SERVER_PARAMS: Final = frozenset({"databases", "maxclients", "loglevel", "hz", "appendonly",
                                  "appendfsync", "dir", "dbfilename", "appendfilename"})
_LOCAL_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", ""})


async def start_store(app: Any = None, url: str = "pulsar://127.0.0.1:6410", workers: int = 0,
                      **kw: Any) -> Store:
    """Equivalent to ``create_store`` except when ``url`` is a pulsar store on this
    host that is not answering: then a pulsards actor is started (under the
    arbiter ``app``, the current actor tree, or an embedded arbiter started on
    demand), and the returned store points at its real address
    (``pulsar://127.0.0.1:0`` picks a free port).

    A second call for the same URL returns a store for the same running actor.
    Server options ride in the URL (``?databases=4&maxclients=100``).
    ``workers`` must be 0: multi-core pulsards is not available yet.
    """
    if workers:
        raise ValueError("workers must be 0: multi-core pulsards is not available yet "
                         "(it comes later as cluster-mode shards)")
    parsed = parse_url(url)
    if parsed.scheme != "pulsar" or parsed.is_unix:
        return create_store(url, **kw)
    assert not isinstance(parsed.host, str)
    host = parsed.host[0] or "127.0.0.1"
    if host not in _LOCAL_HOSTS:
        return create_store(url, **kw)
    port = 6410 if parsed.host[1] is None else parsed.host[1]
    if port and await _answers(host, port):
        return create_store(url, **kw)
    options = {k: parsed.params[k] for k in parsed.params if k in SERVER_PARAMS}
    options.update({k: kw[k] for k in list(kw) if k in SERVER_PARAMS})
    if parsed.password is not None:
        options["requirepass"] = parsed.password
    real_host, real_port = await _spawn(app, host, port, options)
    await _wait_for_pong(real_host, real_port, timeout=5.0)
    address = f"[{real_host}]" if ":" in real_host else real_host
    rest = url.split("://", 1)[1]
    # The host part ends at the path, the query or the fragment ("?dir=/x" has a "/").
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc, tail = rest[:cut], rest[cut:]
    auth = netloc.rpartition("@")[0]
    new = f"pulsar://{auth + '@' if auth else ''}{address}:{real_port}{tail}"
    return create_store(new, **kw)


async def _spawn(app: Any, host: str, port: int, options: dict[str, Any]) -> tuple[str, int]:
    import actors
    from actors.runtime import ActorInfo, ActorProxy, target_path

    from .actor import PulsardsActor

    name = f"pulsards.{host.replace(':', '_')}.{port}"
    params = {"bind": host if host != "localhost" else "127.0.0.1", "port": port, **options}
    try:
        _check_options(params)
    except ValueError as exc:
        raise InvalidURL(str(exc)) from None
    if app is not None and hasattr(app, "spawn_actor"):
        info = await app.spawn_actor(
            target_path(PulsardsActor), name, params,
            {"restart": "permanent", "exist_ok": True, "timeout": None, "shutdown": None})
        proxy = ActorProxy(ActorInfo.from_wire(info))
        await proxy.connect()
    else:
        proxy = await actors.spawn(PulsardsActor, name, restart="permanent", exist_ok=True,
                                   **params)
    real_host, real_port = await proxy.call("server_address")
    return str(real_host), int(real_port)


def _check_options(params: dict[str, Any]) -> None:
    """Check the server options (URL parameters) as redis.conf values would be
    checked, and turn the integer ones into ``int`` for ``Config(**params)``."""
    from dataclasses import fields

    from .config import Config

    known = {f.name for f in fields(Config)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"pulsards has no option {', '.join(unknown)} yet")
    for key, value in list(params.items()):
        kind = type(getattr(Config(), key))
        if kind is int and not isinstance(value, int):
            try:
                params[key] = int(value)
            except ValueError:
                raise ValueError(f"pulsards option {key}={value!r} is not a number") from None
        elif kind is str and key != "bind":
            try:
                Config().apply(key.replace("_", "-"), str(value))
            except ValueError as exc:
                raise ValueError(f"pulsards option {key}={value!r}: {exc}") from None
            params[key] = str(value).lower() if key in ("appendonly", "appendfsync") \
                else str(value)


async def _answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        await _ping(host, port, timeout)
    except OSError:  # TimeoutError is an OSError
        return False
    return True


async def _ping(host: str, port: int, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(b"PING\r\n")
            reply = await reader.readline()
        finally:
            writer.close()
    if not reply.startswith((b"+PONG", b"-NOAUTH")):
        raise ConnectionRefusedError(f"{host}:{port} answered {reply[:40]!r}, not PONG")


async def _wait_for_pong(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            await _ping(host, port, 0.5)
            return
        except OSError:  # TimeoutError is an OSError
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.02)
