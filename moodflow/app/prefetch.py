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
import sys
import threading
from pathlib import Path
from typing import Any, Callable


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
        try:
            child_conn.send(("ok", job()))
        except BaseException as exc:  # noqa: BLE001 - sent to the parent, which reports it for this file
            child_conn.send(("error", (type(exc).__name__, str(exc))))
        finally:
            child_conn.close()

    process = ctx.Process(target=run, daemon=True)
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
