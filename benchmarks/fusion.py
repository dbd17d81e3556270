"""Fusion of two stores, measured: each store alone, their concatenation (plain and
``block_weight: equal``) and the ``stack`` model, on the same held-out folds, through
``train_and_evaluate`` (the pipeline's own code), with the corrected resampled t-test
(moodflow.evaluation.significance) of the stack against every other row.

    python benchmarks/fusion.py [--seeds 0,1,2] [--tracks 400] [--model svm] [--out results.jsonl]
    python benchmarks/fusion.py --fourq SHARED_DATA --seeds 0   # 4Q top-100: standard vs novel features

The generated task (:func:`complementary_task`): quadrants (4 classes) from a latent valence and
arousal. A wide store (``wide``, 600 columns: arousal in 10 of them, the rest noise — ComParE's
situation) carries the arousal half of the signal, a narrow store (``narrow``, 8 columns:
valence in 3) the valence half; neither alone can tell more than one axis. Protocol: 5-fold
stratified CV repeated twice (10 folds), macro F1; chance = the majority-class predictor on the
same folds (and ``prior``, a guess drawn from the training shares). ``--task regression``: the
targets are valence and arousal themselves (R² averaged over both; chance: the training mean;
plain 5-fold × 2). Fusion wins when its fold scores beat each base's and the concatenation's with
p < 0.05 under the corrected t-test, for every seed.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from moodflow.evaluation.significance import corrected_resampled_ttest, fold_scores, holdout_ratio  # noqa: E402
from moodflow.stores.feature_store import FeatureStoreWriter  # noqa: E402
from moodflow.stores.prepared import LabelSpec, PreparedDataset  # noqa: E402
from moodflow.train.run import train_and_evaluate  # noqa: E402

CLASSES = ["Q1", "Q2", "Q3", "Q4"]


def quadrants(valence: np.ndarray, arousal: np.ndarray) -> np.ndarray:
    return np.where(valence >= 0, np.where(arousal >= 0, "Q1", "Q4"), np.where(arousal >= 0, "Q2", "Q3"))


def write_store(path: Path, name: str, ids: list[str], X: np.ndarray) -> Path:
    """A feature store of static rows ``X`` (one frame per track, the static row)."""
    with FeatureStoreWriter(path, feature_names=[f"{name}{j}" for j in range(X.shape[1])], frame_shape=(X.shape[1],),
                            extractor=name, extractor_version="1", config={}, dataset="fusion",
                            sample_rate=22050) as writer:
        for tid, row in zip(ids, X):
            writer.append(tid, 30.0, row, row[None, :], np.array([0.0]), np.array([30.0]))
    return path


def write_prepared(folder: Path, ids: list[str], classes: np.ndarray | None = None,
                   values: dict[str, np.ndarray] | None = None) -> Path:
    """Quadrant labels (``classes``) or valence/arousal values on -3..3 (``values``)."""
    manifest = pd.DataFrame({"track_id": ids, "audio_path": [f"{t}.wav" for t in ids], "duration_s": 30.0})
    if values is not None:
        spec = LabelSpec(task="regression", static_targets=list(values), scale=(-3.0, 3.0), scale_name="-3..3")
        labels = pd.DataFrame({"track_id": ids, **{k: np.clip(v, -3, 3) for k, v in values.items()}})
    else:
        spec = LabelSpec(task="classification", static_targets=[], class_column="quadrant", classes=list(CLASSES))
        labels = pd.DataFrame({"track_id": ids, "quadrant": classes})
    PreparedDataset("fusion", manifest, labels, spec).write(folder)
    return folder


def complementary_task(folder: Path, n: int = 400, seed: int = 0, wide: int = 600, narrow: int = 8,
                       informative_wide: int = 10, informative_narrow: int = 3, noise: float = 1.0,
                       task: str = "classification") -> tuple[dict[str, Path], Path]:
    """Two stores holding complementary halves of the signal, and the prepared labels: quadrants
    (``classification``) or the valence and arousal values themselves (``regression``)."""
    rng = np.random.default_rng(seed)
    valence, arousal = rng.normal(size=n), rng.normal(size=n)
    ids = [f"t{i:04d}" for i in range(n)]
    A = rng.normal(size=(n, wide))
    A[:, :informative_wide] = arousal[:, None] + noise * rng.normal(size=(n, informative_wide))
    B = rng.normal(size=(n, narrow))
    B[:, :informative_narrow] = valence[:, None] + noise * rng.normal(size=(n, informative_narrow))
    folder.mkdir(parents=True, exist_ok=True)
    stores = {"wide": write_store(folder / "wide.h5", "wide", ids, A),
              "narrow": write_store(folder / "narrow.h5", "narrow", ids, B)}
    if task == "regression":
        return stores, write_prepared(folder / "prepared", ids, values={"valence": valence, "arousal": arousal})
    return stores, write_prepared(folder / "prepared", ids, quadrants(valence, arousal))


def fourq_task(shared: Path, folder: Path) -> tuple[dict[str, Path], Path]:
    """The 4Q authors' top-100 features of the 900 clips (benchmarks/reproduce_4q.py), split in
    two stores: the standard features (``F0525`` …, from MIR toolboxes) and the authors' novel
    ones (``ORIGINAL-…``: texture, expressive techniques), the split the paper credits."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from reproduce_4q import FEATURES, load_4q

    X, y, ids, classes = load_4q(shared)
    names = [c for c in pd.read_csv(shared / FEATURES, nrows=0).columns if c not in ("SongID", "Quadrant")]
    if len(names) != X.shape[1]:
        raise ValueError(f"{shared / FEATURES}: {len(names)} names for {X.shape[1]} columns")
    novel = np.array([n.startswith("ORIGINAL-") for n in names])
    folder.mkdir(parents=True, exist_ok=True)
    ids = [str(i) for i in ids]
    stores = {"standard": write_store(folder / "standard.h5", "standard", ids, X[:, ~novel]),
              "novel": write_store(folder / "novel.h5", "novel", ids, X[:, novel])}
    labels = np.array([f"Q{str(classes[k])[-1]}" for k in y])
    return stores, write_prepared(folder / "prepared", ids, labels)


