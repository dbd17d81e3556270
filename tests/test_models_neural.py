"""Neural heads: they learn, are seeded, pick layers, and round-trip through safetensors."""

import numpy as np
import pytest

from moodflow.models import MODELS

FAST = {"epochs": 40, "hidden": 32, "patience": 8, "lr": 3e-3, "device": "cpu"}


def _linear(n=200, width=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, width))
    return X, np.column_stack([X[:, 0] - X[:, 1], X[:, 2]])


def test_mlp_learns_and_is_seeded(tmp_path):
    X, Y = _linear()
    a = MODELS.get("mlp")("regression", FAST, seed=3).fit(X[:150], Y[:150])
    b = MODELS.get("mlp")("regression", FAST, seed=3).fit(X[:150], Y[:150])
    pred = a.predict(X[150:])
    np.testing.assert_array_equal(pred, b.predict(X[150:]))
    assert np.corrcoef(pred[:, 0], Y[150:, 0])[0, 1] > 0.8
    a.save(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and (tmp_path / "network.json").exists()
    np.testing.assert_allclose(MODELS.get("mlp").load(tmp_path, "regression", FAST).predict(X[150:]), pred, rtol=1e-5)


def test_mlp_picks_one_layer_or_mixes_layers():
    rng = np.random.default_rng(1)
    L, D = 4, 6
    X = rng.normal(size=(240, L, D))
    y = X[:, 2, 0:1] * 2.0  # only layer 2 carries the label
    flat = X.reshape(len(X), -1)
    shape = {"input_shape": [L, D]}
    good = MODELS.get("mlp")("regression", {**FAST, "layers": [2]}, **shape).fit(flat[:180], y[:180])
    bad = MODELS.get("mlp")("regression", {**FAST, "layers": [0]}, **shape).fit(flat[:180], y[:180])
    mix = MODELS.get("mlp")("regression", {**FAST, "epochs": 150}, **shape).fit(flat[:180], y[:180])
    r = lambda m: np.corrcoef(m.predict(flat[180:])[:, 0], y[180:, 0])[0, 1]  # noqa: E731
    assert r(good) > 0.8 and r(bad) < 0.4 and r(good) > r(bad)
    weights = mix.net.inp[1].weights.detach().softmax(0).numpy()
    assert weights.argmax() == 2
    with pytest.raises(ValueError, match="layered"):
        MODELS.get("mlp")("regression", {**FAST, "layers": [0]}).fit(flat, y)


def test_mlp_classification_and_tagging():
    X, Y = _linear()
    y = (Y[:, 0] > 0).astype(int) + 2 * (Y[:, 1] > 0).astype(int)
    clf = MODELS.get("mlp")("classification", FAST, n_classes=4).fit(X[:150], y[:150])
    proba = clf.predict(X[150:])
    assert proba.shape == (50, 4) and np.allclose(proba.sum(1), 1)
    assert (clf.predict_classes(X[150:]) == y[150:]).mean() > 0.6
    tags = MODELS.get("mlp")("tagging", FAST).fit(X[:150], (Y[:150] > 0).astype(float))
    assert tags.predict(X[150:]).shape == (50, 2)


@pytest.mark.parametrize("arch", ["lstm", "attention"])
def test_seq_learns_frame_curves(arch, tmp_path):
    rng = np.random.default_rng(0)
    X, Y = [], []
    for _ in range(24):
        T = int(rng.integers(12, 18))
        x = np.cumsum(rng.normal(size=(T, 3)), axis=0) * 0.3
        X.append(x)
        Y.append(np.column_stack([x[:, 0], x[:, 1] - x[:, 2]]))
    params = {"arch": arch, "epochs": 30, "hidden": 16, "lr": 5e-3, "batch_size": 4, "device": "cpu"}
    model = MODELS.get("seq")("dynamic", params, seed=0).fit(X[:18], Y[:18])
    pred = model.predict(X[18:])
    assert [p.shape for p in pred] == [y.shape for y in Y[18:]]
    r = np.corrcoef(np.concatenate(pred)[:, 0], np.concatenate(Y[18:])[:, 0])[0, 1]
    assert r > 0.7
    model.save(tmp_path)
    again = MODELS.get("seq").load(tmp_path, "dynamic", params).predict(X[18:])
    np.testing.assert_allclose(again[0], pred[0], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="does not do"):
        MODELS.get("seq")("regression", params)


def test_multitask_trains_on_partial_labels(tmp_path):
    X, Y = _linear(n=240)
    reg = Y.copy()
    reg[::3] = np.nan  # a third of the tracks lack valence/arousal
    cls = (Y[:, 0] > 0).astype(int)
    cls[1::3] = -1
    tags = (Y > 0).astype(float)
    labels = {"regression": reg[:180], "classification": cls[:180], "tagging": tags[:180]}
    model = MODELS.get("multitask")("regression", FAST, n_classes=2).fit(X[:180], labels)
    out = model.predict_all(X[180:])
    assert set(out) == {"regression", "classification", "tagging"}
    assert np.corrcoef(out["regression"][:, 0], Y[180:, 0])[0, 1] > 0.7
    assert (out["classification"].argmax(1) == (Y[180:, 0] > 0)).mean() > 0.7
    np.testing.assert_array_equal(model.predict(X[180:]), out["regression"])
    model.save(tmp_path)
    again = MODELS.get("multitask").load(tmp_path, "regression", FAST).predict_all(X[180:])
    np.testing.assert_allclose(again["tagging"], out["tagging"], rtol=1e-5)
