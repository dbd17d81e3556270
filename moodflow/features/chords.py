"""Chords and key (Music2Emo's musical features), from one librosa constant-Q transform.

One CQT (36 bins per octave, ``n_octaves`` from ``chord_fmin``, fewer where the sample rate
leaves no room: the bins stop below 0.45 × the rate) is folded into three
chromagrams: the **chord chroma** folds every bin (from C2, so the bass takes part); the **bass
chroma** the same bins weighted 2^(−``register_slope`` · octaves above ``chord_fmin``), so the
lowest voice dominates; the **key chroma** the same weighted bins from ``key_fmin`` (C3) up,
so the accompaniment counts more than the melody's passing notes above it, each frame scaled
to a maximum of 1 and square-rooted (no single loud note outweighs the others).

**Chords** — every chord-chroma frame is matched against 24 triad templates (12 major: root,
+4, +7; 12 minor: root, +3, +7) by cosine similarity, plus ``bass_weight`` times the bass
chroma (scaled to a maximum of 1) at the chord's root: the bass mostly plays the root, which
tells a triad from the one a third away that shares two of its notes (the bass/treble split of
Mauch & Dixon, 2010). A frame that no triad matches better than
``no_chord_score`` (a lone melody note scores 1/√3 ≈ 0.58), or whose energy lies more than
``silence_db`` below the track's loud frames (the 95th percentile), carries no chord evidence:
all 24 chords score 0 there, so the chord heard last holds through a rest (as a chord
annotation does), and "no chord" (N) scores ``silence_bonus``; elsewhere N scores −1.
Scores become frame likelihoods through a softmax with inverse temperature ``sharpness``; a
Viterbi pass over a transition matrix with self-transition probability ``self_transition``
(the rest spread evenly over the other 24 classes, ``librosa.sequence.transition_loop``) gives
the chord sequence, so the chord changes only when the evidence for the new one outweighs the
prior of staying. Leaving a chord and coming back costs 2·ln(24·p/(1−p)) in log-likelihood
(p = ``self_transition``; 15.5 at 0.99), which an evidence-free stretch must out-score at
``silence_bonus`` · ``sharpness`` per frame (0.4) to become N: about 39 frames (3.6 s at the
default hop), so rests between staccato chords hold the chord and long silences are N.

**Key** — the key chroma's mean over the track correlated with the 24 rotations of a key
profile (``key_profile``: Krumhansl–Kessler probe-tone ratings, or Temperley's corpus
profile): the best is the key, its correlation the key clarity; the best correlation over the
``key_window_s`` window centred on each grid frame is that frame's local key strength.

Static columns (names say what they are): ``chord_share_deg<k>_<maj|min>`` / ``chord_share_none``
— the share of frames per chord, root-invariant (root k semitones above the key's tonic);
``chord_change_rate_per_s``, ``chord_major_share``, ``chord_minor_share`` (of the frames with a
chord); ``key_tonic_<pc>`` (one-hot), ``key_is_minor`` (1 = minor), ``key_clarity``. Frames
(the grid): ``chord_<pc>_<maj|min>`` / ``chord_none`` (the window's chord distribution) and
``local_key_strength``.

A long signal (``extract_long``) gets its constant-Q transform chunk by chunk, with 4 s of
context on each side (the longest filter, at C2, spans 0.8 s); the three chromagrams are kept at
frame rate (one frame per 2048 samples) and the chords, key and statistics computed from them as
in memory. Values differ from the in-memory ones by float rounding only (docs/performance.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from moodflow.core.config import setting
from moodflow.core.errors import SettingsError
from moodflow.features import EXTRACTORS, cqt_filters
from moodflow.features.base import Extractor, TrackFeatures
from moodflow.features.windowed import chunks
from moodflow.stores.grid import frame_grid
from moodflow.stores.signal import BLOCK_S, Signal

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
PROFILES = {
    "krumhansl": (np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]),
                  np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])),
    "temperley": (np.array([5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0]),
                  np.array([5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0])),
}
N_CLASSES = 25  # 12 major, 12 minor, N
NO_CHORD = 24
BINS_PER_OCTAVE = 36
CONTEXT_S = 4.0  # context on each side of a chunk of a long signal
_NOTE = re.compile(r"^([A-G])([#b]?)(-?\d)$")
_STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def note_midi(note: str) -> int:
    """MIDI number of a note name such as ``C2``, ``F#3`` or ``Bb1``."""
    m = _NOTE.match(note)
    if m is None:
        raise ValueError(f"{note!r} is not a note name like C2 or F#3")
    return 12 * (int(m.group(3)) + 1) + _STEPS[m.group(1)] + {"#": 1, "b": -1, "": 0}[m.group(2)]


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

    hop_length: int = setting(2048, min=64)  # CQT hop in samples
    chord_fmin: str = "C2"  # lowest note of the chord chroma: the bass (the kick drum lies below)
    key_fmin: str = "C3"  # lowest note of the key chroma: above the bass
    n_octaves: int = setting(6, min=2)  # of the CQT, from chord_fmin
    self_transition: float = setting(0.99, gt=0.0, max=0.9999)  # Viterbi probability of keeping the chord
    sharpness: float = setting(40.0, gt=0.0)  # inverse temperature of the frame likelihoods
    bass_weight: float = setting(0.2, min=0.0)  # added to a chord's score times the bass chroma at its root
    register_slope: float = setting(1.0, min=0.0)  # bass and key chroma bin weights: 2^(-slope * octaves)
    no_chord_score: float = setting(0.6, min=0.0, max=1.0)  # N's cosine-similarity stand-in
    silence_db: float = setting(40.0, gt=0.0)  # below the loudest frames: a rest, no evidence
    silence_bonus: float = setting(0.01, min=0.0)  # N's extra score in a rest
    key_profile: str = setting("krumhansl", choices=tuple(PROFILES))  # key templates of the key estimate
    key_window_s: float = setting(4.0, gt=0.0)  # window of each local key estimate

    def __post_init__(self) -> None:
        for key in ("chord_fmin", "key_fmin"):
            try:
                note_midi(getattr(self, key))
            except ValueError as exc:
                raise SettingsError(f"features.chords.{key}: {exc}") from None
        offset = note_midi(self.key_fmin) - note_midi(self.chord_fmin)
        if not 0 <= offset < 12 * (self.n_octaves - 1):
            raise SettingsError(f"features.chords.key_fmin: {self.key_fmin!r} must lie at or above chord_fmin "
                                f"{self.chord_fmin!r} and at least an octave below the CQT's top")


