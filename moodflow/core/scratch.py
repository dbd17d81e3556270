"""Private temporary folders that do not outlive their process.

A :class:`PrivateFolder` (mode 0700, named after the process) is removed when it is cleaned up,
when nothing refers to it any more and, through an ``atexit`` finalizer, when the interpreter
exits — on a normal exit, on an exception, on Ctrl-C (``KeyboardInterrupt``) and on SIGTERM or
SIGHUP, which are turned into ``SystemExit`` (status 128 + signal) where no other handler was
set. A folder left by a process that was killed outright (SIGKILL) is removed by the next
moodflow process that makes one, once its owner is no longer running.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import weakref
from pathlib import Path


def _exit_on_signal(signum: int, frame) -> None:  # noqa: ARG001 - signal handler signature
    raise SystemExit(128 + signum)


def exit_cleanly_on_signals() -> None:
    """SIGTERM and SIGHUP raise ``SystemExit`` (so ``finally`` blocks and exit handlers run)
    instead of killing the process outright; only where the default action is still set, and
    only from the main thread (where Python delivers signals)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) == signal.SIG_DFL:
            signal.signal(signum, _exit_on_signal)


def _remove(path: str, owner: int) -> None:
    if os.getpid() == owner:  # never from a forked child: the parent still uses the folder
        shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(prefix: str, parent: str | None = None) -> None:
    """Remove ``<prefix><pid>-*`` folders of this user whose process is no longer running."""
    parent = parent or tempfile.gettempdir()
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        pid = entry.name[len(prefix):].split("-", 1)[0]
        try:
            if (pid.isdigit() and entry.is_dir(follow_symlinks=False)
                    and entry.stat(follow_symlinks=False).st_uid == os.getuid() and not _alive(int(pid))):
                shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            continue


class PrivateFolder:
    """A temporary folder only this user can read, removed on every way out (see the module
    docstring); ``name`` is its path, as for ``tempfile.TemporaryDirectory``."""

    def __init__(self, prefix: str):
        remove_stale(prefix)
        exit_cleanly_on_signals()
        self.name = tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-")
        self.path = Path(self.name)
        self._finalizer = weakref.finalize(self, _remove, self.name, os.getpid())

    def cleanup(self) -> None:
        """Remove the folder now (idempotent)."""
        self._finalizer()

    def __enter__(self) -> "PrivateFolder":
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()
