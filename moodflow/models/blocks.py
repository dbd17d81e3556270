"""Column blocks of a combined feature set (one block per store, ``moodflow.train.combined``).

``block_weight: equal`` (``train.combine``) scales each standardised block by 1/√(its columns):
a block of p standardised columns then carries a total variance of 1 whatever p is, so 6,373
ComParE columns no longer swamp 12 chroma ones in a distance (SVM, kNN) or a ridge penalty.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def block_edges(blocks: Sequence[int], n_columns: int) -> list[tuple[int, int]]:
    """(start, stop) column range of every block; refuses widths that do not add up to ``n_columns``."""
    widths = [int(b) for b in blocks]
    if any(w < 1 for w in widths) or sum(widths) != n_columns:
        raise ValueError(f"column blocks {widths} do not add up to the {n_columns} columns given")
    stops = np.cumsum(widths).tolist()
    return [(stop - w, stop) for w, stop in zip(widths, stops)]


def block_scale(blocks: Sequence[int], n_columns: int) -> np.ndarray:
    """(n_columns,) factor per column: √(columns of its block). Dividing standardised values by it
    (multiplying a scaler's ``scale_``) gives every block the same total variance."""
    return np.concatenate([np.full(stop - start, np.sqrt(stop - start)) for start, stop in block_edges(blocks, n_columns)])
