"""The musicnn and VGG taggers of ``musicnn/models.py`` (Pons & Serra 2019), ported to PyTorch.

Inference only (dropout is the identity, batch norm uses the moving statistics, epsilon 1e-3
as ``tf.compat.v1.layers.batch_normalization``). Input: log-mel patches (B, 187, 96). The
TensorFlow graph is NHWC (batch, time, mel, channel); here it is NCHW, and each weight is
transposed when loaded (:func:`load_state`). Layer for layer:

musicnn — input BN; timbral front end: two convolutions over 7 frames × 38 and × 67 mel bands
(204 filters each, time padded by 3, ReLU, BN, max over frequency); temporal front end: three
convolutions over 128 / 64 / 32 frames × 1 band (51 filters, ``same`` padding: 63/64, 31/32,
15/16 frames, ReLU, BN, max over frequency); front end = the five maps concatenated (561
channels over time); mid end: three 7-frame convolutions to 64 channels (ReLU, BN; the 2nd and
3rd residual); dense connection = front end + the three mid-end outputs (753 channels); back
end: max and mean over time (``max_pool``, ``mean_pool``, 753 each), interleaved per channel
(1506), BN, dense 200 + ReLU + BN (``penultimate``), dense 50 (logits; sigmoid = taggram).

VGG — input BN; five 3×3 ``same`` convolutions of 128 filters (ReLU, BN), max pools
(4×1 stride 2, then 2×2, 2×2, 2×2, 4×4 stride 4, all ``valid``); ``penultimate`` = pool5
flattened in NHWC order (2 × 1 × 128 = 256); dense 50.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-3
N_MELS = 96


def _bn(n: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(n, eps=BN_EPS)


def _bn2(n: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(n, eps=BN_EPS)


def _relu_bn_max(z: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
    """``max over frequency of BN(ReLU(z))`` for z (B, C, T, F), without the full-size BN and ReLU.

    Inference BN is ``a·v + b`` per channel and ReLU is monotonic, so the maximum over F is
    ``a·relu(max z) + b`` where a ≥ 0 and ``a·relu(min z) + b`` where a < 0: the same values
    (up to float rounding), at a quarter of the front end's cost. Channels-last maps are reduced
    in their memory order (5× faster than across it).
    """
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias - bn.running_mean * scale
    if z.is_contiguous(memory_format=torch.channels_last) and not z.is_contiguous():
        top, bottom = torch.aminmax(z.permute(0, 2, 3, 1), dim=2)[::-1]  # (B, T, C), reduced along memory order
        top, bottom = top.transpose(1, 2), bottom.transpose(1, 2)
    else:
        bottom, top = torch.aminmax(z, dim=3)
    picked = torch.where((scale >= 0)[:, None], F.relu(top), F.relu(bottom))
    return picked * scale[:, None] + shift[:, None]


class Musicnn(nn.Module):
    """musicnn (``MSD_musicnn``, ``MTT_musicnn``): returns the layers ``extract`` reads."""

    def __init__(self, num_classes: int = 50, midend: int = 64, backend: int = 200):
        super().__init__()
        self.bn_input = _bn2(1)
        timbral = [(7, int(0.4 * N_MELS)), (7, int(0.7 * N_MELS))]
        self.timbral = nn.ModuleList(nn.Conv2d(1, int(1.6 * 128), k) for k in timbral)
        self.timbral_bn = nn.ModuleList(_bn2(int(1.6 * 128)) for _ in timbral)
        self.temporal_kernels = (128, 64, 32)
        self.temporal = nn.ModuleList(nn.Conv2d(1, int(1.6 * 32), (k, 1)) for k in self.temporal_kernels)
        self.temporal_bn = nn.ModuleList(_bn2(int(1.6 * 32)) for _ in self.temporal_kernels)
        front = 2 * int(1.6 * 128) + 3 * int(1.6 * 32)
        self.mid = nn.ModuleList([nn.Conv1d(front, midend, 7), nn.Conv1d(midend, midend, 7), nn.Conv1d(midend, midend, 7)])
        self.mid_bn = nn.ModuleList(_bn(midend) for _ in range(3))
        self.pool_bn = _bn(2 * (front + 3 * midend))
        self.dense = nn.Linear(2 * (front + 3 * midend), backend)
        self.dense_bn = _bn(backend)
        self.out = nn.Linear(backend, num_classes)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.bn_input(x.unsqueeze(1))  # (B, 1, T, F)
        maps = []
        # the timbral convolutions see the 7 time shifts of the input as 7 channels (channels-last):
        # the same sums as a 7 × kw kernel over one channel, 1.5× faster on CPU
        padded = F.pad(x, (0, 0, 3, 3))
        n_frames = x.shape[2]
        shifts = torch.cat([padded[:, :, i:i + n_frames] for i in range(7)], dim=1)
        shifts = shifts.contiguous(memory_format=torch.channels_last)
        for conv, bn in zip(self.timbral, self.timbral_bn):
            weight = conv.weight.permute(0, 2, 1, 3).contiguous(memory_format=torch.channels_last)
            maps.append(_relu_bn_max(F.conv2d(shifts, weight, conv.bias), bn))  # (B, 204, T)
        for k, conv, bn in zip(self.temporal_kernels, self.temporal, self.temporal_bn):
            same = F.pad(x, (0, 0, (k - 1) // 2, k - 1 - (k - 1) // 2))  # TF "same": the extra frame after
            maps.append(_relu_bn_max(conv(same), bn))  # (B, 51, T)
        front = torch.cat(maps, dim=1)  # (B, 561, T)
        h = front
        outs = [front]
        for i, (conv, bn) in enumerate(zip(self.mid, self.mid_bn)):
            y = bn(F.relu(conv(F.pad(h, (3, 3)))))
            h = y if i == 0 else y + h
            outs.append(h)
        dense_in = torch.cat(outs, dim=1)  # (B, 753, T)
        max_pool, mean_pool = dense_in.amax(dim=2), dense_in.mean(dim=2)
        flat = torch.stack([max_pool, mean_pool], dim=2).flatten(1)  # per channel: max, mean
        penultimate = self.dense_bn(F.relu(self.dense(self.pool_bn(flat))))
        logits = self.out(penultimate)
        return {"taggram": torch.sigmoid(logits), "penultimate": penultimate,
                "mean_pool": mean_pool, "max_pool": max_pool}


class Vgg(nn.Module):
    """The VGG-like baseline (``MSD_vgg``, ``MTT_vgg``): taggram and flattened pool5."""

    pools = ((4, 1), (2, 2), (2, 2), (2, 2), (4, 4))
    strides = ((2, 2), (2, 2), (2, 2), (2, 2), (4, 4))

    def __init__(self, num_classes: int = 50, filters: int = 128):
        super().__init__()
        self.bn_input = _bn2(1)
        self.convs = nn.ModuleList(nn.Conv2d(1 if i == 0 else filters, filters, 3, padding=1) for i in range(5))
        self.bns = nn.ModuleList(_bn2(filters) for _ in range(5))
        self.out = nn.Linear(2 * 1 * filters, num_classes)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.bn_input(x.unsqueeze(1))
        for conv, bn, pool, stride in zip(self.convs, self.bns, self.pools, self.strides):
            h = F.max_pool2d(bn(F.relu(conv(h))), pool, stride)
        flat = h.permute(0, 2, 3, 1).flatten(1)  # NHWC order, as tf.layers.flatten
        return {"taggram": torch.sigmoid(self.out(flat)), "penultimate": flat}


def _bn_state(prefix: str, w: dict[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    return {f"{prefix}.weight": w[f"{name}/gamma"], f"{prefix}.bias": w[f"{name}/beta"],
            f"{prefix}.running_mean": w[f"{name}/moving_mean"], f"{prefix}.running_var": w[f"{name}/moving_variance"]}


def _conv2d(prefix: str, w: dict[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    # TF (kh, kw, in, out) → torch (out, in, kh, kw)
    return {f"{prefix}.weight": w[f"{name}/kernel"].transpose(3, 2, 0, 1), f"{prefix}.bias": w[f"{name}/bias"]}


def _conv1d(prefix: str, w: dict[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    # TF (7, C_in, 1, out) over the whole channel axis → torch Conv1d (out, C_in, 7)
    return {f"{prefix}.weight": w[f"{name}/kernel"][:, :, 0, :].transpose(2, 1, 0), f"{prefix}.bias": w[f"{name}/bias"]}


def _dense(prefix: str, w: dict[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    return {f"{prefix}.weight": w[f"{name}/kernel"].T, f"{prefix}.bias": w[f"{name}/bias"]}


def musicnn_state(w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """TF variable names of a musicnn checkpoint (creation order of ``build_musicnn``) → ours."""
    s = _bn_state("bn_input", w, "batch_normalization")
    for i in range(2):
        s |= _conv2d(f"timbral.{i}", w, f"conv2d_{i}" if i else "conv2d") | _bn_state(f"timbral_bn.{i}", w, f"batch_normalization_{i + 1}")
    for i in range(3):
        s |= _conv2d(f"temporal.{i}", w, f"conv2d_{i + 2}") | _bn_state(f"temporal_bn.{i}", w, f"batch_normalization_{i + 3}")
    for i in range(3):
        s |= _conv1d(f"mid.{i}", w, f"conv2d_{i + 5}") | _bn_state(f"mid_bn.{i}", w, f"batch_normalization_{i + 6}")
    s |= _bn_state("pool_bn", w, "batch_normalization_9") | _dense("dense", w, "dense")
    s |= _bn_state("dense_bn", w, "batch_normalization_10") | _dense("out", w, "dense_1")
    return s


def vgg_state(w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """TF variable names of a VGG checkpoint → ours."""
    s = _bn_state("bn_input", w, "batch_normalization")
    for i in range(5):
        s |= _conv2d(f"convs.{i}", w, f"{i + 1}CNN") | _bn_state(f"bns.{i}", w, f"batch_normalization_{i + 1}")
    return s | _dense("out", w, "dense")


def build_network(model: str, weights: dict[str, np.ndarray]) -> nn.Module:
    """The eval-mode network of packaged model ``model`` with the checkpoint's weights.

    Every parameter and buffer must come from the checkpoint, with its exact shape.
    """
    net: Any = Vgg() if model.endswith("_vgg") else Musicnn()
    state = vgg_state(weights) if model.endswith("_vgg") else musicnn_state(weights)
    load_state(net, state, model)
    return net.eval()


def load_state(net: nn.Module, state: dict[str, np.ndarray], source: str) -> None:
    """Copy ``state`` into ``net``; a missing, extra or mis-shaped tensor is an error naming ``source``."""
    own = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    bad = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    if missing or extra or bad:
        raise ValueError(f"{source}: checkpoint does not match the network (missing {missing}, unexpected {extra}, "
                         f"wrong shape {bad})")
    with torch.no_grad():
        for k, v in own.items():
            v.copy_(torch.from_numpy(np.ascontiguousarray(state[k], dtype=np.float32)))
