"""Knowledge distillation for the multitask model (``train.multitask.distill``), as Music2Emo
trains its joint student (Kang & Herremans 2025, ``trainer.py``, ``compute_kd_loss``).

Inside every fit of a joint run (so inside every outer training fold, never seeing its test
tracks) one **teacher** per member dataset is trained first: a multitask model with the same
settings, distillation off, fitted on that member's training tracks and labels only. The
**student** (the model that is saved) then trains on every member's tracks with

    loss = w · KD + (1 − w) · task loss

where the task loss is the usual masked head losses (``loss_weights``) and KD sums, over the heads
a track's own teacher has (each track is distilled from the teacher of its dataset):

- tags: τ² · the mean Bernoulli KL divergence KL(σ(z_t/τ) ‖ σ(z_s/τ)) over tracks and tags
  (Music2Emo: KL on the temperature-softened mood head);
- classes: τ² · KL(softmax(z_t/τ) ‖ softmax(z_s/τ)), mean over tracks;
- valence/arousal: the mean squared difference between the student's and the teacher's outputs
  on the student's standardised target scale. τ does not enter: a regression output is a value,
  not a distribution (Music2Emo puts KL on its V/A head; a softmax over two unrelated values,
  which we do not copy).

``w = 0`` (default) is off: no teacher is trained and the fit is the plain multitask model's.
Teachers are seeded from the model's seed and the member's position, and trained on the same
device with the same code as the student.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from moodflow.core.config import setting

_EPS = 1e-6


@dataclass
class DistillSettings:
    """``train.multitask.distill``: per-dataset teachers and the student's loss mix."""

    weight: float = setting(0.0, min=0.0, max=1.0)  # w in w·KD + (1−w)·task loss; 0 = off (no teachers)
    temperature: float = setting(2.0, gt=0.0, max=100.0)  # τ softening tag/class outputs (not V/A)


def teacher_seed(seed: int, position: int) -> int:
    return (int(seed) + 7919 * (position + 1)) % 2**32


def train_teachers(student: Any, X: np.ndarray, labels: dict[str, np.ndarray],
                   members: np.ndarray) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One teacher per member (fitted on its rows and the label kinds it has) and the soft targets
    of every row from its own teacher: regression values (training scale), tag logits, class
    log-probabilities; NaN where a row's teacher has no such head."""
    members = np.asarray(members, dtype=object)
    config = dataclasses.replace(student.config, distill=DistillSettings())
    teachers: dict[str, Any] = {}
    soft = {kind: np.full((len(X), _width(student, kind, v)), np.nan) for kind, v in labels.items()}
    for position, member in enumerate(sorted(set(members.tolist()))):
        rows = np.flatnonzero(members == member)
        own = {kind: v[rows] for kind, v in labels.items() if _has_labels(kind, v[rows])}
        if not own or len(rows) < 2:
            continue
        teacher = type(student)(student.task, config, teacher_seed(student.seed, position),
                                input_shape=student.input_shape, n_classes=student.n_classes, n_jobs=student.n_jobs)
        teacher.fit(X[rows], own)
        teachers[member] = teacher
        out = teacher.predict_all(X[rows])
        for kind in own:
            soft[kind][rows] = _as_logits(kind, out[kind])
    return teachers, soft


def _width(student: Any, kind: str, values: np.ndarray) -> int:
    if kind == "classification":
        return max(int(student.n_classes or 0), int(np.max(values)) + 1)
    return np.asarray(values).reshape(len(values), -1).shape[1]


def _has_labels(kind: str, values: np.ndarray) -> bool:
    return bool((values >= 0).any()) if kind == "classification" else bool(np.isfinite(values).any())


def _as_logits(kind: str, values: np.ndarray) -> np.ndarray:
    """Head outputs as the KD loss takes them: tag logits, class log-probabilities, V/A values."""
    if kind == "tagging":
        p = np.clip(values, _EPS, 1 - _EPS)
        return np.log(p) - np.log1p(-p)
    if kind == "classification":
        return np.log(np.clip(values, _EPS, 1.0))
    return values


def kd_loss(kind: str, student: "torch.Tensor", teacher: "torch.Tensor", temperature: float) -> "torch.Tensor":
    """The distillation loss of one head over a batch (rows whose teacher lacks the head: NaN, skipped)."""
    import torch
    import torch.nn.functional as F

    student = student.float()
    have = ~torch.isnan(teacher).any(dim=1) if teacher.dim() > 1 else ~torch.isnan(teacher)
    if not have.any():
        return student.sum() * 0.0
    s, t = student[have], teacher[have]
    if kind == "regression":
        return F.mse_loss(s, t)
    tau = float(temperature)
    if kind == "classification":
        return tau * tau * F.kl_div(F.log_softmax(s / tau, dim=1), F.log_softmax(t / tau, dim=1),
                                    reduction="batchmean", log_target=True)
    # tags: Bernoulli KL per (row, tag) between the softened teacher and student
    log_pt, log_1mpt = F.logsigmoid(t / tau), F.logsigmoid(-t / tau)
    log_ps, log_1mps = F.logsigmoid(s / tau), F.logsigmoid(-s / tau)
    kl = log_pt.exp() * (log_pt - log_ps) + log_1mpt.exp() * (log_1mpt - log_1mps)
    return tau * tau * kl.mean()


def teacher_predictions(teachers: dict[str, Any], X: np.ndarray, members: np.ndarray) -> dict[str, np.ndarray]:
    """Every row predicted by its own member's teacher (NaN where it has none or lacks the head)."""
    members = np.asarray(members, dtype=object)
    out: dict[str, np.ndarray] = {}
    for member, teacher in teachers.items():
        rows = np.flatnonzero(members == member)
        if not len(rows):
            continue
        for kind, values in teacher.predict_all(X[rows]).items():
            if kind not in out:
                out[kind] = np.full((len(X), values.shape[1]), np.nan)
            out[kind][rows] = values
    return out
