"""The extract stage: run one extractor over every decoded track into one feature store."""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from tqdm import tqdm

from moodflow.audio_store import AudioStore
from moodflow.features import EXTRACTORS
from moodflow.features.base import Extractor, GridConfig, TrackFeatures
from moodflow.store import FeatureStoreWriter

log = logging.getLogger(__name__)


def build_extractor(name: str, config: dict[str, Any] | None, grid: dict[str, Any] | None = None) -> Extractor:
    """Instantiate the registered extractor ``name`` with its ``features.<name>`` settings."""
    return EXTRACTORS.get(name)(config or {}, GridConfig(**(grid or {})))


def default_workers(requested: int = 0) -> int:
    """``requested`` when positive, else the number of usable cores."""
    if requested and requested > 0:
        return requested
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# -- per-process state for the process pool ---------------------------------------------------
_WORKER: dict[str, Any] = {}


def _init_process(name: str, config: dict, grid: dict, audio_path: str) -> None:
    import torch  # noqa: F401 - keep BLAS/torch threads from oversubscribing the cores

    torch.set_num_threads(1)
    _WORKER["extractor"] = build_extractor(name, config, grid)
    _WORKER["audio"] = AudioStore(audio_path)


def _extract_in_process(track_id: str) -> TrackFeatures:
    audio: AudioStore = _WORKER["audio"]
    return _WORKER["extractor"].extract(audio.signal(track_id), audio.sample_rate)


def _ordered(pool: Executor, fn: Callable[[str], TrackFeatures], ids: list[str], window: int) -> Iterator[Future]:
    """Submit ``fn(id)`` keeping at most ``window`` tasks in flight; yield futures in order."""
    pending: deque[Future] = deque()
    for track_id in ids:
        pending.append(pool.submit(fn, track_id))
        if len(pending) >= window:
            yield pending.popleft()
    while pending:
        yield pending.popleft()


def extract_store(
    *,
    name: str,
    config: dict[str, Any] | None,
    grid: dict[str, Any] | None,
    audio_path: str | Path,
    prepared_dir: str | Path,
    out_path: str | Path,
    dataset: str,
    workers: int = 0,
) -> dict[str, int]:
    """Extract feature set ``name`` for every track into ``out_path`` (written atomically).

    A track whose extraction raises keeps a NaN static row and no frames, and is logged;
    the run goes on. Returns counts of tracks done and failed.
    """
    extractor = build_extractor(name, config, grid)
    if not extractor.needs_audio:
        extractor.bind(prepared_dir)  # imported features take their names from the dataset's files
    writer = FeatureStoreWriter(
        out_path,
        feature_names=extractor.feature_names(),
        frame_shape=extractor.frame_shape(),
        extractor=name,
        extractor_version=extractor.version,
        config=extractor.config_dict(),
        dataset=dataset,
        sample_rate=None,
    )
    counts = {"tracks": 0, "failed": 0}
    with writer:
        if not extractor.needs_audio:
            for track_id, duration, feats in tqdm(
                extractor.import_tracks(str(prepared_dir)), desc=f"import {name}", unit="track"
            ):
                writer.append(track_id, duration, feats.static, feats.frames, feats.start_s, feats.end_s)
                counts["tracks"] += 1
            return counts
        audio = AudioStore(audio_path)
        writer._h5.attrs["sample_rate"] = audio.sample_rate
        ids = list(audio.ids)
        n_workers = default_workers(workers)
        pool, fn = _make_pool(extractor, name, config, grid, audio, n_workers)
        try:
            futures = _ordered(pool, fn, ids, window=2 * n_workers) if pool else None
            for i, track_id in enumerate(tqdm(ids, desc=f"extract {name}", unit="track")):
                try:
                    feats = futures.__next__().result() if futures else fn(track_id)
                except Exception as exc:  # noqa: BLE001 - one bad track must not lose the others
                    log.warning("extract %s: track %s failed: %s", name, track_id, exc)
                    counts["failed"] += 1
                    empty = np.empty((0, *extractor.frame_shape()), dtype=np.float32)
                    nan = np.full(len(extractor.feature_names()), np.nan, dtype=np.float32)
                    writer.append(track_id, float(audio.durations[i]), nan, empty, np.empty(0), np.empty(0))
                    continue
                writer.append(track_id, float(audio.durations[i]), feats.static, feats.frames, feats.start_s, feats.end_s)
                counts["tracks"] += 1
        finally:
            if pool:
                pool.shutdown(cancel_futures=True)
            audio.close()
    return counts


def _make_pool(extractor: Extractor, name: str, config, grid, audio: AudioStore, n_workers: int):
    """(executor or None, per-track function) for the extractor's ``parallel`` mode."""
    if extractor.parallel == "none" or n_workers == 1:
        return None, lambda tid: extractor.extract(audio.signal(tid), audio.sample_rate)
    if extractor.parallel == "threads":
        local = threading.local()
        lock = threading.Lock()

        def run(tid: str) -> TrackFeatures:
            if not hasattr(local, "extractor"):
                local.extractor = build_extractor(name, config, grid)
            with lock:  # h5py serialises reads anyway
                y = audio.signal(tid)
            return local.extractor.extract(y, audio.sample_rate)

        return ThreadPoolExecutor(max_workers=n_workers), run
    pool = ProcessPoolExecutor(
        max_workers=n_workers,
        initializer=_init_process,
        initargs=(name, config or {}, grid or {}, str(audio.path)),
    )
    return pool, _extract_in_process
