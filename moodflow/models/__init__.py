"""Models, registered by name (``train.models`` in params.yaml).

Adding a model: write ``moodflow/models/<name>.py`` with a ``Model`` subclass decorated
``@MODELS.register`` whose class attribute ``name = "<name>"`` is its registry key, and add the
line ``"<name>": "<module>"`` to ``_MODULES`` below (the registry then knows the name without
importing the module; a test checks the table against the sources).
"""

from moodflow.core.registry import Registry

_MODULES = {
    "ridge": "ridge",
    "svm": "svm",
    "random_forest": "random_forest",
    "knn": "knn",
    "xgboost": "xgb",
    "mlp": "mlp",
    "seq": "seq",
    "multitask": "multitask",
    "stack": "stack",
}

MODELS: Registry = Registry("model", __name__, _MODULES, key="train.models")
