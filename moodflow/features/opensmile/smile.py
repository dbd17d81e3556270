"""One openSMILE pass per signal: low-level descriptors and functionals from the same run.

``opensmile.Smile`` runs one configuration per feature level, so LLDs, their deltas and the
functionals cost two or three passes over the audio. Here a stock feature-set config (the
same ``.conf`` files ``Smile`` uses) is loaded once with two external sinks — one on the
LLD level(s), one on ``func`` — so every descriptor is computed once. The signal is fed
exactly as ``Smile`` feeds it (16-bit PCM through ``cExternalAudioSource``), which keeps the
values identical to ``Smile``'s (tests/test_features_compare.py checks this).

A long signal goes through ``twopass.long_functionals``: the samples streamed into openSMILE
block by block, the LLD rows reduced to window statistics as they arrive, the functionals
computed from LLDs spilled to disk; the values are identical to :func:`run_smile`'s.
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import os
import re
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass
from contextlib import contextmanager
from typing import Iterator

import numpy as np


SOURCE = "extsource"
SINK_LLD = "extsinklld"
_SINK_FUNC = "extsinkfunc"


@dataclass
class SmileResult:
    """One pass's output: LLD rows (n, L) with their frame start times, and functionals (F,).

    ``functionals`` is all-NaN and ``lld`` has zero rows when the signal was too short for
    openSMILE to produce any output.
    """

    lld: np.ndarray
    lld_start_s: np.ndarray
    functionals: np.ndarray


def config_root() -> str:
    import opensmile

    return os.path.join(os.path.dirname(opensmile.core.smile.__file__), "config")


def feature_set_config(feature_set: str) -> str:
    """Path of openSMILE's own config file for ``feature_set`` (an ``opensmile.FeatureSet`` name)."""
    import opensmile

    try:
        rel = opensmile.FeatureSet[feature_set].value
    except KeyError:
        known = ", ".join(opensmile.FeatureSet.__members__)
        raise ValueError(f"unknown openSMILE feature set {feature_set!r}; known: {known}") from None
    path = os.path.join(config_root(), rel + ".conf")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: openSMILE config for {feature_set} is missing")
    return path


@functools.lru_cache(maxsize=None)
def check_levels(feature_set: str, levels: tuple[str, ...]) -> None:
    """Raise ValueError unless ``feature_set``'s config writes every level in ``levels``.

    openSMILE crashes the process (segfault) when a sink reads a level nobody writes, so this
    is checked before a config is loaded.
    """
    path = feature_set_config(feature_set)
    with open(path, encoding="utf-8") as f:
        written = set(re.findall(r"^\s*writer\.dmLevel\s*=\s*(\S+)\s*$", f.read(), flags=re.M))
    missing = [lv for lv in (*levels, "func") if lv not in written]
    if missing:
        raise ValueError(
            f"{path}: openSMILE feature set {feature_set} has no level(s) {missing} "
            f"(it writes {sorted(written & {'lld', 'lld_de', 'func'})})"
        )


def smile_options(lld_levels: tuple[str, ...], sample_rate: int) -> dict[str, object]:
    root = config_root()
    return {
        "source": os.path.join(root, "shared/standard_external_wave_input.conf.inc"),
        # two cExternalSink components: extsinklld and extsinkfunc
        "sink": os.path.join(root, "shared/standard_external_data_output_multi.conf.inc"),
        # a reader on several levels concatenates them row by row (like cVectorConcat)
        "sinkLevelLLD": ";".join(lld_levels),
        "sinkLevelFunc": "func",
        # block size 1: larger blocks drop the last, incomplete block of LLD rows
        "blockSize": 1,
        "sampleRate": int(sample_rate),
        "nBits": 16,
        "bufferModeRbConf": os.path.join(root, "shared/BufferModeRb.conf.inc"),
        "frameModeFunctionalsConf": os.path.join(root, "shared/FrameModeFunctionals.conf.inc"),
    }