def run_rows(stores: dict[str, Path], prepared: Path, out: Path, model: str, seed: int, folds: int = 5,
             repeats: int = 2, inner_folds: int = 5) -> dict[str, pd.DataFrame]:
    """Held-out predictions of every row on the same folds: each store, the concatenation
    (plain, equal), the stack; and the baseline (majority class)."""
    (a, pa), (b, pb) = stores.items()
    stratified = PreparedDataset.read(prepared).spec.task == "classification"
    protocol = {"kind": "stratified" if stratified else "kfold", "folds": folds, "repeats": repeats}
    common = dict(prepared_dir=prepared, protocol=protocol, seed=seed, importance={"repeats": 0, "max_features": 0},
                  jobs=1)
    runs = {a: ([pa], a, model, {}, "none"), b: ([pb], b, model, {}, "none"),
            "concatenation": ([pa, pb], f"{a}+{b}", model, {}, "none"),
            "concatenation, equal": ([pa, pb], f"{a}+{b}", model, {}, "equal"),
            "stack": ([pa, pb], f"{a}+{b}", "stack", {"base": model, "inner_folds": inner_folds}, "none")}
    rows, seconds = {}, {}
    for name, (paths, feature_set, model_name, config, weight) in runs.items():
        folder = out / name.replace(", ", "-")
        start = time.perf_counter()
        train_and_evaluate(store_path=paths, feature_set=feature_set, model_name=model_name, model_config=config,
                           out_dir=folder, combine={"base": [], "add": [], "block_weight": weight}, **common)
        seconds[name] = time.perf_counter() - start
        rows[name] = pd.read_csv(folder / "predictions.csv", dtype={"track_id": str})
        if name == a:
            base = pd.read_csv(folder / "baseline_predictions.csv", dtype={"track_id": str})
            for kind in ("majority", "prior", "mean"):  # the trivial predictors on the same folds
                if (base["baseline"] == kind).any():
                    rows[f"chance ({kind})"] = base[base["baseline"] == kind]
    rows["_seconds"] = pd.Series(seconds)
    return rows


def fold_score(rows: pd.DataFrame) -> pd.Series:
    """Per fold: macro F1 (quadrants) or R² averaged over valence and arousal."""
    if (rows["task"] == "classification").any():
        return fold_scores(rows[rows["task"] == "classification"], "classification", "quadrant", "macro_f1", CLASSES)
    static = rows[rows["task"] == "static"]
    return pd.concat([fold_scores(static, "static", t, "r2") for t in ("valence", "arousal")], axis=1).mean(axis=1)


def compare(rows: dict[str, pd.DataFrame]) -> dict[str, dict]:
    """Per row: mean fold score; for every row but the stack, the stack's gain over it (corrected t)."""
    preds = {k: v for k, v in rows.items() if not k.startswith("_")}
    scores = {k: fold_score(v) for k, v in preds.items()}
    ratio = holdout_ratio(preds["stack"])
    out = {}
    for name, s in scores.items():
        entry = {"mean": float(s.mean()), "n_folds": int(len(s))}
        if name != "stack":
            c = corrected_resampled_ttest(scores["stack"].loc[s.index], s, ratio)
            entry.update(stack_gain=c.difference, low=c.low, high=c.high, p=c.p)
        out[name] = entry
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--tracks", type=int, default=400)
    parser.add_argument("--model", default="svm")
    parser.add_argument("--task", default="classification", choices=("classification", "regression"))
    parser.add_argument("--fourq", type=Path, help="shared data folder: run on the 4Q top-100 features instead")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            if args.fourq:
                stores, prepared = fourq_task(args.fourq, tmp / "data")
            else:
                stores, prepared = complementary_task(tmp / "data", n=args.tracks, seed=seed, task=args.task)
            rows = run_rows(stores, prepared, tmp / "models", args.model, seed)
        table = compare(rows)
        for name, entry in table.items():
            entry.update(seed=seed, row=name, model=args.model, seconds=rows["_seconds"].get(name),
                         task="4Q top-100" if args.fourq else f"complementary {args.task} n={args.tracks}")
            results.append(entry)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(entry) + "\n")
        print(f"seed {seed}:", flush=True)
        for name, e in table.items():
            gain = "" if name == "stack" else f"  stack − this {e['stack_gain']:+.3f} [{e['low']:+.3f}, {e['high']:+.3f}] p={e['p']:.2g}"
            secs = rows["_seconds"].get(name)
            metric = "R²" if args.task == "regression" and not args.fourq else "macro F1"
            print(f"  {name:22s} {metric} {e['mean']:.3f}{gain}" + (f"  ({secs:.1f} s)" if secs else ""), flush=True)


if __name__ == "__main__":
    main()
