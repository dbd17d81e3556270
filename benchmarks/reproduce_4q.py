"""Reproduce the 4Q paper's headline number with moodflow's own SVM and protocol code.

Panda, Malheiro & Paiva (IEEE TAFFC 2018) report F1 76.4 % for quadrant classification
of the 900-clip 4Q dataset with an RBF SVM (C = 8, gamma = 2^-9) on their top-100 features,
20 repetitions of stratified 10-fold CV; their script (renatopanda/TAFFC2018,
``best_result.R``) prints 76.51 % ± 4.01 as "F1-Score: macro weighted" and accuracy 76.20 %.
That F1 is the harmonic mean of the class-weighted precision and recall of each fold
(moodflow's ``weighted_pr_f1``), not the mean of per-class F1s (``macro_f1``): it reads above
accuracy, as the script's does, while macro F1 reads below (docs/models.md).

Their preprocessing: the raw (unnormalised) feature values of ``top100_features.csv`` go into
e1071's ``svm(..., scale = TRUE)``, which z-scores every feature with the training fold's mean
and sd and applies that to the test fold. moodflow's pipeline does the same (StandardScaler
fitted inside each training fold), so X is the CSV as it is.

Run: ``python benchmarks/reproduce_4q.py [SHARED_DATA] [--repeats 20] [--folds 10]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from moodflow.core.config import build
from moodflow.evaluation.protocols import Fold, ProtocolRun, make_folds
from moodflow.evaluation.summary import confusion_table, summarise_classification
from moodflow.models.base import ModelRecipe
from moodflow.models.svm import SVMConfig
from moodflow.train.crossval import cross_validate
from moodflow.train.problems import ClassesProblem

FEATURES = "4Q/Features/top100_features.csv"
ANNOTATIONS = "4Q/MER_audio_taffc_dataset/panda_dataset_taffc_annotations.csv"
PAPER = {"weighted_pr_f1": 0.764, "script_f1": 0.7651, "script_f1_std": 0.0401, "script_accuracy": 0.7620}
SVM_PARAMS = {"kernel": "rbf", "C": 8.0, "gamma": 2.0**-9}


def load_4q(shared_data: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(X (900, 100), y class ids, track ids, classes) joined on the song id."""
    root = Path(shared_data)
    feats = pd.read_csv(root / FEATURES)
    ann = pd.read_csv(root / ANNOTATIONS)
    if "SongID" not in feats.columns or not {"Song", "Quadrant"} <= set(ann.columns):
        raise ValueError(f"{root / FEATURES} / {root / ANNOTATIONS}: unexpected columns")
    # the features file repeats the quadrant in its last column; it must agree
    feats = feats.rename(columns={"Quadrant": "_quadrant_in_features"})
    merged = ann[["Song", "Quadrant"]].merge(feats, left_on="Song", right_on="SongID", how="inner")
    if len(merged) != len(ann):
        raise ValueError(f"{root / FEATURES}: {len(ann) - len(merged)} annotated songs have no features")
    if "_quadrant_in_features" in merged.columns:
        differ = merged["Quadrant"] != merged.pop("_quadrant_in_features")
        if differ.any():
            raise ValueError(f"{root / FEATURES}: quadrant disagrees with {ANNOTATIONS} for {int(differ.sum())} songs")
    classes = sorted(merged["Quadrant"].unique())
    X = merged.drop(columns=["Song", "Quadrant", "SongID"]).to_numpy(dtype=np.float64)
    if X.shape[1] != 100:
        raise ValueError(f"{root / FEATURES}: expected 100 feature columns, found {X.shape[1]}")
    y = np.array([classes.index(q) for q in merged["Quadrant"]])
    return X, y, merged["Song"].to_numpy(dtype=str), classes