def _open(feature_set: str, lld_levels: tuple[str, ...], sample_rate: int):
    from opensmile.core.lib import OpenSMILE

    check_levels(feature_set, lld_levels)

    smile = OpenSMILE()
    smile.initialize(
        config_file=feature_set_config(feature_set),
        options=smile_options(lld_levels, sample_rate),
        loglevel=1,
    )
    return smile


# openSMILE's standard_external_wave_input.conf.inc with a ring buffer as the `wave` level
_RING_SOURCE = """[componentInstances:cComponentManager]
instance[extsource].type=cExternalAudioSource

[extsource:cExternalAudioSource]
writer.dmLevel=wave
sampleRate=\\cm[sampleRate{16000}:sample rate]
nBits=\\cm[nBits{16}:sample bits]
channels=\\cm[channels{1}:channel size]
writer.levelconf.growDyn=0
writer.levelconf.isRb=1
writer.levelconf.nT=\\cm[waveRingFrames{441000}:frames of the input ring buffer]
"""


@functools.lru_cache(maxsize=1)
def ring_source_config() -> str:
    """Path of the ring-buffer input config (written once per process, removed at exit)."""
    folder = tempfile.mkdtemp(prefix="moodflow-smile-")
    atexit.register(shutil.rmtree, folder, True)
    path = os.path.join(folder, "ring_wave_input.conf.inc")
    with open(path, "w", encoding="utf-8") as f:
        f.write(_RING_SOURCE)
    return path


