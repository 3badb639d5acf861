"""Supervision of actor trees: child specs, restart budget, signals, CLI.

Public API::

    Arbiter, Config, ChildSpec      supervise a tree (``await Arbiter(cfg, specs).run()``)
    embedded, start_embedded        an arbiter inside a plain script's event loop
    load_app                        the ``MODULE[:ATTR]`` app contract
    EXIT_*                          exit codes of ``python -m arbiter``
"""

from .arbiter import EXIT_BOOT, EXIT_ERROR, EXIT_HALT, EXIT_OK, EXIT_USAGE, Arbiter
from .embedded import embedded, start_embedded
from .spec import BRUTAL_KILL, STRATEGIES, ChildSpec, Config, load_app

__all__ = [
    "BRUTAL_KILL",
    "EXIT_BOOT",
    "EXIT_ERROR",
    "EXIT_HALT",
    "EXIT_OK",
    "EXIT_USAGE",
    "STRATEGIES",
    "Arbiter",
    "ChildSpec",
    "Config",
    "embedded",
    "load_app",
    "start_embedded",
]
