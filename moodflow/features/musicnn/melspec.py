"""musicnn's input, the log-mel spectrogram, in numpy (what ``librosa.feature.melspectrogram``
computes for it, without importing librosa's numba stack: ~1 s of a cold ``moodflow predict``).

Same steps as librosa 0.11: zero padding of n_fft/2 on both sides (``center=True``,
``pad_mode="constant"``), a periodic Hann window, ``numpy.fft.rfft`` of the float64 windowed
frames stored as complex64, power ``|X|²`` in float32, and a Slaney-style mel filter bank
(``htk=False``, ``norm="slaney"``, float32) — see ``tests/test_features_musicnn.py``, which
compares both the filter bank and the spectrogram with librosa's.
"""

from __future__ import annotations

import functools
from typing import Iterable, Iterator

import numpy as np

SAMPLE_RATE = 16000
FFT_SIZE = 512
FFT_HOP = 256
N_MELS = 96


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    mels = f / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


@functools.lru_cache(maxsize=1)
def mel_basis() -> np.ndarray:
    """(96, 257) float32: ``librosa.filters.mel(sr=16000, n_fft=512, n_mels=96)``."""
    fftfreqs = np.fft.rfftfreq(n=FFT_SIZE, d=1.0 / SAMPLE_RATE)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(SAMPLE_RATE / 2.0)), N_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((N_MELS, len(fftfreqs)), dtype=np.float32)
    for i in range(N_MELS):
        weights[i] = np.maximum(0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
    weights *= (2.0 / (mel_f[2:N_MELS + 2] - mel_f[:N_MELS]))[:, np.newaxis]
    weights.setflags(write=False)
    return weights


@functools.lru_cache(maxsize=1)
def _window() -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(FFT_SIZE) / FFT_SIZE)  # periodic Hann, float64


def mel_power(y16: np.ndarray) -> np.ndarray:
    """(frames, 96) float32 mel power spectrogram of a 16 kHz signal (frames = 1 + len // 256)."""
    padded = np.pad(np.asarray(y16, dtype=np.float32), (FFT_SIZE // 2, FFT_SIZE // 2))
    frames = np.lib.stride_tricks.sliding_window_view(padded, FFT_SIZE)[::FFT_HOP]
    spectrum = np.fft.rfft(frames * _window(), axis=1).astype(np.complex64)
    power = np.abs(spectrum) ** 2
    return power @ mel_basis().T



# BLAS multiplies a few rows with other kernels than many (measured: up to 12 rows give other
# float32 roundings than the same rows inside a long matrix): every product here has this many rows.
MIN_ROWS = 256


def mel_power_blocks(blocks: Iterable[np.ndarray], n_samples: int) -> Iterator[np.ndarray]:
    """:func:`mel_power` of a 16 kHz signal of ``n_samples`` that arrives in ``blocks``: its rows
    in order, a few thousand at a time, each computed from the same 512 samples in the same way
    (and in products of at least :data:`MIN_ROWS` rows), so they equal :func:`mel_power`'s rows."""
    n_frames = 1 + n_samples // FFT_HOP
    half = FFT_SIZE // 2
    pending = [np.zeros(half, dtype=np.float32)]  # the padded signal from frame `base` on
    base = done = 0

    def rows(buf: np.ndarray, lo: int, hi: int) -> np.ndarray:
        offset = (lo - base) * FFT_HOP
        frames = np.lib.stride_tricks.sliding_window_view(buf[offset:offset + (hi - lo - 1) * FFT_HOP + FFT_SIZE],
                                                          FFT_SIZE)[::FFT_HOP]
        spectrum = np.fft.rfft(frames * _window(), axis=1).astype(np.complex64)
        return (np.abs(spectrum) ** 2) @ mel_basis().T

    def ready(final: bool) -> Iterator[np.ndarray]:
        nonlocal pending, base, done
        buf = np.concatenate(pending) if len(pending) > 1 else pending[0]
        available = base + ((len(buf) - FFT_SIZE) // FFT_HOP + 1 if len(buf) >= FFT_SIZE else 0)
        hi = min(n_frames, available)
        if hi - done >= (1 if final else MIN_ROWS):
            lo = max(0, min(done, hi - MIN_ROWS))
            yield rows(buf, lo, hi)[done - lo:]
            done = hi
        if final and done != n_frames:
            raise ValueError(f"mel frames: {done} computed, {n_frames} expected")
        keep = max(0, done - MIN_ROWS)  # frames a last short product recomputes
        pending, base = [buf[(keep - base) * FFT_HOP:]], keep

    held = 0
    for block in blocks:
        pending.append(np.asarray(block, dtype=np.float32))
        held += len(block)
        if held >= 4 * MIN_ROWS * FFT_HOP:
            held = 0
            yield from ready(False)
    pending.append(np.zeros(half, dtype=np.float32))
    yield from ready(True)
