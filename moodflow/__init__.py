"""moodflow: a reproducible music-emotion-recognition pipeline and feature store.

``from moodflow import Predictor`` is the Python API of ``moodflow predict`` (see
``moodflow.predict``); it is loaded on first use, so ``import moodflow`` (every pipeline stage
does) stays cheap and no stage runs prediction code.
"""

import os as _os

__version__ = "0.1.0"
# The parent process when moodflow was first imported: a stage whose `dvc repro` is killed while
# it still imports its libraries knows it was orphaned (moodflow.core.orphans).
_STARTED_BY = _os.getppid()

_LAZY = {"Predictor": "moodflow.predict", "PredictError": "moodflow.predict"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'moodflow' has no attribute {name!r}")
