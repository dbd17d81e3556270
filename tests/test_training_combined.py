"""Combined feature sets (``train.combine``): two stores joined by track id, names prefixed by
set, groups kept, frames joined by window; the DVC stage declares what it reads and imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.helpers.contract import REPO, stages, undeclared_imports, undeclared_params  # noqa: E402
from tests.helpers.synthetic_data import FEW_TRACKS, make_run  # noqa: E402

from moodflow.core.errors import SettingsError  # noqa: E402
from moodflow.stores.feature_store import FeatureStoreWriter, StoreMismatchError  # noqa: E402
from moodflow.stores.grid import frame_grid  # noqa: E402
from moodflow.train.combined import CombinedStore, open_features, parts  # noqa: E402
from moodflow.train.run import train_and_evaluate  # noqa: E402

PROTOCOL = {"kind": "kfold", "folds": 3, "repeats": 1}


def extra_store(path: Path, ids: list[str], duration_s: float = 20.0, failed: str | None = None) -> Path:
    """A second store ("chords"-like, 3 grouped columns) over ``ids``, in the given order;
    ``failed`` gets a NaN row. Frames cover only the first 30 windows of each track."""
    start, end = frame_grid(duration_s)
    start, end = start[:30], end[:30]
    rng = np.random.default_rng(1)
    with FeatureStoreWriter(path, feature_names=["key_clarity", "key_is_minor", "chord_change_rate_per_s"],
                            frame_shape=(2,), extractor="extra", extractor_version="2", config={"k": 1},
                            dataset="synthetic", sample_rate=22050, frame_names=["a", "b"],
                            feature_groups=["key clarity", "mode", "chord dynamics"]) as writer:
        for tid in ids:
            static = np.full(3, np.nan) if tid == failed else rng.normal(size=3)
            writer.append(tid, duration_s, static, rng.normal(size=(len(start), 2)), start, end)
    return path


@pytest.fixture
def pair(tmp_path):
    store, prepared = make_run(tmp_path / "data", n_tracks=24, n_feat=4)
    ids = [f"t{i:03d}" for i in range(24)]
    extra_ids = ids[::-1][:20]  # reversed order, t000…t003 missing
    return store, extra_store(tmp_path / "extra.h5", extra_ids, failed="t010"), prepared


def test_join_by_track_id_with_prefixed_names_and_groups(pair):
    a, b, _ = pair
    with open_features([a, b], "synthetic+extra") as store:
        assert isinstance(store, CombinedStore)
        assert store.ids == [f"t{i:03d}" for i in range(4, 24)]  # the first store's order
        assert store.feature_names == [f"synthetic/f{j}" for j in range(4)] + [
            "extra/key_clarity", "extra/key_is_minor", "extra/chord_change_rate_per_s"]
        assert store.feature_groups[:4] == [f"synthetic/f{j}" for j in range(4)]
        assert store.feature_groups[4:] == ["extra/key clarity", "extra/mode", "extra/chord dynamics"]
        X = store.static()
        assert X.shape == (20, 7)
        failed = store.ids.index("t010")
        assert np.isnan(X[failed]).all() and np.isfinite(np.delete(X, failed, axis=0)).all()
        from moodflow.stores.feature_store import FeatureStore

        with FeatureStore(a) as sa, FeatureStore(b) as sb:
            np.testing.assert_array_equal(X[0], np.concatenate([sa.static(["t004"])[0], sb.static(["t004"])[0]]))
            values, start, end = store.frames("t004")
            va, st_a, _ = sa.frames("t004")
            vb, _, _ = sb.frames("t004")
        assert values.shape == (30, 6) and np.array_equal(start, st_a[:30])
        np.testing.assert_array_equal(values, np.hstack([va[:30], vb]))
        assert store.frame_shape == (6,)
        assert store.attrs["extractor"] == "synthetic+extra" and store.attrs["extractor_version"] == "1+2"
        assert store.attrs["config"]["extra"] == {"k": 1}


def test_a_store_of_another_set_is_refused(pair):
    a, b, _ = pair
    with pytest.raises(StoreMismatchError, match="not 'extra'"):
        open_features([a, a], "synthetic+extra")
    with pytest.raises(ValueError, match="2 part"):
        open_features([a], "synthetic+extra")
    with pytest.raises(ValueError, match="distinct sets"):
        parts("chords+chords")


def test_a_model_trains_on_the_combined_pair(pair, tmp_path):
    a, b, prepared = pair
    out = tmp_path / "models" / "synthetic+extra" / "ridge"
    metrics = train_and_evaluate(**FEW_TRACKS, store_path=[a, b], prepared_dir=prepared,
                                 feature_set="synthetic+extra", model_name="ridge", model_config={},
                                 protocol=PROTOCOL, seed=0, out_dir=out, dynamic=True)
    manifest = json.loads((out / "model.json").read_text())
    assert manifest["feature_set"] == "synthetic+extra" and manifest["n_features"] == 7
    assert manifest["feature_extractor"] == "synthetic+extra"
    predictions = pd.read_csv(out / "predictions.csv", dtype={"track_id": str})
    static_ids = set(predictions.loc[predictions["task"] == "static", "track_id"])
    assert static_ids == {f"t{i:03d}" for i in range(4, 24)} - {"t010"}  # joined, failed one out
    dynamic = predictions[predictions["task"] == "dynamic"]
    assert set(dynamic["track_id"]) == {f"t{i:03d}" for i in range(4, 24)}
    assert dynamic["time_s"].max() < frame_grid(20.0)[1][29]  # only windows both stores have
    importance = pd.read_csv(out / "importance.csv")
    assert set(importance["name"]) >= {"extra/key_clarity", "synthetic/f0"}
    assert metrics["static"]["valence"]["n_tracks"] == 19


def test_check_refuses_a_combination_of_unbuilt_sets():
    from moodflow.check.names import check_names

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    ok = {**params, "train": {**params["train"], "combine": {"base": ["compare"], "add": ["chroma"]}}}
    check_names(ok)
    for combine, message in (({"base": ["compare"], "add": ["chords"]}, "'chords', which features.sets does not"),
                             ({"base": ["compare"], "add": ["compare"]}, "in both base and add"),
                             ({"base": ["compar"], "add": []}, r"did you mean 'compare'")):
        with pytest.raises(SettingsError, match=message):
            check_names({**params, "train": {**params["train"], "combine": combine}})


def test_the_stage_declares_what_it_reads_and_imports(pair, tmp_path):
    """dvc.yaml's train_combined stage, expanded for compare × chords: its imports lie in its
    deps; run on the synthetic pair with tracing, every key it reads is a declared param."""
    a, b, prepared = pair
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["train"]["combine"] = {"base": ["compare"], "add": ["chords"]}
    combined = [s for s in stages(REPO, params) if s.name.startswith("train_combined@")]
    assert [s.name for s in combined] == [f"train_combined@compare-chords-{m}" for m in params["train"]["models"]]
    stage = combined[0]
    assert undeclared_imports(stage) == []
    assert "features/compare.h5" in stage.deps and "features/chords.h5" in stage.deps
    params["train"].update(min_train=2, min_test=1, min_per_class=1, protocol=PROTOCOL,
                           importance={"repeats": 0, "max_features": 300})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = dict(os.environ, PYTHONPATH=str(REPO), MOODFLOW_TRACE_PARAMS=str(tmp_path / "traces"))
    subprocess.run([sys.executable, str(REPO / "stages" / "train.py"), "synthetic+extra", "ridge", str(prepared),
                    str(a), str(tmp_path / "m"), "--join", str(b)], cwd=tmp_path, env=env, check=True,
                   capture_output=True)
    read = set().union(*(json.loads(p.read_text())["read"] for p in (tmp_path / "traces").glob("*.json")))
    assert read and undeclared_params(read, stage.params) == []
    assert json.loads((tmp_path / "m" / "model.json").read_text())["n_features"] == 7


def test_predict_refuses_a_combined_model_in_one_line(pair, tmp_path):
    from moodflow.app.predict import PredictError, Predictor

    a, b, prepared = pair
    out = tmp_path / "models" / "synthetic+extra" / "ridge"
    train_and_evaluate(**FEW_TRACKS, store_path=[a, b], prepared_dir=prepared, feature_set="synthetic+extra",
                       model_name="ridge", model_config={}, protocol=PROTOCOL, seed=0, out_dir=out,
                       importance={"repeats": 0, "max_features": 300})
    # predict runs every part's extractor (tests/test_fusion_predict.py); these are made up: one line naming it
    with pytest.raises(PredictError, match=r"synthetic\+extra/ridge: features.sets: unknown feature set 'synthetic'"):
        Predictor(out, mood_tags=False)


def test_the_report_lists_the_combined_set(pair, tmp_path):
    from moodflow.report.run import write_report

    a, b, prepared = pair
    train_and_evaluate(**FEW_TRACKS, store_path=[a, b], prepared_dir=prepared, feature_set="synthetic+extra",
                       model_name="ridge", model_config={}, protocol=PROTOCOL, seed=0,
                       out_dir=tmp_path / "models" / "synthetic+extra" / "ridge", importance={"repeats": 0, "max_features": 300})
    params = {"dataset": {"name": "synthetic"}, "features": {"sets": ["synthetic"]},
              "train": {"models": ["ridge"], "protocol": PROTOCOL, "seed": 0,
                        "combine": {"base": ["synthetic"], "add": ["extra"]}}}
    report = write_report(params, tmp_path / "models", tmp_path / "reports")
    assert report["synthetic+extra"]["ridge"]["valence"]["r2"] is not None
    text = (tmp_path / "reports" / "comparison.md").read_text()
    assert "feature sets: synthetic, synthetic+extra" in text and "synthetic/ridge" in text  # not trained: listed


def test_a_layered_set_joins_as_a_flat_vector(tmp_path):
    """mert+chords: MERT's (layers, dim) frames are flattened beside the other set's columns."""
    store, prepared = make_run(tmp_path / "data", n_tracks=24, layered=(3, 4))
    ids = [f"t{i:03d}" for i in range(24)]
    extra = extra_store(tmp_path / "extra.h5", ids)
    with open_features([store, extra], "synthetic+extra") as joined:
        assert joined.frame_shape == (14,) and len(joined.feature_names) == 15
        values, start, _ = joined.frames("t005")
        assert values.shape == (30, 14) and len(start) == 30
    out = tmp_path / "m"
    train_and_evaluate(**FEW_TRACKS, store_path=[store, extra], prepared_dir=prepared, feature_set="synthetic+extra",
                       model_name="ridge", model_config={}, protocol=PROTOCOL, seed=0, out_dir=out, dynamic=True,
                       importance={"repeats": 0, "max_features": 300})
    manifest = json.loads((out / "model.json").read_text())
    assert manifest["frame_shape"] == [14] and manifest["data"]["input_shape"] is None
