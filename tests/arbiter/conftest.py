"""Fixtures for arbiter tests: run ``python -m arbiter`` for real, end it for sure."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from arbiter_procs import Tree, group_members


@pytest.fixture
def run_tree() -> Iterator[Any]:
    """``tree = run_tree("module:attr", *flags)``; every tree is killed at teardown."""
    trees: list[Tree] = []

    def start(app: str, *flags: str) -> Tree:
        tree = Tree(app, *flags)
        trees.append(tree)
        return tree

    yield start
    survivors = {}
    for tree in trees:
        alive_before_kill: list[int] = []
        if tree.proc.poll() is not None:
            # The arbiter is gone: its children get 2 s to follow (PDEATHSIG).
            deadline = time.monotonic() + 2.0
            while (alive_before_kill := group_members(tree.pid)) and time.monotonic() < deadline:
                time.sleep(0.02)
        tree.kill()
        if alive_before_kill:
            survivors[tree.pid] = alive_before_kill
        assert not group_members(tree.pid), f"processes left: {group_members(tree.pid)}"
    assert not survivors, f"children outlived their arbiter: {survivors}"
