"""Dataset adapters, registered by name (``dataset.name`` in params.yaml).

Adding a dataset: write ``moodflow/datasets/<name>.py`` with a ``DatasetAdapter`` subclass
decorated ``@DATASETS.register("<name>")`` and add one line to ``_MODULES`` below.
"""

from moodflow.core.registry import Registry

_MODULES = {
    "demo": "demo",
    "pmemo": "pmemo",
    "deam": "deam",
    "emomusic": "emomusic",
    "fourq": "fourq",
    "jamendo": "jamendo",
    "folder": "folder",
    "emotify": "emotify",
}

DATASETS: Registry = Registry("dataset", __name__, _MODULES, key="dataset.name")
