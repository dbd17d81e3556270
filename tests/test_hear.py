"""``moodflow.hear``: the HEAR kit's three functions over registered extractors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from moodflow.app import hear


def _audio(n_sounds: int, seconds: float, sample_rate: int) -> torch.Tensor:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    rows = [0.3 * np.sin(2 * np.pi * (220.0 * (i + 1)) * t) + 0.05 * np.sin(2 * np.pi * 3 * t) for i in range(n_sounds)]
    return torch.from_numpy(np.stack(rows).astype(np.float32))


@pytest.mark.parametrize("name, rate", [("musicnn", 16000), ("chroma", 22050)])
def test_shapes_timestamps_and_values(name, rate):
    model = hear.load_model(name)
    assert model.sample_rate == rate
    audio = _audio(2, 4.2, model.sample_rate)
    scene = hear.get_scene_embeddings(audio, model)
    assert scene.dtype == torch.float32 and tuple(scene.shape) == (2, model.scene_embedding_size)
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    # 1 s windows every 0.5 s in 4.2 s: 7 windows, centred at 0.5 s … 3.5 s
    assert tuple(emb.shape) == (2, 7, model.timestamp_embedding_size) and tuple(ts.shape) == (2, 7)
    assert torch.allclose(ts[0], torch.arange(7, dtype=torch.float32) * 500.0 + 500.0) and torch.equal(ts[0], ts[1])
    assert torch.isfinite(scene).all() and torch.isfinite(emb).all()
    direct = model.extractor.extract(audio[1].numpy(), model.sample_rate)
    assert np.array_equal(scene[1].numpy(), direct.static.astype(np.float32))
    assert np.array_equal(emb[1].numpy(), direct.frames.reshape(7, -1).astype(np.float32))
    assert not torch.equal(scene[0], scene[1])  # two different sounds


def test_grid_and_input_checks():
    model = hear.load_model("chroma", grid={"win_s": 0.5, "hop_s": 0.25})
    emb, ts = hear.get_timestamp_embeddings(np.zeros((1, 22050), np.float32) + 0.1, model)
    assert tuple(ts.shape) == (1, 3) and ts[0].tolist() == [250.0, 500.0, 750.0]
    with pytest.raises(ValueError, match="n_sounds, n_samples"):
        hear.get_scene_embeddings(np.zeros(100, np.float32), model)
    with pytest.raises(ValueError, match="not a registered feature set"):
        hear.load_model("vggish")
