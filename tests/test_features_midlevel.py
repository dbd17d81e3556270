"""Mid-level descriptors against the demo's known generating parameters (40 clips of 6 s)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from moodflow.datasets.demo import clip_params, render_clip
from moodflow.features import build_extractor

SR = 22050


@pytest.fixture(scope="module")
def table():
    ex = build_extractor("midlevel", {}, {})
    rows, frames = [], []
    for i in range(40):
        p = clip_params(0, i)
        feats = ex.extract(render_clip(p, 6.0, SR), SR)
        rows.append([p.tempo_bpm, float(p.major), p.articulation, p.consonance, *feats.static])
        frames.append(feats)
    return ex, np.array(rows), frames


@pytest.mark.parametrize("parameter, feature, sign", [
    ("tempo_bpm", "onset_rate", 1), ("major", "minorness", -1),
    ("articulation", "sustain", 1), ("consonance", "dissonance", -1),
])
def test_each_descriptor_follows_its_musical_parameter(table, parameter, feature, sign):
    ex, rows, _ = table
    params = ["tempo_bpm", "major", "articulation", "consonance"]
    rho = spearmanr(rows[:, params.index(parameter)], rows[:, 4 + ex.feature_names().index(feature)]).statistic
    assert sign * rho >= 0.7, f"{feature} vs {parameter}: Spearman {rho:.2f}"


def test_frames_are_on_the_grid_and_named(table):
    ex, _, frames = table
    feats = frames[0]
    assert feats.frames.shape == (len(feats.start_s), len(ex.frame_names())) == (11, 5)
    assert np.allclose(feats.end_s - feats.start_s, 1.0) and np.allclose(np.diff(feats.start_s), 0.5)
    assert np.isfinite(feats.frames).all()


def test_silence_is_nan_not_a_number():
    feats = build_extractor("midlevel", {}, {}).extract(np.zeros(3 * SR, np.float32), SR)
    assert np.isnan(feats.static).all() and len(feats.frames) == 0
