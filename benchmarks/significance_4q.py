"""Do the tuned and the untuned 4Q SVM differ? The report's significance test on the 4Q authors'
top-100 features and protocol (20 × 10-fold stratified CV, seed 1).

Untuned: the authors' SVM (RBF, C = 8, gamma = 2^-9). Tuned: the svm's documented search
(``train.tune: true``) inside every training fold. Both run on the same outer folds; the
per-fold macro F1 (and the authors' ``weighted_pr_f1``) of the two are compared with the
corrected resampled t-test (moodflow.evaluation.significance), beside the plain paired t-test
that ignores the overlap of training sets. Predictions are kept in ``--out`` (CSV), so a second
run only re-does the statistics.

Run: ``python benchmarks/significance_4q.py [SHARED_DATA] [--out DIR] [--jobs N]`` (the tuned run
takes ~10–30 min on two cores).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from moodflow.evaluation.significance import (  # noqa: E402
    corrected_interval, corrected_resampled_ttest, fold_scores, holdout_ratio,
)
from reproduce_4q import protocol_arguments, reproduce  # noqa: E402

METRICS = ("macro_f1", "weighted_pr_f1", "accuracy")


def predictions(shared_data: str, out: Path, name: str, *, tune: bool, repeats: int, folds: int, seed: int,
                jobs: int) -> tuple[pd.DataFrame, list[str]]:
    path = out / f"{name}.csv"
    if path.exists():
        table = pd.read_csv(path, dtype={"track_id": str, "fold": str, "y_true": str, "y_pred": str})
        return table, json.loads((out / f"{name}.json").read_text())["classes"]
    t0 = time.perf_counter()
    res = reproduce(shared_data, repeats=repeats, folds=folds, seed=seed, jobs=jobs, tune=tune)
    table = res["predictions"]
    classes = [str(c) for c in res["confusion"].columns]
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    (out / f"{name}.json").write_text(json.dumps({"classes": classes, "seconds": time.perf_counter() - t0}))
    return pd.read_csv(path, dtype={"track_id": str, "fold": str, "y_true": str, "y_pred": str}), classes


def main(argv: list[str] | None = None) -> int:
    ap = protocol_arguments(__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("significance_4q"))
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args(argv)
    kw = {"repeats": args.repeats, "folds": args.folds, "seed": args.seed, "jobs": args.jobs}
    untuned, classes = predictions(args.shared_data, args.out, "untuned", tune=False, **kw)
    tuned, _ = predictions(args.shared_data, args.out, "tuned", tune=True, **kw)
    ratio = holdout_ratio(untuned)
    print(f"{args.repeats} x {args.folds}-fold stratified CV, seed {args.seed}; n_test/n_train = {ratio:.4f}")
    result = {}
    for metric in METRICS:
        a = fold_scores(untuned, "classification", "quadrant", metric, classes)
        b = fold_scores(tuned, "classification", "quadrant", metric, classes)
        if list(a.index) != list(b.index):
            raise SystemExit("the two runs do not share their folds")
        corrected = corrected_resampled_ttest(b.to_numpy(), a.to_numpy(), ratio)
        plain = corrected_resampled_ttest(b.to_numpy(), a.to_numpy(), ratio, corrected=False)
        ia, ib = corrected_interval(a.to_numpy(), ratio), corrected_interval(b.to_numpy(), ratio)
        verdict = ("tuned is better" if corrected.better() > 0 else "untuned is better" if corrected.better() < 0
                   else "no significant difference")
        print(f"{metric}: untuned {100 * ia.value:.2f} % [{100 * ia.low:.2f}, {100 * ia.high:.2f}], "
              f"tuned {100 * ib.value:.2f} % [{100 * ib.low:.2f}, {100 * ib.high:.2f}]")
        print(f"  tuned − untuned {100 * corrected.difference:+.2f} points, 95 % interval "
              f"[{100 * corrected.low:+.2f}, {100 * corrected.high:+.2f}], t {corrected.t:.3f}, "
              f"dof {corrected.dof}, p {corrected.p:.3f} (corrected): {verdict}")
        print(f"  plain paired t-test (overlap ignored): [{100 * plain.low:+.2f}, {100 * plain.high:+.2f}], "
              f"t {plain.t:.3f}, p {plain.p:.4f}")
        result[metric] = {"untuned": ia.__dict__, "tuned": ib.__dict__, "corrected": corrected.__dict__,
                          "plain": plain.__dict__}
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
