"""How a stage script runs: logging set up, a user's mistake reported as one line, a failure of
the machine (disk full, out of memory) as one line with exit status 75 (``EX_TEMPFAIL``: try
again), and the stage process tied to its parent (``dvc repro``) so it never outlives it.

``MOODFLOW_DEBUG=1`` shows the full traceback instead.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

from moodflow.core.errors import USER_ERRORS, environment_message, is_environment_error, unexpected_message
from moodflow.core.logs import setup_logging
from moodflow.core.orphans import exit_with_parent

EX_TEMPFAIL = 75


def run_stage(main: Callable[[], Any]) -> None:
    """Run a stage's ``main``; a settings or input error exits 2 with ``moodflow: error: …``, a
    failure of the environment exits 75 saying that nothing was kept and a re-run retries."""
    exit_with_parent()
    setup_logging()
    try:
        main()
    except BaseException as exc:  # noqa: BLE001 - sorted below, re-raised when not ours
        if os.environ.get("MOODFLOW_DEBUG") or isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        from moodflow.core.terminal import for_terminal  # messages quote names from others' files

        if is_environment_error(exc):
            print(f"moodflow: error: {for_terminal(environment_message(exc))}", file=sys.stderr)
            sys.exit(EX_TEMPFAIL)
        if isinstance(exc, USER_ERRORS):  # a missing input path included
            print(f"moodflow: error: {for_terminal(exc, keep_newlines=True)}", file=sys.stderr)
            sys.exit(2)
        if not isinstance(exc, Exception):
            raise
        stage = os.path.splitext(os.path.basename(sys.argv[0] or ""))[0]
        print(f"moodflow: error: {for_terminal(unexpected_message(exc, f'stage {stage}' if stage else ''))} "
              "(MOODFLOW_DEBUG=1 shows the traceback)", file=sys.stderr)
        sys.exit(1)
