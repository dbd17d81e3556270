"""MERT embeddings: every layer's time-mean over 5 s windows (MARBLE / Music2Emo pooling).

The signal is resampled to 24 kHz and cut into non-overlapping ``window_s`` windows (a tail
shorter than ``min_window_s`` is dropped unless it is the only window). Each window goes
through MERT (a stock ``HubertModel``, see ``loading``) and every hidden state — the
embedding output and each transformer layer, with ``last_hidden_state`` standing for the last
— is averaged over time. Frames are windows: (T_windows, L+1, H). The static vector is the
duration-weighted mean over windows, flattened to (L+1)*H columns ``layer00_dim000`` …
Only windows of one track and of equal length share a batch: zero padding changes MERT's
output (GroupNorm over time in the feature encoder), and a track's values must not depend on
which other tracks are in the run (cache, Dask and plain runs give identical stores).
Several tracks go through :meth:`MertExtractor.extract_many`, where a DataLoader's worker
reads, resamples and windows the next tracks while the model runs (``stream``); the computation itself is in ``windows``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Iterator

import numpy as np

from moodflow.core.device import resolve_device
from moodflow.features import EXTRACTORS
from moodflow.features.base import Extractor, TrackFeatures
from moodflow.stores.grid import GridConfig
from moodflow.features.mert.loading import (
    DEFAULT_MODEL,
    DEFAULT_REVISION,
    MERT_SAMPLE_RATE,
    MertHeader,
    load_model,
    check_positional_conv,
    read_header,
)
from moodflow.features.mert.precision import reduce_precision, resolve_dtype
from moodflow.features.mert.stream import stream_tracks
from moodflow.features.mert.windows import (
    PreparedTrack, forward_windows, layer_feature_names, prepare_signal, windows_of,
)
from moodflow.stores.signal import BLOCK_S, Signal

log = logging.getLogger(__name__)

_DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass
class MertConfig:
    """``features.mert`` in params.yaml."""

    model: str = DEFAULT_MODEL  # hub id or a local checkpoint directory
    revision: str | None = DEFAULT_REVISION  # hub commit; ignored for a local directory
    device: str = "auto"  # auto (CUDA when available) | cpu | cuda | cuda:N
    dtype: str = "auto"  # auto (bf16 where native and within bound) | float32 | bfloat16 | float16
    batch_size: int = 8  # windows per forward pass
    window_s: float = 5.0  # MERT input window (the model's training length)
    min_window_s: float = 1.0  # a shorter tail is dropped unless it is the only window
    max_duration_s: float | None = None  # None: the whole track
    threads: int = 0  # torch CPU threads; 0 = torch's default
    # DataLoader processes preparing the next tracks; auto = 2 on CUDA, 0 (in this process) on CPU
    loader_workers: int | str = "auto"


@EXTRACTORS.register
class MertExtractor(Extractor):
    """MERT-v1 layer embeddings per 5 s window (frames) and per track (static)."""

    name: ClassVar[str] = "mert"
    packages: ClassVar[tuple[str, ...]] = ("transformers", "torch")
    native_sample_rate: ClassVar[int] = MERT_SAMPLE_RATE
    version: ClassVar[str] = "1"
    Config: ClassVar[type] = MertConfig
    parallel: ClassVar[str] = "none"

    def __init__(self, config: dict[str, Any] | None = None, grid: GridConfig | None = None):
        super().__init__(config, grid)
        c = self.config
        problems = []
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", str(c.device)):
            problems.append(f"device {c.device!r} not one of auto, cpu, cuda, cuda:N")
        if c.dtype not in _DTYPES:
            problems.append(f"dtype {c.dtype!r} not one of {list(_DTYPES)}")
        if not c.batch_size or int(c.batch_size) < 1:
            problems.append(f"batch_size {c.batch_size!r} must be ≥ 1")
        if not c.window_s or c.window_s <= 0:
            problems.append(f"window_s {c.window_s!r} must be > 0")
        if c.min_window_s is None or not 0 <= c.min_window_s <= c.window_s:
            problems.append(f"min_window_s {c.min_window_s!r} must be in [0, window_s]")
        if c.max_duration_s is not None and c.max_duration_s <= 0:
            problems.append(f"max_duration_s {c.max_duration_s!r} must be > 0 or null")
        if int(c.threads or 0) < 0:
            problems.append(f"threads {c.threads!r} must be ≥ 0")
        if c.loader_workers != "auto" and not (isinstance(c.loader_workers, int) and c.loader_workers >= 0):
            problems.append(f"loader_workers {c.loader_workers!r} must be auto or an integer ≥ 0")
        if problems:
            raise ValueError("features.mert: " + "; ".join(problems))
        self._header: MertHeader | None = None
        self._model = None
        self._device: str | None = None
        self._compute_dtype: str | None = None
        self._load_error: BaseException | None = None

    # -- checkpoint ---------------------------------------------------------------------------
    @property
    def header(self) -> MertHeader:
        """The checkpoint's translated config and processor (read once; weights only checked).

        The runner asks for ``feature_names()`` before the first track, so a checkpoint that is
        refused or has no weights stops the run there instead of failing every track.
        """
        if self._header is None:
            self._header = read_header(self.config.model, self.config.revision)
            if self._header.dropped_keys:
                log.debug("MERT config keys not used by HubertConfig: %s", self._header.dropped_keys)
        return self._header

    def load(self) -> Any:
        """Load the weights (once) onto the configured device and precision; returns the model.

        A reduced precision is measured against float32 first (``mert_precision``): under
        ``dtype: auto`` a model outside the bound runs in float32; an explicit ``bfloat16`` /
        ``float16`` is refused when its positional convolution is broken on this device and
        warned about when it misses the bound. A failed load is remembered and raised again
        at once for later tracks.
        """
        if self._load_error is not None:
            raise self._load_error
        if self._model is None:
            try:
                self._model = self._load()
            except Exception as exc:
                self._load_error = exc
                raise
        return self._model

    def _load(self) -> Any:
        import torch

        if self.config.threads:
            torch.set_num_threads(int(self.config.threads))
        self._device = resolve_device(self.config.device, f"features.{self.name}.device")
        asked = self.config.dtype
        dtype = resolve_dtype(asked, self._device)
        model = load_model(self.header, self.config.model, self.config.revision,
                           dtype=torch.float32, device=self._device)
        if dtype != "float32":
            low, check = reduce_precision(model, self.header.processor, self._device, dtype)
            log.info("MERT %s vs float32 on %s: max relative error %.2e per hidden state (bound %.0e)",
                     dtype, self._device, check.max_error, check.bound)
            if asked == "auto" and not check.ok:
                log.warning("MERT: %s misses the precision bound on %s (%.2e > %.0e); using float32",
                            dtype, self._device, check.max_error, check.bound)
                dtype = "float32"
            else:
                check_positional_conv(low, self.header.directory)
                if not check.ok:
                    log.warning("MERT: features.mert.dtype %s differs from float32 by %.2e (> %.0e)",
                                dtype, check.max_error, check.bound)
                model = low
        self._compute_dtype = dtype
        log.info("MERT %s loaded on %s (%s)", self.config.model, self._device, dtype)
        return model

    @property
    def compute_dtype(self) -> str:
        """The precision the model runs in (``auto`` resolved; may load the model to decide)."""
        if self._compute_dtype is None:
            if self.config.dtype != "auto":
                return self.config.dtype
            if resolve_dtype("auto", resolve_device(self.config.device, f"features.{self.name}.device")) == "float32":
                self._compute_dtype = "float32"
            else:
                self.load()
        return self._compute_dtype

    def config_dict(self) -> dict[str, Any]:
        out = super().config_dict()
        out["checkpoint"] = self.header.provenance()
        out["compute_dtype"] = self.compute_dtype
        return out

    def worker_config(self) -> dict[str, Any]:
        """The settings with ``dtype`` resolved, so that every worker computes alike."""
        return {**asdict(self.config), "dtype": self.compute_dtype}

    def feature_names(self) -> list[str]:
        return layer_feature_names(self.header.n_states, self.header.hidden_size)

    def frame_shape(self) -> tuple[int, ...]:
        return (self.header.n_states, self.header.hidden_size)

    def feature_groups(self) -> list[str]:
        """``layers/layerNN`` of each column (layer00 = the feature encoder's output)."""
        return [f"layers/{name.split('_')[0]}" for name in self.feature_names()]

    # -- extraction ---------------------------------------------------------------------------
    def prepare(self, y: np.ndarray, sample_rate: int) -> PreparedTrack:
        """What runs before the model: checks, resampling, windows (see :func:`prepare_signal`)."""
        return prepare_signal(y, sample_rate, self.header.processor, **self.windowing)

    @property
    def windowing(self) -> dict[str, Any]:
        """The windowing settings (:func:`~moodflow.features.mert.windows.prepare_signal`)."""
        c = self.config
        return {"window_s": c.window_s, "min_window_s": c.min_window_s, "max_duration_s": c.max_duration_s}

    def embed_prepared(self, track: PreparedTrack) -> TrackFeatures:
        """Run the model over a prepared track's windows; frames, static vector and times."""
        model = self.load()
        frames = forward_windows(model, track.windows, batch_size=int(self.config.batch_size),
                                 device=self._device)
        return self._features(frames, track.bounds)

    def extract_long(self, signal: Signal, *, block_s: float = BLOCK_S) -> TrackFeatures:
        """:meth:`extract`'s values, the windows cut, normalised and batched as they are read
        (the same batches of equal-length windows as in memory)."""
        model = self.load()
        bounds, windows = windows_of(signal, self.header.processor, **self.windowing)
        frames = np.empty((len(bounds), *self.frame_shape()), dtype=np.float32)
        bs = int(self.config.batch_size)
        batch: list[np.ndarray] = []
        first = 0
        for i, window in enumerate(windows):
            if batch and (len(window) != len(batch[0]) or len(batch) == bs):
                frames[first:i] = forward_windows(model, batch, batch_size=bs, device=self._device)
                batch, first = [], i
            batch.append(window)
        if batch:
            frames[first:first + len(batch)] = forward_windows(model, batch, batch_size=bs, device=self._device)
        return self._features(frames, bounds)

    def _features(self, frames: np.ndarray, bounds: np.ndarray) -> TrackFeatures:
        lengths = (bounds[:, 1] - bounds[:, 0]).astype(np.float64)
        static = np.tensordot(lengths / lengths.sum(), frames.astype(np.float64), axes=1)
        return TrackFeatures(
            static=static.reshape(-1).astype(np.float32),
            frames=frames,
            start_s=bounds[:, 0] / MERT_SAMPLE_RATE,
            end_s=bounds[:, 1] / MERT_SAMPLE_RATE,
        )

    def extract(self, y: np.ndarray, sample_rate: int) -> TrackFeatures:
        return self.embed_prepared(self.prepare(y, sample_rate))

    def extract_many(self, audio_path: str, track_ids: list[str]) -> Iterator[tuple[str, Any]]:
        """Tracks in order, the next ones read and prepared by a DataLoader meanwhile."""
        return stream_tracks(self, audio_path, track_ids, loader_workers=self.loader_workers)

    @property
    def loader_workers(self) -> int:
        """``loader_workers`` resolved. On a CPU torch already keeps every core busy and a loader
        process only takes cycles from it (measured 18 % slower on 2 cores), so auto = 0 there."""
        if self.config.loader_workers != "auto":
            return int(self.config.loader_workers)
        return 2 if resolve_device(self.config.device, f"features.{self.name}.device").startswith("cuda") else 0
