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
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from moodflow.models import MODELS
from moodflow.models.base import Model
from moodflow.core.config import setting
from moodflow.models.torch_common import (
    TorchConfig, TorchPersistence, input_block, seed_everything, split_validation, train_loop,
    train_settings,
)


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


class SeqNet(nn.Module):
    """Scaler (+ layer mix) → Linear → BiLSTM or attention encoder → Linear per frame."""

    def __init__(self, n_in: int, n_out: int, arch: str = "lstm", hidden: int = 64, n_layers: int = 1,
                 dropout: float = 0.1, heads: int = 4, input_shape: list[int] | None = None,
                 layers: list[int] | None = None, max_len: int = 4096, clip: bool = False):
        super().__init__()
        self.inp, width = input_block(n_in, input_shape, layers, clip)
        self.proj = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.arch = arch
        if arch == "lstm":
            self.encoder = nn.LSTM(hidden, hidden, num_layers=n_layers, batch_first=True, bidirectional=True)
            out_width = 2 * hidden
        elif arch == "attention":
            self.pos = nn.Embedding(max_len, hidden)
            layer = nn.TransformerEncoderLayer(hidden, heads, 2 * hidden, dropout, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
            out_width = hidden
        else:
            raise ValueError(f"seq: unknown arch {arch!r} (lstm | attention)")
        self.out = nn.Linear(out_width, n_out)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, T, F), mask (B, T) True on real frames → (B, T, n_out)."""
        h = self.proj(self.inp(x))
        if self.arch == "lstm":
            lengths = mask.sum(1).cpu().clamp(min=1)
            packed = nn.utils.rnn.pack_padded_sequence(h, lengths, batch_first=True, enforce_sorted=False)
            h, _ = self.encoder(packed)
            h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=x.shape[1])
        else:
            pos = torch.arange(x.shape[1], device=x.device).clamp(max=self.pos.num_embeddings - 1)
            h = self.encoder(h + self.pos(pos)[None], src_key_padding_mask=~mask)
        return self.out(h)

    def attention(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T): how much attention each frame receives in the last encoder layer (weights
        averaged over heads and over the song's query frames; each song's row sums to 1)."""
        if self.arch != "attention":
            raise ValueError("seq: attention weights exist only with arch: attention")
        h = self.proj(self.inp(x))
        pos = torch.arange(x.shape[1], device=x.device).clamp(max=self.pos.num_embeddings - 1)
        h = h + self.pos(pos)[None]
        layers = list(self.encoder.layers)
        for layer in layers[:-1]:
            h = layer(h, src_key_padding_mask=~mask)
        last = layers[-1]
        inp = last.norm1(h) if last.norm_first else h
        _, weights = last.self_attn(inp, inp, inp, key_padding_mask=~mask, need_weights=True,
                                    average_attn_weights=True)  # (B, T_query, T_key)
        weights = weights * mask[:, :, None]  # padded queries do not count
        received = weights.sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return received * mask


def _pad(seqs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(s) for s in seqs])
    mask = torch.arange(int(lengths.max()))[None, :] < lengths[:, None]
    return pad_sequence(seqs, batch_first=True), mask


def build_seqnet(config: dict[str, Any]) -> SeqNet:
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
        scaler = net.inp[0] if isinstance(net.inp, nn.Sequential) else net.inp
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
