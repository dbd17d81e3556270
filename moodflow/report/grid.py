"""Music2Emo's experiment grid in one command, and its table from the experiments' metrics.

Music2Emo's table (Kang & Herremans 2025) trains on each dataset alone and on Jamendo with DEAM,
emoMusic, PMEmo (J+D, J+E, J+P) and all four (J+D+E+P). ``queue`` prints one ``dvc exp run
--queue`` per run of that grid (8 experiments: J, D, E, P alone, then the four joint ones;
``moodflow/report/music2emo_grid.csv``), ``table`` fills the table's shape from each experiment's
``reports/metrics.json`` beside the published numbers (``references_joint.csv``)::

    python -m moodflow.report.grid queue --root jamendo=/data/mtg-jamendo-dataset --root deam=/data/DEAM \\
        --root emomusic=/data/emoMusic --root pmemo=/data/PMEmo2019 --set 'features.sets=[mert]' > queue.sh
    sh queue.sh && dvc queue start && dvc queue status
    # each finished experiment: its reports/metrics.json, e.g. `dvc exp apply m2e-J-D && cp reports/metrics.json m2e/J+D.json`
    python -m moodflow.report.grid table --set mert --model multitask m2e/*.json

A joint run reads every member's numbers from ``<set>.<model>.datasets.<member>``; a single run
from ``<set>.<model>`` itself. ``--derive`` adds ``dataset.jamendo.derive_va=tags`` to the runs
with Jamendo and others (Music2Emo's V/A targets for Jamendo).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

# (metrics key, target, metric, column title)
_COLUMNS = [("valence", "valence", "r2", "V R²"), ("arousal", "arousal", "r2", "A R²"),
            ("tagging", "tags", "pr_auc", "PR-AUC"), ("tagging", "tags", "roc_auc", "ROC-AUC")]


def grid() -> pd.DataFrame:
    """The runs of Music2Emo's grid: label, regime, datasets (a list)."""
    with resources.files("moodflow.report").joinpath("music2emo_grid.csv").open("r", encoding="utf-8") as fh:
        table = pd.read_csv(fh, dtype=str, keep_default_na=False)
    table["datasets"] = table["datasets"].str.split()
    return table


def exp_name(label: str) -> str:
    """A DVC experiment name for a grid label (``J+D`` → ``m2e-J-D``)."""
    return "m2e-" + label.replace("+", "-")


def queue_commands(roots: Mapping[str, str], sets: Sequence[str] = (), derive: bool = False) -> list[str]:
    """One ``dvc exp run --queue`` line per run of the grid (``roots``: dataset → its folder)."""
    lines = []
    for row in grid().itertuples():
        names = list(row.datasets)
        missing = [n for n in names if n not in roots]
        if missing:
            raise ValueError(f"grid: no --root for {missing}")
        args = ["dvc", "exp", "run", "--queue", "-n", exp_name(row.label)]
        if len(names) == 1:
            args += ["-S", f"dataset.name={names[0]}", "-S", f"dataset.root={roots[names[0]]}"]
        else:
            args += ["-S", f"dataset.name=[{','.join(names)}]"]
            args += [a for n in names for a in ("-S", f"+dataset.roots.{n}={roots[n]}")]
        if derive and isinstance(row.derive_va, str) and row.derive_va:  # the joint runs: Jamendo's V/A from tags
            args += ["-S", f"dataset.{row.derive_va}.derive_va=tags"]
        args += [a for s in sets for a in ("-S", s)]
        lines.append(" ".join(shlex.quote(a) for a in args))
    return lines


def _value(entry: Mapping[str, Any], key: str, target: str, metric: str) -> float:
    node = entry.get(key) or {}
    if key == "tagging":
        node = node.get(target) or node  # {"tagging": {"tags": {…}}} or {"tagging": {…}}
    value = node.get(metric) if isinstance(node, Mapping) else None
    return float(value) if isinstance(value, (int, float)) else np.nan


def grid_table(metrics: Mapping[str, Mapping[str, Any]], feature_set: str, model: str,
               refs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Music2Emo's table shape: a row per regime (published and ours), a column per dataset ×
    metric. ``metrics``: grid label → that experiment's ``reports/metrics.json``."""
    from moodflow.report.joint import load_joint_references

    refs = load_joint_references() if refs is None else refs
    runs = grid()
    members = list(dict.fromkeys(n for names in runs["datasets"] for n in names))
    columns = [(n, key, target, metric, f"{n} {title}") for n in members for key, target, metric, title in _COLUMNS]
    rows = []
    for regime, group in runs.groupby("regime", sort=False):
        published = refs[refs["training"] == regime]
        if len(published):
            by = {(r.dataset, r.target, r.metric): r.value for r in published.itertuples()}
            rows.append([f"Music2Emo, {regime} (published)"] + [by.get((n, t, m), np.nan) for n, _, t, m, _ in columns])
        ours = {c[4]: np.nan for c in columns}
        found = False
        for row in group.itertuples():
            entry = ((metrics.get(row.label) or {}).get(feature_set) or {}).get(model)
            if not isinstance(entry, Mapping) or "status" in entry and len(entry) == 1:
                continue
            found = True
            for n, key, target, metric, title in columns:
                if n not in row.datasets:
                    continue
                source = entry if len(row.datasets) == 1 else ((entry.get("datasets") or {}).get(n) or {})
                ours[title] = _value(source, key, target, metric)
        if found:
            rows.append([f"ours: {feature_set}/{model}, {regime}"] + [ours[c[4]] for c in columns])
    table = pd.DataFrame(rows, columns=["training"] + [c[4] for c in columns])
    keep = ["training"] + [c for c in table.columns[1:] if table[c].notna().any()]
    return table[keep]


def markdown(table: pd.DataFrame) -> str:
    """The table as Markdown (— where there is no number)."""
    head = "| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns) + "\n"
    body = "".join("| " + " | ".join([str(r[0])] + ["—" if pd.isna(v) else f"{v:.3f}" for v in r[1:]]) + " |\n"
                   for r in table.itertuples(index=False))
    return head + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m moodflow.report.grid", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("queue", help="print the dvc exp run --queue lines of Music2Emo's grid")
    q.add_argument("--root", action="append", default=[], metavar="NAME=FOLDER", help="each dataset's folder")
    q.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="more -S for every run")
    q.add_argument("--derive", action="store_true", help="dataset.jamendo.derive_va=tags in the joint runs")
    t = sub.add_parser("table", help="Music2Emo's table from the experiments' reports/metrics.json")
    t.add_argument("metrics", nargs="+", help="<label>.json files (J.json, J+D.json …) or LABEL=PATH")
    t.add_argument("--set", required=True, dest="feature_set")
    t.add_argument("--model", required=True, help="the model whose numbers fill the table (Music2Emo's is multitask)")
    args = parser.parse_args(argv)
    try:
        if args.command == "queue":
            roots = dict(r.split("=", 1) for r in args.root)
            print("\n".join(queue_commands(roots, args.set, args.derive)))
            return 0
        from moodflow.core.schema import read_json_file

        metrics = {}
        for item in args.metrics:
            label, path = item.split("=", 1) if "=" in item else (Path(item).stem, item)
            metrics[label] = read_json_file(Path(path), "run_metrics")
        print(markdown(grid_table(metrics, args.feature_set, args.model)), end="")
        return 0
    except (ValueError, OSError) as exc:
        print(f"moodflow: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
