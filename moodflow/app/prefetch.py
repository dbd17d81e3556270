"""The first file's decode + features, and its mood tags, in forked children while the parent
loads the model.

A cold ``moodflow predict`` spends ~1.5 s importing scikit-learn/scipy/skops to load a
classical model, ~1 s decoding and analysing the file and, with mood tags, ~2.5 s importing
torch and running the musicnn tagger; on two cores these overlap. The
child is forked only where that is safe — a POSIX ``fork``, no other thread in the process and
torch not imported — and only for the first file; anything else runs in the parent as before.
A child that fails or dies costs nothing but the time: the parent then analyses the file itself.
A child sends back the features and the decoded signal; for a long file the signal is a
``FileSignal`` (the path and its checked length: it pickles without samples), so neither the
child nor the pipe ever holds an hour of audio.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable

from moodflow.core.scratch import signals_deferred


class Prefetch:
    """One child's result: ``result()`` → ("ok", value), ("error", (type name, message)) or
    ("lost", None) when the child died."""

    def __init__(self, process: Any, conn: Any):
        self.process, self.conn = process, conn

    def result(self) -> tuple[str, Any]:
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            message = ("lost", None)
        except BaseException:  # interrupted (Ctrl-C, SIGTERM): the child's work is no longer wanted
            self.process.terminate()
            raise
        finally:
            self.conn.close()
            self.process.join()
        return message


def safe_to_fork() -> bool:
    return (hasattr(os, "fork") and sys.platform != "darwin" and threading.active_count() == 1
            and "torch" not in sys.modules and os.environ.get("MOODFLOW_PREDICT_PREFETCH", "1") != "0")


def _fork(job: Callable[[], Any]) -> Prefetch:
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    parent_conn, child_conn = ctx.Pipe(duplex=False)

    def run() -> None:
        parent_conn.close()  # else the child's own copy keeps the pipe open and a send to a parent that is gone blocks
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # the parent's, held back around the fork
        try:
            message = ("ok", job())
        except BaseException as exc:  # noqa: BLE001 - sent to the parent, which reports it for this file
            message = ("error", (type(exc).__name__, str(exc)))
        try:
            child_conn.send(message)
        except OSError:  # the parent is gone (interrupted): there is nobody to tell
            pass
        finally:
            child_conn.close()

    process = ctx.Process(target=run, daemon=True)
    with signals_deferred() as mask:  # Ctrl-C during the fork would be lost in Python's at-fork hooks
        process.start()
    child_conn.close()
    return Prefetch(process, parent_conn)


def start(predictor: Any, path: str | Path) -> tuple[Prefetch | None, Prefetch | None]:
    """(features child, mood-tags child) for ``path``; (None, None) where forking is not safe."""
    if not safe_to_fork():
        return None, None
    features = _fork(lambda: predictor.analyse(path)) if predictor.manifest else None
    tags = _fork(lambda: predictor.mood_tags_of(path)) if predictor.tagger is not None else None
    return features, tags
