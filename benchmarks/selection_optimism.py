"""How much of a tuned score is selection? The 4Q SVM picked on all data vs inside each fold.

A paper that grid-searches C and gamma by the cross-validated score and then reports that
score reports the best of many noisy estimates; nested tuning (moodflow's ``search``) picks
inside each training fold and never sees the test fold. On the 4Q authors' top-100 features
and their protocol (20 × 10-fold stratified CV) this prints, on the same outer folds:

- the authors' settings (C = 8, gamma = 2^-9);
- every grid point's score, and the best of them ("chosen on the reported folds": optimistic);
- the nested result with the same grid (``--nested``; slow: grid × inner folds × 200 fits).

Both ``macro_f1`` (mean of per-class F1s) and ``weighted_pr_f1`` (the authors' metric) are
shown. Run: ``python benchmarks/selection_optimism.py [SHARED_DATA] [--repeats 20] [--nested]``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from moodflow.core.config import build  # noqa: E402
from moodflow.evaluation.protocols import make_folds  # noqa: E402
from moodflow.evaluation.summary import summarise_classification  # noqa: E402
from moodflow.models.base import ModelRecipe  # noqa: E402
from moodflow.models.svm import SVMConfig  # noqa: E402
from moodflow.train.crossval import cross_validate  # noqa: E402
from moodflow.train.problems import ClassesProblem  # noqa: E402
from reproduce_4q import SVM_PARAMS, load_4q, protocol_arguments  # noqa: E402

METRICS = ("macro_f1", "weighted_pr_f1")
# half steps in log2 around the authors' ridge (their C·gamma = 2^-6)
DEFAULT_C = [2.0 ** e for e in np.arange(1.0, 4.01, 0.5)]
DEFAULT_GAMMA = [2.0 ** e for e in np.arange(-10.0, -6.99, 0.5)]


def _score(problem: ClassesProblem, folds, settings: dict, *, seed: int, jobs: int) -> dict[str, float]:
    recipe = ModelRecipe("svm", build(SVMConfig, {"kernel": "rbf", **settings}, "train.svm"))
    predictions, *_ = cross_validate(recipe, problem, folds, seed=seed, jobs=jobs)
    summary = summarise_classification(predictions, problem.classes)[problem.target]
    return {m: summary[m] for m in METRICS}


def selection_optimism(shared_data: str | Path, *, repeats: int = 20, folds: int = 10, seed: int = 1,
                       C: list[float] | None = None, gamma: list[float] | None = None, nested: bool = False,
                       search_folds: int = 3, jobs: int = 1) -> dict:
    """Scores of the authors' settings, of every grid point and of nested tuning, on one set
    of outer folds (see the module docstring)."""
    X, y, ids, classes = load_4q(shared_data)
    problem = ClassesProblem(X, y, ids, classes, "quadrant")
    outer = make_folds(ids, kind="stratified", folds=folds, repeats=repeats, seed=seed, classes=y).folds
    C, gamma = list(C or DEFAULT_C), list(gamma or DEFAULT_GAMMA)
    t0 = time.perf_counter()
    authors = _score(problem, outer, SVM_PARAMS, seed=seed, jobs=jobs)
    grid = [{"C": c, "gamma": g, **_score(problem, outer, {"C": c, "gamma": g}, seed=seed, jobs=jobs)}
            for c in C for g in gamma]
    out = {"folds": len(outer), "authors": authors, "grid": grid, "grid_seconds": time.perf_counter() - t0,
           "best_on_reported_folds": {m: max(grid, key=lambda row: row[m]) for m in METRICS}}
    if nested:
        t0 = time.perf_counter()
        out["nested"] = _score(problem, outer, {**SVM_PARAMS, "search": {"C": C, "gamma": gamma},
                                                "search_folds": search_folds}, seed=seed, jobs=jobs)
        out["nested_seconds"] = time.perf_counter() - t0
    return out


def _log2(v: float) -> str:
    return f"2^{np.log2(v):g}"


def main(argv: list[str] | None = None) -> int:
    ap = protocol_arguments(__doc__.splitlines()[0])
    ap.add_argument("--nested", action="store_true", help="also tune inside every training fold (slow)")
    ap.add_argument("--search-folds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    args = ap.parse_args(argv)
    res = selection_optimism(args.shared_data, repeats=args.repeats, folds=args.folds, seed=args.seed,
                             nested=args.nested, search_folds=args.search_folds, jobs=args.jobs)
    print(f"{args.repeats} x {args.folds}-fold stratified CV ({res['folds']} folds), SVM RBF, 4Q top-100")
    print("| selection | macro F1 | F1 of weighted P, R (authors' metric) |\n|---|---|---|")
    a = res["authors"]
    print(f"| authors' settings C 8, gamma 2^-9 | {100 * a['macro_f1']:.2f} | {100 * a['weighted_pr_f1']:.2f} |")
    for m, row in res["best_on_reported_folds"].items():
        print(f"| best of {len(res['grid'])} grid points by {m}, chosen on the reported folds (optimistic): "
              f"C {_log2(row['C'])}, gamma {_log2(row['gamma'])} | {100 * row['macro_f1']:.2f} | "
              f"{100 * row['weighted_pr_f1']:.2f} |")
    if "nested" in res:
        n = res["nested"]
        print(f"| nested: same grid, {args.search_folds} inner folds in every training fold | "
              f"{100 * n['macro_f1']:.2f} | {100 * n['weighted_pr_f1']:.2f} |")
    print(f"grid {res['grid_seconds']:.0f} s" + (f", nested {res['nested_seconds']:.0f} s" if "nested" in res else ""))
    if args.out:
        args.out.write_text(json.dumps(res, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
