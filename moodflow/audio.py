"""Decoding audio files to validated mono float32 at one sample rate."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np


class AudioError(Exception):
    """An audio file that cannot be used; the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def _read_any(path: Path) -> tuple[np.ndarray, int]:
    """Read with libsndfile (wav/flac/ogg/mp3); fall back to audioread/ffmpeg (m4a …)."""
    import soundfile as sf

    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
        return data, int(sr)
    except Exception as first:  # noqa: BLE001 - report below with the fallback's reason
        try:
            import librosa

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                y, sr = librosa.load(str(path), sr=None, mono=False)
            y = np.atleast_2d(y).T.astype(np.float32)
            return y, int(sr)
        except Exception as second:  # noqa: BLE001
            raise AudioError(path, f"cannot decode ({first}; fallback: {second})") from None


def load_audio(path: str | Path, sample_rate: int, *, min_duration_s: float = 0.0) -> np.ndarray:
    """Decode ``path`` to mono float32 at ``sample_rate``, validated.

    Raises :class:`AudioError` for a missing, empty, undecodable, silent-only-NaN or too-short
    file. Non-finite samples are an error; samples are clipped into [-1, 1].
    """
    import soxr

    path = Path(path)
    if not path.exists():
        raise AudioError(path, "file not found")
    if path.stat().st_size == 0:
        raise AudioError(path, "file is empty (0 bytes)")
    data, sr = _read_any(path)
    if data.size == 0 or data.shape[0] == 0:
        raise AudioError(path, "no audio samples decoded")
    if not np.all(np.isfinite(data)):
        raise AudioError(path, "audio contains NaN or infinite samples")
    mono = data.mean(axis=1, dtype=np.float64).astype(np.float32)
    if sr != sample_rate:
        mono = soxr.resample(mono, sr, sample_rate, quality="HQ").astype(np.float32)
    np.clip(mono, -1.0, 1.0, out=mono)
    duration = len(mono) / sample_rate
    if duration < min_duration_s:
        raise AudioError(path, f"too short: {duration:.3f} s < {min_duration_s} s")
    return mono
