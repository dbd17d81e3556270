"""Sharded extraction: fill the per-track cache with one of N disjoint parts of the tracks.

``moodflow extract SET --shard i/N`` (one Slurm array task, one submitit job, one shell in a
loop) extracts part ``i`` (0-based) of ``N`` into ``features.cache_dir``; once every part has run,
``dvc repro`` finds every track cached and only consolidates the store, which is the same
bytes as an unsharded run (the cache holds exactly what the stage would compute).

Parts are defined on the distinct audio hashes in audio-store order, dealt round-robin: the
j-th distinct hash goes to part ``j % N``. That depends only on ``data/audio.h5``, so every
task computes the same partition without talking to the others; sizes differ by at most one.
A killed part keeps its finished entries (each written atomically) and, run again, extracts
only what is missing; SIGTERM (``scancel``, preemption, the walltime) ends it like Ctrl-C, so
the entry being written is removed rather than left as a partial file. A track whose
extraction fails is not cached: the stage retries it.
"""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from moodflow.extract.cache import TrackCache
from moodflow.stores.audio_store import AudioStore

log = logging.getLogger(__name__)


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/N"`` → (i, N) with 0 ≤ i < N; ValueError naming the problem otherwise."""
    try:
        left, right = str(text).split("/")
        index, count = int(left), int(right)
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected i/N with integers, e.g. 0/8 (parts are numbered from 0)") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--shard {text!r}: need N ≥ 1 and 0 ≤ i < N (parts are numbered from 0 to N-1)")
    return index, count


def shard_items(ids: list[str], keys: list[str], index: int, count: int) -> list[tuple[str, str]]:
    """(track id, audio hash) of part ``index`` of ``count``: the distinct hashes in store order,
    dealt round-robin (a hash shared by several tracks is extracted once, for its first id)."""
    first: dict[str, str] = {}
    for track_id, key in zip(ids, keys):
        first.setdefault(key, track_id)
    return [(tid, key) for j, (key, tid) in enumerate(first.items()) if j % count == index]


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """SIGTERM raises SystemExit in the main thread while inside (cleanup code runs, as on Ctrl-C)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def extract_shard(*, name: str, config: dict[str, Any] | None, grid: Any, audio_path: str | Path,
                  cache_dir: str | Path, index: int, count: int, workers: int = 0) -> dict[str, int]:
    """Extract part ``index`` of ``count`` of the audio store's tracks into the cache.

    Returns counts: ``tracks`` (in this part), ``cached`` (already there), ``extracted`` and
    ``failed`` (their extraction raised; not cached, the stage retries them). A failure of the
    machine raises, keeping the entries written so far."""
    from moodflow.extract.local import run_locally
    from moodflow.extract.run import bound_extractor
    from moodflow.extract.worker import default_workers, make_job, one_thread

    if not str(cache_dir):
        raise ValueError("features.cache_dir is empty: sharded extraction writes into the per-track cache; "
                         "set it to a folder every shard sees (an absolute path on a cluster)")
    extractor, config, grid = bound_extractor(name, config, grid)
    if not extractor.needs_audio:
        raise ValueError(f"feature set {name!r} imports the dataset's own features: nothing to extract per track")
    cache = TrackCache.for_extractor(cache_dir, extractor)
    cache.prepare()
    audio = AudioStore(audio_path)
    try:
        part = shard_items(list(audio.ids), list(audio.audio_hashes()), index, count)
    finally:
        audio.close()
    todo = [(tid, key) for tid, key in part if key not in cache]
    log.info("extract %s, part %d/%d: %d tracks, %d cached in %s, %d to extract",
             name, index, count, len(part), len(part) - len(todo), cache.dir, len(todo))
    counts = {"tracks": len(part), "cached": len(part) - len(todo), "extracted": 0, "failed": 0}
    if todo:
        job = make_job(name, config, grid, audio_path, cache)
        with sigterm_as_exit(), one_thread(extractor):  # one_thread: the stage's thread count, the same values
            for (track_id, _), error in run_locally(extractor, job, todo, default_workers(workers)):
                if error is None:
                    counts["extracted"] += 1
                else:
                    counts["failed"] += 1
                    log.warning("extract %s: track %s failed (the stage retries it): %s", name, track_id, error)
    return counts
