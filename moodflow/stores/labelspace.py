"""One label space for several datasets (a joint experiment) and the way back to each one's own.

A joint prepared dataset (``dataset.name: [pmemo, emomusic, …]``) holds every dimensional
label on one training scale, so one model learns from all of them: static valence/arousal on
**1–9** (the scale of DEAM, emoMusic and Music2Emo's outputs), dynamic labels on **−1..1** (the
MediaEval grid). The map is linear, ``y' = lo' + (y − lo)·(hi' − lo')/(hi − lo)`` from the
member's native (lo, hi), and exactly invertible; evaluation maps labels and predictions back to
each member's native scale, so every per-dataset number is on that dataset's own scale and
comparable with its papers. Track ids are qualified by their dataset: ``pmemo/108``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

STATIC_SCALE = (1.0, 9.0)
STATIC_SCALE_NAME = "1-9"
DYNAMIC_SCALE = (-1.0, 1.0)
DYNAMIC_SCALE_NAME = "-1..1"
SEPARATOR = "/"


def qualify(dataset: str, track_id: str) -> str:
    """``pmemo``, ``108`` → ``pmemo/108``."""
    return f"{dataset}{SEPARATOR}{track_id}"


def member_of(track_ids: Any) -> np.ndarray:
    """The dataset part of qualified track ids (``pmemo/108`` → ``pmemo``)."""
    return np.array([str(t).split(SEPARATOR, 1)[0] for t in np.asarray(track_ids)], dtype=object)


def rescale(values: Any, source: tuple[float, float], target: tuple[float, float]) -> np.ndarray:
    """Linear map of ``values`` from the ``source`` (low, high) range onto ``target``."""
    (lo, hi), (lo2, hi2) = source, target
    if hi <= lo:
        raise ValueError(f"label scale {source} is empty or reversed")
    return lo2 + (np.asarray(values, dtype=np.float64) - lo) * ((hi2 - lo2) / (hi - lo))


def to_native(values: Any, member: Mapping[str, Any], part: str = "static") -> np.ndarray:
    """Training-scale ``values`` of one member back on its own scale (``part``: static | dynamic)."""
    native = member.get("dynamic_scale" if part == "dynamic" else "scale")
    if native is None:
        return np.asarray(values, dtype=np.float64)
    training = DYNAMIC_SCALE if part == "dynamic" else STATIC_SCALE
    return rescale(values, training, tuple(native))


def joint_name(names: list[str]) -> str:
    """The name of a joint experiment's prepared dataset: ``pmemo+emomusic``."""
    return "+".join(names)


def experiment_name(name: str | list[str]) -> str:
    """``dataset.name`` as one string: the name itself, or the joint name of a list."""
    return name if isinstance(name, str) else joint_name(list(name))
