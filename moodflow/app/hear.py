"""HEAR-style embedding API over any registered extractor (Turian et al., HEAR 2021 conventions).

```python
from moodflow.app import hear
model = hear.load_model("musicnn")                     # or "chroma", "compare", "mert", …
scene = hear.get_scene_embeddings(audio, model)        # (n_sounds, model.scene_embedding_size)
emb, ts = hear.get_timestamp_embeddings(audio, model)  # (n_sounds, T, size), (n_sounds, T) in ms
```

``audio`` is (n_sounds, n_samples) float in [-1, 1] at ``model.sample_rate`` (a torch tensor or
a numpy array); outputs are float32 torch tensors on the audio's device (CPU for numpy input),
as the HEAR kit expects. Scene embeddings are the extractor's static vectors; timestamp
embeddings are its frames on the ``grid`` (default: 1 s windows every 0.5 s), flattened when a
frame is (layers, dim) (MERT), with timestamps at the window centres in milliseconds. Every
sound of a batch has the same length, so it has the same number of frames. The HEAR kit's
``model_file_path`` is the feature-set name here: the weights are part of each extractor (see
``docs/features.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_RATE = 22050  # what an extractor without a native_sample_rate is fed (decode's default)


@dataclass
class HearModel:
    """A registered extractor with the attributes HEAR requires."""

    extractor: Any
    sample_rate: int
    scene_embedding_size: int
    timestamp_embedding_size: int
    name: str


def load_model(model_file_path: str = "", *, config: dict[str, Any] | None = None,
               grid: dict[str, Any] | None = None, sample_rate: int | None = None) -> HearModel:
    """A HEAR model of feature set ``model_file_path`` (default: the extractor whose class sets
    ``hear_default``, musicnn) with its ``features.<name>`` settings ``config`` and frame ``grid``,
    fed audio at ``sample_rate`` (default: the extractor's ``native_sample_rate``)."""
    from moodflow.features import EXTRACTORS, build_extractor

    name = model_file_path or next(n for n, cls in EXTRACTORS.classes().items() if cls.hear_default)
    if name not in EXTRACTORS.names():
        raise ValueError(f"moodflow.app.hear.load_model: {name!r} is not a registered feature set "
                         f"({', '.join(EXTRACTORS.names())})")
    extractor = build_extractor(name, config or {}, grid or {})
    if not extractor.needs_audio:
        raise ValueError(f"moodflow.app.hear.load_model: {name!r} imports a dataset's features; it has no audio model")
    frame_size = int(np.prod(extractor.frame_shape())) if extractor.frame_names() is None else len(extractor.frame_names())
    return HearModel(extractor, int(sample_rate or extractor.native_sample_rate or DEFAULT_RATE),
                     len(extractor.feature_names()), frame_size, name)


def _signals(audio: Any) -> tuple[np.ndarray, Any]:
    device = getattr(audio, "device", None)
    if hasattr(audio, "detach"):
        audio = audio.detach().cpu().numpy()
    arr = np.asarray(audio, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"audio must be (n_sounds, n_samples), got shape {arr.shape}")
    return arr, device


def _tensor(array: np.ndarray, device: Any):
    import torch

    out = torch.from_numpy(np.ascontiguousarray(array))
    return out.to(device) if device is not None else out


def get_scene_embeddings(audio: Any, model: HearModel):
    """(n_sounds, scene_embedding_size) float32: one static vector per sound."""
    arr, device = _signals(audio)
    rows = [np.asarray(model.extractor.extract(y, model.sample_rate).static, np.float32) for y in arr]
    return _tensor(np.stack(rows) if rows else np.empty((0, model.scene_embedding_size), np.float32), device)


def get_timestamp_embeddings(audio: Any, model: HearModel):
    """((n_sounds, T, timestamp_embedding_size) float32, (n_sounds, T) float32 centres in ms)."""
    arr, device = _signals(audio)
    embs, stamps = [], []
    for y in arr:
        feats = model.extractor.extract(y, model.sample_rate)
        frames = np.asarray(feats.frames, np.float32)
        embs.append(frames.reshape(len(frames), -1))
        stamps.append(((np.asarray(feats.start_s) + np.asarray(feats.end_s)) / 2 * 1000.0).astype(np.float32))
    if not embs:
        return (_tensor(np.empty((0, 0, model.timestamp_embedding_size), np.float32), device),
                _tensor(np.empty((0, 0), np.float32), device))
    return _tensor(np.stack(embs), device), _tensor(np.stack(stamps), device)
