"""Model selection inside each training fold, and folds on several cores: what is searched,
that the held-out tracks never reach the search, and that cores do not change results."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.helpers.synthetic_data import FEW_TRACKS, make_run

from moodflow.core.config import build
from moodflow.core.errors import SettingsError
from moodflow.evaluation.protocols import make_folds
from moodflow.models import MODELS
from moodflow.models.base import ModelRecipe
from moodflow.train import crossval
from moodflow.train.crossval import cross_validate
from moodflow.train.problems import ColumnsProblem
from moodflow.train.run import train_and_evaluate
from moodflow.train.tuning import candidates, search_space, tune


def _problem(n=60, seed=0) -> ColumnsProblem:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8))
    Y = np.column_stack([X[:, 0] * 2 + 0.1 * rng.normal(size=n), X[:, 1] - X[:, 2]])
    return ColumnsProblem("regression", X, Y, np.array([f"t{i:03d}" for i in range(n)]), ["valence", "arousal"])


def _recipe(name, **settings):
    return ModelRecipe(name, build(MODELS.get(name).Config, settings, f"train.{name}"))


def test_search_picks_the_better_setting_and_records_every_candidate():
    problem = _problem()
    chosen, records = tune(_recipe("ridge", search={"alpha": [10000.0, 0.01]}), problem, np.arange(60),
                           seed=0, tune_defaults=False, fold="r0f0")
    assert chosen.config.alpha == 0.01 and chosen.config.search == {}
    assert [json.loads(r["settings"]) for r in records] == [{"alpha": 10000.0}, {"alpha": 0.01}]
    assert [r["chosen"] for r in records] == [False, True]
    assert records[1]["inner_score"] > 0.9 > records[0]["inner_score"]


def test_a_bad_search_setting_is_named():
    with pytest.raises(SettingsError, match=r"^train.svm.search.nonsense: unknown setting"):
        tune(_recipe("svm", search={"nonsense": [1]}), _problem(), np.arange(60), seed=0, tune_defaults=False,
             fold="x")


def test_random_search_draws_the_asked_number_of_candidates_reproducibly():
    space = {"C": [0.1, 1, 10, 100], "gamma": [0.001, 0.01, 0.1]}
    drawn = candidates(space, 5, seed=3)
    assert len(drawn) == 5 and drawn == candidates(space, 5, seed=3) and len(candidates(space, 0, 3)) == 12


@pytest.mark.parametrize("name", MODELS.names())
def test_every_model_documents_ranges_that_are_its_own_settings(name):
    cls = MODELS.get(name)
    assert cls.default_search, f"{name} has no default search ranges"
    assert search_space(_recipe(name), tune=True) == cls.default_search
    assert search_space(_recipe(name), tune=False) == {}
    for settings in candidates(cls.default_search, 0, 0):  # every candidate is a valid setting
        build(cls.Config, settings, f"train.{name}")


def test_held_out_tracks_never_reach_the_search(monkeypatch):
    """Leak detector: every fit made while a fold runs (inner candidates and the fold's model)
    sees only that fold's training tracks."""
    problem = _problem()
    folds = make_folds(problem.track_ids, kind="kfold", folds=4, seed=0).folds
    seen: dict[str, set] = {}
    current = {}
    real_fold, real_fit = crossval._one_fold, ColumnsProblem.fit

    def one_fold(recipe, prob, fold, *args):
        current["fold"] = fold
        return real_fold(recipe, prob, fold, *args)

    def fit(self, model, rows):
        seen.setdefault(current["fold"].name, set()).update(self.track_ids[rows])
        return real_fit(self, model, rows)

    monkeypatch.setattr(crossval, "_one_fold", one_fold)
    monkeypatch.setattr(ColumnsProblem, "fit", fit)
    predictions, tuning, *_ = cross_validate(_recipe("ridge"), problem, folds, seed=0, jobs=1, tune_defaults=True)
    assert len(tuning) == 4 * len(MODELS.get("ridge").default_search["alpha"])
    for fold in folds:
        assert seen[fold.name] == set(fold.train)  # everything fitted on, and nothing held out
        assert not seen[fold.name] & set(fold.test)
    assert set(predictions["track_id"]) == set(problem.track_ids)


@pytest.mark.parametrize("name", ["ridge", "random_forest", "mlp"])
def test_folds_on_two_cores_give_the_same_bytes_as_one(name):
    problem = _problem(n=40)
    folds = make_folds(problem.track_ids, kind="kfold", folds=4, seed=0).folds
    params = {"epochs": 20, "hidden": 16} if name == "mlp" else ({"n_estimators": 20} if name != "ridge" else {})
    one, *_ = cross_validate(_recipe(name, **params), problem, folds, seed=0, jobs=1)
    two, *_ = cross_validate(_recipe(name, **params), problem, folds, seed=0, jobs=2)
    assert one.to_csv(index=False) == two.to_csv(index=False)


def test_tuning_is_saved_per_fold_in_the_model_folder(tmp_path):
    store, prepared = make_run(tmp_path, n_tracks=24, dynamic=False)
    out = tmp_path / "model"
    train_and_evaluate(**FEW_TRACKS, store_path=store, prepared_dir=prepared, feature_set="synthetic",
                       model_name="ridge", model_config={"search": {"alpha": [0.1, 100.0]}},
                       protocol={"kind": "kfold", "folds": 3}, seed=0, out_dir=out, jobs=1)
    table = pd.read_csv(out / "tuning.csv")
    assert sorted(table["fold"].unique()) == ["all", "r0f0", "r0f1", "r0f2"]
    assert (table.groupby("fold")["chosen"].sum() == 1).all()
    manifest = json.loads((out / "model.json").read_text())
    chosen = json.loads(table[(table["fold"] == "all") & table["chosen"]]["settings"].item())
    assert manifest["params"]["search"] == {"alpha": [0.1, 100.0]} and chosen["alpha"] in (0.1, 100.0)
