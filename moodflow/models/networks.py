"""The PyTorch modules of the neural heads (``mlp``, ``multitask``, ``seq``): input scaling,
layer mixing, the MLP trunk with one output per head, and the sequence encoder.

Kept apart from the models' modules, which import torch only inside the functions that train,
predict or load: the settings, the registry and ``moodflow check`` read a model's ``Config``
without paying for torch (a few seconds of every ``check`` stage and CLI start).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class LayerMix(nn.Module):
    """Picks layers of a layered embedding (MERT: L layers × D dims, stored flattened as L*D).

    ``layers`` lists the layers to use (all when None); one layer is taken as it is, several
    are combined by a learned softmax-weighted sum (the MARBLE / SUPERB recipe).
    """

    def __init__(self, input_shape: list[int], layers: list[int] | None = None):
        super().__init__()
        n_layers, self.dim = int(input_shape[0]), int(input_shape[1])
        self.n_layers = n_layers
        layers = list(range(n_layers)) if layers is None else [int(x) for x in layers]
        bad = [x for x in layers if not -n_layers <= x < n_layers]
        if bad:
            raise ValueError(f"layers {bad} out of range for a {n_layers}-layer embedding")
        self.register_buffer("index", torch.tensor([x % n_layers for x in layers], dtype=torch.long))
        self.weights = nn.Parameter(torch.zeros(len(layers))) if len(layers) > 1 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(*x.shape[:-1], self.n_layers, self.dim).index_select(-2, self.index)
        if self.weights is None:
            return x.squeeze(-2)
        w = torch.softmax(self.weights, dim=0)
        return (x * w[:, None]).sum(-2)


class Scaler(nn.Module):
    """Standardises inputs with statistics of the training rows; NaN becomes the mean (0). With
    ``clip`` every input is first clipped to the range it had in training, so a value the
    network never saw (a feature nearly constant in the training genres) cannot drive it
    hundreds of standard deviations out."""

    def __init__(self, n: int, clip: bool = False):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n))
        self.register_buffer("std", torch.ones(n))
        self.clip = clip
        if clip:
            self.register_buffer("low", torch.zeros(n))
            self.register_buffer("high", torch.zeros(n))

    def fit(self, X: np.ndarray) -> "Scaler":
        mean = np.nanmean(X, axis=0) if len(X) else np.zeros(X.shape[1])
        std = np.nanstd(X, axis=0) if len(X) else np.ones(X.shape[1])
        mean = np.nan_to_num(mean)
        std = np.where(np.isfinite(std) & (std > 1e-8), std, 1.0)
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.std.copy_(torch.as_tensor(std, dtype=torch.float32))
        if self.clip:  # a column without a value in training: its range is its mean
            low = np.nanmin(X, axis=0) if len(X) else mean
            high = np.nanmax(X, axis=0) if len(X) else mean
            self.low.copy_(torch.as_tensor(np.where(np.isfinite(low), low, mean), dtype=torch.float32))
            self.high.copy_(torch.as_tensor(np.where(np.isfinite(high), high, mean), dtype=torch.float32))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.clip:  # NaN stays NaN here (torch.maximum propagates it) and becomes the mean below
            x = torch.minimum(torch.maximum(x, self.low), self.high)
        return torch.nan_to_num((x - self.mean) / self.std)


def input_block(n_in: int, input_shape: list[int] | None, layers: list[int] | None,
                clip: bool = False) -> tuple[nn.Module, int]:
    """Scaler (+ LayerMix for layered input); returns the module and its output width."""
    if input_shape is not None and len(input_shape) == 2:
        if int(np.prod(input_shape)) != n_in:
            raise ValueError(f"input_shape {input_shape} does not match {n_in} features")
        return nn.Sequential(Scaler(n_in, clip), LayerMix(input_shape, layers)), int(input_shape[1])
    if layers is not None:
        raise ValueError("layers: needs a layered feature set (frames of shape (layers, dim), e.g. MERT)")
    return Scaler(n_in, clip), n_in


class HeadNet(nn.Module):
    """Scaler (+ layer mix) → Linear(hidden) → ReLU → Dropout → one Linear per head."""

    def __init__(self, n_in: int, heads: dict[str, int], hidden: int = 512, dropout: float = 0.2,
                 input_shape: list[int] | None = None, layers: list[int] | None = None, clip: bool = False):
        super().__init__()
        self.inp, width = input_block(n_in, input_shape, layers, clip)
        self.trunk = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, n) for name, n in heads.items()})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.trunk(self.inp(x))
        return {name: head(h) for name, head in self.heads.items()}


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
