"""The pipeline contract: DVC sees everything the code reads, and every setting has one default.

- every module a stage script may import (statically, lazy imports and registry tables
  included) lies inside the stage's declared deps;
- every params.yaml key a stage process read (traced by ``moodflow.core.params`` during the
  shared demo run) is covered by the stage's declared params;
- params.yaml lists exactly the defaults of every typed settings class.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.helpers.contract import REPO, stages, undeclared_imports, undeclared_params

from moodflow.core.config import build, defaults
from moodflow.core.errors import SettingsError
from moodflow.datasets import DATASETS
from moodflow.decode.settings import DecodeSettings
from moodflow.extract.settings import FeaturesSettings
from moodflow.features import EXTRACTORS
from moodflow.models import MODELS
from moodflow.prepare.settings import DatasetSettings
from moodflow.train.settings import TrainSettings

PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
STAGES = stages()


@pytest.mark.parametrize("stage", STAGES, ids=[s.name for s in STAGES])
def test_stage_imports_lie_inside_its_deps(stage):
    assert undeclared_imports(stage) == []


def _traces(demo_tree: Path) -> dict[str, set[str]]:
    """Keys read, per stage (matched by command line), over the shared demo run."""
    by_cmd = {s.cmd: s.name for s in stages(demo_tree / "repo")}
    read: dict[str, set[str]] = {}
    for path in (demo_tree / "param-traces").glob("*.json"):
        record = json.loads(path.read_text())
        cmd = " ".join(["python", *record["argv"]])
        if cmd in by_cmd:
            read.setdefault(by_cmd[cmd], set()).update(record["read"])
    return read


def test_every_stage_process_was_traced(demo_tree):
    assert set(_traces(demo_tree)) == {s.name for s in stages(demo_tree / "repo")}


@pytest.mark.parametrize("stage", STAGES, ids=[s.name for s in STAGES])
def test_stage_reads_only_declared_params(demo_tree, stage):
    read = _traces(demo_tree)[stage.name]
    assert read, f"{stage.name} read no params at all?"
    assert undeclared_params(read, stage.params) == []


def _registered():
    for registry, section in ((DATASETS, "dataset"), (EXTRACTORS, "features"), (MODELS, "train")):
        for name in registry.names():
            yield pytest.param(registry.get(name), PARAMS[section].get(name), id=f"{section}.{name}")


@pytest.mark.parametrize("cls, listed", list(_registered()))
def test_params_yaml_lists_each_classes_defaults(cls, listed):
    """One default per setting: the settings dataclass, repeated verbatim in params.yaml."""
    assert listed == defaults(cls.Config)


@pytest.mark.parametrize("cls, section", [(DatasetSettings, "dataset"), (DecodeSettings, "decode"),
                                          (FeaturesSettings, "features"), (TrainSettings, "train")])
def test_params_yaml_sections_match_their_settings(cls, section):
    registered = set(DATASETS.names()) | set(EXTRACTORS.names()) | set(MODELS.names())
    own = {k: v for k, v in PARAMS[section].items() if k not in registered}
    assert own == defaults(cls)


@pytest.mark.parametrize("section, values, message", [
    ("svm", {"c": 3}, "train.svm.c: unknown setting (did you mean 'C'?); valid: "),
    ("svm", {"C": "big"}, "train.svm.C: 'big' is not a number"),
    ("random_forest", {"n_estimators": 0}, "train.random_forest.n_estimators: 0 is below the minimum 1"),
    ("svm", {"kernel": "rbg"}, "train.svm.kernel: 'rbg' is not allowed (did you mean 'rbf'?); valid: rbf,"),
])
def test_a_bad_model_setting_is_one_line_naming_it(section, values, message):
    with pytest.raises(SettingsError) as info:
        build(MODELS.get(section).Config, values, f"train.{section}")
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


@pytest.mark.parametrize("values, message", [
    ({"name": "pmeno"}, "dataset.name: unknown dataset 'pmeno' (did you mean 'pmemo'?)"),
    ({"name": "demo", "rooot": "/x"}, "dataset.rooot: unknown setting (did you mean 'root'?)"),
    ({"name": "demo", "roots": "/x"}, "dataset.roots: '/x' is not a mapping"),
])
def test_a_bad_dataset_setting_is_one_line_naming_it(values, message):
    from moodflow.prepare.settings import dataset_settings

    with pytest.raises(SettingsError, match="^" + message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        dataset_settings(values)


def test_stage_params_types_are_checked():
    with pytest.raises(SettingsError, match=r"^train.protocol.folds: 'five' is not an integer$"):
        build(TrainSettings, {"protocol": {"folds": "five"}}, "train")
    with pytest.raises(SettingsError, match=r"^decode.sample_rate: 22050.7 is not an integer or auto$"):
        build(DecodeSettings, {"sample_rate": 22050.7}, "decode")
    with pytest.raises(SettingsError, match=r"^features.grid.hop_s: 0 must be greater than 0; valid: > 0 and ≤ 60$"):
        build(FeaturesSettings, {"grid": {"hop_s": 0}}, "features")
    with pytest.raises(SettingsError, match=r"^features.workers: -3 is below the minimum 0; valid: ≥ 0 and ≤ 1e12$"):
        build(FeaturesSettings, {"workers": -3}, "features")


def test_check_names_and_the_whole_file(tmp_path):
    from moodflow.check.names import check_names
    from moodflow.check.validate import validate_params

    assert validate_params(PARAMS)["models"] == PARAMS["train"]["models"]
    bad = {**PARAMS, "train": {**PARAMS["train"], "models": ["ridge", "svr"]}}
    with pytest.raises(SettingsError, match=r"^train.models: unknown model 'svr' \(did you mean 'svm'\?\)"):
        check_names(bad)
    missing = {**PARAMS, "features": {k: v for k, v in PARAMS["features"].items() if k != "chroma"}}
    with pytest.raises(SettingsError, match="no features.chroma section"):
        check_names(missing)
    with pytest.raises(SettingsError, match=r"^trian: unknown section \(did you mean 'train'\?\)"):
        validate_params({**PARAMS, "trian": {}})
