"""Sequence head (PyTorch) for dynamic valence/arousal: a BiLSTM (``arch: lstm``, the DEAM
2015 winners' model) or a small self-attention encoder (``arch: attention``) over a song's
frame sequence, with one output per frame.

Takes lists of per-song arrays: X[i] (T_i, F) (layered MERT frames flattened to L*D, with
``layers`` as in the MLP), Y[i] (T_i, k). Songs are padded per batch and the loss is masked
to real frames. Validation songs for early stopping are carved from the training fold.
Saved as safetensors + JSON.
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

    from moodflow.models.networks import SeqNet


@dataclass
class SeqConfig(TorchConfig):
    """``train.seq``."""

    arch: str = setting("lstm", choices=("lstm", "attention"))  # BiLSTM or self-attention over frames
    hidden: int = setting(64, min=1)  # hidden units per direction / model width
    n_layers: int = setting(1, min=1)  # stacked LSTM or attention layers
    dropout: float = setting(0.1, min=0.0, max=0.9)  # dropout in the network
    heads: int = setting(4, min=1)  # attention heads (arch: attention)
    layers: list[int] | None = None  # layered features (MERT): which layers
    epochs: int = setting(100, min=1)  # at most, before early stopping
    patience: int = setting(10, min=1)  # epochs without a better validation loss before stopping
    batch_size: int = setting(8, min=1)  # songs per batch


def _pad(seqs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    import torch
    from torch.nn.utils.rnn import pad_sequence

    lengths = torch.tensor([len(s) for s in seqs])
    mask = torch.arange(int(lengths.max()))[None, :] < lengths[:, None]
    return pad_sequence(seqs, batch_first=True), mask


def build_seqnet(config: dict[str, Any]) -> SeqNet:
    from moodflow.models.networks import SeqNet

    return SeqNet(config["n_in"], config["n_out"], config["arch"], config["hidden"], config["n_layers"],
                  config["dropout"], config["heads"], config.get("input_shape"), config.get("layers"),
                  clip=bool(config.get("clip", False)))


@MODELS.register
class SeqModel(TorchPersistence, Model):
    name = "seq"
    packages = ("torch",)
    Config = SeqConfig
    default_search = {"hidden": [32, 64], "dropout": [0.1, 0.3]}
    tasks = frozenset({"dynamic"})
    sequence_input = True
    network_builder = staticmethod(build_seqnet)

    def fit(self, X: list[np.ndarray], Y: list[np.ndarray], groups: np.ndarray | None = None) -> "SeqModel":
        import torch

        gen = seed_everything(self.seed)
        X = [np.asarray(x, dtype=np.float32).reshape(len(x), -1) for x in X]
        Y = [np.asarray(y, dtype=np.float32).reshape(len(y), -1) for y in Y]
        c = self.config
        tr, va = split_validation(len(X), None, c.val_fraction, self.seed)
        y_all = np.concatenate([Y[i] for i in tr])
        mean, std = np.nanmean(y_all, axis=0), np.nanstd(y_all, axis=0)
        std = np.where(std > 1e-8, std, 1.0)
        self.architecture = {
            "n_in": X[0].shape[1], "n_out": Y[0].shape[1], "arch": c.arch, "hidden": c.hidden,
            "n_layers": c.n_layers, "dropout": c.dropout, "heads": c.heads, "input_shape": self.input_shape,
            "layers": c.layers, "clip": c.clip, "y_mean": mean.tolist(), "y_std": std.tolist(),
        }
        net = build_seqnet(self.architecture)
        scaler = net.inp[0] if isinstance(net.inp, torch.nn.Sequential) else net.inp
        scaler.fit(np.concatenate([X[i] for i in tr]))
        net.to(self.device)
        xs = [torch.as_tensor(x) for x in X]
        ys = [torch.as_tensor((y - mean) / std) for y in Y]

        def loss_on(idx: np.ndarray) -> torch.Tensor:
            x, mask = _pad([xs[i] for i in idx])
            y, _ = _pad([ys[i] for i in idx])
            x, mask, y = x.to(self.device), mask.to(self.device), y.to(self.device)
            out = net(x, mask).float()
            keep = mask[..., None] & ~torch.isnan(y)
            return torch.nn.functional.mse_loss(out[keep], y[keep])

        self.history = train_loop(net, loss_on, tr, va, device=self.device, generator=gen, **train_settings(c))
        self.net = net
        return self

    def attention(self, X: list[np.ndarray]) -> list[np.ndarray] | None:
        """Per song, the attention each frame receives (``arch: attention``); None for the LSTM."""
        import torch

        assert self.net is not None, "fit or load first"
        if self.architecture.get("arch") != "attention":
            return None
        out = []
        with torch.no_grad():
            for x in X:
                x = torch.as_tensor(np.asarray(x, dtype=np.float32).reshape(len(x), -1))
                if len(x) == 0:
                    out.append(np.zeros(0))
                    continue
                mask = torch.ones(1, len(x), dtype=torch.bool, device=self.device)
                out.append(self.net.attention(x[None].to(self.device), mask)[0].float().cpu().numpy())
        return out

    def predict(self, X: list[np.ndarray]) -> list[np.ndarray]:
        import torch

        assert self.net is not None, "fit or load first"
        mean, std = np.asarray(self.architecture["y_mean"]), np.asarray(self.architecture["y_std"])
        out = []
        with torch.no_grad():
            for x in X:
                x = torch.as_tensor(np.asarray(x, dtype=np.float32).reshape(len(x), -1))
                if len(x) == 0:
                    out.append(np.zeros((0, self.architecture["n_out"])))
                    continue
                mask = torch.ones(1, len(x), dtype=torch.bool, device=self.device)
                pred = self.net(x[None].to(self.device), mask)[0].float().cpu().numpy()
                out.append(pred * std + mean)
        return out


def __getattr__(name: str):
    if name == "SeqNet":  # its home is moodflow.models.networks (torch loads on first use)
        from moodflow.models import networks

        return networks.SeqNet
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
