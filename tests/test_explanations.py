"""Held-out feature importance and attention over time (moodflow.train.importance, the seq
head's attention, the report's Explanations section)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.helpers.synthetic_data import FEW_TRACKS, make_run

from moodflow.core.config import build
from moodflow.evaluation.protocols import make_folds
from moodflow.models import MODELS
from moodflow.models.base import ModelRecipe
from moodflow.report.run import write_report
from moodflow.train.crossval import cross_validate
from moodflow.train.importance import Explainer
from moodflow.train.problems import ColumnsProblem
from moodflow.train.run import train_and_evaluate


def _problem(n=60):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 6))
    Y = np.column_stack([3 * X[:, 0] + 0.1 * rng.normal(size=n), X[:, 4] - X[:, 5]])
    return ColumnsProblem("regression", X, Y, np.array([f"t{i:02d}" for i in range(n)]), ["valence", "arousal"])


NAMES = ["a0", "a1", "b2", "b3", "c4", "c5"]
GROUPS = ["A/a0", "A/a1", "B/b2", "B/b3", "C/c4", "C/c5"]


@pytest.mark.parametrize("name", ["ridge", "xgboost"])
def test_permutation_importance_finds_what_the_labels_depend_on(name):
    problem = _problem()
    folds = make_folds(problem.track_ids, kind="kfold", folds=3, seed=0).folds
    recipe = ModelRecipe(name, build(MODELS.get(name).Config, {"n_estimators": 50} if name == "xgboost" else {},
                                     f"train.{name}"))
    result = cross_validate(recipe, problem, folds, seed=0, jobs=1, explainer=Explainer(NAMES, GROUPS, repeats=4))
    imp = result.importance
    perm = imp[imp["method"] == "permutation"].set_index(["level", "target", "name"])["mean"]
    assert perm[("feature", "valence", "a0")] > 0.5 > max(abs(perm[("feature", "valence", n)]) for n in NAMES[1:])
    assert perm[("family", "arousal", "C")] > 0.3 > abs(perm[("family", "arousal", "A")])
    assert (imp.groupby(["method", "level", "name", "target"])["n"].first() == 12).all() or name == "xgboost"
    if name == "xgboost":
        contribs = imp[imp["method"] == "contribs"].set_index(["target", "name"])["mean"]
        assert contribs[("valence", "a0")] == contribs.xs("valence").max()
    again = cross_validate(recipe, problem, folds, seed=0, jobs=2, explainer=Explainer(NAMES, GROUPS, repeats=4))
    assert again.importance.to_csv(index=False) == imp.to_csv(index=False)  # recomputes, on any core count


def test_many_columns_are_explained_by_descriptor_not_one_by_one():
    names = [f"f{j}" for j in range(40)]
    groups = [f"fam{j % 2}/desc{j % 4}" for j in range(40)]
    units = Explainer(names, groups, max_features=10).units()
    assert set(units["family"]) == {"fam0", "fam1"} and set(units["feature"]) == {"desc0", "desc1", "desc2", "desc3"}
    assert Explainer(names, None, max_features=10).units() == {}


def test_model_folder_and_report_explain_the_model(tmp_path):
    store, prepared = make_run(tmp_path, n_tracks=24)
    for model, config in (("ridge", {}), ("seq", {"arch": "attention", "epochs": 15, "hidden": 16})):
        train_and_evaluate(store_path=store, prepared_dir=prepared, feature_set="synthetic", model_name=model,
                           model_config=config, protocol={"kind": "kfold", "folds": 3}, seed=0, dynamic=True,
                           out_dir=tmp_path / f"models/synthetic/{model}", jobs=1, **FEW_TRACKS)
    imp = pd.read_csv(tmp_path / "models/synthetic/ridge/importance.csv")
    assert list(imp.columns) == ["method", "level", "name", "target", "mean", "std", "n"]
    assert set(imp["target"]) == {"valence", "arousal"} and set(imp["level"]) == {"feature"}  # no groups: per column
    att = pd.read_csv(tmp_path / "models/synthetic/seq/attention.csv", dtype={"track_id": str})
    assert np.allclose(att.groupby(["track_id", "fold"])["weight"].sum(), 1.0, atol=1e-4)
    n_songs = json.loads((tmp_path / "models/synthetic/seq/model.json").read_text())["tasks"]["dynamic"]["n_tracks"]
    assert att["track_id"].nunique() == n_songs == 24  # every song, once held out
    params = {"dataset": {"name": "synthetic"}, "features": {"sets": ["synthetic"]},
              "train": {"models": ["ridge", "seq"], "protocol": {"kind": "kfold", "folds": 3}, "seed": 0}}
    write_report(params, tmp_path / "models", tmp_path / "reports")
    md = (tmp_path / "reports/comparison.md").read_text()
    assert "## Explanations" in md and "importance_synthetic-ridge.png" in md and "attention_synthetic-seq.png" in md
    for png in ("importance_synthetic-ridge.png", "attention_synthetic-seq.png"):
        assert (tmp_path / "reports/figures" / png).read_bytes()[:4] == b"\x89PNG"
