"""XGBoost at corpus size: 10-fold CV wall time and held-out score per setting (bins, early stopping).

    .venv/bin/python benchmarks/xgb_settings.py --synthetic 1000 --json xgb-synth.json
    .venv/bin/python benchmarks/xgb_settings.py --work /tmp/c19/w100          # corpus.py's stores
    .venv/bin/python benchmarks/xgb_settings.py --fourq ../shared/data        # real 4Q labels, top-100
    .venv/bin/python benchmarks/xgb_settings.py --synthetic 1000 --models ridge,svm,random_forest,knn,xgboost

``--synthetic N``: N tracks × 6373 columns (ComParE's width), 4 classes that depend on 30 of the
columns (timing at the issue's shape; the score only says the setting still learns). ``--work``:
the demo corpus's compare store, valence/arousal regression (mean R²). ``--fourq``: the 4Q
authors' top-100 features with the real quadrants (macro F1). Each setting's CV runs with the
folds in parallel on every core, as `train@<set>-xgboost` does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SETTINGS = {
    "old defaults (256 bins, all 300 rounds)": {"max_bin": 256, "early_stopping_rounds": 0},
    "256 bins + early stopping": {"max_bin": 256},
    "64 bins, all 300 rounds": {"max_bin": 64, "early_stopping_rounds": 0},
    "32 bins, all 300 rounds": {"early_stopping_rounds": 0},
    "64 bins + early stopping + refit": {"max_bin": 64},
    "32 bins + early stopping + refit (new default)": {},
    "32 bins + early stopping, colsample 0.3": {"colsample_bytree": 0.3},
    "32 bins + early stopping, patience 50": {"early_stopping_rounds": 50},
    "32 bins + early stopping, learning rate 0.1": {"learning_rate": 0.1},
    "32 bins + early stopping, no refit": {"refit": False},
}


def synthetic(n: int, f: int = 6373, seed: int = 0):
    from moodflow.train.problems import ClassesProblem

    rng = np.random.default_rng(seed)
    X = rng.standard_t(df=5, size=(n, f)).astype(np.float32)  # heavy-ish tails, like functionals
    a = X[:, :15].sum(1) / 4 + rng.normal(scale=0.5, size=n)
    b = X[:, 15:30].sum(1) / 4 + rng.normal(scale=0.5, size=n)
    y = (a > 0).astype(int) + 2 * (b > 0).astype(int)
    ids = np.array([f"s{i:05d}" for i in range(n)])
    return ClassesProblem(X.astype(np.float64), y, ids, ["Q1", "Q2", "Q3", "Q4"], "quadrant"), "stratified"


def corpus(work: Path):
    from moodflow.stores.feature_store import FeatureStore
    from moodflow.stores.prepared import PreparedDataset
    from moodflow.train.problems import ColumnsProblem

    labels = PreparedDataset.read(work / "prepared").static_labels.set_index("track_id")
    with FeatureStore(work / "compare.h5") as store:
        X, ids = store.static().astype(np.float64), np.asarray(store.ids)
    Y = labels.loc[ids, ["valence", "arousal"]].to_numpy(float)
    return ColumnsProblem("regression", X, Y, ids, ["valence", "arousal"]), "kfold"


def fourq(shared: Path):
    from reproduce_4q import load_4q

    from moodflow.train.problems import ClassesProblem

    X, y, ids, classes = load_4q(shared)
    return ClassesProblem(X, y, ids, classes, "quadrant"), "stratified"


def measure(problem, kind: str, settings: dict, folds: int, model: str = "xgboost") -> dict:
    from moodflow.core.config import build
    from moodflow.evaluation.protocols import make_folds
    from moodflow.evaluation.summary import metrics_from_predictions
    from moodflow.models import MODELS
    from moodflow.models.base import ModelRecipe
    from moodflow.train.crossval import cross_validate

    classes = getattr(problem, "classes", None)
    labels = getattr(problem, "y", None)
    run = make_folds(problem.track_ids, kind=kind, folds=folds, classes=labels if kind == "stratified" else None)
    if model == "xgboost":
        settings = {"device": "cpu", **settings}
    recipe = ModelRecipe(model, build(MODELS.get(model).Config, settings, f"train.{model}"))
    t0 = time.perf_counter()
    result = cross_validate(recipe, problem, run.folds, seed=0, jobs=0)
    seconds = time.perf_counter() - t0
    metrics = metrics_from_predictions(result.predictions, list(classes) if classes is not None else None)
    if "classification" in metrics:
        m = next(iter(metrics["classification"].values()))
        score = {"macro_f1": round(m["macro_f1"], 4), "accuracy": round(m["accuracy"], 4)}
    else:
        score = {f"r2_{k}": round(v["r2"], 4) for k, v in metrics["static"].items()}
    return {"cv_wall_s": round(seconds, 1), **score}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--synthetic", type=int, help="tracks of a synthetic 6373-column, 4-class problem")
    src.add_argument("--work", type=Path, help="benchmarks/corpus.py --work folder (compare.h5 + prepared)")
    src.add_argument("--fourq", type=Path, help="the shared data folder (4Q top-100 features)")
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--only", default="", help="comma-separated indices into the settings list")
    ap.add_argument("--models", default="", help="instead: these models with their defaults (e.g. ridge,svm,xgboost)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if args.synthetic:
        problem, kind = synthetic(args.synthetic)
    elif args.work:
        problem, kind = corpus(args.work)
    else:
        problem, kind = fourq(args.fourq)
    chosen = [(label, "xgboost", settings) for label, settings in SETTINGS.items()]
    if args.only:
        chosen = [chosen[int(i)] for i in args.only.split(",")]
    if args.models:
        chosen = [(name, name, {}) for name in args.models.split(",")]
    out = {"shape": list(problem.X.shape), "folds": args.folds, "loadavg_before": list(os.getloadavg()), "runs": {}}
    for label, model, settings in chosen:
        out["runs"][label] = measure(problem, kind, settings, args.folds, model)
        print(f"{label}: {out['runs'][label]}", flush=True)
        if args.json:
            args.json.write_text(json.dumps(out, indent=1) + "\n")
    out["total_cv_wall_s"] = round(sum(r["cv_wall_s"] for r in out["runs"].values()), 1)
    out["loadavg_after"] = list(os.getloadavg())
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
