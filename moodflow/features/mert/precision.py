"""Which precision MERT runs in: float32, or a reduced one whose error is measured first.

``dtype: auto`` picks bfloat16 where the device computes it natively — a CUDA GPU with bf16
support, or a CPU with AVX512-BF16 / AMX — and float32 elsewhere. Before a reduced precision
is used, the model runs a fixed probe signal in both precisions and every pooled hidden state
must stay within :data:`REDUCED_PRECISION_BOUND` (relative Frobenius error) of float32; under
``auto`` a model that misses the bound runs in float32 instead.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from moodflow.features.mert.windows import embed_windows

log = logging.getLogger(__name__)

# Largest relative error (‖low − fp32‖ / ‖fp32‖ per pooled hidden state, on the probe) accepted
# for a reduced precision. bfloat16 keeps 8 mantissa bits (2^-9 ≈ 2e-3 rounding per operation);
# measured on a random MERT-v1-95M-shaped model: 4.0e-3 … 4.9e-3 per state (docs/mert.md).
REDUCED_PRECISION_BOUND = 2e-2
PROBE_SECONDS = 2.0


@dataclass
class PrecisionCheck:
    """Outcome of :func:`measure_precision`: the dtype asked, the per-state errors, the verdict."""

    dtype: str
    state_errors: list[float]
    bound: float = REDUCED_PRECISION_BOUND

    @property
    def max_error(self) -> float:
        return max(self.state_errors) if self.state_errors else 0.0

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.max_error)) and self.max_error <= self.bound


def native_bf16(device: str) -> bool:
    """True when ``device`` computes bfloat16 matrix products in hardware."""
    import torch

    if device.startswith("cuda"):
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    cpu = getattr(torch, "cpu", None)
    try:
        return bool(cpu._is_avx512_bf16_supported() or cpu._is_amx_tile_supported())
    except AttributeError:  # a torch without these probes: assume no native bf16
        return False


def resolve_dtype(setting: str, device: str) -> str:
    """``auto`` → ``bfloat16`` where native (see :func:`native_bf16`), else ``float32``."""
    if setting != "auto":
        return setting
    return "bfloat16" if native_bf16(device) else "float32"


def probe_windows(sample_rate: int, seconds: float = PROBE_SECONDS) -> list[np.ndarray]:
    """Two fixed music-like windows (harmonic tones, a beat, noise) for precision checks."""
    rng = np.random.default_rng(20261122)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    windows = []
    for base in (110.0, 196.0):
        tone = sum(np.sin(2 * np.pi * base * h * t + rng.uniform(0, 6.3)) / h for h in range(1, 6))
        beat = np.exp(-20 * ((t * 2) % 1.0)) * rng.standard_normal(len(t))
        windows.append((0.2 * tone + 0.3 * beat + 0.02 * rng.standard_normal(len(t))).astype(np.float32))
    return windows


def measure_precision(reference: Any, low: Any, processor: Any, device: str, dtype: str) -> PrecisionCheck:
    """Per-state relative error of model ``low`` against the float32 ``reference`` on the probe."""
    windows = probe_windows(int(processor.sampling_rate))
    ref = embed_windows(reference, processor, windows, batch_size=len(windows), device=device)
    out = embed_windows(low, processor, windows, batch_size=len(windows), device=device)
    errors = [
        float(np.linalg.norm(out[:, s] - ref[:, s]) / max(np.linalg.norm(ref[:, s]), 1e-30))
        for s in range(ref.shape[1])
    ]
    return PrecisionCheck(dtype, errors)


def reduce_precision(model: Any, processor: Any, device: str, dtype: str) -> tuple[Any, PrecisionCheck]:
    """A copy of the float32 ``model`` in ``dtype``, and its measured error against float32."""
    import torch

    low = copy.deepcopy(model).to(getattr(torch, dtype)).eval()
    return low, measure_precision(model, low, processor, device, dtype)
