"""Decoding audio files to validated mono float32 at one sample rate.

Every file is checked before and after decoding, and refused with an :class:`AudioError`
naming it when it lies: a path that is not a regular file (a folder, a FIFO, a broken link),
a sample rate outside 4–384 kHz, a header declaring more audio than the file's size can hold,
an mp3 cut short (it ends inside a frame, or holds less than its Xing/Info/VBRI header or ID3
``TLEN`` declares: ``moodflow.decode.mp3scan``), fewer samples decoded than declared.

:func:`load_audio` returns the whole signal; :func:`open_audio` returns a
:class:`~moodflow.stores.signal.Signal`: in memory for a file up to ``LONG_AUDIO_S``, else a
:class:`FileSignal` that decodes the file block by block, as often as it is read — an hour of
audio never sits in memory. Its samples are bit for bit those of :func:`load_audio` (libsndfile
reads blocks, the channels are averaged per row, soxr's streaming resampler equals its one-shot
one); a first pass over the file makes the same checks before a sample is handed out.
"""

from __future__ import annotations

import logging
import os
import stat
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from moodflow.core.resample import resample
from moodflow.decode.mp3scan import FileBytes, scan_mp3
from moodflow.stores.signal import LONG_AUDIO_S, ArraySignal, Signal, rechunk

log = logging.getLogger(__name__)

MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 4000, 384000
# Lossy decoders legitimately return inter-sample overs (PMEmo's mp3s reach 1.15); they are kept,
# as the reference extractors see them. A peak beyond +6 dBFS is a broken or crafted float file.
MAX_PEAK = 2.0
FILE_NOT_FOUND = "file not found"  # the problem of a path with no file (decode tells it apart)
MAX_CHANNELS = 64
# Bytes a sample takes at least in an uncompressed file, by libsndfile subtype.
_PCM_BYTES = {"PCM_S8": 1, "PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8,
              "ULAW": 1, "ALAW": 1}
# Compressed audio: FLAC packs 120 s of digital silence into 15 KB (340 frames a byte); a file
# claiming far more samples than that per byte is lying about its length.
MAX_FRAMES_PER_BYTE = 20000
_COMPRESSED = {"FLAC", "OGG", "MP3", "MPEG"}  # containers whose PCM_* subtypes are compressed
_SHORT_S, _SHORT_FRACTION = 1.0, 0.02  # a declared length missing more than both is a cut file
_READ_FRAMES = 1 << 18  # frames per libsndfile read when streaming a file
_SCAN_WINDOW = 1 << 20  # bytes of an mp3 held at a time while its frames are counted


class AudioError(Exception):
    """An audio file that cannot be used; the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")

    def __reduce__(self):  # crosses process boundaries (predict's worker pool) intact
        return AudioError, (self.path, self.problem)


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


def _check_path(path: Path) -> int:
    """The file's size, or an AudioError when ``path`` is not a non-empty regular file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if path.is_symlink():
            raise AudioError(path, f"broken symbolic link (to {os.readlink(path)})") from None
        raise AudioError(path, FILE_NOT_FOUND) from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioError(path, "is a directory, not an audio file")
    if not stat.S_ISREG(st.st_mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) \
            else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "not a regular file"
        raise AudioError(path, f"is {kind}, not an audio file")
    if st.st_size == 0:
        raise AudioError(path, "file is empty (0 bytes)")
    return st.st_size


def _check_rate(path: Path, sr: int) -> None:
    if not MIN_SAMPLE_RATE <= sr <= MAX_SAMPLE_RATE:
        raise AudioError(path, f"sample rate {sr} Hz is outside the sane range {MIN_SAMPLE_RATE}–{MAX_SAMPLE_RATE} Hz "
                               "(a damaged or crafted header)")


