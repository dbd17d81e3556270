"""Classical models: every task, save/load without pickle, inner-CV search."""

import zipfile

import numpy as np
import pytest

from moodflow.models import MODELS
from moodflow.models.safe_load import UntrustedModelError

SMALL = {"random_forest": {"n_estimators": 20}, "xgboost": {"n_estimators": 30}, "knn": {"n_neighbors": 5},
         "ridge": {"alpha": 1.0}, "svm": {}}


def _data(task, n=80, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    X[rng.random(X.shape) < 0.02] = np.nan  # imputation must cope
    Y = np.column_stack([np.nan_to_num(X[:, 0]) + 0.1 * rng.normal(size=n), np.nan_to_num(X[:, 1])])
    if task == "classification":
        return X, (Y[:, 0] > 0).astype(int) + 2 * (Y[:, 1] > 0).astype(int)
    if task == "tagging":
        return X, (Y > 0).astype(float)
    return X, Y


@pytest.mark.parametrize("name", ["ridge", "svm", "random_forest", "knn", "xgboost"])
@pytest.mark.parametrize("task", ["regression", "classification", "tagging"])
def test_fit_predict_save_load(name, task, tmp_path):
    X, Y = _data(task)
    model = MODELS.get(name)(task, SMALL[name], seed=0).fit(X[:60], Y[:60])
    pred = model.predict(X[60:])
    if task == "regression":
        assert pred.shape == (20, 2)
        assert np.corrcoef(pred[:, 0], Y[60:, 0])[0, 1] > 0.5
    elif task == "classification":
        assert pred.shape == (20, 4)
        assert (model.predict_classes(X[60:]) == Y[60:]).mean() > 0.4  # chance is 0.25
    else:
        assert pred.shape == (20, 2)
    model.save(tmp_path)
    again = MODELS.get(name).load(tmp_path, task, SMALL[name])
    np.testing.assert_allclose(again.predict(X[60:]), pred, rtol=1e-6, atol=1e-9)
    if name == "xgboost":
        assert (tmp_path / "model.ubj").exists() and not (tmp_path / "model.skops").exists()


def test_dynamic_task_is_regression_on_frames():
    X, Y = _data("regression")
    model = MODELS.get("ridge")("dynamic", {}).fit(X, Y, groups=np.repeat(np.arange(8), 10))
    assert model.predict(X).shape == (80, 2)


def test_pickle_is_refused(tmp_path):
    import pickle

    (tmp_path / "model.skops").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(UntrustedModelError, match="not a skops"):
        MODELS.get("ridge").load(tmp_path, "regression", {})
    with zipfile.ZipFile(tmp_path / "model.skops", "w") as zf:
        zf.writestr("schema.json", '{"__class__": "Popen", "__module__": "subprocess"}')
    with pytest.raises(UntrustedModelError):
        MODELS.get("ridge").load(tmp_path, "regression", {})


def test_xgboost_stops_early_and_gives_the_same_booster_on_any_number_of_threads(tmp_path):
    X, Y = _data("classification", n=300)
    cfg = {"n_estimators": 400, "learning_rate": 0.3, "early_stopping_rounds": 5}
    stopped = MODELS.get("xgboost")("classification", {**cfg, "refit": False}, seed=0).fit(X, Y)
    est = stopped.pipeline.steps[-1][1]
    best = est.best_iteration
    assert best < 100 and est.get_booster().num_boosted_rounds() == best + 6  # 5 rounds of patience
    boosters = []
    for jobs in (1, 2):
        model = MODELS.get("xgboost")("classification", cfg, seed=0, n_jobs=jobs).fit(X, Y)
        assert model.pipeline.steps[-1][1].get_booster().num_boosted_rounds() == best + 1  # refit on all rows
        (tmp_path / str(jobs)).mkdir()
        model.save(tmp_path / str(jobs))
        boosters.append((tmp_path / str(jobs) / "model.ubj").read_bytes())
        again = MODELS.get("xgboost").load(tmp_path / str(jobs), "classification", cfg)
        np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert boosters[0] == boosters[1]
    (tmp_path / "stopped").mkdir()
    stopped.save(tmp_path / "stopped")  # without refit the best round is kept through saving
    np.testing.assert_array_equal(MODELS.get("xgboost").load(tmp_path / "stopped", "classification", cfg).predict(X),
                                  stopped.predict(X))
    full = MODELS.get("xgboost")("classification", {**cfg, "early_stopping_rounds": 0}, seed=0).fit(X, Y)
    assert full.pipeline.steps[-1][1].get_booster().num_boosted_rounds() == 400


def test_xgboost_inner_split_keeps_songs_and_classes_whole():
    model = MODELS.get("xgboost")("dynamic", {}, seed=0)
    groups = np.repeat(np.arange(30), 5)
    tr, va = model._inner_split(np.zeros((150, 2)), groups)
    assert not set(groups[tr]) & set(groups[va]) and len(va) > 0
    clf = MODELS.get("xgboost")("classification", {}, seed=0)
    y = np.repeat([0, 1, 2, 3], 25)
    tr, va = clf._inner_split(y, None)
    assert set(y[tr]) == set(y[va]) == {0, 1, 2, 3}
    assert clf._inner_split(np.array([0] * 39 + [1]), None) is None  # a class of one row: all rows, all rounds
