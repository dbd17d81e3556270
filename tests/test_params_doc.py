"""docs/params.md is generated from the typed settings and kept current: every key of params.yaml
with its type, range, default and meaning."""

from __future__ import annotations

from pathlib import Path

import yaml

from moodflow.check.params_doc import render, rows
from moodflow.datasets import DATASETS
from moodflow.decode.settings import DecodeSettings
from moodflow.extract.settings import FeaturesSettings
from moodflow.features import EXTRACTORS
from moodflow.models import MODELS
from moodflow.prepare.settings import DatasetSettings
from moodflow.train.settings import TrainSettings

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "params.md"


def test_docs_params_md_is_current():
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/params.md is stale: regenerate it with `python -m moodflow.check.params_doc > docs/params.md`")


def _all_rows():
    yield from rows(DatasetSettings, "dataset")
    yield from rows(DecodeSettings, "decode")
    yield from rows(FeaturesSettings, "features")
    yield from rows(TrainSettings, "train")
    for registry, section in ((DATASETS, "dataset"), (EXTRACTORS, "features"), (MODELS, "train")):
        for name in registry.names():
            yield from rows(registry.get(name).Config, f"{section}.{name}")


def test_every_setting_has_a_meaning():
    """A field documents itself: ``setting(doc=…)`` or a comment on (or just above) its line."""
    undocumented = [row[0] for row in _all_rows() if not row[4].strip()]
    assert undocumented == []


def _leaves(node, prefix=""):
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _leaves(value, f"{prefix}.{key}" if prefix else key)
    else:
        yield prefix


def test_every_key_of_params_yaml_is_documented():
    documented = {row[0].strip("`") for row in _all_rows()}
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    # a mapping-valued setting (dataset.roots, train.<model>.search) is one key, not a section
    missing = [k for k in _leaves(params) if k not in documented and not any(k.startswith(d + ".") for d in documented)]
    assert missing == []
    assert len(documented) > 150
