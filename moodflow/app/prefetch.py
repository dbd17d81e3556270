"""The first file's decode + features in a forked child while the parent loads the model.

A cold ``moodflow predict`` spends ~1.5 s importing scikit-learn/scipy/skops to load a
classical model and ~1 s decoding and analysing the file; on two cores the two overlap. The
child is forked only where that is safe — a POSIX ``fork``, no other thread in the process and
torch not imported — and only for the first file; anything else runs in the parent as before.
A child that fails or dies costs nothing but the time: the parent then analyses the file itself.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any


class Prefetch:
    """The child's result: ``result()`` → (signal, features) or raises the child's error as text."""

    def __init__(self, process: Any, conn: Any):
        self.process, self.conn = process, conn

    def result(self) -> tuple[str, Any, Any]:
        """("ok", y, feats), ("error", type name, message) or ("lost", None, None)."""
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            message = ("lost", None, None)
        finally:
            self.conn.close()
            self.process.join()
        return message


def safe_to_fork() -> bool:
    return (hasattr(os, "fork") and sys.platform != "darwin" and threading.active_count() == 1
            and "torch" not in sys.modules and os.environ.get("MOODFLOW_PREDICT_PREFETCH", "1") != "0")


def start(predictor: Any, path: str | Path) -> Prefetch | None:
    """Fork a child that runs ``predictor.analyse(path)``; None where forking is not safe."""
    if not safe_to_fork():
        return None
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    parent_conn, child_conn = ctx.Pipe(duplex=False)

    def run() -> None:
        try:
            y, feats = predictor.analyse(path)
            child_conn.send(("ok", y, feats))
        except BaseException as exc:  # noqa: BLE001 - sent to the parent, which reports it for this file
            child_conn.send(("error", type(exc).__name__, str(exc)))
        finally:
            child_conn.close()

    process = ctx.Process(target=run, daemon=True)
    process.start()
    child_conn.close()
    return Prefetch(process, parent_conn)
