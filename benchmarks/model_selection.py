"""Model selection benchmark: untuned vs tuned (nested) training, one core vs all, on the demo's
ComParE store and on the 4Q authors' top-100 features (20 × 10-fold stratified CV).

    python benchmarks/model_selection.py [SHARED_DATA] [--quick]

For each (dataset, model, tuned?, jobs) it reports wall time, the held-out score (mean R² over
valence/arousal for the demo, macro F1 for 4Q) and checks that one core and all cores give the
same predictions. Prints a Markdown table and writes it as JSON beside (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from moodflow.core.config import build  # noqa: E402
from moodflow.evaluation.protocols import make_folds  # noqa: E402
from moodflow.evaluation.summary import metrics_from_predictions  # noqa: E402
from moodflow.models import MODELS  # noqa: E402
from moodflow.models.base import ModelRecipe  # noqa: E402
from moodflow.train.crossval import cross_validate, usable_cores  # noqa: E402
from moodflow.train.problems import ClassesProblem, ColumnsProblem  # noqa: E402


def demo_problem(workdir: Path) -> ColumnsProblem:
    """The default demo (40 × 10 s) through prepare → decode → extract compare."""
    from moodflow.decode.run import decode_dataset
    from moodflow.extract.run import extract_store
    from moodflow.prepare.run import prepare_dataset
    from moodflow.stores.feature_store import FeatureStore
    from moodflow.stores.prepared import PreparedDataset

    prepare_dataset({"name": "demo"}, workdir / "prepared")
    decode_dataset(workdir / "prepared", workdir / "audio.h5", workdir / "errors.csv", sample_rate=22050)
    extract_store(name="compare", config={}, grid={}, audio_path=workdir / "audio.h5", prepared_dir=workdir / "prepared",
                  out_path=workdir / "compare.h5", dataset="demo")
    labels = PreparedDataset.read(workdir / "prepared").static_labels.set_index("track_id")
    with FeatureStore(workdir / "compare.h5") as store:
        X, ids = store.static().astype(np.float64), np.asarray(store.ids)
    Y = labels.loc[ids, ["valence", "arousal"]].to_numpy(float)
    return ColumnsProblem("regression", X, Y, ids, ["valence", "arousal"])


def fourq_problem(shared: Path) -> ClassesProblem:
    from reproduce_4q import load_4q

    X, y, ids, classes = load_4q(shared)
    return ClassesProblem(X, y, ids, classes, "quadrant")


def measure(name: str, problem, folds, *, tune: bool, jobs: int, settings: dict | None = None) -> dict:
    recipe = ModelRecipe(name, build(MODELS.get(name).Config, settings or {}, f"train.{name}"))
    t0 = time.perf_counter()
    predictions, tuning, *_ = cross_validate(recipe, problem, folds, seed=0, jobs=jobs, tune_defaults=tune)
    seconds = time.perf_counter() - t0
    metrics = metrics_from_predictions(predictions, getattr(problem, "classes", None))
    if "classification" in metrics:
        score = metrics["classification"]["quadrant"]["macro_f1"]
    else:
        score = float(np.mean([m["r2"] for m in metrics["static"].values()]))
    return {"seconds": round(seconds, 2), "score": round(score, 4), "csv": predictions.to_csv(index=False),
            "candidates": int(tuning["settings"].nunique()) if len(tuning) else 1}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shared_data", nargs="?", default=os.environ.get("MOODFLOW_SHARED_DATA", "../shared/data"))
    ap.add_argument("--quick", action="store_true", help="2 × 10-fold on 4Q instead of 20 × 10")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--demo-models", default="ridge,svm,random_forest",
                    help="models on the demo store (random_forest tuned takes ~1 h on 2 cores)")
    args = ap.parse_args(argv)
    cores = usable_cores(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        demo = demo_problem(Path(tmp))
    cases = [("demo (40 × ComParE 6373, 5-fold)", demo, make_folds(demo.track_ids, kind="kfold", folds=5).folds,
              args.demo_models.split(",")) if args.demo_models else None]
    cases = [c for c in cases if c]
    fourq = fourq_problem(Path(args.shared_data))
    repeats = 2 if args.quick else 20
    cases.append((f"4Q top-100 ({repeats} × 10-fold stratified)", fourq,
                  make_folds(fourq.track_ids, kind="stratified", folds=10, repeats=repeats, seed=1,
                             classes=fourq.y).folds, ["svm", "ridge"]))
    for label, problem, folds, models in cases:
        for name in models:
            settings = {"C": 8.0, "gamma": 2.0 ** -9} if name == "svm" and problem is fourq else None
            for tune in (False, True):
                results = {jobs: measure(name, problem, folds, tune=tune, jobs=jobs, settings=settings)
                           for jobs in sorted({1, cores})}
                same = len({r["csv"] for r in results.values()}) == 1
                for jobs, r in results.items():
                    rows.append({"data": label, "model": name, "tuned": tune, "jobs": jobs, "seconds": r["seconds"],
                                 "score": r["score"], "candidates": r["candidates"], "same_as_one_core": same})
                    print(f"| {label} | {name} | {'tuned' if tune else 'untuned'} | {jobs} | {r['seconds']} s | "
                          f"{r['score']} | {r['candidates']} | {'yes' if same else 'NO'} |", flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