def folds_from_csv(path: str | Path, ids: np.ndarray) -> list[Fold]:
    """Test folds written elsewhere (``benchmarks/crosscheck_4q_e1071.R``: columns repeat_, fold,
    song), each trained on every other clip. Every repeat must hold out each clip exactly once."""
    table = pd.read_csv(path, dtype={"song": str})
    if not {"repeat_", "fold", "song"} <= set(table.columns):
        raise ValueError(f"{path}: expected columns repeat_, fold, song")
    out = []
    for r, rep in table.groupby("repeat_", sort=True):
        if sorted(rep["song"]) != sorted(ids):
            raise ValueError(f"{path}: repeat {r} does not hold out each of the {len(ids)} clips exactly once")
        for k, g in rep.groupby("fold", sort=True):
            test = g["song"].to_numpy(dtype=str)
            out.append(Fold(f"r{int(r) - 1}f{int(k) - 1}", np.setdiff1d(ids, test), test))
    return out


def reproduce(shared_data: str | Path, *, repeats: int = 20, folds: int = 10, seed: int = 1, jobs: int = 1,
              settings: dict | None = None, tune: bool = False, folds_csv: str | Path | None = None) -> dict:
    """Run the authors' protocol through moodflow; returns metrics, confusion and timing.

    ``settings`` replace the authors' SVM settings (e.g. a ``search`` grid); ``tune`` searches
    the svm's documented default ranges inside every training fold; ``folds_csv`` replaces
    moodflow's folds by folds written elsewhere (R's caret, see :func:`folds_from_csv`)."""
    X, y, ids, classes = load_4q(shared_data)
    t0 = time.perf_counter()
    if folds_csv is not None:
        run = ProtocolRun("stratified", folds_from_csv(folds_csv, ids))
    else:
        run = make_folds(ids, kind="stratified", folds=folds, repeats=repeats, seed=seed, classes=y)
    recipe = ModelRecipe("svm", build(SVMConfig, {**SVM_PARAMS, **(settings or {})}, "train.svm"))
    problem = ClassesProblem(X, y, ids, classes, "quadrant")
    predictions, tuning, *_ = cross_validate(recipe, problem, run.folds, seed=seed, jobs=jobs, tune_defaults=tune)
    seconds = time.perf_counter() - t0
    metrics = summarise_classification(predictions, classes)["quadrant"]
    return {
        "metrics": metrics,
        "confusion": confusion_table(predictions, classes),
        "seconds": seconds,
        "predictions": predictions,
        "tuning": tuning,
        "paper": PAPER,
    }


def protocol_arguments(description: str) -> argparse.ArgumentParser:
    """A parser with the shared data folder and the authors' protocol (20 x 10 folds, seed 1)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("shared_data", nargs="?", default=os.environ.get("MOODFLOW_SHARED_DATA", "../shared/data"))
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = protocol_arguments(__doc__.splitlines()[0])
    ap.add_argument("--folds-csv", type=Path, default=None,
                    help="use these folds (benchmarks/crosscheck_4q_e1071.R writes caret's) instead of moodflow's")
    args = ap.parse_args(argv)
    res = reproduce(args.shared_data, repeats=args.repeats, folds=args.folds, seed=args.seed, folds_csv=args.folds_csv)
    m = res["metrics"]
    where = f"folds of {args.folds_csv}" if args.folds_csv else f"{args.repeats} x {args.folds}-fold, seed {args.seed}"
    print(f"{m['n_folds']} stratified CV folds ({where}), SVM RBF C=8 gamma=2^-9, top-100 features "
          f"({res['seconds']:.1f} s)")
    print(f"macro F1    {100 * m['macro_f1']:.2f} % ± {100 * m['macro_f1_std']:.2f}   (mean of per-class F1s)")
    print(f"weighted F1 {100 * m['weighted_f1']:.2f} % ± {100 * m['weighted_f1_std']:.2f}")
    print(f"F1 of weighted P and R {100 * m['weighted_pr_f1']:.2f} % ± {100 * m['weighted_pr_f1_std']:.2f}"
          "   (the authors' metric: paper 76.4 %, script 76.51 % ± 4.01)")
    print(f"accuracy    {100 * m['accuracy']:.2f} % ± {100 * m['accuracy_std']:.2f}   (authors' script 76.20 %)")
    print("confusion (per repetition; rows true, columns predicted):")
    print(res["confusion"].round(2).to_string())
    print(json.dumps({k: round(v, 4) for k, v in m.items()}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