def key_scores(chroma_mean: np.ndarray, profile: str = "krumhansl") -> np.ndarray:
    """(24,): correlation with each key, majors C…B then minors C…B (0 for a flat vector)."""
    c = np.asarray(chroma_mean, dtype=np.float64)
    if np.std(c) == 0:
        return np.zeros(24)
    major, minor = PROFILES[profile]
    return np.array([np.corrcoef(c, np.roll(prof, k))[0, 1] for prof in (major, minor) for k in range(12)])


def chromagrams(y: np.ndarray, sample_rate: int, config: ChordsConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(chord chroma, bass chroma, key chroma), each (12, T) and unnormalised, from one CQT of ``y``."""
    import librosa

    cqt_filters.install()  # the filter bank once per process, not once per track
    fmin = librosa.midi_to_hz(note_midi(config.chord_fmin))
    # bins stop below 0.45 x the sample rate (librosa refuses filters beyond Nyquist)
    n_bins = min(BINS_PER_OCTAVE * config.n_octaves, int(BINS_PER_OCTAVE * np.log2(0.45 * sample_rate / fmin)))
    cqt = np.abs(librosa.cqt(np.asarray(y, dtype=np.float32), sr=sample_rate, hop_length=config.hop_length,
                             fmin=fmin, n_bins=n_bins, bins_per_octave=BINS_PER_OCTAVE))
    fold = librosa.filters.cq_to_chroma(n_bins, bins_per_octave=BINS_PER_OCTAVE, n_chroma=12, fmin=fmin)
    low = cqt * 2.0 ** (-config.register_slope * np.arange(n_bins) / BINS_PER_OCTAVE)[:, None]
    skip = 3 * (note_midi(config.key_fmin) - note_midi(config.chord_fmin))
    return fold @ cqt, fold @ low, fold[:, skip:] @ low[skip:]


def chord_likelihoods(chroma: np.ndarray, bass: np.ndarray, config: ChordsConfig) -> np.ndarray:
    """(25, T) frame likelihoods of the classes (columns sum to 1) from the chord and bass
    chroma (12, T) of :func:`chromagrams`."""
    norm = np.linalg.norm(chroma, axis=0)
    sims = chord_templates() @ (chroma / np.maximum(norm, 1e-12))  # (24, T)
    energy_db = 20 * np.log10(np.maximum(norm, 1e-12))
    rest = energy_db < np.percentile(energy_db, 95) - config.silence_db
    unexplained = rest | (sims.max(axis=0) < config.no_chord_score)
    roots = np.tile(np.arange(12), 2)
    scores = np.vstack([sims + config.bass_weight * unit_max(bass)[roots], np.zeros((1, len(norm)))])
    scores[:, unexplained] = 0.0
    scores[NO_CHORD, unexplained] = config.silence_bonus
    scores[NO_CHORD, ~unexplained] = -1.0
    scores = scores * config.sharpness
    prob = np.exp(scores - scores.max(axis=0, keepdims=True))
    return prob / prob.sum(axis=0, keepdims=True)


def decode_chords(chroma: np.ndarray, bass: np.ndarray, config: ChordsConfig) -> np.ndarray:
    """(T,) chord class per frame of the chord and bass chroma (12, T) after Viterbi smoothing."""
    import librosa

    transition = librosa.sequence.transition_loop(N_CLASSES, config.self_transition)
    return librosa.sequence.viterbi(chord_likelihoods(chroma, bass, config), transition)


def unit_max(chroma: np.ndarray) -> np.ndarray:
    """Each frame scaled to a maximum of 1 (librosa's chroma normalisation); silent frames stay 0."""
    return chroma / np.maximum(chroma.max(axis=0, keepdims=True), 1e-12)


@EXTRACTORS.register
class ChordsExtractor(Extractor):
    """Chord-class histogram, change rate and key per track; chord distribution per window."""

    name = "chords"
    packages = ("librosa",)
    version = "1"
    Config = ChordsConfig
    parallel: ClassVar[str] = "processes"
    jit_compiled: ClassVar[bool] = True

    def feature_names(self) -> list[str]:
        """The 42 static columns (see the module docstring)."""
        rel = [f"chord_share_deg{k:02d}_{q}" for q in ("maj", "min") for k in range(12)] + ["chord_share_none"]
        return rel + ["chord_change_rate_per_s", "chord_major_share", "chord_minor_share"] + \
            [f"key_tonic_{pc}" for pc in PITCH_CLASSES] + ["key_is_minor", "key_clarity"]

    def frame_names(self) -> list[str]:
        """The 26 frame columns: the window's share of each chord class, then its local key strength."""
        return [f"chord_{label.replace(':', '_')}" if label != "N" else "chord_none" for label in chord_labels()] + \
            ["local_key_strength"]

    def frame_shape(self) -> tuple[int, ...]:
        return (N_CLASSES + 1,)

    def feature_groups(self) -> list[str]:
        """``chord classes`` (the root-invariant histogram), ``chord dynamics`` (change rate,
        major/minor shares), ``key`` (tonic one-hot), ``mode``, ``key clarity``."""
        return ["chord classes"] * N_CLASSES + ["chord dynamics"] * 3 + ["key"] * 12 + ["mode", "key clarity"]

    def analyse(self, y: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(key chroma (12, T): each frame scaled to max 1, then square-rooted; chord class per
        frame (T,); frame times (T,))."""
        import librosa

        return self._from_chromagrams(*chromagrams(y, sample_rate, self.config), sample_rate)

    def _from_chromagrams(self, chord_chroma: np.ndarray, bass_chroma: np.ndarray, key_chroma: np.ndarray,
                          sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        import librosa

        times = librosa.frames_to_time(np.arange(chord_chroma.shape[1]), sr=sample_rate,
                                       hop_length=self.config.hop_length)
        return np.sqrt(unit_max(key_chroma)), decode_chords(chord_chroma, bass_chroma, self.config), times

    def extract_long(self, signal: Signal, *, block_s: float = BLOCK_S) -> TrackFeatures:
        """:meth:`extract` of a long signal, its constant-Q transform computed chunk by chunk."""
        duration, sr, hop = signal.duration_s, signal.sample_rate, self.config.hop_length
        start, end = frame_grid(duration, win_s=self.grid.win_s, hop_s=self.grid.hop_s)
        parts: list[list[np.ndarray]] = [[], [], []]
        loud = False
        for chunk in chunks(signal, int(block_s * sr), max(int(CONTEXT_S * sr), 2 * hop), align=hop):
            loud = loud or bool(np.any(chunk.y[chunk.core_start - chunk.start:chunk.core_end - chunk.start]))
            for part, gram in zip(parts, chromagrams(chunk.y, sr, self.config)):
                part.append(gram[:, chunk.frames(hop, gram.shape[1])])
        if signal.n_samples < 2 * hop or not loud:
            return TrackFeatures(np.full(len(self.feature_names()), np.nan, np.float32),
                                 np.empty((0, N_CLASSES + 1), np.float32), start[:0], end[:0])
        grams = [np.concatenate(part, axis=1) for part in parts]
        return self.summarise(*self._from_chromagrams(*grams, sr), duration, start, end)

    def extract(self, y: np.ndarray, sample_rate: int) -> TrackFeatures:
        duration = len(y) / sample_rate
        start, end = frame_grid(duration, win_s=self.grid.win_s, hop_s=self.grid.hop_s)
        if len(y) < 2 * self.config.hop_length or not np.any(y):
            return TrackFeatures(np.full(len(self.feature_names()), np.nan, np.float32),
                                 np.empty((0, N_CLASSES + 1), np.float32), start[:0], end[:0])
        return self.summarise(*self.analyse(y, sample_rate), duration, start, end)

    def summarise(self, chroma: np.ndarray, chords: np.ndarray, times: np.ndarray, duration: float,
                  start: np.ndarray, end: np.ndarray) -> TrackFeatures:
        """Static and grid features from :meth:`analyse`'s output (``start``/``end``: the grid)."""
        c = self.config
        keys = key_scores(chroma.mean(axis=1), c.key_profile)
        key = int(np.argmax(keys))
        tonic, minor = key % 12, key >= 12
        relative = np.where(chords == NO_CHORD, NO_CHORD, (chords // 12) * 12 + (chords % 12 - tonic) % 12)
        played = chords[chords != NO_CHORD]
        static = np.concatenate([
            np.bincount(relative, minlength=N_CLASSES) / len(chords),
            [np.count_nonzero(np.diff(chords)) / duration,
             np.mean(played < 12) if len(played) else 0.0, np.mean(played >= 12) if len(played) else 0.0],
            np.eye(12)[tonic], [float(minor), keys[key]],
        ]).astype(np.float32)
        frames = np.full((len(start), N_CLASSES + 1), np.nan)
        half = c.key_window_s / 2
        for i, (a, b) in enumerate(zip(start, end)):
            inside = (times >= a) & (times < b)
            if not inside.any():
                continue
            frames[i, :N_CLASSES] = np.bincount(chords[inside], minlength=N_CLASSES) / inside.sum()
            around = (times >= (a + b) / 2 - half) & (times < (a + b) / 2 + half)
            frames[i, N_CLASSES] = key_scores(chroma[:, around].mean(axis=1), c.key_profile).max()
        return TrackFeatures(static=static, frames=frames.astype(np.float32), start_s=start, end_s=end)
