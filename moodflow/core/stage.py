"""How a stage script runs: logging set up, and a user's mistake reported as one line.

``MOODFLOW_DEBUG=1`` shows the full traceback instead.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

from moodflow.core.errors import USER_ERRORS
from moodflow.core.logs import setup_logging


def run_stage(main: Callable[[], Any]) -> None:
    """Run a stage's ``main``; a settings or input error exits 2 with ``moodflow: error: …``."""
    setup_logging()
    try:
        main()
    except USER_ERRORS as exc:
        if os.environ.get("MOODFLOW_DEBUG"):
            raise
        print(f"moodflow: error: {exc}", file=sys.stderr)
        sys.exit(2)
