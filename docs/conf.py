"""Sphinx configuration of the arbiter-stores documentation.

Build with ``make docs`` (``sphinx -W --keep-going``: every warning fails).
"""

from __future__ import annotations

import os
import sys
from importlib import metadata

sys.path.insert(0, os.path.abspath(".."))

project = "arbiter-stores"
author = "arbiter-stores contributors"
copyright = "arbiter-stores contributors"
try:
    release = metadata.version("arbiter-stores")
except metadata.PackageNotFoundError:  # building from a checkout that is not installed
    release = "0.1.0"
version = release

extensions = ["sphinx.ext.autodoc"]

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True

exclude_patterns = ["_build"]
templates_path: list[str] = []

html_theme = "alabaster"
html_static_path: list[str] = []
