"""The decode stage: every track of the manifest decoded once into the canonical audio store.

A track whose audio is unusable (missing, not audio, truncated, …) is listed with the reason in
the errors CSV and reported in one summary line; a failure of the machine (a full disk, out of
memory, permissions) stops the stage instead — it is not the track's fault, nothing is written,
and the next run tries again. With a cache folder (``decode.cache_dir``) a file decoded before,
under any name or dataset, with the same settings, is read from its entry
(:mod:`moodflow.decode.cache`); the store is the same bytes either way.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from moodflow.core.atomic import write_csv
from moodflow.core.errors import EnvironmentFailure, is_environment_error, one_line
from moodflow.decode.audio import FILE_NOT_FOUND, AudioError, open_audio
from moodflow.decode.cache import DecodeCache
from moodflow.decode.settings import resolve_sample_rate
from moodflow.stores.audio_store import AudioStoreWriter
from moodflow.stores.prepared import PreparedDataset
from moodflow.stores.signal import ArraySignal, Signal

log = logging.getLogger(__name__)
ERROR_COLUMNS = ["track_id", "audio_path", "error"]
LOW_COVERAGE = 0.5  # below this share of labelled tracks with audio, the summary is a loud warning


class DecodeFailed(RuntimeError):
    """Raised when ``on_error: stop`` and a track cannot be decoded."""


def decode_dataset(
    prepared_dir: str | Path,
    out_path: str | Path,
    errors_path: str | Path,
    *,
    sample_rate: int | str,
    on_error: str = "skip",
    min_duration_s: float = 0.0,
    workers: int = 0,
    cache_dir: str | Path | None = None,
) -> tuple[int, pd.DataFrame]:
    """Decode every manifest track to mono ``sample_rate`` into ``out_path``.

    ``sample_rate="auto"`` takes the dataset's native rate where its adapter declares one (see
    :func:`resolve_sample_rate`).

    Unreadable tracks are listed in ``errors_path`` (track_id, audio_path, error) and skipped,
    or stop the run when ``on_error == "stop"`` (nothing is written then). Returns the number
    of decoded tracks and the error table. An :class:`EnvironmentFailure` (disk full, out of
    memory …) leaves neither file. ``cache_dir``: root of the per-track decode cache (None: none).
    """
    if on_error not in ("skip", "stop"):
        raise ValueError(f"decode.on_error must be 'skip' or 'stop', not {on_error!r}")
    prepared_dir = Path(prepared_dir)
    prepared = PreparedDataset.read(prepared_dir)
    sample_rate, why = resolve_sample_rate(sample_rate, prepared.info)
    log.info("decode: %s at %d Hz (%s)", prepared.name, sample_rate, why)
    manifest = prepared.manifest
    paths = [prepared_dir / p for p in manifest["audio_path"].astype(str)]  # an absolute p stays itself
    errors: list[dict[str, str]] = []
    decoded = 0
    cache = DecodeCache(cache_dir, sample_rate=sample_rate, min_duration_s=min_duration_s) if cache_dir else None

    def decode(path: Path) -> np.ndarray | Signal:
        signal = open_audio(path, sample_rate, min_duration_s=min_duration_s)
        return signal.read() if isinstance(signal, ArraySignal) else signal  # an array is cached, a stream not

    def job(path: Path) -> np.ndarray | Signal | AudioError:
        try:  # a long file comes back as a stream (never cached): the writer decodes it again, block by block
            return cache.fetch(path, decode) if cache else decode(path)
        except AudioError as exc:
            return exc
        except Exception as exc:  # noqa: BLE001 - sorted: the machine's failure, or this track's
            if is_environment_error(exc):
                raise EnvironmentFailure(
                    f"decode: {path}: {one_line(exc)} — a failure of the machine, not of the "
                    f"audio: {out_path} was not written; fix it and run again") from exc
            return AudioError(path, f"unexpected decoder error: {type(exc).__name__}: {exc}")

    n_workers = workers or min(4, (len(paths) or 1))
    try:
        if cache:
            cache.prepare()
        with AudioStoreWriter(out_path, sample_rate=sample_rate, dataset=prepared.name) as writer, \
                ThreadPoolExecutor(max_workers=n_workers) as pool:
            # libsndfile and soxr release the GIL; at most 2 × workers decoded tracks wait in memory.
            results = _bounded_map(pool, job, paths, window=2 * n_workers)
            for track_id, path, result in tqdm(
                zip(manifest["track_id"], paths, results), total=len(paths), desc="decode", unit="track"
            ):
                if isinstance(result, AudioError):
                    log.debug("decode: %s", result)
                    errors.append({"track_id": track_id, "audio_path": str(path), "error": result.problem})
                    if on_error == "stop":
                        write_csv(errors_path, pd.DataFrame(errors, columns=ERROR_COLUMNS))
                        raise DecodeFailed(f"decode.on_error is 'stop': {result}")
                    continue
                try:
                    writer.append(track_id, result)  # a long file: decoded again block by block
                except AudioError as exc:  # it changed since it was checked: its samples are dropped
                    errors.append({"track_id": track_id, "audio_path": str(path), "error": exc.problem})
                    continue
                decoded += 1
            if paths and not decoded and not _audio_free(prepared, errors):
                raise DecodeFailed(
                    f"{prepared_dir / 'manifest.csv'}: none of the {len(paths)} tracks could be decoded "
                    f"(first error: {errors[0]['audio_path']}: {errors[0]['error']})"
                )
    except Exception as exc:
        if is_environment_error(exc) and not isinstance(exc, EnvironmentFailure):
            raise EnvironmentFailure(
                f"decode: writing {out_path}: {one_line(exc)} — a failure of the machine, not of the "
                "audio: nothing was written; fix it and run again") from exc
        raise
    table = pd.DataFrame(errors, columns=ERROR_COLUMNS)
    write_csv(errors_path, table)
    if cache:
        log.info("decode: %d tracks read from the cache, %d decoded (cache: %s)", cache.hits, cache.decoded, cache.dir)
    summarise(prepared, decoded, table, errors_path)
    return decoded, table


def _audio_free(prepared: PreparedDataset, errors: list[dict[str, str]]) -> bool:
    """True when no audio file exists at all but the dataset ships its own features: a run on
    ``features.sets: [provided]`` needs no audio, so an empty audio store is the right output."""
    if not prepared.info.get("provided_features") or not all(e["error"] == FILE_NOT_FOUND for e in errors):
        return False
    log.warning("decode: none of the %d audio files of %s exists; the audio store is empty — the dataset's "
                "provided features need no audio, every other feature set will stop at extract",
                len(errors), prepared.name)
    return True


def _kind(problem: str) -> str:
    """The reason without the details (``truncated or corrupt: …`` → ``truncated or corrupt``)."""
    return problem.split(":", 1)[0].split(" (", 1)[0].strip()


def summarise(prepared: PreparedDataset, decoded: int, errors: pd.DataFrame, errors_path: str | Path) -> str:
    """One log line for the whole stage: counts, reasons, and the share of labelled tracks with
    audio (a loud warning below 50 %); the full list is in ``errors_path``."""
    total = len(prepared.manifest)
    labelled = set(prepared.static_labels["track_id"])
    if prepared.dynamic_labels is not None:
        labelled |= set(prepared.dynamic_labels["track_id"])
    failed = set(errors["track_id"])
    kept = len(labelled - failed)
    reasons = ", ".join(f"{n} {kind}" for kind, n in Counter(map(_kind, errors["error"])).most_common())
    line = f"decode: {decoded} of {total} tracks decoded"
    if len(errors):
        line += f", {len(errors)} failed ({reasons}; listed in {errors_path})"
    if labelled:
        share = kept / len(labelled)
        line += f"; {kept} of {len(labelled)} labelled tracks ({share:.0%}) have audio"
        if share < LOW_COVERAGE:
            line = (f"ONLY {share:.0%} OF THE LABELLED TRACKS HAVE USABLE AUDIO — check dataset.root and the "
                    f"audio folder. {line}")
            log.warning(line)
            return line
    (log.warning if len(errors) else log.info)(line)
    return line


def _bounded_map(pool: ThreadPoolExecutor, fn, items: list, window: int):
    """``pool.map(fn, items)`` in order, but with at most ``window`` tasks submitted ahead
    (``Executor.map`` submits everything at once and would hold every decoded track)."""
    pending: deque[Future] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:  # an error ends the stage: do not decode the rest first
            future.cancel()
