"""``python -m actors``: run one actor process (started by an arbiter)."""

import sys

from .boot import main

sys.exit(main())
