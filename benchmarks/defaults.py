"""Defaults measured, not assumed: every model's default beside scikit-learn's own defaults, a
tuned run and the trivial predictor, under grouped and plain CV, on the data moodflow is for.

    python benchmarks/defaults.py SHARED_DATA [--out results.jsonl] [--sets shifted,fourq,clips]
                                  [--models ridge,svm,…] [--no-tuned]

Sets:

- ``shifted``: generated (:func:`shifted_set`): 300 tracks, 6,000 correlated features (20
  latent factors + noise), 4 groups ("genres") that shift 20 % of the features and the labels,
  3 % of the features nearly constant outside their own group (what a genre-specific descriptor
  does: the held-out genre puts it ~100 training standard deviations away), valence/arousal on
  1–9 at a low signal-to-noise ratio (a real corpus's R² is 0.1–0.6, not 0.95). Grouped CV =
  leave-one-group-out (4 folds); plain = 5-fold.
- ``fourq``: the 4Q authors' top-100 features of all 900 clips, quadrants; grouped = 5-fold
  stratified group CV by artist (metadata), plain = 5-fold stratified.
- ``clips``: the shared real clips with published labels: 4 PMEmo choruses (0–1 labels mapped to
  1–9) and 6 emoMusic clips with their DEAM labels (1–9), ComParE functionals extracted here;
  grouped = by dataset (2 folds), plain = 5-fold. Ten tracks: R² here says whether a default
  explodes, not how good it is.

Rows: ``baseline`` (training-fold mean / majority class, moodflow.train.baseline), every
moodflow model with its defaults, ``previous default`` (ridge before issue 29: alpha 100, no
clip), ``sklearn`` (the same model family with scikit-learn's
defaults behind a StandardScaler: Ridge(alpha=1), SVR/SVC, RandomForest(100 trees), kNN(5),
XGBoost's defaults, MLPRegressor/Classifier), ``RidgeCV`` (StandardScaler + RidgeCV over 41
alphas 10⁻³…10⁷: the peer issue 29 names; ``ridgecv+clip`` the same behind moodflow's clip to
the training range) and ``tuned`` (moodflow with ``train.tune``: the
model's default ranges searched by 3-fold inner CV in every training fold; ``search_iter`` 3 for
the forest, XGBoost and the neural heads to keep it affordable on 2 cores).

Scores: R² per fold and target, averaged over folds then targets (``r2``) and the worst target
(``r2_min``), R² of all out-of-fold predictions pooled (``r2_pooled``: the one that means
something on ``clips``, whose plain folds hold 2 tracks), with the number of folds whose predictions left the 1–9 scale by more than its
width (``diverged``, :func:`moodflow.evaluation.summary.divergence`; included in the means here,
so an explosion shows); macro F1 for classes. One JSON line per (set, protocol, row, model) is
appended to ``--out`` as it finishes (re-running skips those already there); the Markdown table
is printed at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from moodflow.core.config import build  # noqa: E402
from moodflow.evaluation.metrics import classification_metrics, r2  # noqa: E402
from moodflow.evaluation.protocols import Fold, make_folds  # noqa: E402
from moodflow.evaluation.summary import divergence  # noqa: E402
from moodflow.models import MODELS  # noqa: E402
from moodflow.models.base import ModelRecipe  # noqa: E402
from moodflow.train.baseline import baseline_rows  # noqa: E402
from moodflow.train.crossval import cross_validate  # noqa: E402
from moodflow.train.problems import ClassesProblem, ColumnsProblem, Problem  # noqa: E402

MODEL_NAMES = ("ridge", "svm", "random_forest", "knn", "xgboost", "mlp", "multitask")
SCALE = (1.0, 9.0)
SMALL_SEARCH = {"random_forest": 3, "xgboost": 3, "mlp": 3, "multitask": 3}


def shifted_set(n_tracks: int = 300, n_features: int = 6000, n_groups: int = 4, seed: int = 0,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X, Y (n, 2) valence/arousal on 1–9, groups, ids): see the module docstring."""
    rng = np.random.default_rng(seed)
    group = np.repeat(np.arange(n_groups), int(np.ceil(n_tracks / n_groups)))[:n_tracks]
    latent = rng.normal(size=(n_tracks, 20))
    loadings = rng.normal(size=(20, n_features)) / np.sqrt(20)
    shifted = rng.random(n_features) < 0.2
    offsets = rng.normal(size=(n_groups, n_features)) * shifted
    X = latent @ loadings + offsets[group] + 2.0 * rng.normal(size=(n_tracks, n_features))
    own = rng.integers(0, n_groups, n_features)
    quiet = rng.random(n_features) < 0.03
    active = group[:, None] == own[None, quiet]
    X[:, quiet] = np.where(active, 3.0 + rng.normal(size=active.shape), 0.03 * rng.normal(size=active.shape))
    beta = np.zeros((20, 2))
    beta[:4, 0], beta[2:6, 1] = [1.0, 0.7, -0.5, 0.3], [0.8, 0.6, -0.6, 0.4]
    Y = latent @ beta + 0.3 * rng.normal(size=(n_groups, 2))[group] + 2.0 * rng.normal(size=(n_tracks, 2))
    Y = np.clip(5.0 + 1.2 * (Y - Y.mean(axis=0)) / Y.std(axis=0), *SCALE)
    return X, Y, group.astype(str), np.array([f"g{i:03d}" for i in range(n_tracks)])


