"""The dynamic-frame grid shared by every extractor: windows of ``win_s`` every ``hop_s``.

Frame k covers [k*hop_s, k*hop_s + win_s); its centre k*hop_s + win_s/2 is the time labels
are aligned to (with the defaults, 1 s windows and a 0.5 s hop, centres fall on 0.5, 1.0, …,
exactly the 2 Hz annotation times of PMEmo, DEAM and emoMusic).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from moodflow.core.config import setting


@dataclass
class GridConfig:
    """``features.grid``: the frame grid every extractor shares (seconds)."""

    win_s: float = setting(1.0, gt=0.0, max=60.0)  # frame window length
    hop_s: float = setting(0.5, gt=0.0, max=60.0)  # step between frame starts (0.5 s: the 2 Hz label grid)


def frame_grid(duration_s: float, *, win_s: float = 1.0, hop_s: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(start_s, end_s) of every full window inside ``duration_s`` (none if shorter than win_s)."""
    n = int(np.floor((duration_s - win_s) / hop_s + 1e-9)) + 1 if duration_s >= win_s - 1e-9 else 0
    start = np.arange(max(n, 0), dtype=np.float64) * hop_s
    return start, start + win_s


def window_stats(
    values: np.ndarray, times: np.ndarray, start_s: np.ndarray, end_s: np.ndarray
) -> np.ndarray:
    """Mean and std of the rows of ``values`` (n, F) whose ``times`` fall in each window.

    Returns (T, 2F): the F means then the F stds (population std). A window with no rows
    gets NaN.
    """
    values = np.asarray(values, dtype=np.float64)
    n_feat = values.shape[1]
    out = np.full((len(start_s), 2 * n_feat), np.nan)
    lo = np.searchsorted(times, start_s, side="left")
    hi = np.searchsorted(times, end_s, side="left")
    for k, (a, b) in enumerate(zip(lo, hi)):
        if b > a:
            block = values[a:b]
            out[k, :n_feat] = block.mean(axis=0)
            out[k, n_feat:] = block.std(axis=0)
    return out


def align_to_frames(
    label_times: np.ndarray, start_s: np.ndarray, end_s: np.ndarray, tol_s: float = 0.26
) -> np.ndarray:
    """Index of the frame whose centre is nearest each label time; -1 when none within ``tol_s``."""
    if len(start_s) == 0:
        return np.full(len(label_times), -1, dtype=np.int64)
    centres = (np.asarray(start_s) + np.asarray(end_s)) / 2
    label_times = np.asarray(label_times, dtype=np.float64)
    right = np.clip(np.searchsorted(centres, label_times), 0, len(centres) - 1)
    left = np.clip(right - 1, 0, len(centres) - 1)
    pos = np.where(np.abs(centres[left] - label_times) <= np.abs(centres[right] - label_times), left, right)
    dist = np.abs(centres[pos] - label_times)
    return np.where(dist <= tol_s, pos, -1).astype(np.int64)


class WindowStatsStream:
    """:func:`window_stats` over rows that arrive in time order, holding only the rows of the
    windows not yet complete: the same numbers (each window's rows form the same C-ordered
    float64 block) without the whole (n, F) matrix of a long track in memory."""

    def __init__(self, start_s: np.ndarray, end_s: np.ndarray, n_features: int, dtype: type = np.float64):
        """``dtype``: of the result; each window's float64 statistics are cast into it as they
        are computed (float32: what the stores keep, half the memory of an hour's frames)."""
        self.start_s, self.end_s = np.asarray(start_s, dtype=np.float64), np.asarray(end_s, dtype=np.float64)
        self.n_features = int(n_features)
        self.out = np.full((len(self.start_s), 2 * self.n_features), np.nan, dtype=dtype)
        self._next = 0  # first window not yet computed
        self._values: list[np.ndarray] = []
        self._times: list[np.ndarray] = []

    def add(self, values: np.ndarray, times: np.ndarray) -> None:
        """Rows (n, F) with their times (n,), later than every row added before."""
        if len(times):
            self._values.append(np.asarray(values, dtype=np.float64).reshape(len(times), self.n_features))
            self._times.append(np.asarray(times, dtype=np.float64))
            self._emit(final=False)

    def finish(self) -> np.ndarray:
        """(T, 2F): every window's means then stds (NaN where a window got no row)."""
        self._emit(final=True)
        self._values, self._times = [], []
        return self.out

    def _emit(self, final: bool) -> None:
        if self._next >= len(self.start_s):
            return
        times = np.concatenate(self._times) if self._times else np.empty(0)
        values = np.concatenate(self._values) if len(self._values) > 1 else (
            self._values[0] if self._values else np.empty((0, self.n_features)))
        last = times[-1] if len(times) else -np.inf
        k = self._next
        while k < len(self.start_s) and (final or self.end_s[k] <= last):
            a, b = np.searchsorted(times, self.start_s[k], side="left"), np.searchsorted(times, self.end_s[k], side="left")
            if b > a:
                block = values[a:b]
                self.out[k, :self.n_features] = block.mean(axis=0)
                self.out[k, self.n_features:] = block.std(axis=0)
            k += 1
        self._next = k
        keep = np.searchsorted(times, self.start_s[k], side="left") if k < len(self.start_s) else len(times)
        self._values, self._times = ([values[keep:]], [times[keep:]]) if keep < len(times) else ([], [])
