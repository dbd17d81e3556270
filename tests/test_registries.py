"""One contract for every registered dataset adapter and feature extractor (as
tests/test_all_models_demo.py is for models): documented, configurable, and consistent on
real inputs."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tests.helpers.signals import tone
from tests.helpers.real_data import SHARED, needs_shared

from moodflow.core.config import defaults
from moodflow.datasets import DATASETS
from moodflow.features import EXTRACTORS, build_extractor

# where each adapter's layout is in the team's shared data (the demo makes its own; a folder
# of audio stands in for "folder"; emotify is a miniature written in its authors' format)
SHARED_ROOTS = {"pmemo": "PMEmo2019", "deam": "DEAM", "emomusic": "emoMusic", "fourq": "4Q",
                "jamendo": "MTG-Jamendo", "folder": "emoMusic/clips_45seconds"}
TASKS = {"regression", "classification", "tagging"}


@pytest.mark.parametrize("name", DATASETS.names())
def test_adapter_documents_itself(name):
    cls = DATASETS.get(name)
    module = sys.modules[cls.__module__]
    for constant in ("BIBTEX", "LICENSE_INFO", "LAYOUT", "LABEL_SCALE", "ANNOTATION_GRID"):
        assert hasattr(module, constant), f"{module.__name__} lacks {constant}"
    assert module.__doc__ and module.LICENSE_INFO and module.LAYOUT
    assert isinstance(defaults(cls.Config), dict)


@needs_shared
@pytest.mark.parametrize("name", DATASETS.names())
def test_adapter_prepares_a_consistent_dataset(name, tmp_path):
    config = {"n_clips": 3, "duration_s": 2.0} if name == "demo" else {}
    root = None if name == "demo" else SHARED / SHARED_ROOTS[name] if name in SHARED_ROOTS else None
    if name == "emotify":
        from tests.helpers.minis.emotify import write_emotify

        write_emotify(tmp_path / "emotify", per_genre=2, raters=3)
        root = tmp_path / "emotify"
    prepared = DATASETS.get(name)(root, config).load(tmp_path)
    spec = prepared.spec
    assert len(prepared.manifest) > 0 and prepared.manifest["track_id"].is_unique
    assert spec.task in TASKS
    labels = prepared.static_labels
    wanted = {"regression": spec.static_targets, "classification": [spec.class_column] if spec.class_column else [],
              "tagging": spec.tags}[spec.task]
    assert set(wanted) <= set(labels.columns)
    assert set(labels["track_id"]) <= set(prepared.manifest["track_id"]) or name == "jamendo"
    if spec.task == "regression" and spec.scale and len(labels):
        values = labels[spec.static_targets].to_numpy(float)
        assert np.nanmin(values) >= spec.scale[0] and np.nanmax(values) <= spec.scale[1]
    if prepared.dynamic_labels is not None:
        assert {"track_id", "time_s", *spec.dynamic_targets} <= set(prepared.dynamic_labels.columns)
    prepared.write(tmp_path / "out")  # the prepared tables round-trip
    again = type(prepared).read(tmp_path / "out")
    assert again.spec == spec and len(again.manifest) == len(prepared.manifest)


def _extractor(name, tmp_path):
    if name == "mert":
        pytest.importorskip("transformers")
        from tests.helpers.mert_tiny import tiny_extractor, write_tiny_mert

        return tiny_extractor(write_tiny_mert(tmp_path / "mert"), dtype="float32")
    return build_extractor(name, {}, {})


@pytest.mark.parametrize("name", [n for n in EXTRACTORS.names() if n != "provided"])
def test_extractor_output_matches_its_declared_shape(name, tmp_path):
    """On a 3 s signal: one static value per declared name, frames of the declared shape on the
    shared grid (or the extractor's own windows, MERT), finite, with increasing times."""
    ex = _extractor(name, tmp_path)
    y = tone(220.0, 3.0, 22050, 0.3) + 0.01 * np.random.default_rng(0).standard_normal(3 * 22050).astype(np.float32)
    feats = ex.extract(y, 22050)
    assert feats.static.shape == (len(ex.feature_names()),)
    assert np.isfinite(feats.static).all()
    assert feats.frames.shape[1:] == tuple(ex.frame_shape()) and len(feats.frames) > 0
    assert len(feats.start_s) == len(feats.end_s) == len(feats.frames)
    assert np.all(np.diff(feats.start_s) > 0) and np.all(feats.end_s > feats.start_s)
    names = ex.frame_names()
    if names is not None:
        assert len(names) == feats.frames.shape[1]
    assert ex.config_dict()["grid"] == {"win_s": 1.0, "hop_s": 0.5}


@pytest.mark.parametrize("name", EXTRACTORS.names())
def test_extractor_has_documented_settings(name):
    cls = EXTRACTORS.get(name)
    assert cls.__doc__ and sys.modules[cls.__module__].__doc__
    assert isinstance(defaults(cls.Config), dict)
