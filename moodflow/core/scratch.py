"""Private temporary folders that do not outlive their process.

A :class:`PrivateFolder` (mode 0700, named after the process) is removed when it is cleaned up,
when nothing refers to it any more and, through an ``atexit`` finalizer, when the interpreter
exits — on a normal exit, on an exception, on Ctrl-C (``KeyboardInterrupt``) and on SIGTERM or
SIGHUP, which are turned into ``SystemExit`` (status 128 + signal) where no other handler was
set. A folder left by a process that was killed outright (SIGKILL) is removed by the next
moodflow process that makes one, once its owner is no longer running.

Python drops an exception raised inside some callbacks (at-fork hooks, the import system's
weakref callbacks) with only a printed note, so a signal landing there would be lost: each
handled signal therefore also starts a short grace timer which, if the process is still running
when it fires, removes the folders and ends the process with the signal's status.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from moodflow.core.atomic import process_alive

# the signals that end a moodflow process cleanly (KeyboardInterrupt / SystemExit)
_ENDING = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


GRACE_S = 3.0  # how long a signal's exception may take to unwind before the process is ended
_FINALIZERS: "set[weakref.finalize]" = set()  # of every PrivateFolder (finalize objects take no weakref)


_REMOVING = threading.Lock()  # a removal in progress finishes before the process is ended


def _end_now(status: int) -> None:
    """The signal's exception was swallowed (see the module docstring): clean up and end."""
    for finalizer in list(_FINALIZERS):
        finalizer()  # a no-op once it has run
    with _REMOVING:
        os._exit(status)


def _exit_on_signal(signum: int, frame) -> None:  # noqa: ARG001 - signal handler signature
    timer = threading.Timer(GRACE_S, _end_now, args=(128 + signum,))
    timer.daemon = True
    timer.start()
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


def exit_cleanly_on_signals() -> None:
    """SIGTERM and SIGHUP raise ``SystemExit`` (so ``finally`` blocks and exit handlers run)
    instead of killing the process outright, Ctrl-C still ``KeyboardInterrupt``, each with the
    grace timer of the module docstring; only where Python's default action is still set, and
    only from the main thread (where Python delivers signals)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for name, default in (("SIGTERM", signal.SIG_DFL), ("SIGHUP", signal.SIG_DFL),
                          ("SIGINT", signal.default_int_handler)):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) == default:
            signal.signal(signum, _exit_on_signal)


@contextmanager
def signals_deferred() -> Iterator[tuple]:
    """Hold Ctrl-C, SIGTERM and SIGHUP back while the body runs; they arrive right after it.

    For steps an exception must not interrupt halfway: a folder made but not yet registered for
    removal, or a ``fork`` (an exception raised inside Python's at-fork hooks is printed and
    ignored, so the signal would be lost). Yields the previous signal mask, which a forked child
    restores. Main thread only; elsewhere the body just runs."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield ()
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _ENDING)
    try:
        yield tuple(previous)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _remove(path: str, owner: int) -> None:
    if os.getpid() == owner:  # never from a forked child: the parent still uses the folder
        with _REMOVING:
            shutil.rmtree(path, ignore_errors=True)


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
                    and entry.stat(follow_symlinks=False).st_uid == os.getuid() and not process_alive(int(pid))):
                shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            continue


class PrivateFolder:
    """A temporary folder only this user can read, removed on every way out (see the module
    docstring); ``name`` is its path, as for ``tempfile.TemporaryDirectory``."""

    def __init__(self, prefix: str):
        remove_stale(prefix)
        exit_cleanly_on_signals()
        with signals_deferred():  # a signal between the two would leave the folder behind
            self.name = tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-")
            self._finalizer = weakref.finalize(self, _remove, self.name, os.getpid())
            _FINALIZERS.difference_update([f for f in _FINALIZERS if not f.alive])
            _FINALIZERS.add(self._finalizer)
        self.path = Path(self.name)

    def cleanup(self) -> None:
        """Remove the folder now (idempotent)."""
        self._finalizer()

    def __enter__(self) -> "PrivateFolder":
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()
