"""MERT's computation, free of settings objects: 5 s windows at 24 kHz, the forward pass over
equal-length batches and the time-mean of every hidden state.

Only windows of one track and of equal length share a batch: zero padding changes MERT's
output (GroupNorm over time in the feature encoder), and a track's values must not depend on
which other tracks are in the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from moodflow.core.resample import resample
from moodflow.features.mert.loading import MERT_SAMPLE_RATE
from moodflow.stores.signal import Signal, rechunk, resampled_blocks, resampled_length

# Shortest input that yields one MERT frame: the feature encoder's receptive field.
MIN_SAMPLES = 400


def window_bounds(n_samples: int, sample_rate: int, *, window_s: float, min_window_s: float) -> np.ndarray:
    """(W, 2) sample bounds of non-overlapping ``window_s`` windows over ``n_samples``.

    The last, shorter window is kept when it lasts at least ``min_window_s`` or is the only one.
    """
    if n_samples <= 0:
        return np.zeros((0, 2), dtype=np.int64)
    size = int(round(window_s * sample_rate))
    starts = np.arange(0, n_samples, size, dtype=np.int64)
    ends = np.minimum(starts + size, n_samples)
    if len(starts) > 1 and (ends[-1] - starts[-1]) < min_window_s * sample_rate - 1e-6:
        starts, ends = starts[:-1], ends[:-1]
    return np.stack([starts, ends], axis=1)


def layer_feature_names(n_states: int, hidden_size: int) -> list[str]:
    """``layer00_dim000`` … names of the flattened (n_states, hidden_size) static vector."""
    lw = max(2, len(str(n_states - 1)))
    dw = max(3, len(str(hidden_size - 1)))
    return [f"layer{l:0{lw}d}_dim{d:0{dw}d}" for l in range(n_states) for d in range(hidden_size)]


def pool_states(hidden_states: tuple, last_hidden_state) -> Any:
    """(B, L+1, H) float32 time-means of every state, ``last_hidden_state`` in place of the last.

    transformers 5.x returns the pre-final-LayerNorm output as ``hidden_states[-1]`` for
    pre-LN models (MERT-330M); published MERT work used the normed ``last_hidden_state``.
    """
    import torch

    states = list(hidden_states[:-1]) + [last_hidden_state]
    return torch.stack([h.float().mean(dim=1) for h in states], dim=1)


def normalize_windows(processor: Any, windows: list[np.ndarray]) -> list[np.ndarray]:
    """Each 24 kHz window through the checkpoint's ``Wav2Vec2FeatureExtractor`` (float32)."""
    return [
        np.asarray(processor(w, sampling_rate=MERT_SAMPLE_RATE, return_tensors="np")["input_values"][0],
                   dtype=np.float32)
        for w in windows
    ]


def forward_windows(model: Any, windows: list[np.ndarray], *, batch_size: int, device: str = "cpu") -> np.ndarray:
    """(W, L+1, H) float32 time-means of every hidden state of already normalised windows.

    Only windows of equal length share a batch of ``batch_size``.
    """
    import torch

    n_states = int(model.config.num_hidden_layers) + 1
    out = np.empty((len(windows), n_states, int(model.config.hidden_size)), dtype=np.float32)
    by_length: dict[int, list[int]] = {}
    for i, w in enumerate(windows):
        by_length.setdefault(len(w), []).append(i)
    dtype = next(model.parameters()).dtype
    with torch.inference_mode():
        for idx in by_length.values():
            for k in range(0, len(idx), batch_size):
                part = idx[k:k + batch_size]
                x = torch.from_numpy(np.stack([windows[i] for i in part])).to(device, dtype)
                res = model(x, output_hidden_states=True)
                out[part] = pool_states(res.hidden_states, res.last_hidden_state).cpu().numpy()
    return out


def embed_windows(model: Any, processor: Any, windows: list[np.ndarray], *, batch_size: int,
                  device: str = "cpu") -> np.ndarray:
    """(W, L+1, H) float32 time-means of every hidden state of each raw 24 kHz window.

    ``processor`` is the checkpoint's ``Wav2Vec2FeatureExtractor`` (it normalises each window
    when ``do_normalize``).
    """
    return forward_windows(model, normalize_windows(processor, windows), batch_size=batch_size, device=device)


@dataclass
class PreparedTrack:
    """One track ready for the model: normalised 24 kHz windows and their sample bounds."""

    windows: list[np.ndarray]
    bounds: np.ndarray  # (W, 2) at 24 kHz


