"""Interpretable mid-level features (after Aljanaki & Soleymani's perceptual mid-level
descriptors, which Chowdhury et al., ISMIR 2020, explain emotion predictions with), each one
formula on librosa's onset strength, RMS envelope and chroma — cheap, and named for what they
measure. With ``c`` the chroma of a frame (12 pitch classes from C3 up, so drums and bass do not
colour it) normalised to sum 1:

- ``onset_rate`` — onsets per second (librosa's onset detector): event density, which follows
  tempo; ``tempo_bpm`` — librosa's tempo estimate (beat-level periodicity of the onset
  envelope; like every tempo estimator it can err by an octave);
- ``rhythmic_regularity`` — the onset envelope's autocorrelation at the tempo's lag divided by
  its value at lag 0 (1 = perfectly periodic);
- ``sustain`` (articulation: 0 staccato … 1 legato) — the share of RMS frames above half of the
  envelope's maximum within ±0.5 s;
- ``dissonance`` — Σᵢⱼ cᵢ cⱼ d(|i−j| mod 12) averaged over frames, with interval weights d
  from 0 (unison) to 1 (minor second / major seventh), 0.9 for the tritone, 0.05 for the fifth;
- ``minorness`` — with the tonic chosen as the pitch class maximising the sum of its
  Krumhansl–Kessler major and minor profile correlations with the mean chroma, the minor
  correlation minus the major one (> 0: minor);
- ``key_clarity`` — the best of the 24 key-profile correlations; ``tonal_stability`` — the share
  of ``key_window_s`` windows whose best key is the whole track's.

Frames (the shared grid): per window ``onset_rate``, ``sustain``, ``dissonance``, ``minorness``
and ``key_clarity``. On the demo, whose generating parameters are known, Spearman's ρ (40
clips, tests/test_features_midlevel.py): tempo → onset_rate, mode → minorness, articulation →
sustain, consonance → dissonance, measured in docs/features.md.

A long signal (``extract_long``) is analysed in chunks with context on each side: the onset
envelope (librosa's spectral flux, its 80 dB floor under the whole track's loudest mel bin,
found in a first pass), the RMS envelope and the chroma (the track's tuning estimated as librosa
does, ``windowed.estimate_tuning``) are computed chunk by chunk and kept at frame rate (about
1/40 of the signal's size); the descriptors are then computed from them as in memory. Values
differ from the in-memory ones by float rounding only (docs/performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from moodflow.core.config import setting
from moodflow.features import EXTRACTORS
from moodflow.features.base import Extractor, TrackFeatures
from moodflow.features.windowed import chunks, estimate_tuning
from moodflow.stores.grid import frame_grid
from moodflow.stores.signal import BLOCK_S, Signal

STATIC = ["onset_rate", "tempo_bpm", "rhythmic_regularity", "sustain", "dissonance", "minorness",
          "key_clarity", "tonal_stability"]
FRAMES = ["onset_rate", "sustain", "dissonance", "minorness", "key_clarity"]
# Krumhansl & Kessler (1982) probe-tone profiles, tonic first
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# dissonance of the interval of i semitones (folded to 0..11)
INTERVAL_DISSONANCE = np.array([0.0, 1.0, 0.8, 0.25, 0.2, 0.1, 0.9, 0.05, 0.2, 0.25, 0.8, 1.0])
_D = INTERVAL_DISSONANCE[np.abs(np.subtract.outer(np.arange(12), np.arange(12))) % 12]
_N_FFT = 2048  # librosa's onset_strength / rms frame
CONTEXT_S = 4.0  # context on each side of a chunk of a long signal (constant-Q filters from C3: 0.4 s)


@dataclass
class MidlevelConfig:
    """``features.midlevel``."""

    hop_length: int = setting(512, min=64)  # analysis hop in samples
    key_window_s: float = setting(2.0, gt=0.0)  # windows for tonal_stability


def key_correlations(chroma_mean: np.ndarray) -> np.ndarray:
    """(2, 12): correlation of a chroma vector with the major (row 0) and minor (row 1) profile
    of each tonic; zeros for a silent (constant) vector."""
    c = np.asarray(chroma_mean, dtype=np.float64)
    if np.std(c) == 0:
        return np.zeros((2, 12))
    out = np.empty((2, 12))
    for row, profile in enumerate((KK_MAJOR, KK_MINOR)):
        for k in range(12):
            out[row, k] = np.corrcoef(c, np.roll(profile, k))[0, 1]
    return out


def minorness(chroma_mean: np.ndarray) -> float:
    corr = key_correlations(chroma_mean)
    tonic = int(np.argmax(corr[0] + corr[1]))
    return float(corr[1, tonic] - corr[0, tonic])


def dissonance(chroma: np.ndarray) -> np.ndarray:
    """(T,) interval dissonance of each chroma frame (12, T)."""
    c = chroma / np.maximum(chroma.sum(axis=0, keepdims=True), 1e-12)
    return np.einsum("it,ij,jt->t", c, _D, c)


@EXTRACTORS.register
class MidlevelExtractor(Extractor):
    """Eight interpretable mid-level descriptors per track, five per grid window."""

    name = "midlevel"
    packages = ("librosa",)
    version = "1"
    Config = MidlevelConfig
    parallel: ClassVar[str] = "processes"
    jit_compiled: ClassVar[bool] = True  # librosa's numba functions

    def feature_names(self) -> list[str]:
        return list(STATIC)

    def frame_names(self) -> list[str]:
        return list(FRAMES)

    def frame_shape(self) -> tuple[int, ...]:
        return (len(FRAMES),)

    def extract(self, y: np.ndarray, sample_rate: int) -> TrackFeatures:
        import librosa

        hop = self.config.hop_length
        y = np.asarray(y, dtype=np.float32)
        duration = len(y) / sample_rate
        if len(y) < 4 * hop or not np.any(y):
            return self._empty(duration)
        onset_env = librosa.onset.onset_strength(y=y, sr=sample_rate, hop_length=hop)
        rms = librosa.feature.rms(y=y, hop_length=hop)[0]
        chroma = librosa.feature.chroma_cqt(y=y, sr=sample_rate, hop_length=hop, bins_per_octave=36,
                                            fmin=librosa.note_to_hz("C3"), n_octaves=5)
        return self.summarise(onset_env, rms, chroma, sample_rate, duration)

    def _empty(self, duration: float) -> TrackFeatures:
        start, end = frame_grid(duration, win_s=self.grid.win_s, hop_s=self.grid.hop_s)
        nan = np.full(len(STATIC), np.nan, np.float32)
        return TrackFeatures(nan, np.empty((0, len(FRAMES)), np.float32), start[:0], end[:0])

    def extract_long(self, signal: Signal, *, block_s: float = BLOCK_S) -> TrackFeatures:
        """:meth:`extract` of a long signal, its envelopes and chroma computed chunk by chunk."""
        import librosa

        hop, sr = self.config.hop_length, signal.sample_rate
        if signal.n_samples < 4 * hop:
            return self._empty(signal.duration_s)
        tuning = estimate_tuning(signal, n_fft=2048, bins_per_octave=36)  # what chroma_cqt estimates
        margin = max(int(CONTEXT_S * sr), 2 * _N_FFT)
        core = int(block_s * sr)

        def mel_db(chunk) -> np.ndarray:
            mel = np.abs(librosa.feature.melspectrogram(y=chunk.y, sr=sr, n_fft=_N_FFT, hop_length=hop))
            return librosa.power_to_db(mel, top_db=None)

        loudest, silent = None, True
        for chunk in chunks(signal, core, margin, align=hop):  # pass 1: the loudest mel bin (power_to_db's floor)
            db = mel_db(chunk)
            top = db[:, chunk.frames(hop, db.shape[1])].max()
            loudest = top if loudest is None else max(loudest, top)
            silent = silent and not np.any(chunk.y[chunk.core_start - chunk.start:chunk.core_end - chunk.start])
        if silent:
            return self._empty(signal.duration_s)
        floor = loudest - 80.0
        flux, rms, chroma = [], [], []
        lag = 1 + _N_FFT // (2 * hop)  # onset_strength's shift: lag 1 + centring
        for chunk in chunks(signal, core, margin, align=hop):
            db = np.maximum(mel_db(chunk), floor)
            keep = chunk.frames(hop, db.shape[1])
            first = chunk.start // hop
            # onset_env[t] = mean_f max(0, S[f, t - lag + 1] - S[f, t - lag]); rows t of the core
            t = np.arange(keep.start, keep.stop) + first
            src = t - lag + 1 - first  # local index of S[f, t - lag + 1]
            valid = (t >= lag) & (src >= 1) & (src < db.shape[1])
            env = np.zeros(len(t), dtype=db.dtype)
            if valid.any():
                diff = np.maximum(0.0, db[:, src[valid]] - db[:, src[valid] - 1])
                env[valid] = diff.mean(axis=0)
            flux.append(env)
            rms.append(librosa.feature.rms(y=chunk.y, hop_length=hop)[0][keep])
            chroma.append(librosa.feature.chroma_cqt(y=chunk.y, sr=sr, hop_length=hop, bins_per_octave=36,
                                                     fmin=librosa.note_to_hz("C3"), n_octaves=5,
                                                     tuning=tuning)[:, keep])
        return self.summarise(np.concatenate(flux), np.concatenate(rms), np.concatenate(chroma, axis=1), sr,
                              signal.duration_s)

    def summarise(self, onset_env: np.ndarray, rms: np.ndarray, chroma: np.ndarray, sample_rate: int,
                  duration: float) -> TrackFeatures:
        """The descriptors from the frame-rate onset envelope, RMS envelope and chroma (12, T)."""
        import librosa
        from scipy.ndimage import maximum_filter1d

        hop = self.config.hop_length
        start, end = frame_grid(duration, win_s=self.grid.win_s, hop_s=self.grid.hop_s)
        frame_rate = sample_rate / hop
        onsets = librosa.onset.onset_detect(onset_envelope=onset_env, sr=sample_rate, hop_length=hop, units="time")
        tempo = float(librosa.feature.tempo(onset_envelope=onset_env, sr=sample_rate, hop_length=hop)[0])
        ac = librosa.autocorrelate(onset_env - onset_env.mean())
        lag = int(round(60.0 / tempo * frame_rate)) if tempo > 0 else 0
        regularity = float(ac[lag] / ac[0]) if 0 < lag < len(ac) and ac[0] > 0 else np.nan
        local_max = maximum_filter1d(rms, size=max(1, int(round(frame_rate))))
        sustained = (rms > 0.5 * local_max).astype(np.float64)
        n = min(chroma.shape[1], len(rms))
        chroma, sustained = chroma[:, :n], sustained[:n]
        times = np.arange(n) / frame_rate
        diss = dissonance(chroma)
        corr = key_correlations(chroma.mean(axis=1))
        global_key = int(np.argmax(corr))
        window = max(1, int(round(self.config.key_window_s * frame_rate)))
        windows = [chroma[:, a:a + window] for a in range(0, n, window) if chroma[:, a:a + window].shape[1] >= window // 2]
        same = [int(np.argmax(key_correlations(w.mean(axis=1)))) == global_key for w in windows]
        static = np.array([
            len(onsets) / duration, tempo, regularity, sustained.mean(), diss.mean(), minorness(chroma.mean(axis=1)),
            corr.max(), float(np.mean(same)) if same else np.nan,
        ], dtype=np.float32)
        frames = np.full((len(start), len(FRAMES)), np.nan)
        for k, (a, b) in enumerate(zip(start, end)):
            inside = (times >= a) & (times < b)
            if not inside.any():
                continue
            mean_chroma = chroma[:, inside].mean(axis=1)
            frames[k] = [np.sum((onsets >= a) & (onsets < b)) / (b - a), sustained[inside].mean(),
                         diss[inside].mean(), minorness(mean_chroma), key_correlations(mean_chroma).max()]
        return TrackFeatures(static=static, frames=frames.astype(np.float32), start_s=start, end_s=end)
