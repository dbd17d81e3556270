"""Killing a running extraction at a known point: once it has cached a few tracks."""

from __future__ import annotations

import signal
import subprocess
import time

from moodflow.extract.cache import TrackCache


def kill_after_cached(proc: subprocess.Popen, cache: TrackCache, entries: int = 3, timeout_s: float = 120) -> int:
    """SIGKILL ``proc`` as soon as ``cache`` holds ``entries`` entries; the entries held then."""
    try:
        deadline = time.monotonic() + timeout_s
        while len(list(cache.keys())) < entries:
            assert proc.poll() is None, "the extraction ended before it could be interrupted"
            assert time.monotonic() < deadline, f"no cache entries after {timeout_s:.0f} s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return len(list(cache.keys()))
