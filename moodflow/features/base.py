"""Feature extractors: a config dataclass, an ``extract`` function, registration by name.

An extractor turns one decoded mono signal into a :class:`TrackFeatures`: one static vector
per track and one row per frame on the shared grid (``moodflow.stores.grid``). The extractor's full
config is written into the store, so a store says exactly how it was made.

Long signals (over ``long_audio_s``, 15 minutes) go through :meth:`Extractor.extract_long`,
which reads the signal block by block (a :class:`~moodflow.stores.signal.Signal`) so that memory
does not grow with duration; shorter ones are read whole and go through ``extract`` as always.
Each extractor's windowed path and how far its values may differ from the in-memory ones is
documented in docs/performance.md ("Long recordings") and tested in tests/test_long_audio.py.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator, Mapping

import numpy as np

from moodflow.core.config import build
from moodflow.stores.audio_store import AudioStore
from moodflow.stores.grid import GridConfig
from moodflow.stores.signal import BLOCK_S, LONG_AUDIO_S, ArraySignal, Signal


@dataclass
class TrackFeatures:
    """One track's features: ``static`` (F,), ``frames`` (T, F) or (T, L, D), frame times (T,)."""

    static: np.ndarray
    frames: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray


class Extractor(ABC):
    """Base class. Subclasses set ``name``, ``version``, ``Config`` and implement the methods.

    Every fact other code needs about an extractor is a class attribute here, never a table
    elsewhere (the stores, bundles, HEAR and predict read them):

    - ``parallel`` says how the runner spreads tracks over cores: ``"threads"`` for libraries
      that release the GIL, ``"processes"`` for pure-Python/numpy work (librosa), ``"none"`` for
      extractors that use all cores themselves (torch);
    - ``needs_audio``: computed from audio (False: imported from a dataset's files, so no
      model trained on it can predict from audio, and HEAR cannot load it);
    - ``packages``: the Python distributions whose versions shape its output, recorded in its
      stores, its cache key and the bundles of models trained on it;
    - ``native_sample_rate``: the rate its model was trained at, which HEAR feeds it (None: it
      works at any rate; HEAR then feeds the pipeline's default, 22.05 kHz);
    - ``hear_default``: the feature set ``moodflow.app.hear.load_model()`` loads without a name.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    Config: ClassVar[type] = object
    parallel: ClassVar[str] = "processes"
    needs_audio: ClassVar[bool] = True
    packages: ClassVar[tuple[str, ...]] = ()
    native_sample_rate: ClassVar[int | None] = None
    hear_default: ClassVar[bool] = False
    # True when the first call compiles code into an on-disk cache (librosa's numba functions):
    # the runner then calls it once before starting worker processes (``extraction.warm_up``).
    jit_compiled: ClassVar[bool] = False
    # signals longer than this (seconds) go through ``extract_long``, block by block
    long_audio_s: ClassVar[float] = LONG_AUDIO_S

    def __init__(self, config: Mapping[str, Any] | None = None, grid: GridConfig | Mapping[str, Any] | None = None):
        self.config = build(self.Config, config, f"features.{self.name}")
        self.grid = build(GridConfig, grid, "features.grid")

    def config_dict(self) -> dict[str, Any]:
        """Everything that determines the output, as written into the store's provenance."""
        return {"extractor": dataclasses.asdict(self.config), "grid": dataclasses.asdict(self.grid)}

    @abstractmethod
    def feature_names(self) -> list[str]:
        """Names of the F static columns (and of the frame columns, when frames are (T, F))."""

    def frame_shape(self) -> tuple[int, ...]:
        """Shape of one frame row; (F,) unless overridden (MERT: (layers, dim))."""
        return (len(self.feature_names()),)

    def feature_groups(self) -> list[str] | None:
        """One group per static feature (LLD family, pitch class, layer …), the unit feature
        importance is reported by; ``None`` when the features are their own groups."""
        return None

    def frame_names(self) -> list[str] | None:
        """Names of the frame columns when frames are (T, F') with other columns than the
        static ones (openSMILE: LLD window statistics); ``None`` means the static names."""
        return None

    @abstractmethod
    def extract(self, y: np.ndarray, sample_rate: int) -> TrackFeatures:
        """Features of one mono float32 signal in [-1, 1]."""

    def extract_signal(self, signal: Signal | np.ndarray, sample_rate: int | None = None) -> TrackFeatures:
        """Features of a :class:`~moodflow.stores.signal.Signal` (or an array and its rate): in
        memory up to ``long_audio_s``, block by block (:meth:`extract_long`) beyond."""
        if not isinstance(signal, Signal):
            signal = ArraySignal(signal, int(sample_rate or 0))
        if signal.duration_s <= self.long_audio_s:
            return self.extract(signal.read(), signal.sample_rate)
        return self.extract_long(signal)

    def extract_long(self, signal: Signal, *, block_s: float = BLOCK_S) -> TrackFeatures:
        """Features of a long signal read in blocks of about ``block_s`` seconds; extractors
        override it with their windowed computation (this default reads the signal whole)."""
        return self.extract(signal.read(), signal.sample_rate)

    def worker_config(self) -> dict[str, Any]:
        """The settings other processes (pool or Dask workers) build their extractor from."""
        return dataclasses.asdict(self.config)

    def extract_many(self, audio_path: str, track_ids: list[str]) -> Iterator[tuple[str, Any]]:
        """(track_id, TrackFeatures or the exception it raised) for each track, in order, in this
        process; extractors that can overlap reading with computing override it (MERT)."""
        with AudioStore(audio_path) as audio:
            for track_id in track_ids:
                try:
                    yield track_id, self.extract_signal(audio.track_signal(track_id))
                except Exception as exc:  # noqa: BLE001 - reported per track by the runner
                    yield track_id, exc


class DatasetFeatureImporter(Extractor):
    """An extractor that reads features a dataset ships instead of computing them from audio.

    ``import_tracks`` yields (track_id, duration_s, TrackFeatures) for every track it has.
    """

    needs_audio: ClassVar[bool] = False
    parallel: ClassVar[str] = "none"

    def extract(self, y: np.ndarray, sample_rate: int) -> TrackFeatures:
        raise TypeError(f"feature set {self.name!r} is imported from the dataset's files, not computed")

    def bind(self, prepared_dir: str) -> None:
        """Read what the prepared dataset says about its files before ``feature_names`` is asked."""

    @abstractmethod
    def import_tracks(self, prepared_dir: str):
        """Yield (track_id, duration_s, TrackFeatures) from the prepared dataset's files."""