@functools.lru_cache(maxsize=None)
def smile_names(feature_set: str, lld_levels: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(LLD names, functional names) exactly as openSMILE names them."""
    smile = _open(feature_set, lld_levels, 16000)
    try:
        names = []
        for sink in (SINK_LLD, _SINK_FUNC):
            n = smile.external_sink_get_num_elements(sink)
            names.append(tuple(smile.external_sink_get_element_name(sink, i) for i in range(n)))
    finally:
        smile.free()
    return names[0], names[1]


def to_pcm16(y: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] to int16 as ``opensmile.Smile`` does, clipped instead of wrapped."""
    scaled = np.asarray(y, dtype=np.float32) * np.float32(32768)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def run_smile(
    y: np.ndarray, sample_rate: int, feature_set: str, lld_levels: tuple[str, ...]
) -> SmileResult:
    """LLDs (levels ``lld_levels`` side by side) and functionals of ``y`` in one openSMILE pass.

    LLD row k starts at ``k * step`` where step is the LLD frame step in whole samples
    (openSMILE rounds 10 ms to 221 samples at 22.05 kHz); openSMILE's own per-row time stamps
    repeat at the end of the signal, the row index does not.
    """
    lld_names, func_names = smile_names(feature_set, tuple(lld_levels))
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"openSMILE {feature_set}: expected a mono signal, got shape {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError(f"openSMILE {feature_set}: the signal contains NaN or infinite samples")
    lld_rows = _RowSink()
    funcs: list[np.ndarray] = []
    if len(y):
        smile = _open(feature_set, tuple(lld_levels), sample_rate)
        try:

            def on_func(data: np.ndarray, meta) -> None:
                funcs.append(data.copy())

            set_row_sink(smile, SINK_LLD, lld_rows)
            smile.external_sink_set_callback_ex(_SINK_FUNC, on_func)
            if not smile.external_audio_source_write_data(SOURCE, to_pcm16(y).tobytes()):
                raise RuntimeError(f"openSMILE {feature_set}: the input buffer refused {len(y)} samples")
            smile.external_audio_source_set_eoi(SOURCE)
            with lld_rows.catching():
                smile.run()
        finally:
            smile.free()
    lld, idx, times, period = lld_rows.arrays(len(lld_names))
    static = funcs[0].reshape(-1).astype(np.float32) if funcs else np.full(len(func_names), np.nan, np.float32)
    if len(static) != len(func_names) or lld.shape[1] != len(lld_names):
        raise RuntimeError(f"openSMILE {feature_set}: output size does not match its feature names")
    start = _row_starts(idx, times, period, sample_rate)
    return SmileResult(lld=lld, lld_start_s=start, functionals=static)


class _RowSink:
    """An openSMILE sink callback that only copies bytes: ~1000 LLD rows a track arrive one at a
    time, and ``OpenSMILE.external_sink_set_callback_ex`` wraps each in a numpy array first
    (about a tenth of the whole extraction's CPU time)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.idx: list[int] = []
        self.times: list[float] = []
        self.period = 0.01
        self.caught: BaseException | None = None

    def __call__(self, data, n_rows: int, n_cols: int, meta, _param) -> int:
        if self.caught is not None:
            return 0
        m = meta[0]
        self.chunks.append(ctypes.string_at(data, n_rows * n_cols * 4))
        if not self.idx:
            self.period = m.period
        for k in range(n_rows):
            self.idx.append(m.vIdx + k)
            self.times.append(m.time + k * m.period)
        return 1

    @contextmanager
    def catching(self) -> Iterator[None]:
        """Keep what openSMILE's callbacks raise while inside, and raise it on leaving.

        ctypes prints and drops an exception raised in a callback, and a signal handler's
        exception (Slurm's scancel sends SIGTERM) is raised exactly there while openSMILE holds
        the main thread: the track, and the task, would run on. Dropped exceptions reach
        ``sys.unraisablehook``, so that hook keeps the first one."""
        previous = sys.unraisablehook

        def keep(unraisable) -> None:
            if self.caught is None and unraisable.exc_value is not None \
                    and "ctypes callback" in (unraisable.err_msg or ""):
                self.caught = unraisable.exc_value
            else:
                previous(unraisable)

        sys.unraisablehook = keep
        try:
            yield
        finally:
            sys.unraisablehook = previous
        if self.caught is not None:
            raise self.caught

    def arrays(self, n_cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """(rows (n, n_cols) float32, row indices, row times, frame period)."""
        rows = np.frombuffer(b"".join(self.chunks), dtype=np.float32).reshape(-1, n_cols).copy()
        return rows, np.asarray(self.idx, dtype=np.int64), np.asarray(self.times), self.period


class StreamRowSink(_RowSink):
    """A :class:`_RowSink` the feeding thread drains while openSMILE runs in another."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def __call__(self, data, n_rows: int, n_cols: int, meta, _param) -> int:
        with self.lock:
            return super().__call__(data, n_rows, n_cols, meta, _param)

    def drain(self, n_cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """The rows that arrived since the last drain (as :meth:`_RowSink.arrays`), removed."""
        with self.lock:
            chunks, idx, times = self.chunks, self.idx, self.times
            self.chunks, self.idx, self.times = [], [], []
            period = self.period
        rows = np.frombuffer(b"".join(chunks), dtype=np.float32).reshape(-1, n_cols).copy()
        return rows, np.asarray(idx, dtype=np.int64), np.asarray(times), period


def set_row_sink(smile, sink: str, rows: _RowSink) -> None:
    """Register ``rows`` as the raw ctypes callback of ``sink`` (opensmile's own ctypes types)."""
    from opensmile.core import lib

    callback = lib.ExternalSinkCallbackEx(rows)
    smile._callbacks.append(callback)  # keeps the ctypes callback alive while openSMILE runs
    smile._check_smile_result(
        lib.smileapi.smile_extsink_set_data_callback_ex(smile._smileobj, sink.encode("ascii"), callback, None)
    )


def _row_starts(idx: np.ndarray, times: np.ndarray, period: float, sample_rate: int) -> np.ndarray:
    """Frame start times from row indices and the step openSMILE actually used."""
    if len(idx) == 0:
        return np.empty(0)
    return idx.astype(np.float64) * frame_step(idx, times, period, sample_rate)


def frame_step(idx: np.ndarray, times: np.ndarray, period: float, sample_rate: int) -> float:
    """The LLD frame step in seconds, a whole number of samples, from rows' indices and times."""
    good = (idx > 0) & (np.diff(times, prepend=-1.0) > 0)
    step = float(np.median(times[good] / idx[good])) if good.any() else period
    # the step is a whole number of samples
    return round(step * sample_rate) / sample_rate
