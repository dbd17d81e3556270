"""The structure check every tree model shares before it is used: sklearn trees (sklearn_check)
and XGBoost boosters (xgb_check) both store a tree as child and feature index arrays, and an
index out of range is an out-of-bounds read in their native predict code."""

from __future__ import annotations

import numpy as np


def check_tree_arrays(left: np.ndarray, right: np.ndarray, feature: np.ndarray, n: int, n_features: int,
                      where: str) -> np.ndarray:
    """Raise ValueError unless the ``n`` nodes form one tree rooted at node 0 (leaves: both
    children -1; inner children in 1..n-1, each node but the root with exactly one parent) whose
    inner nodes split on features 0..n_features-1. Returns the inner nodes' indices."""
    leaf = left == -1
    if np.any(leaf != (right == -1)):
        raise ValueError(f"{where}: node {int(np.flatnonzero(leaf != (right == -1))[0])} has one child")
    inner = np.flatnonzero(~leaf)
    for side, children in (("left", left), ("right", right)):
        bad = inner[(children[inner] < 1) | (children[inner] >= n)]
        if len(bad):
            raise ValueError(f"{where}: node {int(bad[0])}'s {side} child {int(children[bad[0]])} is outside 1..{n - 1}")
    bad = inner[(feature[inner] < 0) | (feature[inner] >= n_features)]
    if len(bad):
        raise ValueError(f"{where}: node {int(bad[0])} splits on feature {int(feature[bad[0]])} "
                         f"of a model with {n_features} features")
    counts = np.bincount(np.concatenate([left[inner], right[inner]]).astype(np.int64), minlength=n)
    if counts[0] or np.any(counts[1:] != 1):
        raise ValueError(f"{where}: the nodes do not form a tree (a node has several parents or none)")
    return inner
