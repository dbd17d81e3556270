"""The decode stage: every track of the manifest decoded once into the canonical audio store."""

from __future__ import annotations

import logging
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from moodflow.core.atomic import write_csv
from moodflow.decode.audio import AudioError, load_audio
from moodflow.stores.audio_store import AudioStoreWriter
from moodflow.stores.prepared import PreparedDataset

log = logging.getLogger(__name__)


class DecodeFailed(RuntimeError):
    """Raised when ``on_error: stop`` and a track cannot be decoded."""


def decode_dataset(
    prepared_dir: str | Path,
    out_path: str | Path,
    errors_path: str | Path,
    *,
    sample_rate: int,
    on_error: str = "skip",
    min_duration_s: float = 0.0,
    workers: int = 0,
) -> tuple[int, pd.DataFrame]:
    """Decode every manifest track to mono ``sample_rate`` into ``out_path``.

    Unreadable tracks are listed in ``errors_path`` (track_id, audio_path, error) and skipped,
    or stop the run when ``on_error == "stop"`` (nothing is written then). Returns the number
    of decoded tracks and the error table.
    """
    if on_error not in ("skip", "stop"):
        raise ValueError(f"decode.on_error must be 'skip' or 'stop', not {on_error!r}")
    prepared_dir = Path(prepared_dir)
    prepared = PreparedDataset.read(prepared_dir)
    manifest = prepared.manifest
    paths = [prepared_dir / p for p in manifest["audio_path"].astype(str)]  # an absolute p stays itself
    errors: list[dict[str, str]] = []
    decoded = 0

    def job(path: Path) -> np.ndarray | AudioError:
        try:
            return load_audio(path, sample_rate, min_duration_s=min_duration_s)
        except AudioError as exc:
            return exc
        except Exception as exc:  # noqa: BLE001 - a decoder crash is this track's problem only
            return AudioError(path, f"unexpected decoder error: {type(exc).__name__}: {exc}")

    n_workers = workers or min(4, (len(paths) or 1))
    with AudioStoreWriter(out_path, sample_rate=sample_rate, dataset=prepared.name) as writer, \
            ThreadPoolExecutor(max_workers=n_workers) as pool:
        # libsndfile and soxr release the GIL; at most 2 × workers decoded tracks wait in memory.
        results = _bounded_map(pool, job, paths, window=2 * n_workers)
        for track_id, path, result in tqdm(
            zip(manifest["track_id"], paths, results), total=len(paths), desc="decode", unit="track"
        ):
            if isinstance(result, AudioError):
                log.warning("decode: %s", result)
                errors.append({"track_id": track_id, "audio_path": str(path), "error": result.problem})
                if on_error == "stop":
                    write_csv(errors_path, pd.DataFrame(errors, columns=["track_id", "audio_path", "error"]))
                    raise DecodeFailed(f"decode.on_error is 'stop': {result}")
                continue
            writer.append(track_id, result)
            decoded += 1
        if paths and not decoded:
            raise DecodeFailed(
                f"{prepared_dir / 'manifest.csv'}: none of the {len(paths)} tracks could be decoded "
                f"(first error: {errors[0]['audio_path']}: {errors[0]['error']})"
            )
    table = pd.DataFrame(errors, columns=["track_id", "audio_path", "error"])
    write_csv(errors_path, table)
    log.info("decoded %d tracks, %d failed (listed in %s)", decoded, len(table), errors_path)
    return decoded, table


def _bounded_map(pool: ThreadPoolExecutor, fn, items: list, window: int):
    """``pool.map(fn, items)`` in order, but with at most ``window`` tasks submitted ahead
    (``Executor.map`` submits everything at once and would hold every decoded track)."""
    pending: deque[Future] = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
