"""Dataset adapters, registered by name (``dataset.name`` in params.yaml).

Adding a dataset: write ``moodflow/datasets/<name>.py`` with a ``DatasetAdapter`` subclass
decorated ``@DATASETS.register`` whose class attribute ``name = "<name>"`` is its registry key,
and add the line ``"<name>": "<module>"`` to ``_MODULES`` below (the registry then knows the
name without importing the module; a test checks the table against the sources).
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


def is_synthetic(name: object) -> bool:
    """Whether ``name`` is a registered dataset that moodflow generates itself (the demo)."""
    return isinstance(name, str) and name in DATASETS.names() and DATASETS.get(name).synthetic
