"""An arbiter inside a plain script's event loop.

``actors.spawn`` in a script with no arbiter starts one of these on demand
(through the ``actors.hub`` entry point, see :func:`start_embedded`); it is
stopped when the loop shuts its tasks down or the interpreter exits.  For
explicit control use ``async with embedded(): ...``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import Any

import actors

from .arbiter import Arbiter
from .spec import ChildSpec, Config

__all__ = ["embedded", "start_embedded"]


async def start_embedded(
    config: Config | None = None, specs: Iterable[ChildSpec | dict[str, Any]] = ()
) -> Arbiter:
    """Start an arbiter in the running loop, make it the hub, wait for its specs.

    It installs no signal handlers (the script owns them) and reaps only its
    own children.  Its children die with the script (``PR_SET_PDEATHSIG``).
    """
    arbiter = Arbiter(config, specs, embedded=True)
    await arbiter.start()
    task = asyncio.get_running_loop().create_task(arbiter.supervise(), name="arbiter")
    arbiter.task = task
    # A script may exit without stopping us: leave no child behind.
    atexit.register(arbiter._stop_now)
    task.add_done_callback(lambda t: atexit.unregister(arbiter._stop_now))
    actors.set_hub(arbiter)
    booted = asyncio.ensure_future(arbiter.booted.wait())
    await asyncio.wait([booted, task], return_when=asyncio.FIRST_COMPLETED)
    booted.cancel()
    if task.done():
        raise RuntimeError(f"embedded arbiter failed to start (exit {task.result()})")
    return arbiter


@contextlib.asynccontextmanager
async def embedded(
    config: Config | None = None, specs: Iterable[ChildSpec | dict[str, Any]] = ()
) -> AsyncIterator[Arbiter]:
    """``async with embedded() as arbiter:`` an arbiter for the block's duration."""
    arbiter = await start_embedded(config, specs)
    try:
        yield arbiter
    finally:
        await arbiter.shutdown()
