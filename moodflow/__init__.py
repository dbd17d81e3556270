"""moodflow: a reproducible music-emotion-recognition pipeline and feature store.

``from moodflow import Predictor`` is the Python API of ``moodflow predict`` (see
``moodflow.predict``); it is loaded on first use, so ``import moodflow`` (every pipeline stage
does) stays cheap and no stage runs prediction code.
"""

__version__ = "0.1.0"

_LAZY = {"Predictor": "moodflow.predict", "PredictError": "moodflow.predict"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'moodflow' has no attribute {name!r}")
