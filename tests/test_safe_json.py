"""A schema for every JSON file moodflow reads back, and weights that must be finite (issue 24,
cases 6 and 8): odd but well-formed JSON in a bundle's bundle.json/model.json or a pulled model
folder is one line naming the file and the field (exit 2), 100 000 nested brackets are refused
before parsing, and NaN/inf/1e308 weights of every format moodflow saves (skops, XGBoost,
safetensors) are refused on load; predict's JSON never holds a bare NaN."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest

from moodflow.app.bundle import BundleError, export_bundle, open_bundle
from moodflow.core.schema import MODEL_FORMAT_VERSION, SchemaError, parse_json, read_json_file
from moodflow.models.io import load_model
from moodflow.models.safe_load import UntrustedModelError
from tests.helpers.bundles import cli, shared_project, wavs
from tests.helpers.hostile_files import craft_bundle, edit_skops_array, ubjson


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return shared_project(tmp_path_factory.getbasetemp().parent)


@pytest.fixture(scope="module")
def good(project, tmp_path_factory) -> Path:
    return export_bundle(project / "models/chroma/ridge", tmp_path_factory.mktemp("bundle") / "good.moodflow")


def _one_line(out: subprocess.CompletedProcess, *fragments: str) -> str:
    assert out.returncode == 2, (out.returncode, out.stderr[-3000:])
    assert "Traceback" not in out.stderr and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("moodflow: error: "), out.stderr
    assert all(f in lines[0] for f in fragments), lines[0]
    return lines[0]


def _deep(n: int) -> str:
    return "[" * n + "]" * n


def _raw_header(good: Path, change: str) -> bytes:
    """bundle.json's text with ``"format_version": 1`` replaced by ``change`` (text JSON cannot
    otherwise hold: 1e400, 100k-deep nesting)."""
    from tests.helpers.hostile_files import bundle_members

    text = dict(bundle_members(good))["bundle.json"].decode()
    assert '"format_version": 1' in text
    return text.replace('"format_version": 1', change, 1).encode()


# (bundle.json edit or raw text, model.json edit, the field the one line names, its problem)
BUNDLE_CASES = {
    "format_version 1e400": (dict(raw_meta='"format_version": 1e400'), "bundle.json: format_version",
                             "must be a finite number"),
    "format_version NaN": (dict(raw_meta='"format_version": NaN'), "bundle.json: format_version", "must be a finite number"),
    "format_version a list": (dict(meta=lambda m: m.update(format_version=[1])), "bundle.json: format_version",
                              "must be an integer (got a list)"),
    "format_version 'abc'": (dict(meta=lambda m: m.update(format_version="abc")), "bundle.json: format_version",
                             "must be an integer (got a string 'abc')"),
    "format_version from the future": (dict(meta=lambda m: m.update(format_version=2)), "bundle.json: format_version",
                                       "2 is newer than this moodflow reads (1); upgrade moodflow"),
    "features a list": (dict(meta=lambda m: m.update(features=[1, 2])), "bundle.json: features",
                        "must be an object (got a list)"),
    "packages missing": (dict(meta=lambda m: m["features"].pop("packages")), "bundle.json: features.packages",
                         "missing (required)"),
    "100k-deep nesting": (dict(raw_meta=f'"deep": {_deep(100_000)}, "format_version": 1'), "bundle.json",
                          "nested 100001 levels deep, more than the 32"),
    "label_spec [1]": (dict(meta=lambda m: m.update(label_spec=[1])), "bundle.json: label_spec",
                       "must be an object (got a list)"),
    "files a string": (dict(meta=lambda m: m.update(files="x")), "bundle.json: files", "must be an object"),
    "a duplicate key": (dict(raw_meta='"format_version": 1, "format_version": 1'), "bundle.json",
                        "key 'format_version' appears twice"),
    "model.json tasks 'x'": (dict(model=lambda m: m.update(tasks="x")), "model.json: tasks", "must be an object"),
    "model.json label_spec [1]": (dict(model=lambda m: m.update(label_spec=[1])), "model.json: label_spec",
                                  "must be an object (got a list)"),
    "model.json format_version 1e400": (dict(raw_model=True), "model.json: format_version", "must be a finite number"),
    "model.json from the future": (dict(model=lambda m: m.update(format_version=MODEL_FORMAT_VERSION + 1)),
                                   "model.json: format_version", f"{MODEL_FORMAT_VERSION + 1} is newer than"),
    "model.json without model": (dict(model=lambda m: m.pop("model")), "model.json: model", "missing (required)"),
    "model.json scale upside down": (dict(model=lambda m: m["label_spec"].update(scale=[9, 1])),
                                     "model.json: label_spec.scale", "low 9 must be below high 1"),
}


def _craft(good: Path, dst: Path, case: dict) -> Path:
    kwargs = dict(case)
    if "raw_meta" in kwargs:
        kwargs["raw_meta"] = _raw_header(good, kwargs["raw_meta"])
    if kwargs.pop("raw_model", False):
        from tests.helpers.hostile_files import bundle_members

        text = dict(bundle_members(good))["model.json"].decode()
        kwargs["raw_model"] = text.replace(f'"format_version": {MODEL_FORMAT_VERSION}', '"format_version": 1e400').encode()
    return craft_bundle(good, dst, **kwargs)


@pytest.mark.parametrize("case", list(BUNDLE_CASES))
def test_odd_json_in_a_bundle_is_one_line_naming_the_bundle_and_the_field(project, good, tmp_path, case):
    """Before: OverflowError, TypeError, AttributeError and RecursionError tracebacks, or
    ``moodflow: error: 'packages'``. Now one line (CLI, exit 2) and one BundleError (API)."""
    edit, field, problem = BUNDLE_CASES[case]
    bad = _craft(good, tmp_path / "odd.moodflow", edit)
    token = f"SENTINEL-{uuid.uuid4().hex}"
    (tmp_path / "tmpdir").mkdir()
    out = cli(["predict", str(wavs(project)[0]), "--model", str(bad), "--no-tags"], cwd=tmp_path,
              env={"TMPDIR": str(tmp_path / "tmpdir")})
    line = _one_line(out, f"{bad}: {field}", problem)
    assert token not in line and list((tmp_path / "tmpdir").iterdir()) == []
    with pytest.raises(BundleError) as info:
        open_bundle(bad)
    assert f"{bad}: {field}" in str(info.value) and problem in str(info.value)


def test_odd_json_in_a_pulled_model_folder_is_one_line(project, tmp_path):
    folder = tmp_path / "ridge"
    shutil.copytree(project / "models/chroma/ridge", folder)
    manifest = json.loads((folder / "model.json").read_text())
    for change, field, problem in [
        (lambda m: m.update(tasks="x"), "tasks", "must be an object (got a string 'x')"),
        (lambda m: m.update(feature_sample_rate=-5), "feature_sample_rate", "greater than or equal to 0"),
        (lambda m: m.update(format_version=9), "format_version", "9 is newer than this moodflow reads"),
        (lambda m: m["metrics"]["static"]["valence"].update(r2="high"), "metrics", "must be a number or null"),
    ]:
        edited = json.loads(json.dumps(manifest))
        change(edited)
        (folder / "model.json").write_text(json.dumps(edited))
        out = cli(["predict", str(wavs(project)[0]), "--model", str(folder), "--no-tags"], cwd=tmp_path)
        _one_line(out, f"{folder / 'model.json'}: {field}", problem)
    (folder / "model.json").write_text(_deep(100_000))
    out = cli(["predict", str(wavs(project)[0]), "--model", str(folder), "--no-tags"], cwd=tmp_path)
    _one_line(out, f"{folder / 'model.json'}: nested 100000 levels deep")


def test_every_json_file_moodflow_reads_back_has_a_schema(project, tmp_path):
    """model.json, metrics.json (the model's and the run's), dataset.json and network.json as
    written by the pipeline pass; each with a wrong type is refused naming file and field."""
    mlp = project / "models/chroma/mlp"
    read_json_file(project / "models/chroma/ridge/model.json", "model")
    read_json_file(project / "models/chroma/ridge/metrics.json", "model_metrics")
    read_json_file(project / "data/prepared/dataset.json", "dataset")
    read_json_file(mlp / "network.json", "network")
    cases = [
        ("dataset.json", "dataset", {"name": "x", "spec": {"task": "regression", "scale": "1..9"}}, "spec.scale: must be a list"),
        ("dataset.json", "dataset", {"name": "x", "spec": {"task": "dance"}}, "spec.task: must be 'regression'"),
        ("metrics.json", "model_metrics", {"static": {"valence": {"r2": [1]}}}, "static.valence.r2: must be a number or null"),
        ("metrics.json", "run_metrics", {"best": {"feature_set": "../..", "model": "x"}}, "best.feature_set"),
        ("network.json", "network", {"hidden": 3_000_000_000}, "network.hidden is 3000000000, beyond any network"),
        ("network.json", "network", [1], "must be a JSON object (got a list)"),
    ]
    for name, kind, value, problem in cases:
        path = tmp_path / name
        path.write_text(json.dumps(value))
        with pytest.raises(SchemaError) as info:
            read_json_file(path, kind)
        assert str(info.value).startswith(f"{path}: ") and problem in str(info.value), str(info.value)
    path = tmp_path / "big.json"
    path.write_bytes(b" " * ((16 << 20) + 1))
    with pytest.raises(SchemaError, match="more than the 16,777,216 this file may have"):
        read_json_file(path, "model")  # refused from its size: never read
    from moodflow.stores.prepared import PreparedDataset

    prepared = tmp_path / "prepared"
    shutil.copytree(project / "data/prepared", prepared)
    meta = json.loads((prepared / "dataset.json").read_text())
    meta["spec"]["target_scales"] = {"valence": [1, "9"]}
    (prepared / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(SchemaError, match=r"dataset\.json: spec\.target_scales\.valence\.1: must be a number"):
        PreparedDataset.read(prepared)


def test_deep_nesting_never_reaches_the_parser():
    with pytest.raises(SchemaError, match="nested 100000 levels deep"):
        parse_json(_deep(100_000), "x.json")
    text = json.dumps({"a": "[" * 100, "b": "\\\"[{"})  # brackets inside strings (escaped quotes too) do not count
    assert parse_json(text, "x.json") == {"a": "[" * 100, "b": '\\"[{'}


# -- case 8: weights must be finite ---------------------------------------------------------------
def _copy(project: Path, name: str, tmp: Path) -> Path:
    folder = tmp / name
    shutil.copytree(project / f"models/chroma/{name}", folder)
    return folder


def test_non_finite_sklearn_weights_are_refused(project, tmp_path):
    """Before: NaN/inf/1e308 weights loaded, predicted NaN/inf, the JSON output held a bare NaN and
    the note blamed the music."""
    for value, problem in [(math.nan, r"model\.coef_ holds \d+ non-finite values"),
                           (math.inf, r"model\.coef_ holds \d+ non-finite values"),
                           (1e308, r"model\.coef_ holds a value of magnitude 1e\+308, beyond any trained weight")]:
        folder = _copy(project, "ridge", tmp_path / str(value))
        edit_skops_array(project / "models/chroma/ridge/model.skops", folder / "model.skops", "Ridge", "coef_",
                         lambda a: np.full_like(a, value))
        with pytest.raises(UntrustedModelError, match=problem):
            load_model(folder)
    folder = _copy(project, "ridge", tmp_path / "scale")
    edit_skops_array(project / "models/chroma/ridge/model.skops", folder / "model.skops", "StandardScaler", "scale_",
                     lambda a: np.where(np.arange(a.size) == 0, np.inf, a))
    with pytest.raises(UntrustedModelError, match=r"scale\.scale_ holds 1 non-finite value \(NaN or infinity\)"):
        load_model(folder)


def test_a_nan_model_is_one_line_in_predict(project, tmp_path):
    folder = _copy(project, "ridge", tmp_path)
    edit_skops_array(project / "models/chroma/ridge/model.skops", folder / "model.skops", "Ridge", "intercept_",
                     lambda a: np.full_like(a, np.nan))
    out = cli(["predict", str(wavs(project)[0]), "--model", str(folder), "--no-tags", "--format", "json"], cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "NaN" not in out.stdout, out.stderr
    assert "model.skops: refusing this model: model.intercept_ holds 2 non-finite values" in out.stderr
    assert "unlike its training data" not in out.stderr


def test_non_finite_xgboost_trees_are_refused(project, tmp_path):
    from moodflow.models.xgb_check import parse_model

    for key, value, problem in [("split_conditions", math.inf, r"tree 0\.split_conditions holds 1 non-finite value"),
                                ("base_weights", math.nan, r"tree 0\.base_weights holds 1 non-finite value")]:
        folder = _copy(project, "xgboost", tmp_path / key)
        model = parse_model((folder / "model.ubj").read_bytes())
        model["learner"]["gradient_booster"]["model"]["trees"][0][key][0] = value
        (folder / "model.ubj").write_bytes(ubjson(model))
        with pytest.raises(UntrustedModelError, match=problem):
            load_model(folder)
    folder = _copy(project, "xgboost", tmp_path / "base")
    model = parse_model((folder / "model.ubj").read_bytes())
    model["learner"]["learner_model_param"]["base_score"] = "[1E308]"
    (folder / "model.ubj").write_bytes(ubjson(model))
    with pytest.raises(UntrustedModelError, match=r"base_score holds a value of magnitude 1e\+308"):
        load_model(folder)


def test_non_finite_safetensors_weights_are_refused(project, tmp_path):
    from safetensors.torch import load_file, save_file

    for value in (float("nan"), float("inf")):
        folder = _copy(project, "mlp", tmp_path / str(value))
        state = load_file(str(folder / "model.safetensors"))
        name = sorted(k for k, v in state.items() if v.is_floating_point())[0]
        state[name] = state[name].clone()
        state[name].view(-1)[0] = value
        save_file(state, str(folder / "model.safetensors"))
        with pytest.raises(UntrustedModelError, match=rf"model\.safetensors tensor {name!r} holds 1 non-finite value"):
            load_model(folder)


def test_finite_models_still_load_and_bundles_of_each_format_predict(project, tmp_path):
    for name in ("ridge", "xgboost", "mlp"):
        load_model(project / f"models/chroma/{name}")
        bundle = export_bundle(project / f"models/chroma/{name}", tmp_path / f"{name}.moodflow")
        out = cli(["predict", str(wavs(project)[0]), "--model", str(bundle), "--no-tags", "--format", "json"],
                  cwd=tmp_path)
        assert out.returncode == 0, out.stderr[-2000:]
        json.loads(out.stdout, parse_constant=lambda c: pytest.fail(f"bare {c} in predict's JSON"))


def test_predict_json_never_holds_a_bare_nan(project):
    from moodflow import Predictor
    from moodflow.app.output import render
    from moodflow.app.predict import Prediction

    predictor = Predictor(project / "models/chroma/ridge", mood_tags=False)
    rows = [Prediction("a.wav", 1.0, values={"valence": math.nan, "arousal": math.inf}, times_s=[0.5],
                       curve={"valence": [math.nan]})]
    text = render("json", predictor, rows, [], dynamic=True)
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c}"))
    assert doc["predictions"][0]["valence"] is None and doc["predictions"][0]["dynamic"]["valence"] == [None]


def test_bundle_header_hashes_are_checked_before_any_json_is_trusted(good, tmp_path):
    bad = craft_bundle(good, tmp_path / "x.moodflow", model=lambda m: m.update(dataset="forged"), rehash=False)
    with pytest.raises(BundleError, match=r"member 'model\.json' does not match its SHA-256"):
        open_bundle(bad)


def test_the_schema_reads_the_versions_moodflow_writes():
    from moodflow.app.bundle import FORMAT_VERSION
    from moodflow.core.schema import BUNDLE_FORMAT_VERSION
    from moodflow.train.run import FORMAT_VERSION as MODEL_WRITTEN

    assert (BUNDLE_FORMAT_VERSION, MODEL_FORMAT_VERSION) == (FORMAT_VERSION, MODEL_WRITTEN)
