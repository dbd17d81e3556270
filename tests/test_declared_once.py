"""Each registered thing is declared once (issue 28 item 1), checked from the sources.

- The lazy import table (``_MODULES`` of each registry package) is exactly what the sources
  register: every module with a class decorated ``@REGISTRY.register`` (no argument) appears
  under that class's ``name``, and nothing else does.
- No side tables: the name of a registered dataset, feature set or model appears in
  ``moodflow/`` only in its own module and its registry line. What counts: a string literal in
  code (docstrings and comments are documentation and never count) whose value is exactly a
  registered name, or that lists three or more names of one registry as whole words (a
  hand-written list such as ``"(compare, egemaps, chroma, musicnn, mert)"``). Allowed besides
  the own module (for a plugin in a sub-package, e.g. ``features/mert/``, that folder) and the
  registry's ``__init__.py``: attribute names (``getattr(model, "multitask")``), the typed
  defaults of the stage settings (the values params.yaml repeats, written in the settings
  module that declares them), and the collisions listed in ``OTHER_MEANING``, where the word
  is not the registered thing (each says why).
  params.yaml, docs/ and tests/ are outside ``moodflow/`` and may name anything.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from moodflow.datasets import DATASETS
from moodflow.extract.settings import FeaturesSettings
from moodflow.features import EXTRACTORS
from moodflow.models import MODELS
from moodflow.prepare.settings import DatasetSettings
from moodflow.train.settings import TrainSettings

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "moodflow"
REGISTRIES = {"DATASETS": (DATASETS, "datasets"), "EXTRACTORS": (EXTRACTORS, "features"), "MODELS": (MODELS, "models")}
# (file, name): why the word there is not the registered thing
OTHER_MEANING = {
    ("moodflow/cli.py", "musicnn"): "`moodflow --version` names the musicnn PyPI package",
    ("moodflow/datasets/demo.py", "chords"): "the demo's ground-truth chord timeline (a column of its clip table)",
}


def _registered_in_sources(folder: Path, registry: str) -> dict[str, str]:
    """name → module (relative to the package) of every class decorated ``@<registry>.register``."""
    found = {}
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                if isinstance(target, ast.Attribute) and target.attr == "register" and \
                        isinstance(target.value, ast.Name) and target.value.id == registry:
                    assert not isinstance(deco, ast.Call), f"{path}: @{registry}.register takes no argument"
                    names = [stmt.value.value for stmt in node.body
                             if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and isinstance(stmt.value, ast.Constant)
                             and any(isinstance(t, ast.Name) and t.id == "name"
                                     for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]))]
                    assert len(names) == 1, f"{path}: {node.name} sets no class attribute name = '…'"
                    module = path.relative_to(folder).with_suffix("").as_posix().replace("/", ".")
                    assert names[0] not in found, f"{names[0]!r} registered twice"
                    found[names[0]] = module
    return found


@pytest.mark.parametrize("registry", sorted(REGISTRIES))
def test_the_lazy_import_table_is_what_the_sources_register(registry):
    reg, folder = REGISTRIES[registry]
    assert _registered_in_sources(PACKAGE / folder, registry) == reg.modules


def test_a_class_must_be_listed_under_its_name_to_register():
    from moodflow.core.registry import Registry

    reg = Registry("thing", "moodflow.nowhere", {"a": "a"})

    class A:
        name = "a"

    A.__module__ = "moodflow.nowhere.b"
    with pytest.raises(TypeError, match=r"thing 'a' is not listed in moodflow.nowhere._MODULES as defined here: "
                                        r"add the line 'a': 'b'"):
        reg.register(A)
    with pytest.raises(TypeError, match="@register takes no argument"):
        reg.register("a")
    A.__module__ = "moodflow.nowhere.a"
    assert reg.register(A) is A and reg.get("a") is A


def _own_places(name: str, registry, folder: str) -> set[str]:
    module = Path("moodflow", folder, *registry.modules[name].split("."))
    places = {module.with_suffix(".py").as_posix(), f"moodflow/{folder}/__init__.py"}
    if module.parent != Path("moodflow", folder):  # a plugin in a folder of its own (mert/, musicnn/)
        places.add(module.parent.as_posix() + "/")
    return places


def _typed_defaults() -> dict[str, set[str]]:
    """Settings module → the registered names its dataclass defaults list (params.yaml's defaults)."""
    out: dict[str, set[str]] = {}
    for cls in (DatasetSettings, FeaturesSettings, TrainSettings):
        for field in dataclasses.fields(cls):
            value = field.default if field.default is not dataclasses.MISSING else (
                field.default_factory() if field.default_factory is not dataclasses.MISSING else None)
            values = value if isinstance(value, list) else [value]
            owner = next(c for c in cls.__mro__ if field.name in c.__dict__.get("__annotations__", {}))
            path = Path(__import__("sys").modules[owner.__module__].__file__).relative_to(REPO).as_posix()
            out.setdefault(path, set()).update(v for v in values if isinstance(v, str))
    return out


def _code_strings(path: Path):
    """(line, text) of every string literal in code (docstrings and attribute names of getattr and
    hasattr excluded; f-strings by their literal parts)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                docstrings.add(id(first.value))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) > 1 and \
                node.func.id in ("getattr", "hasattr", "setattr"):
            docstrings.add(id(node.args[1]))  # an attribute name (Model.multitask), not a registered name
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def side_table_hits(root: Path = REPO) -> list[str]:
    """``file:line: name in text`` for each registered name found outside its allowed places,
    in the ``moodflow/`` folder under ``root``."""
    names = {name: (registry, folder) for registry, folder in REGISTRIES.values() for name in registry.names()}
    defaults = _typed_defaults()
    found = []
    for path in sorted((root / "moodflow").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        for line, text in _code_strings(path):
            hits = {text} & set(names)
            for registry, _ in REGISTRIES.values():
                listed = {n for n in registry.names() if re.search(rf"(?<![\w.]){re.escape(n)}(?![\w])", text)}
                if len(listed) >= 3:
                    hits |= listed
            for name in sorted(hits):
                own = _own_places(name, *names[name])
                if rel in own or any(rel.startswith(p) for p in own if p.endswith("/")):
                    continue
                if name in defaults.get(rel, set()) or (rel, name) in OTHER_MEANING:
                    continue
                found.append(f"{rel}:{line}: {name!r} in {text!r}")
    return found


def test_no_registered_name_appears_outside_its_own_module():
    assert side_table_hits() == []


def test_the_grep_finds_a_side_table(tmp_path):
    """The check above can fail: a table of per-extractor facts outside the extractors is found."""
    fake = tmp_path / "moodflow" / "app"
    fake.mkdir(parents=True)
    (fake / "side.py").write_text('"""Docstrings may say chroma."""\nRATES = {"musicnn": 16000}  # mert too\n'
                                  'HELP = f"train on {1} compare, egemaps or chroma"\n')
    hits = side_table_hits(tmp_path)
    assert hits == ["moodflow/app/side.py:2: 'musicnn' in 'musicnn'",
                    "moodflow/app/side.py:3: 'chroma' in ' compare, egemaps or chroma'",
                    "moodflow/app/side.py:3: 'compare' in ' compare, egemaps or chroma'",
                    "moodflow/app/side.py:3: 'egemaps' in ' compare, egemaps or chroma'"]


def test_the_registries_know_their_names_without_importing_a_plugin():
    """The lazy tables keep `moodflow list` and the name check free of torch, openSMILE, librosa."""
    import subprocess
    import sys

    code = ("import sys, yaml, contextlib, io\n"
            "from moodflow.check.names import check_names\n"
            "from moodflow.cli import main\n"
            "check_names(yaml.safe_load(open('params.yaml')))\n"
            "with contextlib.redirect_stdout(io.StringIO()): main(['list'])\n"
            "print(sorted(m for m in ('torch', 'sklearn', 'opensmile', 'transformers', 'librosa', 'pydantic') "
            "if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_predict_names_every_audio_feature_set_read_off_the_classes(tmp_path):
    """Before: a hand-written list in predict.py that missed midlevel and chords."""
    import json

    from moodflow.app.predict import PredictError, Predictor
    from moodflow.features import audio_feature_sets

    (tmp_path / "model.json").write_text(json.dumps({
        "format": "moodflow.model", "model": "ridge", "feature_extractor": "provided", "feature_set": "provided",
        "feature_config": {"extractor": {}, "grid": {}}}))
    with pytest.raises(PredictError) as info:
        Predictor(tmp_path, mood_tags=False)
    wanted = [n for n in EXTRACTORS.names() if EXTRACTORS.get(n).needs_audio]
    assert audio_feature_sets() == wanted and {"midlevel", "chords", "musicnn"} <= set(wanted)
    assert str(info.value).endswith(f"train on an audio feature set ({', '.join(wanted)})")
