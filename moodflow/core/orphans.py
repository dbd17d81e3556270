"""A stage process never outlives the ``dvc repro`` that started it.

When DVC itself is killed (``kill -9 <dvc pid>``, an OOM kill, a closed terminal), the stage it
was running is reparented and would go on writing beside the next run. :func:`exit_with_parent`
starts a watcher thread that notices the parent is gone (the parent and, when the parent is a
shell running the stage command, its parent too) and stops this process the way Ctrl-C would:
SIGTERM, turned into ``SystemExit`` so the atomic writers drop their temporary files; if the
process is stuck in native code, it is ended after a grace period. Nothing half-written is
left under a final name either way (outputs are renamed into place only when complete).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

_SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "busybox"}
POLL_S = 0.2
GRACE_S = 10.0
EXIT_CODE = 128 + signal.SIGTERM


def _stat(pid: int) -> tuple[str, str, int] | None:
    """(command name, state, start time) of ``pid`` from /proc, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    return name, fields[0], int(fields[19])


def _ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _watched(pid: int) -> list[tuple[int, int]]:
    """(pid, start time) of the parent ``pid``, and of the grandparent when the parent is a shell."""
    out = []
    for _ in range(2):
        info = _stat(pid) if pid and pid > 1 else None
        if info is None:
            break
        out.append((pid, info[2]))
        if info[0] not in _SHELLS:
            break
        pid = _ppid(pid) or 0
    return out


def _alive(pid: int, start: int) -> bool:
    info = _stat(pid)
    return info is not None and info[2] == start and info[1] not in ("Z", "X")


def _on_sigterm(signum, frame) -> None:
    raise SystemExit(EXIT_CODE)


def exit_with_parent(poll_s: float = POLL_S, grace_s: float = GRACE_S) -> bool:
    """Stop this process when its parent (``dvc repro``) dies; False where it cannot watch
    (no /proc, or no parent to watch)."""
    import moodflow

    parent = moodflow.STARTED_BY
    if parent <= 1 or not Path("/proc/self/stat").exists():
        return False
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    if os.getppid() != parent:  # orphaned while importing
        log.warning("the process that started this stage (pid %d) is gone: stopping", parent)
        raise SystemExit(EXIT_CODE)
    watched = _watched(parent)
    if not watched:
        return False

    def watch() -> None:
        while all(_alive(pid, start) for pid, start in watched) and os.getppid() == parent:
            time.sleep(poll_s)
        log.warning("the process that started this stage (pid %d) is gone: stopping", watched[-1][0])
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace_s)
        os._exit(EXIT_CODE)

    threading.Thread(target=watch, name="moodflow-parent-watch", daemon=True).start()
    return True
