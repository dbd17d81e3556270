"""MERT over many tracks: a DataLoader prepares the next tracks while the model runs.

The DataLoader's worker processes read each track from the audio store, resample it to
24 kHz, cut its windows and normalise them (``MertExtractor.prepare``); the main process only
runs the model. Tracks come back in order; a track that cannot be prepared or embedded comes
back with its exception, and the others go on. A long track (over ``long_audio_s``) is not
prepared whole: the main process streams it through ``MertExtractor.extract_long``.
"""

from __future__ import annotations

from typing import Any, Iterator

from moodflow.features.mert.windows import prepare_signal
from moodflow.stores.audio_store import AudioStore
from moodflow.stores.signal import LONG_AUDIO_S

LONG = "long"  # what a worker sends for a track the main process streams itself


class PreparedTracks:
    """Map-style dataset: index → (track_id, PreparedTrack or None, error text or None).

    ``windowing`` holds :func:`~moodflow.features.mert.windows.prepare_signal`'s keyword
    settings (``window_s``, ``min_window_s``, ``max_duration_s``).
    """

    def __init__(self, processor: Any, windowing: dict[str, Any], audio_path: str, track_ids: list[str],
                 long_audio_s: float = LONG_AUDIO_S):
        self.long_audio_s = long_audio_s
        self.processor = processor
        self.windowing = dict(windowing)
        self.audio_path = str(audio_path)
        self.track_ids = list(track_ids)
        self._audio = None

    def __len__(self) -> int:
        return len(self.track_ids)

    def __getitem__(self, i: int) -> tuple[str, Any, Exception | None]:
        if self._audio is None:  # opened in the worker process that uses it
            self._audio = AudioStore(self.audio_path)
        track_id = self.track_ids[i]
        try:
            if self._audio.duration_s(track_id) > self.long_audio_s:
                return track_id, LONG, None
            signal = self._audio.signal(track_id)
            return track_id, prepare_signal(signal, self._audio.sample_rate, self.processor, **self.windowing), None
        except Exception as exc:  # noqa: BLE001 - sent back and reported for this track only
            return track_id, None, exc


def _as_is(item: Any) -> Any:
    return item


def stream_tracks(extractor: Any, audio_path: str, track_ids: list[str], *,
                  loader_workers: int = 1) -> Iterator[tuple[str, Any]]:
    """(track_id, TrackFeatures or exception) for each track in order.

    ``extractor`` is the MERT extractor: ``load()``, ``embed_prepared(track)``,
    ``header.processor`` and ``windowing`` (the settings of :class:`PreparedTracks`).

    The model is loaded before the loader's workers start; if it cannot be loaded, every track
    comes back with that error.
    """
    from torch.utils.data import DataLoader

    try:
        extractor.load()
    except Exception as exc:  # noqa: BLE001 - same outcome as one track at a time
        for track_id in track_ids:
            yield track_id, exc
        return
    dataset = PreparedTracks(extractor.header.processor, extractor.windowing, audio_path, track_ids,
                             long_audio_s=extractor.long_audio_s)
    workers = min(int(loader_workers), len(track_ids))
    loader = DataLoader(
        dataset, batch_size=None, shuffle=False, num_workers=workers, collate_fn=_as_is,
        prefetch_factor=2 if workers else None, pin_memory=False,
    )
    batches = iter(loader)
    audio: AudioStore | None = None
    try:
        for track_id, prepared, error in batches:
            if error is not None:
                yield track_id, error
                continue
            try:
                if isinstance(prepared, str) and prepared == LONG:
                    audio = audio or AudioStore(audio_path)
                    yield track_id, extractor.extract_long(audio.track_signal(track_id))
                    continue
                yield track_id, extractor.embed_prepared(prepared)
            except Exception as exc:  # noqa: BLE001 - one bad track must not stop the others
                yield track_id, exc
    finally:  # stop the workers now: they hold inherited handles (e.g. of the store being written)
        shutdown = getattr(batches, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()
        if audio is not None:
            audio.close()
