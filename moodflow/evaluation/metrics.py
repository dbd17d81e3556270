"""Metrics, computed from saved predictions so every reported number can be recomputed."""

from __future__ import annotations

import numpy as np
from scipy import stats


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination (1 - SS_res / SS_tot)."""
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    ss_tot = np.sum((y_true - y_true.mean()) ** 2)
    if ss_tot == 0:
        return float("nan")
    return float(1.0 - np.sum((y_true - y_pred) ** 2) / ss_tot)


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
