"""Reading ``params.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """Load the pipeline parameters as a plain dict."""
    with open(path, encoding="utf-8") as fh:
        params = yaml.safe_load(fh) or {}
    if not isinstance(params, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return params


def section(params: dict[str, Any], dotted: str, default: Any = None) -> Any:
    """Return ``params['a']['b']`` for ``'a.b'``, or ``default`` when missing."""
    node: Any = params
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node
