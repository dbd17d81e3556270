"""MLP probe (PyTorch): one hidden layer of 512 units, dropout 0.2 — the MARBLE probe.

Works on static vectors and, for ``dynamic`` labels, on frames as samples. For layered
features (MERT: frames (T, L, D), static L*D) ``layers: [5]`` picks layers and several layers
are mixed by a learned softmax-weighted sum (``input_shape`` is set by the training code
from the store). Inputs and regression targets are standardised with training-fold
statistics; early stopping watches a validation split (``val_fraction``, by song when
groups are given) carved from the training fold. Saved as safetensors + JSON.

``NeuralHeads`` (over ``networks.HeadNet``) is shared with the multitask model: one trunk, one
output head per label kind (regression, classification, tagging), losses masked where labels are
missing. torch is imported only where a network is built, trained or run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from moodflow.models import MODELS
from moodflow.models.base import Model
from moodflow.core.config import setting
from moodflow.models.torch_common import (
    TorchConfig, TorchPersistence, seed_everything, split_validation, train_loop, train_settings,
)

if TYPE_CHECKING:  # torch is imported where a network is built, trained or run
    import torch

    from moodflow.models.networks import HeadNet


@dataclass
class MLPConfig(TorchConfig):
    """``train.mlp``: the MARBLE probe's shape, and which layers of a layered embedding."""

    hidden: int = setting(512, min=1)  # hidden units
    dropout: float = setting(0.2, min=0.0, max=0.9)  # dropout after the hidden layer
    layers: list[int] | None = None  # layered features (MERT): these layers (a learned mix of several)


def head_loss(kind: str, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Loss of one head, ignoring missing labels (NaN, or class -1)."""
    import torch
    import torch.nn.functional as F

    out = out.float()
    if kind == "classification":
        if (target >= 0).any():
            return F.cross_entropy(out, target, ignore_index=-1)
        return out.sum() * 0.0
    mask = ~torch.isnan(target)
    if not mask.any():
        return out.sum() * 0.0
    if kind == "regression":
        return F.mse_loss(out[mask], target[mask])
    return F.binary_cross_entropy_with_logits(out[mask], target[mask])


def build_headnet(config: dict[str, Any]) -> HeadNet:
    from moodflow.models.networks import HeadNet

    return HeadNet(config["n_in"], config["heads"], config["hidden"], config["dropout"],
                   config.get("input_shape"), config.get("layers"), bool(config.get("clip", False)))


class NeuralHeads(TorchPersistence, Model):
    """Fits a :class:`HeadNet` on a dict of label arrays keyed by kind."""

    network_builder = staticmethod(build_headnet)

    def _fit_heads(self, X: np.ndarray, labels: dict[str, np.ndarray], groups: np.ndarray | None,
                   soft: dict[str, np.ndarray] | None = None, kd: tuple[float, float] | None = None) -> None:
        """Fit the heads; with ``soft`` (teacher outputs per kind, NaN where none) and ``kd`` (weight,
        temperature) the loss is w·KD + (1 − w)·task loss (:mod:`moodflow.models.distill`)."""
        import torch

        gen = seed_everything(self.seed)
        X = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
        heads, targets, y_stats = {}, {}, {}
        for kind, Y in labels.items():
            if kind == "classification":
                y = np.asarray(Y, dtype=np.int64).ravel()
                heads[kind] = max(int(self.n_classes or 0), int(y.max()) + 1)
                targets[kind] = torch.as_tensor(y)
            else:
                Y = np.asarray(Y, dtype=np.float32).reshape(len(X), -1)
                if kind == "regression":
                    mean = np.nan_to_num(np.nanmean(Y, axis=0))
                    std = np.nan_to_num(np.nanstd(Y, axis=0), nan=1.0)
                    std = np.where(std > 1e-8, std, 1.0)
                    y_stats = {"y_mean": mean.tolist(), "y_std": std.tolist()}
                    Y = (Y - mean) / std
                    if soft is not None and kind in soft:  # the teacher's values on the same standard scale
                        soft = {**soft, kind: (np.asarray(soft[kind], dtype=np.float64) - mean) / std}
                heads[kind] = Y.shape[1]
                targets[kind] = torch.as_tensor(Y)
        c = self.config
        self.architecture = {
            "n_in": X.shape[1], "heads": heads, "hidden": c.hidden, "dropout": c.dropout,
            "input_shape": self.input_shape, "layers": c.layers, "clip": c.clip, **y_stats,
        }
        net = build_headnet(self.architecture)
        tr, va = split_validation(len(X), groups, c.val_fraction, self.seed)
        scaler = net.inp[0] if isinstance(net.inp, torch.nn.Sequential) else net.inp
        scaler.fit(X[tr])
        net.to(self.device)
        Xt = torch.as_tensor(X)
        weights = dict(getattr(c, "loss_weights", None) or {})

        teach = {k: torch.as_tensor(np.asarray(v, dtype=np.float32)) for k, v in (soft or {}).items() if k in heads}

        def loss_on(idx: np.ndarray) -> torch.Tensor:
            out = net(Xt[idx].to(self.device))
            task = sum(weights.get(k, 1.0) * head_loss(k, out[k], targets[k][idx].to(self.device)) for k in heads)
            if not kd or not teach:
                return task
            from moodflow.models.distill import kd_loss

            w, tau = kd
            return w * sum(kd_loss(k, out[k], teach[k][idx].to(self.device), tau) for k in teach) + (1 - w) * task

        self.history = train_loop(net, loss_on, tr, va, device=self.device, generator=gen, **train_settings(c))
        self.net = net

    def _predict_heads(self, X: np.ndarray) -> dict[str, np.ndarray]:
        import torch

        assert self.net is not None, "fit or load first"
        X = torch.as_tensor(np.asarray(X, dtype=np.float32).reshape(len(X), -1))
        outs: dict[str, list] = {k: [] for k in self.architecture["heads"]}
        with torch.no_grad():
            for start in range(0, len(X), 4096):
                for k, v in self.net(X[start:start + 4096].to(self.device)).items():
                    outs[k].append(v.float().cpu())
        result = {}
        for k, parts in outs.items():
            v = torch.cat(parts) if parts else torch.zeros(0, self.architecture["heads"][k])
            if k == "classification":
                v = torch.softmax(v, dim=1)
            elif k == "tagging":
                v = torch.sigmoid(v)
            else:
                v = v * torch.tensor(self.architecture["y_std"]) + torch.tensor(self.architecture["y_mean"])
            result[k] = v.numpy().astype(np.float64)
        return result


@MODELS.register
class MLPModel(NeuralHeads):
    name = "mlp"
    packages = ("torch",)
    Config = MLPConfig
    default_search = {"hidden": [128, 512], "dropout": [0.2, 0.5], "weight_decay": [0.0001, 0.01]}

    def fit(self, X: np.ndarray, Y: np.ndarray, groups: np.ndarray | None = None) -> "MLPModel":
        self._fit_heads(X, {self.kind: Y}, groups)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self._predict_heads(X)[self.kind]


def __getattr__(name: str):
    if name == "HeadNet":  # its home is moodflow.models.networks (torch loads on first use)
        from moodflow.models import networks

        return networks.HeadNet
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