def _check_proportion(path: Path, frames: int, channels: int, sr: int, size: int, subtype: str | None,
                      what: str = "declares", container: str = "") -> None:
    """Refuse a length the file's size cannot hold (a header that lies)."""
    per_sample = None if container in _COMPRESSED else _PCM_BYTES.get(subtype or "")
    if per_sample is not None:
        if frames * channels * per_sample > size:
            raise AudioError(path, f"the header {what} {frames / sr:.2f} s ({frames} frames of {channels}×{subtype}) "
                                   f"but the file holds only {size} bytes: out of proportion to its size")
    elif frames * channels > size * MAX_FRAMES_PER_BYTE:
        raise AudioError(path, f"{frames / sr:.1f} s of audio {what.replace('declares', 'declared')} in a {size}-byte file: "
                               "out of proportion to its size")


def _check_mp3(path: Path, size: int) -> float:
    """Refuse an mp3 cut short; returns the duration its frames hold (seconds)."""
    if size <= 4 * _SCAN_WINDOW:
        scan = scan_mp3(path.read_bytes())
    else:  # a long file: scanned through a window
        with open(path, "rb") as fh:
            scan = scan_mp3(FileBytes(fh, size, _SCAN_WINDOW))  # type: ignore[arg-type]
    if scan is None:
        return 0.0
    if scan.declared_s is not None and scan.declared_s - scan.duration_s > max(_SHORT_S, _SHORT_FRACTION * scan.declared_s):
        raise AudioError(path, f"truncated: the {scan.declared_by} declares {scan.declared_s:.2f} s but the file "
                               f"holds only {scan.duration_s:.2f} s of mp3 frames")
    if scan.declared_bytes and scan.declared_bytes > size - scan.audio_start + 1024:
        raise AudioError(path, f"truncated: the {scan.declared_by} declares {scan.declared_bytes} bytes of audio but "
                               f"the file has {size - scan.audio_start}")
    if scan.ends_inside:
        where = f"mp3 frame {scan.frames + 1}" if scan.ends_inside == "frame" else "its ID3 tag"
        raise AudioError(path, f"truncated: the file ends inside {where} (which announces {scan.last_frame_needs} "
                               f"bytes, {scan.last_frame_has} remain), after {scan.duration_s:.2f} s of audio")
    return scan.duration_s


def _read_any(path: Path, size: int) -> tuple[np.ndarray, int]:
    """Read with libsndfile (wav/flac/ogg/mp3); fall back to audioread/ffmpeg (m4a …).

    Sample rate, channels and declared length are checked before a sample is read; a decode
    that yields clearly less audio than declared (a truncated download) is an error rather than
    a silently shorter track.
    """
    import soundfile as sf

    present_s = _check_content(path, size)
    try:
        f = sf.SoundFile(str(path))
    except Exception as first:  # noqa: BLE001 - report below with the fallback's reason
        return _read_fallback(path, size, first)
    with f:  # one open: header and samples
        declared, sr = f.frames, f.samplerate
        _check_header(path, f, size)
        data = f.read(dtype="float32", always_2d=True)
    _check_decoded(path, declared, data.shape[0], sr, present_s)
    return data, int(sr)


