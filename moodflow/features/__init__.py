"""Feature extractors, registered by name (``features.sets`` in params.yaml).

Adding an extractor: write ``moodflow/features/<name>.py`` with an ``Extractor`` subclass
decorated ``@EXTRACTORS.register("<name>")`` and add one line to ``_MODULES`` below.
"""

from moodflow.registry import Registry

_MODULES = {
    "compare": "compare",
    "egemaps": "egemaps",
    "chroma": "chroma",
    "mert": "mert",
    "provided": "provided",
}

EXTRACTORS: Registry = Registry("feature set", __name__, _MODULES)
