"""Knowledge distillation in the multitask model (``train.multitask.distill``): per-dataset
teachers inside every training fold, the student trained on w·KD + (1 − w)·task loss, teachers'
and student's metrics reported, only the student saved, byte-reproducible; and a synthetic
corpus pair on which distillation provably transfers to the small dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import r2_score

from moodflow.models import MODELS
from moodflow.models import distill
from moodflow.prepare.union import union_prepared
from moodflow.stores.feature_store import FeatureStoreWriter
from moodflow.stores.grid import frame_grid
from moodflow.stores.prepared import LabelSpec, PreparedDataset
from moodflow.train import crossval
from moodflow.train.run import train_and_evaluate

N_FEAT = 30
CONFIG = {"hidden": 32, "epochs": 100, "patience": 20, "lr": 3e-3, "distill": {"weight": 0.5, "temperature": 2.0}}
TAGS = ["bright", "dark", "neutral"]


def corpora(seed: int, n_big: int = 200, n_small: int = 24, n_test: int = 300):
    """Two datasets whose labels depend on one hidden property z of the features: the big one
    has mood tags (z above / below / near 0), the small one valence on 1–9 (5 + 2.5·z + noise)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=N_FEAT) / np.sqrt(N_FEAT)

    def draw(n):
        X = rng.normal(size=(n, N_FEAT))
        z = np.tanh(1.5 * X @ w)
        return X, z

    Xa, za = draw(n_big)
    tags = np.stack([za > 0.3, za < -0.3, np.abs(za) <= 0.3], axis=1).astype(float)
    Xb, zb = draw(n_small + n_test)
    valence = 5 + 2.5 * zb + 0.3 * rng.normal(size=len(zb))
    return (Xa, tags), (Xb[:n_small], valence[:n_small]), (Xb[n_small:], valence[n_small:])


def _joint_fit(Xa, tags, Xb, vb, seed, weight):
    X = np.vstack([Xa, Xb])
    reg = np.full((len(X), 1), np.nan)
    reg[len(Xa):, 0] = vb
    tag = np.full((len(X), len(TAGS)), np.nan)
    tag[:len(Xa)] = tags
    members = np.array(["big"] * len(Xa) + ["small"] * len(Xb), dtype=object)
    model = MODELS.get("multitask")("regression", {**CONFIG, "distill": {"weight": weight, "temperature": 2.0}}, seed)
    return model.fit(X, {"regression": reg, "tagging": tag}, members=members)


def transfer(seed: int, with_joint: bool = False) -> dict[str, float]:
    """Held-out R² of the small dataset's valence: its own model, the student (and, asked, the
    joint model without distillation)."""
    (Xa, tags), (Xb, vb), (Xt, vt) = corpora(seed)
    single = MODELS.get("multitask")("regression", {**CONFIG, "distill": {"weight": 0.0}}, seed)
    single.fit(Xb, {"regression": vb[:, None]})
    out = {"single": r2_score(vt, single.predict_all(Xt)["regression"][:, 0])}
    for name, weight in ((("joint", 0.0),) if with_joint else ()) + (("student", 0.5),):
        out[name] = r2_score(vt, _joint_fit(Xa, tags, Xb, vb, seed, weight).predict_all(Xt)["regression"][:, 0])
    return out


@pytest.mark.slow  # four network fits per seed (two of them teachers): well over 30 s for the three seeds
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_student_beats_the_small_dataset_s_own_model(seed):
    scores = transfer(seed)
    print(f"seed {seed}: held-out valence R² single {scores['single']:.3f}, student {scores['student']:.3f}")
    assert scores["student"] > scores["single"] + 0.1, scores


def test_off_is_the_plain_model_and_on_changes_it():
    (Xa, tags), (Xb, vb), (Xt, _) = corpora(0, n_big=60, n_small=20, n_test=10)
    plain = MODELS.get("multitask")("regression", {**CONFIG, "epochs": 5, "distill": {"weight": 0.0}}, 0)
    X = np.vstack([Xa, Xb])
    reg = np.full((len(X), 1), np.nan)
    reg[len(Xa):, 0] = vb
    tag = np.full((len(X), 3), np.nan)
    tag[:len(Xa)] = tags
    labels = {"regression": reg, "tagging": tag}
    members = np.array(["big"] * len(Xa) + ["small"] * len(Xb), dtype=object)
    a = plain.fit(X, labels).predict_all(Xt)
    off = MODELS.get("multitask")("regression", {**CONFIG, "epochs": 5, "distill": {"weight": 0.0}}, 0)
    b = off.fit(X, labels, members=members).predict_all(Xt)
    on = MODELS.get("multitask")("regression", {**CONFIG, "epochs": 5}, 0)
    c = on.fit(X, labels, members=members).predict_all(Xt)
    assert all(np.array_equal(a[k], b[k]) for k in a) and not off.teachers
    assert set(on.teachers) == {"big", "small"} and not np.allclose(a["regression"], c["regression"])


def test_the_kd_losses():
    import torch

    s = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    assert float(distill.kd_loss("tagging", s, s.clone(), 2.0)) == pytest.approx(0.0, abs=1e-7)
    assert float(distill.kd_loss("classification", s, s.clone(), 2.0)) == pytest.approx(0.0, abs=1e-7)
    t = torch.tensor([[1.0, 0.0], [float("nan"), float("nan")]])  # row 2: no teacher, left out
    assert float(distill.kd_loss("regression", s, t, 2.0)) == pytest.approx(((0 - 1) ** 2 + (1 - 0) ** 2) / 2)
    p_t, p_s = torch.sigmoid(torch.tensor(0.5)), torch.sigmoid(torch.tensor(0.0))
    kl = p_t * torch.log(p_t / p_s) + (1 - p_t) * torch.log((1 - p_t) / (1 - p_s))
    got = distill.kd_loss("tagging", torch.tensor([[0.0]]), torch.tensor([[1.0]]), 2.0)
    assert float(got) == pytest.approx(4 * float(kl), rel=1e-5)


