"""Errors of the user-facing layer (``moodflow predict``, the Python API)."""

from __future__ import annotations

from moodflow.core.errors import MoodflowError


class PredictError(MoodflowError):
    """A file or model that cannot be predicted with; the message names it."""


class ModelLoadError(PredictError):
    """The model itself cannot be loaded: no file can be predicted (never a per-file error)."""
