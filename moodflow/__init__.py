"""moodflow: a reproducible music-emotion-recognition pipeline and feature store.

``from moodflow import Predictor`` is the Python API of ``moodflow predict`` (see
``moodflow.app.predict``) and ``from moodflow import hear`` its HEAR-style embedding API
(``moodflow.app.hear``); both are loaded on first use, so ``import moodflow`` (every pipeline
stage does) stays cheap and no stage runs prediction code.
"""

import os as _os

__version__ = "0.1.0"
# The parent process when moodflow was first imported: a stage whose `dvc repro` is killed while
# it still imports its libraries knows it was orphaned (moodflow.core.orphans).
STARTED_BY = _os.getppid()

_LAZY = {"Predictor": "moodflow.app.predict", "PredictError": "moodflow.app.predict",
         # the errors the API raises (each one line naming what it worked on; never a library's own)
         "BundleError": "moodflow.app.bundle", "MoodflowError": "moodflow.core.errors",
         "EnvironmentFailure": "moodflow.core.errors"}
_LAZY_MODULES = {"hear": "moodflow.app.hear"}


def __getattr__(name: str):
    if name in _LAZY or name in _LAZY_MODULES:
        import importlib

        if name in _LAZY_MODULES:
            return importlib.import_module(_LAZY_MODULES[name])
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'moodflow' has no attribute {name!r}")
