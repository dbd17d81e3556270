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

from moodflow.report.document import Bullets, Code, Figure, Paragraph, Plain, Section  # noqa: E402
from moodflow.report.figures import figure_file, plain, save_figure  # noqa: E402
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
    ax.set_yticks(np.arange(len(table)), [plain(n)[:34] for n in table["name"]], fontsize=7)
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
        _bars(row[-1], features, f"{plain(target)}: top {len(features)} features ({what})")
        if cols == 2:
            _bars(row[0], families[families["target"] == target], f"{plain(target)}: feature families")
    fig.suptitle(f"{plain(run.feature_set)}/{plain(run.model)}: held-out feature importance", fontsize=10)
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
            ax.plot(g["time_s"], g["y_true"], color=colors[k], label=f"{plain(target)} (labels)")
            ax.plot(g["time_s"], g["y_pred"], color=colors[k], ls="--", label=f"{plain(target)} (predicted)")
        att = attention[(attention["track_id"] == song) & (attention["fold"] == first_fold)].sort_values("time_s")
        twin = ax.twinx()
        twin.fill_between(att["time_s"], 0, att["weight"], color="0.6", alpha=0.35, step="mid", label="attention")
        twin.set_ylabel("attention received", fontsize=8)
        ax.set_title(f"{plain(song)} ({plain(run.feature_set)}/{plain(run.model)}, fold {plain(first_fold)})", fontsize=9)
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
                run, table, figure_file(fig_dir, f"importance_{run.feature_set}-{run.model}"))
        attention = attention_of(run)
        if attention is not None and len(attention):
            out[f"attention_{run.feature_set}_{run.model}"] = attention_figure(
                run, attention, figure_file(fig_dir, f"attention_{run.feature_set}-{run.model}"))
    return out


def explanations_section(runs: list[Run], figs: dict[str, str]) -> list[Section]:
    """The "Explanations" section and one sub-section per explained run (none when no run saved
    importance or attention); ``figs``: figure name → path inside reports/ (written this run)."""
    subsections: list[Section] = []
    for run in runs:
        table = importance_of(run)
        key = f"{run.feature_set}_{run.model}"
        if (table is None or not len(table)) and f"attention_{key}" not in figs:
            continue
        sub = Section([f"{run.feature_set}/{run.model}"], 3)
        table = table if table is not None else pd.DataFrame(columns=["method", "level", "name", "target", "mean"])
        perm = table[table["method"] == "permutation"]
        source = perm if len(perm) else table
        items = []
        for target, g in source.groupby("target", sort=False):
            fam = g[g["level"] == "family"].head(3)
            feat = g[g["level"] == "feature"].head(5)
            line: list = [str(target), ": "]
            if len(fam):
                line += ["families "] + _named(fam)
                line.append("; ")
            line += ["features "] + _named(feat)
            items.append(line)
        if items:
            tracks = run.predictions["track_id"].nunique()
            sub.add(Paragraph([Plain(f"Held-out importance over {tracks} tracks:")]), Bullets(items))
        for name in (f"importance_{key}", f"attention_{key}"):
            if name in figs:
                sub.add(Figure(name, figs[name]))
        subsections.append(sub)
    if not subsections:
        return []
    intro = Section(["Explanations"], 2, [Paragraph([
        "What each model listens to, measured on held-out folds only: the drop in the fold's score "
        "(R² per target, macro F1, PR-AUC) when a feature family or a feature (for ComParE: one LLD with "
        "its delta and all its functionals) is shuffled across the test tracks, mean ± std over folds × "
        "repeats (", Code("importance.csv"), "); XGBoost adds its exact per-feature contributions. Attention plots "
        "show, for a sequence model with ", Code("arch: attention"), ", how much each frame of a held-out "
        "song was attended to, beside the labels and the predicted curve."])])
    return [intro, *subsections]


def _named(rows: pd.DataFrame) -> list:
    """``name (0.123), name (0.045)`` as parts: the names are text, the numbers ours."""
    parts: list = []
    for i, (name, mean) in enumerate(zip(rows["name"], rows["mean"])):
        parts += ([Plain(", ")] if i else []) + [str(name), Plain(f" ({mean:.3f})")]
    return parts