def _is_mp3(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(4)
    return path.suffix.lower() == ".mp3" or head[:3] == b"ID3" or (head[:1] == b"\xff" and head[1:2] >= b"\xe0")


def _check_content(path: Path, size: int) -> float:
    """Refuse what is not audio or an mp3 cut short, before the decoder; the seconds an mp3's
    frames hold (0 for other files)."""
    not_audio = _sniff(path)
    if not_audio:
        raise AudioError(path, not_audio)
    return _check_mp3(path, size) if _is_mp3(path) else 0.0  # a cut file is refused unread


def _check_header(path: Path, f: Any, size: int) -> None:
    """Sample rate, channels and declared length of an open ``soundfile.SoundFile``."""
    _check_rate(path, f.samplerate)
    if not 1 <= f.channels <= MAX_CHANNELS:
        raise AudioError(path, f"{f.channels} channels (at most {MAX_CHANNELS})")
    _check_proportion(path, max(f.frames, 0), f.channels, f.samplerate, size, f.subtype, container=f.format)


def _check_decoded(path: Path, declared: int, decoded: int, sr: int, present_s: float) -> None:
    """Refuse a decode that yields clearly less audio than the header or the mp3 frames declare."""
    short = declared - decoded
    if declared > 0 and short > max(0.1 * declared, sr):
        raise AudioError(
            path, f"truncated or corrupt: the header declares {declared / sr:.2f} s but only "
            f"{decoded / sr:.2f} s decode",
        )
    decoded_s = decoded / sr
    if present_s and present_s - decoded_s > max(_SHORT_S, 0.1 * present_s):
        raise AudioError(path, f"corrupt: its mp3 frames hold {present_s:.2f} s but only {decoded_s:.2f} s decode")


def _read_fallback(path: Path, size: int, first: BaseException) -> tuple[np.ndarray, int]:
    """Decode with librosa (audioread/ffmpeg) what libsndfile cannot open, checked the same way."""
    try:
        import librosa

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y, sr = librosa.load(str(path), sr=None, mono=False)
    except Exception as second:  # noqa: BLE001
        from moodflow.core.errors import is_environment_error

        if is_environment_error(second):
            raise
        raise AudioError(
            path, f"cannot decode: unsupported or corrupt audio (libsndfile: {_reason(first)}; ffmpeg/audioread: {_reason(second)})"
        ) from None
    _check_rate(path, int(sr))
    y = np.atleast_2d(y).T.astype(np.float32)
    _check_proportion(path, y.shape[0], y.shape[1], int(sr), size, None, what="decodes")
    return y, int(sr)


def load_audio(path: str | Path, sample_rate: int, *, min_duration_s: float = 0.0) -> np.ndarray:
    """Decode ``path`` to mono float32 at ``sample_rate``, validated.

    Raises :class:`AudioError` for a missing, empty, undecodable, truncated, lying (see the
    module docstring), NaN-holding or too-short file, or a path that is not a regular file;
    a track peaking beyond ``MAX_PEAK`` is clipped into [-1, 1] (overs up to it are kept).
    Errors of the machine (OSError, MemoryError) propagate.
    """
    path = Path(path)
    size = _check_path(path)
    data, sr = _read_any(path, size)
    if data.size == 0 or data.shape[0] == 0:
        raise AudioError(path, "no audio samples decoded")
    if not np.all(np.isfinite(data)):
        raise AudioError(path, "audio contains NaN or infinite samples")
    # One channel: no copy; several: average without a float64 copy of a long file.
    mono = np.ascontiguousarray(data[:, 0]) if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
    del data
    if sr != sample_rate:
        mono = resample(mono, sr, sample_rate)
    peak = float(np.max(np.abs(mono))) if len(mono) else 0.0
    if peak > MAX_PEAK:
        log.warning("%s: samples reach %.3g (far beyond full scale), clipped to [-1, 1]", path, peak)
        np.clip(mono, -1.0, 1.0, out=mono)
    duration = len(mono) / sample_rate
    if duration < min_duration_s:
        raise AudioError(path, f"too short: {duration:.3f} s < {min_duration_s} s")
    return mono


def _mono(data: np.ndarray) -> np.ndarray:
    """(frames, channels) → mono float32, as :func:`load_audio` mixes (row by row: the same
    values for a block as for the whole file)."""
    return np.ascontiguousarray(data[:, 0]) if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)