def fourq_set(shared: Path) -> tuple[ClassesProblem, np.ndarray]:
    from reproduce_4q import load_4q

    X, y, ids, classes = load_4q(shared)
    meta = pd.read_csv(shared / "4Q/MER_audio_taffc_dataset/panda_dataset_taffc_metadata.csv")
    artist = dict(zip(meta["Song"].astype(str), meta["Artist"].astype(str)))
    return ClassesProblem(X, y, ids, classes, "quadrant"), np.array([artist[t] for t in ids])


def clips_set(shared: Path, work: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ComParE functionals of the 10 shared clips with labels: 4 PMEmo (0–1 → 1–9), 6 emoMusic
    (DEAM's static labels, 1–9). Groups: the dataset."""
    from moodflow.features import build_extractor

    pmemo = pd.read_csv(shared / "PMEmo2019/annotations/static_annotations.csv").set_index("musicId")
    deam = pd.read_csv(shared / "DEAM/DEAM_Annotations/annotations/annotations averaged per song/song_level/"
                       "static_annotations_averaged_songs_1_2000.csv", skipinitialspace=True)
    deam.columns = [c.strip() for c in deam.columns]
    deam = deam.set_index("song_id")
    extractor = build_extractor("compare", {}, {})
    rows, labels, groups, ids = [], [], [], []
    cache = work / "clips_compare.npz"
    clips = [("pmemo", p) for p in sorted((shared / "PMEmo2019/chorus").glob("*.mp3"))]
    clips += [("deam", p) for p in sorted((shared / "emoMusic/clips_45seconds").glob("*.mp3"))]
    for source, path in clips:
        sid = int(path.stem)
        if source == "pmemo":
            labels.append([pmemo.at[sid, "Valence(mean)"] * 8 + 1, pmemo.at[sid, "Arousal(mean)"] * 8 + 1])
        else:
            labels.append([deam.at[sid, "valence_mean"], deam.at[sid, "arousal_mean"]])
        groups.append(source)
        ids.append(f"{source}/{sid}")
    if cache.exists():
        X = np.load(cache)["X"]
    else:
        import librosa

        for _, path in clips:
            y, sr = librosa.load(path, sr=16000, mono=True)
            rows.append(extractor.extract(y, sr).static)
        X = np.asarray(rows, dtype=np.float64)
        np.savez(cache, X=X)
    return X, np.asarray(labels, dtype=np.float64), np.asarray(groups), np.asarray(ids)


# -- scikit-learn's own defaults ------------------------------------------------------------------
def sklearn_peer(name: str, kind: str, seed: int = 0):
    """The model family with scikit-learn's (XGBoost's) defaults, behind a StandardScaler."""
    from sklearn import ensemble, linear_model, neighbors, neural_network, svm
    from sklearn.multioutput import MultiOutputRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    regression = kind == "regression"
    if name == "ridge":
        est = linear_model.Ridge() if regression else linear_model.LogisticRegression(max_iter=1000)
    elif name in ("ridgecv", "ridgecv+clip"):
        est = linear_model.RidgeCV(alphas=np.logspace(-3, 7, 41))
        if name == "ridgecv+clip":  # the same clip to the training range as moodflow's ridge
            from sklearn.preprocessing import MinMaxScaler

            return make_pipeline(MinMaxScaler(clip=True), StandardScaler(), est)
    elif name == "svm":
        est = MultiOutputRegressor(svm.SVR()) if regression else svm.SVC()
    elif name == "random_forest":
        est = (ensemble.RandomForestRegressor(random_state=seed) if regression
               else ensemble.RandomForestClassifier(random_state=seed))
    elif name == "knn":
        est = neighbors.KNeighborsRegressor() if regression else neighbors.KNeighborsClassifier()
    elif name == "xgboost":
        import xgboost

        est = (MultiOutputRegressor(xgboost.XGBRegressor(random_state=seed, n_jobs=1)) if regression
               else xgboost.XGBClassifier(random_state=seed, n_jobs=1))
    elif name == "mlp":
        est = (neural_network.MLPRegressor(random_state=seed) if regression
               else neural_network.MLPClassifier(random_state=seed))
    else:
        return None
    return make_pipeline(StandardScaler(), est)


def peer_predictions(name: str, problem: Problem, folds: list[Fold]) -> pd.DataFrame | None:
    from moodflow.models.sklearn_model import class_scores

    index = {t: i for i, t in enumerate(problem.track_ids)}
    out = []
    for fold in folds:
        est = sklearn_peer(name, problem.kind)
        if est is None:
            return None
        tr = np.array([index[t] for t in fold.train])
        te = np.array([index[t] for t in fold.test])
        if isinstance(problem, ClassesProblem):
            est.fit(problem.X[tr], problem.y[tr])
            pred = class_scores(est, problem.X[te], "classification")
        else:
            est.fit(problem.X[tr], problem.Y[tr])
            pred = np.asarray(est.predict(problem.X[te])).reshape(len(te), -1)
        out.append(problem.rows(fold.name, te, pred))
    return pd.concat(out, ignore_index=True)


def trivial_predictions(problem: Problem, folds: list[Fold]) -> pd.DataFrame:
    index = {t: i for i, t in enumerate(problem.track_ids)}
    rows = [baseline_rows(problem, f.name, np.array([index[t] for t in f.train]),
                          np.array([index[t] for t in f.test]), 0) for f in folds]
    table = pd.concat(rows, ignore_index=True)
    return table[table["baseline"].isin(["mean", "majority"])].drop(columns="baseline")


# -- scores -------------------------------------------------------------------------------------
def score(rows: pd.DataFrame, classes: list[str] | None) -> dict:
    if classes is not None:
        f1 = [classification_metrics(g["y_true"].astype(str), g["y_pred"].astype(str), classes)["macro_f1"]
              for _, g in rows.groupby("fold")]
        return {"macro_f1": float(np.mean(f1)), "macro_f1_std": float(np.std(f1)), "n_folds": len(f1)}
    per_target, diverged = {}, 0
    for target, group in rows.groupby("target", sort=False):
        folds = [r2(g["y_true"].astype(float), g["y_pred"].astype(float)) for _, g in group.groupby("fold")]
        per_target[str(target)] = float(np.mean(folds))
        diverged += sum(bool(divergence(g["y_pred"].astype(float), SCALE)) for _, g in group.groupby("fold"))
    values = list(per_target.values())
    pooled = [r2(g["y_true"].astype(float), g["y_pred"].astype(float)) for _, g in rows.groupby("target", sort=False)]
    return {"r2": float(np.mean(values)), "r2_min": float(np.min(values)), "per_target": per_target,
            "r2_pooled": float(np.mean(pooled)), "diverged": diverged, "n_folds": int(rows["fold"].nunique())}


def run_model(name: str, problem: Problem, folds: list[Fold], *, tuned: bool, n_classes: int | None,
              previous: bool = False) -> pd.DataFrame:
    cls = MODELS.get(name)
    settings = {"device": "cpu"} if cls.neural else {}
    if previous:  # ridge's default before issue 29
        settings = {"alpha": 100.0, "clip": False}
    if tuned and name in SMALL_SEARCH:
        settings["search_iter"] = SMALL_SEARCH[name]
    config = build(cls.Config, settings, f"train.{name}")
    recipe = ModelRecipe(name, config, n_classes=n_classes, n_jobs=1)
    if cls.multitask:
        from moodflow.train.problems import MultitaskProblem

        if isinstance(problem, ClassesProblem):
            wrapped = MultitaskProblem(problem.X, {"classification": problem.y},
                                       {"classification": (problem.target, problem.classes)}, problem.track_ids,
                                       "classification")
        else:
            wrapped = MultitaskProblem(problem.X, {"regression": problem.Y}, {"regression": problem.columns},
                                       problem.track_ids, "regression")
        return cross_validate(recipe, wrapped, folds, seed=0, jobs=1, tune_defaults=tuned).predictions
    return cross_validate(recipe, problem, folds, seed=0, jobs=1, tune_defaults=tuned).predictions


def protocols(problem: Problem, groups: np.ndarray, classify: bool) -> dict[str, list[Fold]]:
    n_groups = len(set(groups.tolist()))
    classes = problem.y if classify else None
    grouped = make_folds(problem.track_ids, kind="stratified" if classify else "kfold", folds=min(5, n_groups),
                         groups=groups, classes=classes, seed=0).folds
    plain = make_folds(problem.track_ids, kind="stratified" if classify else "kfold",
                       folds=min(5, len(problem.track_ids)), classes=classes, seed=0).folds
    return {"grouped": grouped, "plain": plain}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shared", type=Path, help="the shared data folder ($MOODFLOW_SHARED_DATA)")
    parser.add_argument("--out", type=Path, default=Path("defaults_benchmark.jsonl"))
    parser.add_argument("--sets", default="shifted,fourq,clips")
    parser.add_argument("--models", default=",".join(MODEL_NAMES))
    parser.add_argument("--no-tuned", action="store_true")
    args = parser.parse_args()
    done = set()
    if args.out.exists():
        for line in args.out.read_text().splitlines():
            r = json.loads(line)
            done.add((r["set"], r["protocol"], r["row"], r["model"]))
    work = Path(tempfile.mkdtemp(prefix="defaults-bench-"))
    for set_name in args.sets.split(","):
        if set_name == "shifted":
            X, Y, groups, ids = shifted_set()
            problem, classes = ColumnsProblem("regression", X, Y, ids, ["valence", "arousal"]), None
        elif set_name == "fourq":
            problem, groups = fourq_set(args.shared)
            classes = problem.classes
        else:
            X, Y, groups, ids = clips_set(args.shared, args.out.parent)
            problem, classes = ColumnsProblem("regression", X, Y, ids, ["valence", "arousal"]), None
        n_classes = len(classes) if classes else None
        for proto, folds in protocols(problem, groups, classes is not None).items():
            jobs = [("baseline", "-")]
            for name in args.models.split(","):
                jobs += [("moodflow default", name), ("sklearn default", name)] + ([] if args.no_tuned else
                                                                                  [("tuned", name)])
            if classes is None:
                jobs += [("sklearn default", "ridgecv"), ("sklearn default", "ridgecv+clip")]
            if "ridge" in args.models.split(","):
                jobs.append(("previous default", "ridge"))
            for row, name in jobs:
                if (set_name, proto, row, name) in done:
                    continue
                start = time.perf_counter()
                try:
                    if row == "baseline":
                        preds = trivial_predictions(problem, folds)
                    elif row == "sklearn default":
                        preds = peer_predictions(name, problem, folds)
                    else:
                        preds = run_model(name, problem, folds, tuned=row == "tuned", n_classes=n_classes,
                                          previous=row == "previous default")
                except ValueError as exc:  # a default that cannot fit these folds (k > training rows)
                    preds, scores = None, {"error": " ".join(str(exc).split())}
                else:
                    if preds is None:
                        continue
                    scores = score(preds, classes)
                result = {"set": set_name, "protocol": proto, "row": row, "model": name, **scores,
                          "seconds": round(time.perf_counter() - start, 1)}
                with args.out.open("a") as fh:
                    fh.write(json.dumps(result) + "\n")
                print(json.dumps(result), flush=True)
    print(table(args.out))


def table(path: Path) -> str:
    """The Markdown table of a results file: one row per (set, model), columns per protocol and row."""
    results = [json.loads(line) for line in path.read_text().splitlines()]
    lines = []
    for set_name in dict.fromkeys(r["set"] for r in results):
        rows = [r for r in results if r["set"] == set_name]
        metric = "macro_f1" if any("macro_f1" in r for r in rows) else "r2"
        heads = ["moodflow default", "sklearn default", "tuned", "previous default"]
        lines += [f"\n{set_name} ({'macro F1' if metric == 'macro_f1' else 'R², mean over valence and arousal'}; "
                  "grouped | plain CV)\n",
                  "| model | " + " | ".join(f"{h} ({p})" for h in heads for p in ("grouped", "plain")) + " |",
                  "|---|" + "---:|" * (2 * len(heads))]
        base = {r["protocol"]: r for r in rows if r["row"] == "baseline"}
        if base:
            lines.append("| chance (training-fold mean / majority) | " + " | ".join(
                _cell(base.get(p), metric) if h == "moodflow default" else "" for h in heads
                for p in ("grouped", "plain")) + " |")
        for model in dict.fromkeys(r["model"] for r in rows if r["row"] != "baseline"):
            by = {(r["row"], r["protocol"]): r for r in rows if r["model"] == model}
            lines.append(f"| {model} | " + " | ".join(_cell(by.get((h, p)), metric) for h in heads
                                                      for p in ("grouped", "plain")) + " |")
    return "\n".join(lines)


def _cell(r: dict | None, metric: str) -> str:
    if r is None:
        return "—"
    if "error" in r:
        return "fails"
    text = f"{r[metric]:.3f}"
    if metric == "r2" and r.get("r2_min", 0) < r[metric] - 0.05:
        text += f" (worst {r['r2_min']:.2f})"
    if r.get("diverged"):
        text += f", {r['diverged']} diverged"
    return text


if __name__ == "__main__":
    main()
