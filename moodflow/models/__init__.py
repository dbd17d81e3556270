"""Models, registered by name (``train.models`` in params.yaml).

Adding a model: write ``moodflow/models/<name>.py`` with a ``Model`` subclass decorated
``@MODELS.register("<name>")`` and add one line to ``_MODULES`` below.
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
}

MODELS: Registry = Registry("model", __name__, _MODULES, key="train.models")
