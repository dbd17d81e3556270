import numpy as np
import pandas as pd
import pytest

from moodflow.evaluation.protocols import make_folds
from moodflow.models import MODELS


def test_repeated_kfold_partitions_tracks_each_repeat():
    ids = np.array([f"s{i}" for i in range(23)])
    folds = list(make_folds(ids, kind="kfold", folds=5, repeats=3, seed=0))
    assert len(folds) == 15
    for r in range(3):
        tests = np.concatenate([f.test for f in folds if f.name.startswith(f"r{r}f")])
        assert sorted(tests) == sorted(ids)
    for f in folds:
        assert not set(f.train) & set(f.test)
    assert not np.array_equal(folds[0].test, folds[5].test)  # repeats reshuffle


def test_nearby_seeds_share_no_repeat():
    """Repeat r of seed s must not be repeat r-1 of seed s+1 (with seed + r they were), so a few
    seeds show the real spread of a repeated CV; repeat 0 is the single-repeat run."""
    ids = np.array([f"s{i}" for i in range(60)])
    y = np.repeat([0, 1, 2], 20)

    def partitions(seed, repeats):
        run = make_folds(ids, kind="stratified", folds=5, repeats=repeats, seed=seed, classes=y)
        return [frozenset(frozenset(f.test) for f in run.folds if f.name.startswith(f"r{r}f")) for r in range(repeats)]

    one, two = partitions(1, 20), partitions(2, 20)
    assert not set(one) & set(two)
    assert one[0] == partitions(1, 1)[0]


def test_stratified_keeps_class_balance():
    ids = np.array([f"s{i}" for i in range(40)])
    y = np.repeat([0, 1, 2, 3], 10)
    for f in make_folds(ids, kind="stratified", folds=5, repeats=2, seed=1, classes=y):
        counts = pd.Series(y[np.isin(ids, f.test)]).value_counts()
        assert set(counts) == {2}


def test_published_split():
    ids = np.array(["a", "b", "c", "d"])
    splits = pd.DataFrame({"track_id": ["a", "b", "c", "d", "zz"], "split": ["train", "validation", "test", "test", "test"]})
    (fold,) = make_folds(ids, kind="auto", splits=splits)
    assert sorted(fold.train) == ["a", "b"] and sorted(fold.test) == ["c", "d"]


def test_scaler_and_pca_are_fitted_on_the_training_fold_only():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    X[:30] += 100.0  # the first half lives far away: a leak would show in the scaler mean
    y = X[:, 0]
    ids = np.array([f"s{i}" for i in range(60)])
    (fold,) = [f for f in make_folds(ids, kind="kfold", folds=2, seed=0)][:1]
    tr = np.isin(ids, fold.train)
    model = MODELS.get("ridge")("regression", {"pca": 3}).fit(X[tr], y[tr, None])
    clip = model.pipeline.named_steps["clip"]  # the training range, from the training rows only
    np.testing.assert_allclose(clip.data_min_, X[tr].min(axis=0))
    np.testing.assert_allclose(clip.data_max_, X[tr].max(axis=0))
    model = MODELS.get("ridge")("regression", {"pca": 3, "clip": False}).fit(X[tr], y[tr, None])
    scaler = model.pipeline.named_steps["scale"]
    np.testing.assert_allclose(scaler.mean_, X[tr].mean(axis=0))
    assert not np.allclose(scaler.mean_, X.mean(axis=0))
    assert model.pipeline.named_steps["pca"].n_samples_ == tr.sum()


def test_unknown_protocol_is_refused():
    with pytest.raises(ValueError, match="unknown protocol"):
        list(make_folds(np.array(["a", "b", "c"]), kind="loo"))


def test_group_folds_keep_every_group_whole():
    from moodflow.evaluation.protocols import InsufficientData

    ids = np.array([f"t{i}" for i in range(24)])
    groups = np.array([f"artist{i % 6}" for i in range(24)])
    group_of = dict(zip(ids, groups))
    run = make_folds(ids, kind="kfold", folds=3, repeats=2, seed=1, groups=groups)
    assert len(run) == 6 and run.describe()["grouped"] is True
    for fold in run:
        assert not {group_of[t] for t in fold.train} & {group_of[t] for t in fold.test}
    for r in ("r0", "r1"):
        assert sorted(t for f in run if f.name.startswith(r) for t in f.test) == sorted(ids)
    classes = np.array([i % 2 for i in range(24)])
    strat = make_folds(ids, kind="stratified", folds=6, groups=groups, classes=classes)
    assert [len({group_of[t] for t in f.test}) for f in strat] == [1] * 6  # leave-one-group-out
    with pytest.raises(InsufficientData, match="7-fold group CV needs at least 7 groups, this run has 6"):
        make_folds(ids, kind="kfold", folds=7, groups=groups)
    splits = pd.DataFrame({"track_id": ids, "split": ["train"] * 20 + ["test"] * 4})
    with pytest.raises(ValueError, match="the published split has its own partition"):
        make_folds(ids, kind="split", splits=splits, groups=groups)