def joint_run(folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """A joint prepared dataset (big: tags, small: valence/arousal on 1-9) and its feature store;
    feature 0 is the track's number, so a test can tell which tracks a fit saw."""
    (Xa, tags), (Xb, vb), _ = corpora(seed, n_big=60, n_small=30, n_test=1)
    parts = []
    for name, X in (("big", Xa), ("small", Xb)):
        ids = [f"{name[0]}{i:03d}" for i in range(len(X))]
        manifest = pd.DataFrame({"track_id": ids, "audio_path": [f"{t}.wav" for t in ids]})
        if name == "big":
            labels = pd.DataFrame(tags.astype(int), columns=TAGS).assign(track_id=ids)
            spec = LabelSpec(task="tagging", tags=TAGS)
        else:
            labels = pd.DataFrame({"track_id": ids, "valence": vb, "arousal": 10 - vb})
            spec = LabelSpec(task="regression", static_targets=["valence", "arousal"], scale=(1.0, 9.0),
                             scale_name="1-9")
        parts.append(PreparedDataset(name, manifest, labels, spec))
    joint = union_prepared(parts)
    joint.write(folder / "prepared")
    start, end = frame_grid(2.0)
    X = np.vstack([Xa, Xb])
    with FeatureStoreWriter(folder / "store.h5", feature_names=["number"] + [f"f{j}" for j in range(N_FEAT)],
                            frame_shape=(N_FEAT + 1,), extractor="synthetic", extractor_version="1", config={},
                            dataset=joint.name, sample_rate=22050) as writer:
        for i, tid in enumerate(joint.manifest["track_id"]):
            row = np.concatenate([[float(i)], X[i]])
            writer.append(tid, 2.0, row, np.repeat(row[None, :], len(start), axis=0), start, end)
    return folder / "store.h5", folder / "prepared"


def _train(store, prepared, out, weight=0.5, **kw):
    return train_and_evaluate(store_path=store, prepared_dir=prepared, feature_set="synthetic", model_name="multitask",
                              model_config={**CONFIG, "epochs": 30, "distill": {"weight": weight, "temperature": 2.0}},
                              protocol={"kind": "kfold", "folds": 3}, seed=0, out_dir=out, min_train=10, min_test=5,
                              jobs=1, importance={"repeats": 0}, **kw)


def test_teachers_never_see_the_fold_s_held_out_tracks(tmp_path, monkeypatch):
    """Leak detector: every teacher fitted while a fold runs saw only that fold's training tracks
    of its own dataset."""
    store, prepared = joint_run(tmp_path)
    ids = PreparedDataset.read(prepared).manifest["track_id"].to_numpy()
    seen: dict[str, list] = {}
    current = {}
    real_fold, real_teachers = crossval._one_fold, distill.train_teachers

    def one_fold(recipe, prob, fold, *args):
        current["fold"] = fold
        try:
            return real_fold(recipe, prob, fold, *args)
        finally:
            current["fold"] = None  # the final refit on every track comes after the folds

    def train_teachers(student, X, labels, members):
        teachers, soft = real_teachers(student, X, labels, members)
        fold = current.get("fold")
        for member in teachers:
            rows = ids[X[np.asarray(members) == member, 0].round().astype(int)]
            seen.setdefault(fold.name if fold else "all", []).append((member, set(rows)))
        return teachers, soft

    monkeypatch.setattr(crossval, "_one_fold", one_fold)
    monkeypatch.setattr("moodflow.models.multitask.train_teachers", train_teachers)
    _train(store, prepared, tmp_path / "model")
    folds = pd.read_csv(tmp_path / "model/predictions.csv", dtype={"track_id": str}).groupby("fold")["track_id"]
    assert len(folds) == 3
    for name, held_out in folds:
        assert {m for m, _ in seen[name]} == {"big", "small"}
        for member, rows in seen[name]:
            assert rows and all(r.startswith(member + "/") for r in rows)
            assert not rows & set(held_out)  # a teacher never sees the fold's test tracks


def test_teachers_and_student_are_reported_the_student_alone_saved_and_reproducible(tmp_path):
    store, prepared = joint_run(tmp_path)
    metrics = _train(store, prepared, tmp_path / "a")
    _train(store, prepared, tmp_path / "b")
    plain = _train(store, prepared, tmp_path / "off", weight=0.0)
    assert set(metrics["teachers"]) == {"big", "small"} and "teachers" not in plain
    assert "r2" in metrics["teachers"]["small"]["static"]["valence"]
    assert "pr_auc" in metrics["teachers"]["big"]["tagging"]["tags"]
    assert metrics["datasets"]["small"]["static"]["valence"]["r2"] != plain["datasets"]["small"]["static"]["valence"]["r2"]
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert "teacher_predictions.csv" in files and not any("teacher" in f and f.endswith(".safetensors") for f in files)
    network = json.loads((tmp_path / "a/network.json").read_text())
    assert set(network["heads"]) == {"regression", "tagging"}  # the student's heads, one network
    for name in ("predictions.csv", "teacher_predictions.csv", "model.safetensors", "metrics.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