class FileSignal(Signal):
    """A long audio file decoded block by block at ``sample_rate``, mono float32: the samples
    :func:`load_audio` returns, never all in memory. Made by :func:`open_audio`, which reads the
    file once to check it as :func:`load_audio` does (finite samples, decoded length against the
    header and the mp3 frames, peak, minimum duration); every :meth:`blocks` decodes it again."""

    def __init__(self, path: Path, sample_rate: int, n_samples: int, clip: bool):
        self.path = Path(path)
        self.sample_rate = int(sample_rate)
        self.n_samples = int(n_samples)
        self.clip = clip

    def _decoded(self, size: int, counts: dict[str, int] | None = None) -> Iterator[np.ndarray]:
        """Mono blocks resampled to ``sample_rate`` (``size`` samples each), not clipped;
        ``counts["frames"]`` counts the file's frames read."""
        import soundfile as sf
        import soxr

        with sf.SoundFile(str(self.path)) as f:
            resampler = None if f.samplerate == self.sample_rate else soxr.ResampleStream(
                f.samplerate, self.sample_rate, 1, dtype="float32", quality="HQ")

            def pieces() -> Iterator[np.ndarray]:
                while True:
                    data = f.read(_READ_FRAMES, dtype="float32", always_2d=True)
                    if not len(data):
                        break
                    if counts is not None:
                        counts["frames"] = counts.get("frames", 0) + len(data)
                    if not np.all(np.isfinite(data)):
                        raise AudioError(self.path, "audio contains NaN or infinite samples")
                    mono = _mono(data)
                    yield mono if resampler is None else resampler.resample_chunk(mono, last=False)
                if resampler is not None:
                    yield resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)

            yield from rechunk(pieces(), size)

    def blocks(self, size: int) -> Iterator[np.ndarray]:
        n = 0
        for block in self._decoded(size):
            if self.clip:
                block = np.clip(block, -1.0, 1.0)
            n += len(block)
            if n > self.n_samples:
                break
            yield block
        if n != self.n_samples:
            raise AudioError(self.path, f"changed while being read: {n} samples decode, {self.n_samples} before")

    def __reduce__(self):  # a prefetch child sends it back to its parent: the path, not the audio
        return FileSignal, (self.path, self.sample_rate, self.n_samples, self.clip)


def declared_seconds(path: str | Path) -> float | None:
    """The duration the file's header declares, or None when libsndfile cannot read it."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:  # noqa: BLE001 - not for libsndfile: decoded in memory by the fallback
        return None
    return info.frames / info.samplerate if info.samplerate > 0 and info.frames > 0 else None


def open_audio(path: str | Path, sample_rate: int, *, min_duration_s: float = 0.0,
               long_audio_s: float | None = None) -> Signal:
    """``path`` as a checked mono float32 :class:`~moodflow.stores.signal.Signal` at ``sample_rate``.

    Up to ``long_audio_s`` (by the header; default ``LONG_AUDIO_S``) the file is decoded by
    :func:`load_audio` and held
    in memory; a longer one that libsndfile reads (wav, flac, ogg, mp3 …) becomes a
    :class:`FileSignal`, checked now by a first pass over the file and decoded block by block
    whenever it is read. Raises :class:`AudioError` as :func:`load_audio` does.
    """
    path = Path(path)
    size = _check_path(path)
    not_audio = _sniff(path)  # before libsndfile sees it: its mp3 decoder has crashed on text
    if not_audio:
        raise AudioError(path, not_audio)
    declared = declared_seconds(path)
    if declared is None or declared <= (LONG_AUDIO_S if long_audio_s is None else long_audio_s):
        return ArraySignal(load_audio(path, sample_rate, min_duration_s=min_duration_s), sample_rate)
    import soundfile as sf

    present_s = _check_content(path, size)
    with sf.SoundFile(str(path)) as f:
        declared_frames, sr = f.frames, f.samplerate
        _check_header(path, f, size)
    counts: dict[str, int] = {}
    n, peak = 0, 0.0
    for block in FileSignal(path, sample_rate, 0, clip=False)._decoded(1 << 20, counts):  # the checking pass
        n += len(block)
        peak = max(peak, float(np.max(np.abs(block))))
    _check_decoded(path, declared_frames, counts.get("frames", 0), sr, present_s)
    if n == 0:
        raise AudioError(path, "no audio samples decoded")
    if peak > MAX_PEAK:
        log.warning("%s: samples reach %.3g (far beyond full scale), clipped to [-1, 1]", path, peak)
    if n / sample_rate < min_duration_s:
        raise AudioError(path, f"too short: {n / sample_rate:.3f} s < {min_duration_s} s")
    return FileSignal(path, sample_rate, n, clip=peak > MAX_PEAK)