def prepare_signal(y: np.ndarray, sample_rate: int, processor: Any, *, window_s: float, min_window_s: float,
                   max_duration_s: float | None = None) -> PreparedTrack:
    """Check, crop (``max_duration_s``), resample to 24 kHz, cut into ``window_s`` windows and
    normalise one mono signal."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"MERT: expected a mono 1-D signal, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("MERT: signal contains NaN or infinite samples")
    limit = max_duration_s
    if limit is not None:  # crop before resampling too: no work on audio that is cut anyway
        y = y[: int(round(limit * sample_rate))]
    y24 = resample(y, sample_rate, MERT_SAMPLE_RATE)
    if limit is not None:
        y24 = y24[: int(round(limit * MERT_SAMPLE_RATE))]
    if len(y24) < MIN_SAMPLES:
        raise ValueError(
            f"MERT: signal too short ({len(y24) / MERT_SAMPLE_RATE * 1000:.1f} ms; "
            f"needs ≥ {MIN_SAMPLES / MERT_SAMPLE_RATE * 1000:.1f} ms at 24 kHz)"
        )
    bounds = window_bounds(len(y24), MERT_SAMPLE_RATE, window_s=window_s, min_window_s=min_window_s)
    if len(bounds) > 1 and bounds[-1, 1] - bounds[-1, 0] < MIN_SAMPLES:
        bounds = bounds[:-1]  # min_window_s: 0 could leave a tail too short for one frame
    return PreparedTrack(normalize_windows(processor, [y24[a:b] for a, b in bounds]), bounds)



def window_plan(n_samples: int, sample_rate: int, *, window_s: float, min_window_s: float,
                max_duration_s: float | None = None) -> tuple[int, int, np.ndarray]:
    """(input samples used, 24 kHz samples, window bounds) of :func:`prepare_signal` for a
    signal of ``n_samples``, without its samples."""
    used = n_samples if max_duration_s is None else min(n_samples, int(round(max_duration_s * sample_rate)))
    n24 = resampled_length(used, sample_rate, MERT_SAMPLE_RATE)
    if max_duration_s is not None:
        n24 = min(n24, int(round(max_duration_s * MERT_SAMPLE_RATE)))
    if n24 < MIN_SAMPLES:
        raise ValueError(
            f"MERT: signal too short ({n24 / MERT_SAMPLE_RATE * 1000:.1f} ms; "
            f"needs ≥ {MIN_SAMPLES / MERT_SAMPLE_RATE * 1000:.1f} ms at 24 kHz)"
        )
    bounds = window_bounds(n24, MERT_SAMPLE_RATE, window_s=window_s, min_window_s=min_window_s)
    if len(bounds) > 1 and bounds[-1, 1] - bounds[-1, 0] < MIN_SAMPLES:
        bounds = bounds[:-1]
    return used, n24, bounds


def windows_of(signal: Signal, processor: Any, *, window_s: float, min_window_s: float,
               max_duration_s: float | None = None) -> tuple[np.ndarray, Any]:
    """(bounds, iterator of normalised 24 kHz windows in order) of a signal read block by block:
    the windows :func:`prepare_signal` cuts, one at a time."""
    used, n24, bounds = window_plan(signal.n_samples, signal.sample_rate, window_s=window_s,
                                    min_window_s=min_window_s, max_duration_s=max_duration_s)
    size = int(bounds[0, 1] - bounds[0, 0])

    def checked() -> Any:
        left = used
        for block in signal.blocks(signal.block_size(30.0)):
            block = block[:left]
            left -= len(block)
            if not np.all(np.isfinite(block)):
                raise ValueError("MERT: signal contains NaN or infinite samples")
            yield block
            if left <= 0:
                break

    class _Cropped(Signal):
        sample_rate, n_samples = signal.sample_rate, used

        def blocks(self, n: int) -> Any:
            return rechunk(checked(), n)

    def windows() -> Any:
        pos = 0
        for block in resampled_blocks(_Cropped(), MERT_SAMPLE_RATE, size):
            for a, b in bounds[(bounds[:, 0] >= pos) & (bounds[:, 0] < pos + len(block))]:
                yield normalize_windows(processor, [block[a - pos:b - pos]])[0]
            pos += len(block)
            if pos >= bounds[-1, 1]:
                break

    return bounds, windows()
