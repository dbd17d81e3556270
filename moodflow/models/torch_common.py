"""Shared PyTorch plumbing for the neural heads: device, seeding, an early-stopping training
loop, and safetensors + JSON persistence (never pickle); the modules themselves (input scaling,
layer mixing, the networks) are in :mod:`moodflow.models.networks`. torch is imported where it is
used, so reading a neural model's settings (``moodflow check``) costs no torch import.

Defaults train in seconds on CPU; ``device: auto`` moves the same code to CUDA, where the
forward passes run under bfloat16 autocast (AMP) — CPU runs stay in float32.
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

import numpy as np

from moodflow.core.config import setting
from moodflow.core.device import resolve_device
from moodflow.models.base import SearchSettings

if TYPE_CHECKING:
    import torch
    from torch import nn

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "network.json"


@dataclass
class TorchConfig(SearchSettings):
    """Training settings every neural head takes."""

    device: str = setting("auto", choices=("auto", "cpu", "cuda"))  # auto = CUDA when available
    epochs: int = setting(200, min=1)  # at most, before early stopping
    batch_size: int = setting(64, min=1)  # rows per optimiser step
    lr: float = setting(1e-3, gt=0.0)  # AdamW learning rate
    weight_decay: float = setting(1e-4, min=0.0)  # AdamW weight decay
    patience: int = setting(20, min=1)  # epochs without a better validation loss before stopping
    val_fraction: float = setting(0.15, min=0.0, max=0.5)  # of the training fold's songs, for early stopping
    clip: bool = True  # clip each input to its training range before scaling (no extrapolation)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch; returns a generator for shuffling."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def split_validation(n: int, groups: np.ndarray | None, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train / validation row indices carved from the training fold, by group when given."""
    rng = np.random.default_rng(seed)
    keys = np.arange(n) if groups is None else np.asarray(groups)
    unique = np.unique(keys)
    n_val = int(round(len(unique) * fraction))
    if fraction <= 0 or n_val < 1 or n_val >= len(unique):
        idx = np.arange(n)
        return idx, idx[:0]
    val_keys = rng.choice(unique, size=n_val, replace=False)
    is_val = np.isin(keys, val_keys)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def train_loop(
    net: nn.Module,
    loss_on: Callable[[np.ndarray], torch.Tensor],
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    *,
    device: torch.device,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    patience: int,
    generator: torch.Generator,
) -> dict[str, Any]:
    """Adam with early stopping on the validation loss; restores the best weights.

    ``loss_on(indices)`` returns the mean loss of those training items (moved to ``device``).
    Without a validation split it trains for ``epochs`` epochs.
    """
    import torch

    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    amp = device.type == "cuda"
    best, best_state, bad, history = float("inf"), None, 0, []
    for epoch in range(epochs):
        net.train()
        order = train_idx[torch.randperm(len(train_idx), generator=generator).numpy()]
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=amp):
                loss = loss_on(batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if len(val_idx) == 0:
            continue
        net.eval()
        with torch.no_grad(), torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=amp):
            val = float(loss_on(val_idx))
        history.append(val)
        if val < best - 1e-6:
            best, best_state, bad = val, copy.deepcopy(net.state_dict()), 0
        else:
            bad += 1
            if bad >= patience:
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return {"epochs": epoch + 1 if epochs else 0, "best_val_loss": best if history else None}


