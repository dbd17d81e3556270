"""Long, music-like recordings written block by block (never whole in memory): a chord that
changes every 2 s, a bass note, a percussive noise burst on every beat (120 bpm) and a quiet
noise floor, at 44.1 kHz stereo 16-bit PCM by default. The same seed gives the same file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

_CHORDS = ((0, 4, 7), (9, 12, 16), (5, 9, 12), (7, 11, 14), (2, 5, 9), (4, 7, 11))


def long_music(seconds: float, sample_rate: int = 44100, *, seed: int = 0, start_s: float = 0.0) -> np.ndarray:
    """(n, 2) float32 samples of the recording from ``start_s`` for ``seconds`` (the noise is
    seeded by ``seed`` and the start sample: a file written in the same blocks is the same file)."""
    n0, n = int(round(start_s * sample_rate)), int(round(seconds * sample_rate))
    t = (n0 + np.arange(n)) / sample_rate
    bar = np.floor(t / 2.0).astype(np.int64)
    chord = np.asarray(_CHORDS)[(bar * 7 + seed) % len(_CHORDS)]
    root = 220.0 * 2.0 ** (((bar * 5 + seed) % 7) / 12.0)
    left = np.zeros(n)
    for k in range(3):
        left += 0.12 * np.sin(2 * np.pi * root * 2.0 ** (chord[:, k] / 12.0) * t)
    left += 0.15 * np.sin(2 * np.pi * root / 2 * t)
    beat = t * 2.0 - np.floor(t * 2.0)  # 120 bpm
    noise = np.random.default_rng([seed, n0]).standard_normal(n)
    left += 0.3 * np.exp(-beat * 25.0) * noise
    right = 0.8 * left + 0.01 * np.random.default_rng([seed + 1, n0]).standard_normal(n)
    return np.stack([left, right], axis=1).astype(np.float32)


def write_long_wav(path: str | Path, seconds: float, sample_rate: int = 44100, *, seed: int = 0,
                   block_s: float = 60.0) -> Path:
    """Write ``seconds`` of :func:`long_music` to ``path`` (16-bit PCM WAV), block by block."""
    import soundfile as sf

    path = Path(path)
    with sf.SoundFile(str(path), "w", samplerate=sample_rate, channels=2, subtype="PCM_16", format="WAV") as f:
        done = 0.0
        while done < seconds:
            step = min(block_s, seconds - done)
            f.write(long_music(step, sample_rate, seed=seed, start_s=done))
            done += step
    return path
