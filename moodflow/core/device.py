"""The compute device a setting names (``device: auto | cpu | cuda | cuda:N``)."""

from __future__ import annotations


def resolve_device(device: str = "auto", key: str = "device") -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``; a CUDA device asked for on a
    machine without one is a ValueError naming the setting ``key``; anything else passes."""
    import torch  # only when a device is resolved: the settings import no torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"{key}: {device!r} asked for but CUDA is not available")
    return device
