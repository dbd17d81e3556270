"""The report's figures (matplotlib, Agg backend, PNG): each takes plain tables and a path.

- :func:`va_plane`: predicted vs true valence/arousal of every held-out song, one panel per
  feature set × model, a line from each true point to its prediction.
- :func:`dynamic_curves`: truth vs prediction over time for a few songs.
- :func:`confusion`: a confusion matrix (quadrants).
- :func:`r2_bars`: R² per model × feature set and target, published R² marked as lines.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from moodflow.core.atomic import atomic_path  # noqa: E402

_SAVE = {"dpi": 100, "metadata": {"Software": None}}  # no version stamp: same data, same bytes


def plain(text: object) -> str:
    """A dataset string as literal figure text: one line, and no ``$`` that would start mathtext."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", " ", str(text)).replace("$", r"\$")


def figure_file(fig_dir: str | Path, stem: str) -> Path:
    """``fig_dir/<stem>.png`` with every character outside ``A-Za-z0-9_.+-`` replaced: a name
    built from set and model names never leaves the figures folder."""
    safe = re.sub(r"[^A-Za-z0-9_.+-]", "_", stem).lstrip(".") or "figure"
    return Path(fig_dir) / f"{safe}.png"


def save_figure(fig: plt.Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG without version metadata (same data, same bytes), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", **_SAVE)
    plt.close(fig)
    return path


def _grid(n: int, width: float = 4.0, height: float = 3.6) -> tuple[plt.Figure, list[plt.Axes]]:
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def va_plane(static: pd.DataFrame, path: str | Path, scale: Sequence[float] | None = None,
             scale_label: str = "") -> Path:
    """Predicted vs true points in the valence/arousal plane.

    ``static``: columns ``set, model, track_id, target, y_true, y_pred`` with valence and
    arousal rows (static task). One panel per (set, model).
    """
    keys = list(static.groupby(["set", "model"], sort=False).groups)
    fig, axes = _grid(len(keys))
    for ax, (fset, model) in zip(axes, keys):
        rows = static[(static["set"] == fset) & (static["model"] == model)]
        rows = rows.astype({"y_true": float, "y_pred": float})  # read as text beside class names
        wide = rows.pivot_table(index="track_id", columns="target", values=["y_true", "y_pred"], aggfunc="mean")
        tv, ta = wide["y_true"]["valence"], wide["y_true"]["arousal"]
        pv, pa = wide["y_pred"]["valence"], wide["y_pred"]["arousal"]
        ax.plot(np.vstack([tv, pv]), np.vstack([ta, pa]), color="0.75", lw=0.6, zorder=1)
        ax.scatter(tv, ta, s=14, c="tab:blue", label="true", zorder=2)
        ax.scatter(pv, pa, s=14, c="tab:orange", marker="x", label="predicted", zorder=3)
        if scale is not None:
            ax.set_xlim(*scale)
            ax.set_ylim(*scale)
            mid = (scale[0] + scale[1]) / 2
            ax.axhline(mid, color="0.85", lw=0.8, zorder=0)
            ax.axvline(mid, color="0.85", lw=0.8, zorder=0)
        ax.set_title(f"{plain(fset)} / {plain(model)}")
        ax.set_xlabel(f"valence {scale_label}".strip())
        ax.set_ylabel(f"arousal {scale_label}".strip())
        ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def dynamic_curves(dynamic: pd.DataFrame, path: str | Path, scale_label: str = "") -> Path:
    """Truth vs prediction over time: one panel per (set, model, song, target).

    ``dynamic``: columns ``set, model, track_id, target, time_s, y_true, y_pred``; the caller
    picks the songs.
    """
    keys = list(dynamic.groupby(["set", "model", "track_id", "target"], sort=True).groups)
    fig, axes = _grid(len(keys), height=2.8)
    for ax, (fset, model, track, target) in zip(axes, keys):
        rows = dynamic[(dynamic["set"] == fset) & (dynamic["model"] == model)
                       & (dynamic["track_id"] == track) & (dynamic["target"] == target)].sort_values("time_s")
        ax.plot(rows["time_s"], rows["y_true"], label="true", color="tab:blue")
        ax.plot(rows["time_s"], rows["y_pred"], label="predicted", color="tab:orange", ls="--")
        ax.set_title(f"{plain(track)} · {plain(target)} · {plain(fset)}/{plain(model)}", fontsize=9)
        ax.set_xlabel("time (s)")
        ax.set_ylabel(f"{plain(target)} {scale_label}".strip())
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def confusion(counts: np.ndarray, classes: Sequence[str], path: str | Path, title: str = "") -> Path:
    """A confusion matrix: rows true, columns predicted, counts written in the cells."""
    counts = np.asarray(counts, dtype=float)
    fig, ax = plt.subplots(figsize=(1.1 * len(classes) + 2, 1.1 * len(classes) + 1.5))
    ax.imshow(counts, cmap="Blues")
    ax.set_xticks(range(len(classes)), [plain(c) for c in classes])
    ax.set_yticks(range(len(classes)), [plain(c) for c in classes])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = counts.max() if counts.size else 0
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            ax.text(j, i, f"{counts[i, j]:g}", ha="center", va="center",
                    color="white" if counts[i, j] > top / 2 else "black")
    ax.set_title(plain(title))
    fig.tight_layout()
    return save_figure(fig, path)


def r2_bars(ours: pd.DataFrame, path: str | Path, published: pd.DataFrame | None = None) -> Path:
    """R² per (set/model) and target, ± std over folds; published R² as dashed lines.

    ``ours``: columns ``set, model, target, r2, r2_std``; ``published``: ``id, target, value``.
    """
    targets = list(dict.fromkeys(ours["target"]))
    labels = list(dict.fromkeys(f"{s}/{m}" for s, m in zip(ours["set"], ours["model"])))
    width = 0.8 / max(len(targets), 1)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(labels) + 3), 4))
    x = np.arange(len(labels))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, target in enumerate(targets):
        rows = ours[ours["target"] == target].assign(label=lambda d: d["set"] + "/" + d["model"]).set_index("label")
        vals = [rows["r2"].get(lab, np.nan) for lab in labels]
        errs = [rows["r2_std"].get(lab, np.nan) for lab in labels]
        ax.bar(x + k * width - 0.4 + width / 2, vals, width, yerr=errs, capsize=3,
               color=colors[k % len(colors)], label=f"{plain(target)} (ours)")
    if published is not None and len(published):
        styles = ["--", ":", "-.", (0, (5, 1)), (0, (1, 3))]
        for i, (ref_id, rows) in enumerate(published.groupby("id", sort=False)):
            for _, row in rows.iterrows():
                k = targets.index(row["target"]) if row["target"] in targets else 0
                ax.axhline(row["value"], ls=styles[i % len(styles)], lw=1, color=colors[k % len(colors)],
                           label=f"{plain(ref_id)} {plain(row['target'])} {row['value']:.3f}")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(x, [plain(label) for label in labels], rotation=20, ha="right")
    ax.set_ylabel("R² (mean ± std over folds)")
    ax.set_title("R² by model and feature set")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return save_figure(fig, path)
