"""Decoding audio files to validated mono float32 at one sample rate."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


class AudioError(Exception):
    """An audio file that cannot be used; the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def _sniff(path: Path) -> str | None:
    """A plain-words reason when the first bytes show ``path`` is not audio at all, else None."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith(b"PK\x03\x04"):
        return "cannot decode: not an audio file, it is a zip archive"
    if head.startswith(b"\x80") and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "cannot decode: not an audio file, it looks like a Python pickle"
    if head.lstrip().startswith((b"<!DOCTYPE", b"<html", b"<?xml", b"{", b"[")):
        return "cannot decode: not an audio file, it is a text/markup document"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text and all(c.isprintable() or c in "\r\n\t" for c in text):
        return "cannot decode: not an audio file, it is plain text"
    return None


def _reason(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__


def _read_any(path: Path) -> tuple[np.ndarray, int]:
    """Read with libsndfile (wav/flac/ogg/mp3); fall back to audioread/ffmpeg (m4a …).

    A decode that yields clearly less audio than the header declares (a truncated download)
    is an error rather than a silently shorter track.
    """
    import soundfile as sf

    not_audio = _sniff(path)
    if not_audio:
        raise AudioError(path, not_audio)
    try:
        with sf.SoundFile(str(path)) as f:  # one open: header and samples
            declared, sr = f.frames, f.samplerate
            data = f.read(dtype="float32", always_2d=True)
    except Exception as first:  # noqa: BLE001 - report below with the fallback's reason
        try:
            import librosa

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                y, sr = librosa.load(str(path), sr=None, mono=False)
            y = np.atleast_2d(y).T.astype(np.float32)
            return y, int(sr)
        except Exception as second:  # noqa: BLE001
            raise AudioError(
                path, f"cannot decode: unsupported or corrupt audio (libsndfile: {_reason(first)}; ffmpeg/audioread: {_reason(second)})"
            ) from None
    short = declared - data.shape[0]
    if declared > 0 and short > max(0.1 * declared, sr):
        raise AudioError(
            path, f"truncated or corrupt: the header declares {declared / sr:.2f} s but only "
            f"{data.shape[0] / sr:.2f} s decode",
        )
    return data, int(sr)


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
    # One channel: no copy; several: average without a float64 copy of a long file.
    mono = np.ascontiguousarray(data[:, 0]) if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
    del data
    if sr != sample_rate:
        mono = soxr.resample(mono, sr, sample_rate, quality="HQ").astype(np.float32, copy=False)
    peak = float(np.max(np.abs(mono))) if len(mono) else 0.0
    if peak > 1.0:
        log.warning("%s: samples reach %.3g (beyond full scale), clipped to [-1, 1]", path, peak)
    np.clip(mono, -1.0, 1.0, out=mono)
    duration = len(mono) / sample_rate
    if duration < min_duration_s:
        raise AudioError(path, f"too short: {duration:.3f} s < {min_duration_s} s")
    return mono
