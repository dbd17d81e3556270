"""Chords and key (Music2Emo's musical features), from librosa's CQT chroma.

**Chords** — every chroma frame is matched against 24 triad templates (12 major: root, +4, +7;
12 minor: root, +3, +7) and "no chord" (N): cosine similarity of the frame with each template,
N scoring ``no_chord_score`` when the frame is quieter than ``silence_db`` below the track's
loudest frame and ``no_chord_score`` − 1 otherwise. Similarities become frame likelihoods
through a softmax with inverse temperature ``sharpness``; a Viterbi pass over a transition
matrix with self-transition probability ``self_transition`` (the rest spread evenly over the
other 24 classes: ``librosa.sequence.transition_loop``) gives the chord sequence, so a chord
changes only when the evidence outweighs the prior of staying.

**Key** — the mean chroma correlated with the 24 rotations of a key profile
(``key_profile``: Krumhansl–Kessler probe-tone ratings, or Temperley's corpus profile):
the best is the key, its correlation the key clarity; the same over ``key_window_s`` windows
gives the local key strength of the frames.

Static columns (names say what they are): ``chord_rel<k>_<maj|min>`` / ``chord_none`` — the
share of frames per chord, root-invariant (root relative to the key's tonic, k semitones);
``chord_change_rate`` (changes per second), ``chord_major_share``, ``chord_minor_share``;
``key_tonic_<pc>`` (one-hot), ``key_minor`` (1 = minor), ``key_clarity``. Frames (the grid):
``chord_<pc>_<maj|min>`` / ``chord_none`` (the window's chord distribution) and
``local_key_strength``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from moodflow.core.config import setting
from moodflow.features import EXTRACTORS
from moodflow.features.base import Extractor, TrackFeatures
from moodflow.stores.grid import frame_grid

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
PROFILES = {
    "krumhansl": (np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]),
                  np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])),
    "temperley": (np.array([5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0]),
                  np.array([5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0])),
}
N_CLASSES = 25  # 12 major, 12 minor, N


def chord_labels() -> list[str]:
    """``C:maj`` … ``B:maj``, ``C:min`` … ``B:min``, ``N`` (class index order)."""
    return [f"{pc}:{q}" for q in ("maj", "min") for pc in PITCH_CLASSES] + ["N"]


def chord_templates() -> np.ndarray:
    """(24, 12) unit-norm triad templates in :func:`chord_labels` order."""
    out = np.zeros((24, 12))
    for root in range(12):
        out[root, [root, (root + 4) % 12, (root + 7) % 12]] = 1
        out[12 + root, [root, (root + 3) % 12, (root + 7) % 12]] = 1
    return out / np.linalg.norm(out, axis=1, keepdims=True)


@dataclass
class ChordsConfig:
    """``features.chords``."""

    hop_length: int = setting(2048, min=64)
    self_transition: float = setting(0.9, gt=0.0, max=0.9999)
    sharpness: float = setting(20.0, gt=0.0)  # inverse temperature of the frame likelihoods
    no_chord_score: float = setting(0.6, min=0.0, max=1.0)
    silence_db: float = setting(40.0, gt=0.0)
    key_profile: str = setting("krumhansl", choices=tuple(PROFILES))
    key_window_s: float = setting(4.0, gt=0.0)
    fmin_note: str = "C2"  # lowest note of the chroma: above the kick drum, within the bass


def key_scores(chroma_mean: np.ndarray, profile: str = "krumhansl") -> np.ndarray:
    """(24,): correlation with each key, majors C…B then minors C…B (0 for a flat vector)."""
    c = np.asarray(chroma_mean, dtype=np.float64)
    if np.std(c) == 0:
        return np.zeros(24)
    major, minor = PROFILES[profile]
    return np.array([np.corrcoef(c, np.roll(prof, k))[0, 1] for prof in (major, minor) for k in range(12)])


def decode_chords(chroma: np.ndarray, config: ChordsConfig) -> np.ndarray:
    """(T,) chord class per chroma frame (12, T) after Viterbi smoothing."""
    import librosa

    norm = np.linalg.norm(chroma, axis=0)
    sims = chord_templates() @ (chroma / np.maximum(norm, 1e-12))  # (24, T)
    energy_db = 20 * np.log10(np.maximum(norm, 1e-12))
    quiet = energy_db < energy_db.max() - config.silence_db
    n_score = np.where(quiet, config.no_chord_score, config.no_chord_score - 1.0)
    scores = np.vstack([sims, n_score[None, :]]) * config.sharpness
    prob = np.exp(scores - scores.max(axis=0, keepdims=True))
    prob /= prob.sum(axis=0, keepdims=True)
    transition = librosa.sequence.transition_loop(N_CLASSES, config.self_transition)
    return librosa.sequence.viterbi(prob, transition)


@EXTRACTORS.register("chords")
class ChordsExtractor(Extractor):
    """Chord-class histogram, change rate and key per track; chord distribution per window."""

    name = "chords"
    version = "1"
    Config = ChordsConfig
    parallel: ClassVar[str] = "processes"
    jit_compiled: ClassVar[bool] = True

    def feature_names(self) -> list[str]:
        rel = [f"chord_rel{k:02d}_{q}" for q in ("maj", "min") for k in range(12)] + ["chord_none"]
        return rel + ["chord_change_rate", "chord_major_share", "chord_minor_share"] + \
            [f"key_tonic_{pc}" for pc in PITCH_CLASSES] + ["key_minor", "key_clarity"]

    def frame_names(self) -> list[str]:
        return [f"chord_{label.replace(':', '_')}" if label != "N" else "chord_none" for label in chord_labels()] + \
            ["local_key_strength"]

    def frame_shape(self) -> tuple[int, ...]:
        return (N_CLASSES + 1,)

    def feature_groups(self) -> list[str]:
        return ["chords/" + n for n in self.feature_names()[:28]] + ["key/" + n for n in self.feature_names()[28:]]

    def analyse(self, y: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(chroma (12, T), chord class per frame (T,), frame times (T,))."""
        import librosa

        c = self.config
        chroma = librosa.feature.chroma_cqt(y=np.asarray(y, dtype=np.float32), sr=sample_rate,
                                            hop_length=c.hop_length, bins_per_octave=36,
                                            fmin=librosa.note_to_hz(c.fmin_note), n_octaves=6)
        times = librosa.frames_to_time(np.arange(chroma.shape[1]), sr=sample_rate, hop_length=c.hop_length)
        return chroma, decode_chords(chroma, c), times

    def extract(self, y: np.ndarray, sample_rate: int) -> TrackFeatures:
        c = self.config
        duration = len(y) / sample_rate
        start, end = frame_grid(duration, win_s=self.grid.win_s, hop_s=self.grid.hop_s)
        names = self.feature_names()
        if len(y) < 2 * c.hop_length or not np.any(y):
            return TrackFeatures(np.full(len(names), np.nan, np.float32), np.empty((0, N_CLASSES + 1), np.float32),
                                 start[:0], end[:0])
        chroma, chords, times = self.analyse(y, sample_rate)
        keys = key_scores(chroma.mean(axis=1), c.key_profile)
        key = int(np.argmax(keys))
        tonic, minor = key % 12, key >= 12
        rel = np.zeros(N_CLASSES)
        for k in chords:
            rel[24 if k == 24 else (k // 12) * 12 + (k % 12 - tonic) % 12] += 1
        rel /= len(chords)
        played = chords[chords < 24]
        static = np.concatenate([
            rel,
            [np.count_nonzero(np.diff(chords)) / duration,
             np.mean(played < 12) if len(played) else 0.0, np.mean(played >= 12) if len(played) else 0.0],
            np.eye(12)[tonic], [float(minor), keys[key]],
        ]).astype(np.float32)
        frames = np.full((len(start), N_CLASSES + 1), np.nan)
        half_window = c.key_window_s / 2
        for i, (a, b) in enumerate(zip(start, end)):
            inside = (times >= a) & (times < b)
            if not inside.any():
                continue
            frames[i, :N_CLASSES] = np.bincount(chords[inside], minlength=N_CLASSES) / inside.sum()
            around = (times >= (a + b) / 2 - half_window) & (times < (a + b) / 2 + half_window)
            frames[i, N_CLASSES] = key_scores(chroma[:, around].mean(axis=1), c.key_profile).max()
        return TrackFeatures(static=static, frames=frames.astype(np.float32), start_s=start, end_s=end)
