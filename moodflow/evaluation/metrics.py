"""Metrics, computed from saved predictions so every reported number can be recomputed."""

from __future__ import annotations

import numpy as np
from scipy import stats


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination (1 - SS_res / SS_tot), scikit-learn's ``r2_score``; NaN when
    the true values are constant (undefined there: scikit-learn would report 0 or 1)."""
    from sklearn.metrics import r2_score

    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    if len(y_true) < 2 or np.all(y_true == y_true[0]):
        return float("nan")
    return float(r2_score(y_true, y_pred))


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error, on the labels' own scale."""
    return float(np.sqrt(np.mean((np.asarray(y_true, float) - np.asarray(y_pred, float)) ** 2)))


def pearson(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Pearson correlation; NaN when either side is constant."""
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    if len(y_true) < 2 or np.std(y_true) == 0 or np.std(y_pred) == 0:
        return float("nan")
    return float(stats.pearsonr(y_true, y_pred)[0])


def kendall_tau(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Kendall's tau-b; NaN when either side is constant."""
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    if len(y_true) < 2 or np.std(y_true) == 0 or np.std(y_pred) == 0:
        return float("nan")
    return float(stats.kendalltau(y_true, y_pred)[0])


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """R², RMSE and Pearson r of one target."""
    return {"r2": r2(y_true, y_pred), "rmse": rmse(y_true, y_pred), "pearson": pearson(y_true, y_pred)}


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict[str, float]:
    """Macro F1, weighted F1, the F1 of weighted precision and recall, and accuracy.

    ``y_true``/``y_pred`` are class names; every class in ``classes`` counts in the macro
    average, also when a fold lacks it. ``weighted_pr_f1`` is what the 4Q authors report as
    "F1-Score: macro weighted" (see :func:`weighted_pr_f1`).
    """
    from sklearn.metrics import accuracy_score, f1_score

    y_true, y_pred = np.asarray(y_true, dtype=str), np.asarray(y_pred, dtype=str)
    labels = [str(c) for c in classes]
    return {
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
        "weighted_pr_f1": weighted_pr_f1(y_true, y_pred, labels),
        "accuracy": float(accuracy_score(y_true, y_pred)),
    }


def weighted_pr_f1(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> float:
    """The harmonic mean of the support-weighted mean precision and recall over ``classes``.

    Not the mean of per-class F1s (``macro_f1``/``weighted_f1``): a harmonic mean of averages
    is at least the average of harmonic means, so this reads higher (≈ 0.45 points on 4Q).
    Weighted recall equals accuracy. A class never predicted has precision 0.
    """
    from sklearn.metrics import precision_recall_fscore_support

    if len(y_true) == 0:
        return float("nan")
    precision, recall, _, _ = precision_recall_fscore_support(
        np.asarray(y_true, dtype=str), np.asarray(y_pred, dtype=str), labels=[str(c) for c in classes],
        average="weighted", zero_division=0)
    return float(2 * precision * recall / (precision + recall)) if precision + recall > 0 else 0.0


def confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> np.ndarray:
    """(C, C) counts; rows are true classes, columns predicted, in ``classes`` order."""
    from sklearn.metrics import confusion_matrix

    labels = [str(c) for c in classes]
    return confusion_matrix(np.asarray(y_true, dtype=str), np.asarray(y_pred, dtype=str), labels=labels)


def tagging_metrics(y_true: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Macro PR-AUC (average precision) and ROC-AUC over tags, plus micro PR-AUC.

    ``y_true`` and ``scores`` are (n, K). Tags with no positive (PR-AUC) or only one class
    (ROC-AUC) in ``y_true`` are left out of the macro average; ``n_tags`` counts those kept.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    y_true, scores = np.asarray(y_true, float), np.asarray(scores, float)
    pr, roc = [], []
    for k in range(y_true.shape[1]):
        pos = y_true[:, k].sum()
        if pos > 0:
            pr.append(average_precision_score(y_true[:, k], scores[:, k]))
        if 0 < pos < len(y_true):
            roc.append(roc_auc_score(y_true[:, k], scores[:, k]))
    nan = float("nan")
    micro = average_precision_score(y_true.ravel(), scores.ravel()) if y_true.sum() > 0 else nan
    return {
        "pr_auc": float(np.mean(pr)) if pr else nan,
        "roc_auc": float(np.mean(roc)) if roc else nan,
        "pr_auc_micro": float(micro),
        "n_tags": float(len(pr)),
    }


def dynamic_metrics(
    track_ids: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray
) -> dict[str, float]:
    """Per-song RMSE, Pearson r and Kendall's tau averaged over songs, and pooled R²/RMSE/r.

    Songs where r or tau is undefined (a constant curve) are left out of those averages.
    """
    track_ids = np.asarray(track_ids, dtype=str)
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    per_song = {"rmse_song": [], "pearson_song": [], "kendall_tau": []}
    # rows grouped by song once (a mask per song would cost songs × rows); song order as np.unique
    _, song = np.unique(track_ids, return_inverse=True)
    order = np.argsort(song, kind="stable")
    for rows in np.split(order, np.flatnonzero(np.diff(song[order])) + 1) if len(order) else []:
        t, p = y_true[rows], y_pred[rows]
        per_song["rmse_song"].append(rmse(t, p))
        per_song["pearson_song"].append(pearson(t, p))
        per_song["kendall_tau"].append(kendall_tau(t, p))
    out = {k: float(np.nanmean(v)) if np.any(~np.isnan(v)) else float("nan") for k, v in per_song.items()}
    out.update(regression_metrics(y_true, y_pred))
    return out
