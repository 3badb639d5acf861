"""Operating-system plumbing: addresses, runtime directory, process launch.

Mailbox addresses are strings so they travel on the wire as they are:
``unix:/path/to/socket`` (default, inside the private runtime directory) or
``tcp:HOST:PORT`` (loopback TCP, port 0 picks a free one).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import signal
import stat
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .connection import Connection

__all__ = [
    "connect",
    "launch",
    "make_runtime_dir",
    "serve",
    "set_pdeathsig",
]

# sockaddr_un.sun_path is 108 bytes on Linux, 104 on the BSDs.
_MAX_UNIX_PATH = 103


def split_address(address: str) -> tuple[str, str, int]:
    """``unix:/p`` -> ``("unix", "/p", 0)``; ``tcp:h:1`` -> ``("tcp", "h", 1)``."""
    scheme, _, rest = address.partition(":")
    if scheme == "unix" and rest:
        return "unix", rest, 0
    if scheme == "tcp":
        host, _, port = rest.rpartition(":")
        if host and port.isdigit():
            return "tcp", host.strip("[]"), int(port)
    raise ValueError(f"bad mailbox address {address!r} (want unix:PATH or tcp:HOST:PORT)")


async def connect(address: str, factory: Callable[[], Connection]) -> Connection:
    """Open a mailbox connection to ``address``."""
    loop = asyncio.get_running_loop()
    scheme, host, port = split_address(address)
    if scheme == "unix":
        _, conn = await loop.create_unix_connection(factory, host)
    else:
        _, conn = await loop.create_connection(factory, host, port)
    return conn


async def serve(address: str, factory: Callable[[], Connection]) -> tuple[asyncio.Server, str]:
    """Listen on ``address``; return the server and the real address (port 0 resolved)."""
    loop = asyncio.get_running_loop()
    scheme, host, port = split_address(address)
    if scheme == "unix":
        if len(host.encode()) > _MAX_UNIX_PATH:
            raise ValueError(f"unix socket path too long ({len(host)} bytes): {host}")
        server = await loop.create_unix_server(factory, host)
        os.chmod(host, 0o600)
        return server, address
    server = await loop.create_server(factory, host, port)
    real_port = server.sockets[0].getsockname()[1]
    return server, f"tcp:{host}:{real_port}"


def make_runtime_dir(path: str | None = None) -> tuple[str, bool]:
    """Create (or adopt) the private runtime directory; return it and "created".

    Without ``path`` a fresh directory is made under ``$XDG_RUNTIME_DIR`` or the
    system temp dir.  An existing directory must be ours; it is set to 0700.
    """
    if path is None:
        base = os.environ.get("XDG_RUNTIME_DIR")
        if not base or not os.path.isdir(base) or not os.access(base, os.W_OK):
            base = tempfile.gettempdir()
        return tempfile.mkdtemp(prefix="arbiter-", dir=base), True  # mkdtemp: mode 0700
    target = Path(path)
    created = False
    try:
        target.mkdir(mode=0o700, parents=True)
        created = True
    except FileExistsError:
        info = target.stat()
        if not stat.S_ISDIR(info.st_mode):
            raise NotADirectoryError(f"runtime dir {path} is not a directory") from None
        if info.st_uid != os.getuid():
            raise PermissionError(f"runtime dir {path} belongs to another user") from None
    os.chmod(target, 0o700)  # mkdir's mode is filtered by the umask
    return str(target), created


def set_pdeathsig(sig: int = signal.SIGKILL) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    pr_set_pdeathsig = 1
    return bool(libc.prctl(pr_set_pdeathsig, sig, 0, 0, 0) == 0)


def launch(argv: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    """Start ``argv`` as a new process by exec (never a fork of a running loop).

    Returns the pid; the caller reaps it.  Descriptors are not inherited
    (Python opens them non-inheritable), stdio is shared.
    """
    environ = dict(env if env is not None else os.environ)
    return os.posix_spawn(argv[0], list(argv), environ, setsigmask=())
