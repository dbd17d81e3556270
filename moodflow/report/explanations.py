"""The report's "Explanations": what each model listens to (held-out feature importance, from
``importance.csv``) and, for an attention model, where in a song it looks (``attention.csv``).
Both files are written by the train stage from held-out folds only (moodflow.train.importance).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from moodflow.report.figures import save_figure  # noqa: E402
from moodflow.report.tables import Run  # noqa: E402

TOP_FEATURES = 10
MAX_TARGETS = 3
ATTENTION_SONGS = 2


def importance_of(run: Run) -> pd.DataFrame | None:
    path = run.folder / "importance.csv"
    return pd.read_csv(path) if path.exists() else None


def attention_of(run: Run) -> pd.DataFrame | None:
    path = run.folder / "attention.csv"
    return pd.read_csv(path, dtype={"track_id": str, "fold": str}) if path.exists() else None


def _bars(ax, table: pd.DataFrame, title: str) -> None:
    table = table.iloc[::-1]
    ax.barh(np.arange(len(table)), table["mean"], xerr=table["std"], color="tab:blue", alpha=0.8, capsize=2)
    ax.set_yticks(np.arange(len(table)), [str(n)[:34] for n in table["name"]], fontsize=7)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_title(title, fontsize=9)


def importance_figure(run: Run, table: pd.DataFrame, path: Path) -> Path:
    """Per target: the feature families and the top features, by held-out importance."""
    perm = table[table["method"] == "permutation"]
    source = perm if len(perm) else table
    targets = list(dict.fromkeys(source["target"]))[:MAX_TARGETS]
    families = source[source["level"] == "family"]
    cols = 2 if len(families) else 1
    fig, axes = plt.subplots(len(targets), cols, figsize=(5.2 * cols, 2.8 * len(targets)), squeeze=False)
    what = "score drop when shuffled" if len(perm) else "mean |SHAP contribution|"
    for row, target in zip(axes, targets):
        features = source[(source["level"] == "feature") & (source["target"] == target)].head(TOP_FEATURES)
        _bars(row[-1], features, f"{target}: top {len(features)} features ({what})")
        if cols == 2:
            _bars(row[0], families[families["target"] == target], f"{target}: feature families")
    fig.suptitle(f"{run.feature_set}/{run.model}: held-out feature importance", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def attention_figure(run: Run, attention: pd.DataFrame, path: Path) -> Path:
    """For a few songs: dynamic labels, predicted curves and the attention on one time axis."""
    dyn = run.predictions[run.predictions["task"] == "dynamic"]
    songs = sorted(set(attention["track_id"]) & set(dyn["track_id"]))[:ATTENTION_SONGS]
    fig, axes = plt.subplots(len(songs), 1, figsize=(8, 2.8 * len(songs)), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, song in zip(axes[:, 0], songs):
        first_fold = sorted(attention.loc[attention["track_id"] == song, "fold"])[0]
        rows = dyn[(dyn["track_id"] == song) & (dyn["fold"] == first_fold)]
        for k, (target, g) in enumerate(rows.groupby("target", sort=True)):
            g = g.sort_values("time_s")
            ax.plot(g["time_s"], g["y_true"], color=colors[k], label=f"{target} (labels)")
            ax.plot(g["time_s"], g["y_pred"], color=colors[k], ls="--", label=f"{target} (predicted)")
        att = attention[(attention["track_id"] == song) & (attention["fold"] == first_fold)].sort_values("time_s")
        twin = ax.twinx()
        twin.fill_between(att["time_s"], 0, att["weight"], color="0.6", alpha=0.35, step="mid", label="attention")
        twin.set_ylabel("attention received", fontsize=8)
        ax.set_title(f"{song} ({run.feature_set}/{run.model}, fold {first_fold})", fontsize=9)
        ax.set_xlabel("time (s)")
        ax.legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    return save_figure(fig, path)


def explanation_figures(runs: list[Run], fig_dir: Path) -> dict[str, Path]:
    out = {}
    for run in runs:
        table = importance_of(run)
        if table is not None and len(table):
            out[f"importance_{run.feature_set}_{run.model}"] = importance_figure(
                run, table, fig_dir / f"importance_{run.feature_set}-{run.model}.png")
        attention = attention_of(run)
        if attention is not None and len(attention):
            out[f"attention_{run.feature_set}_{run.model}"] = attention_figure(
                run, attention, fig_dir / f"attention_{run.feature_set}-{run.model}.png")
    return out


def explanations_markdown(runs: list[Run], figs: dict[str, Path], reports_dir: Path) -> list[str]:
    """The "Explanations" section (empty when no run saved importance or attention)."""
    lines: list[str] = []
    for run in runs:
        table = importance_of(run)
        key = f"{run.feature_set}_{run.model}"
        if (table is None or not len(table)) and f"attention_{key}" not in figs:
            continue
        lines += [f"### {run.feature_set}/{run.model}", ""]
        table = table if table is not None else pd.DataFrame(columns=["method", "level", "name", "target", "mean"])
        perm = table[table["method"] == "permutation"]
        source = perm if len(perm) else table
        for target, g in source.groupby("target", sort=False):
            fam = g[g["level"] == "family"].head(3)
            feat = g[g["level"] == "feature"].head(5)
            parts = []
            if len(fam):
                parts.append("families " + ", ".join(f"{n} ({m:.3f})" for n, m in zip(fam["name"], fam["mean"])))
            parts.append("features " + ", ".join(f"{n} ({m:.3f})" for n, m in zip(feat["name"], feat["mean"])))
            lines.append(f"- {target}: " + "; ".join(parts))
        lines.append("")
        for name in (f"importance_{key}", f"attention_{key}"):
            if name in figs:
                lines += [f"![{name}]({Path(figs[name]).relative_to(reports_dir).as_posix()})", ""]
    if not lines:
        return []
    intro = ["## Explanations", "",
             "What each model listens to, measured on held-out folds only: the drop in the fold's score "
             "(R² per target, macro F1, PR-AUC) when a feature family or a feature (for ComParE: one LLD with "
             "its delta and all its functionals) is shuffled across the test tracks, mean ± std over folds × "
             "repeats (`importance.csv`); XGBoost adds its exact per-feature contributions. Attention plots "
             "show, for a `seq` model with `arch: attention`, how much each frame of a held-out song was "
             "attended to, beside the labels and the predicted curve.", ""]
    return intro + lines