def save_network(folder: Path, net: nn.Module, config: dict[str, Any]) -> None:
    """Weights as safetensors, architecture as JSON."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(Path(folder) / WEIGHTS_FILE))
    (Path(folder) / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


MAX_CONFIG_BYTES = 1 << 20  # network.json: a few numbers and the target scaling
# torch dtype (by its name, e.g. "float32") → safetensors' name for it
_SAFETENSORS_DTYPES = {"float32": "F32", "float64": "F64", "float16": "F16", "bfloat16": "BF16",
                       "int64": "I64", "int32": "I32", "bool": "BOOL"}


def _check_against_weights(folder: Path, config: dict[str, Any], build: Callable[[dict[str, Any]], nn.Module]) -> None:
    """The network ``config`` describes must have exactly the tensors, shapes and dtypes of the
    weights file: built first on the ``meta`` device (no memory), so a config asking for a
    huge network is refused before anything is allocated."""
    import torch
    from safetensors import safe_open

    with safe_open(str(folder / WEIGHTS_FILE), framework="pt") as f:
        stored = {k: (tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype()) for k in f.keys()}
    with torch.device("meta"):
        skeleton = build(config)
    wanted = {k: (tuple(v.shape), _SAFETENSORS_DTYPES.get(str(v.dtype).removeprefix("torch."), str(v.dtype)))
              for k, v in skeleton.state_dict().items()}
    if wanted != stored:
        missing = sorted(set(wanted) - set(stored))
        extra = sorted(set(stored) - set(wanted))
        differ = sorted(k for k in set(wanted) & set(stored) if wanted[k] != stored[k])
        n_wanted = sum(int(np.prod(s)) for s, _ in wanted.values())
        n_stored = sum(int(np.prod(s)) for s, _ in stored.values())
        detail = "; ".join(part for part in (
            f"missing {missing[:3]}" if missing else "", f"unexpected {extra[:3]}" if extra else "",
            f"{differ[0]}: {wanted[differ[0]]} in the config, {stored[differ[0]]} in the file" if differ else "",
        ) if part)
        raise ValueError(f"{CONFIG_FILE} describes a network of {n_wanted:,} values but {WEIGHTS_FILE} holds "
                         f"{n_stored:,} ({detail})")


def load_network(folder: Path, build: Callable[[dict[str, Any]], nn.Module]) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the network from its JSON config and load its safetensors weights, once the
    config is bounded and matches the weights exactly (UntrustedModelError otherwise)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from moodflow.core.schema import read_json_file
    from moodflow.models.networks import LayerMix
    from moodflow.models.safe_load import UntrustedModelError, weight_problem

    folder = Path(folder)
    for name in (WEIGHTS_FILE, CONFIG_FILE):
        if not (folder / name).exists():
            raise FileNotFoundError(f"{folder / name}: missing (not a saved neural model?)")
    try:
        config = read_json_file(folder / CONFIG_FILE, "network", source=CONFIG_FILE, max_bytes=MAX_CONFIG_BYTES)
        _check_against_weights(folder, config, build)
        net = build(config)
        state = load_file(str(folder / WEIGHTS_FILE))
        for name, tensor in state.items():  # NaN/inf/1e308 weights would predict NaN for every song
            problem = weight_problem(f"{WEIGHTS_FILE} tensor {name!r}", tensor.detach().double().numpy()
                                     if tensor.is_floating_point() else ())
            if problem:
                raise ValueError(problem)
        net.load_state_dict(state)
        for module in net.modules():
            if isinstance(module, LayerMix) and (module.index.min() < 0 or module.index.max() >= module.n_layers):
                raise ValueError(f"layer indices {module.index.tolist()} outside 0..{module.n_layers - 1}")
    except (ValueError, TypeError, KeyError, RuntimeError, SafetensorError) as exc:
        raise UntrustedModelError(f"{folder}: refusing this network: {exc}") from None
    net.eval()
    return net, config


def train_settings(config: TorchConfig) -> dict[str, Any]:
    """The training-loop keyword arguments of a model's settings."""
    return dict(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                weight_decay=config.weight_decay, patience=config.patience)


class TorchPersistence:
    """save/load for a ``Model`` whose network lives in ``self.net``, rebuilt from
    ``self.architecture``; subclasses name the function that rebuilds the network."""

    network_builder: Callable[[dict[str, Any]], nn.Module]
    neural = True

    def __init__(self, task: str, config: Mapping[str, Any] | Any = None, seed: int = 0, **data: Any):
        import torch

        super().__init__(task, config, seed, **data)
        self.net: nn.Module | None = None
        self.architecture: dict[str, Any] = {}  # what rebuilds the network (network.json)
        self.device = torch.device(resolve_device(self.config.device, f"train.{self.name}.device"))

    def n_inputs(self) -> int | None:
        n = self.architecture.get("n_in")
        return int(n) if isinstance(n, int) else None

    def save(self, folder: Path) -> None:
        assert self.net is not None, "fit first"
        save_network(folder, self.net, self.architecture)

    @classmethod
    def load(cls, folder: Path, task: str, config: Mapping[str, Any], **data: Any):
        model = cls(task, config, **data)
        model.net, model.architecture = load_network(folder, cls.network_builder)
        model.net.to(model.device)
        return model


def __getattr__(name: str):
    if name in ("LayerMix", "Scaler", "input_block"):  # their home is moodflow.models.networks
        from moodflow.models import networks

        return getattr(networks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
