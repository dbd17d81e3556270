"""No pickle on any load path: trained model folders hold skops / XGBoost UBJ / safetensors +
JSON only, and a malicious file planted as a model is refused and never run (issue 9)."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio

from moodflow.models.io import load_model, read_manifest
from moodflow.models.safe_load import UntrustedModelError, is_trusted, load_skops
from moodflow.stores.feature_store import FeatureStore
from tests.helpers.synthetic_data import make_run, train_each

PICKLE_MAGIC = b"\x80"
MODEL_PARAMS = {
    "ridge": {"alpha": 1.0},
    "random_forest": {"n_estimators": 5},
    "xgboost": {"n_estimators": 5, "device": "cpu"},
    "mlp": {"epochs": 3, "hidden": 8, "device": "cpu"},
}


class _Payload:
    """Unpickling this creates ``self.marker``: the stand-in for arbitrary code."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


class PlantedEstimator:
    """A class a skops file can name; restoring its state would create a marker file."""

    def __setstate__(self, state):
        Path(state["marker"]).write_text("ran")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("safe")
    store, prepared = make_run(folder, n_tracks=12, n_feat=4, dynamic=False)
    return folder, store, prepared


@pytest.fixture(scope="module")
def trained(run):
    folder, store, prepared = run
    return train_each(store, prepared, MODEL_PARAMS, folder / "models")


def _skops_zip(path: Path, schema: dict) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("schema.json", json.dumps({**schema, "protocol": 2, "_skops_version": sio.__dict__.get("__version__", "0.16.0")}))


def _json_str(value, node_id: int) -> dict:
    return {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(value), "is_json": True, "__id__": node_id}


# -- what training writes ------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(MODEL_PARAMS))
def test_model_folders_hold_no_pickle_and_a_manifest(trained, run, name):
    folder = trained[name]
    manifest = read_manifest(folder)
    assert manifest["model"] == name and manifest["format"] == "moodflow.model"
    assert {"numpy", "scikit-learn", "torch"} <= set(manifest["versions"])  # provenance
    with FeatureStore(run[1]) as store:
        assert manifest["feature_config"] == store.config  # the store config the model was trained on
    for path in folder.rglob("*"):
        if path.is_file():
            head = path.read_bytes()[:2]
            assert not (head[:1] == PICKLE_MAGIC and head[1:2] in b"\x02\x03\x04\x05"), f"{path} is a pickle"
    suffixes = {p.suffix for p in folder.rglob("*") if p.is_file()}
    assert suffixes <= {".json", ".csv", ".skops", ".ubj", ".safetensors"}, suffixes
    X = np.random.default_rng(1).normal(size=(3, 4))
    pred = load_model(folder).predict(X)
    assert pred.shape == (3, 2) and np.isfinite(pred).all()


def test_loader_trusts_exactly_the_types_our_models_use(trained):
    for name in ("ridge", "random_forest", "xgboost"):
        for path in trained[name].glob("*.skops"):
            assert all(is_trusted(t) for t in sio.get_untrusted_types(file=path))
    for name in ("numpy.testing._private.utils.runstring", "builtins.eval", "os.system",
                 "sklearn.utils._testing.assert_allclose", f"{PlantedEstimator.__module__}.PlantedEstimator"):
        assert not is_trusted(name), name


# -- planted files ---------------------------------------------------------------------------------
def test_pickle_disguised_as_skops_is_refused_and_never_run(trained, tmp_path):
    live = tmp_path / "proof"
    pickle.loads(pickle.dumps(_Payload(live)))  # the payload is live: unpickling it runs code
    assert live.exists()

    marker = tmp_path / "PWNED"
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.json").write_text((trained["ridge"] / "model.json").read_text())
    (folder / "model.skops").write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(UntrustedModelError, match=r"model\.skops: not a skops model file \(it is a pickle\)"):
        load_model(folder)
    assert not marker.exists()


def test_skops_naming_an_untrusted_class_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "PWNED"
    schema = {"__class__": "PlantedEstimator", "__module__": PlantedEstimator.__module__, "__loader__": "ObjectNode",
              "content": {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode",
                          "content": {"marker": _json_str(str(marker), 3)},
                          "key_types": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
                                        "content": [{"__class__": "str", "__module__": "builtins",
                                                     "__loader__": "TypeNode", "__id__": 5}], "__id__": 4},
                          "__id__": 2},
              "__id__": 1}
    path = tmp_path / "model.skops"
    _skops_zip(path, schema)
    with pytest.raises(UntrustedModelError, match=r"model\.skops: refusing to load untrusted types .*PlantedEstimator"):
        load_skops(path)
    assert not marker.exists()
    sio.load(path, trusted=sio.get_untrusted_types(file=path))  # trusting it blindly would run it
    assert marker.exists()


def test_skops_calling_a_function_of_a_trusted_package_is_refused(tmp_path):
    """A prefix allowlist (``numpy.*``) would let this run ``exec`` through skops's reduce node."""
    marker = tmp_path / "PWNED"
    code = f"open({str(marker)!r}, 'w').write('ran')"
    schema = {"__class__": "runstring", "__module__": "numpy.testing._private.utils",
              "__loader__": "ConstructorFromReduceNode",
              "content": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
                          "content": [_json_str(code, 2),
                                      {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode",
                                       "content": {}, "key_types": {"__class__": "list", "__module__": "builtins",
                                                                    "__loader__": "ListNode", "content": [],
                                                                    "__id__": 5}, "__id__": 3}],
                          "__id__": 4},
              "__id__": 1}
    path = tmp_path / "model.skops"
    _skops_zip(path, schema)
    with pytest.raises(UntrustedModelError, match="runstring"):
        load_skops(path)
    assert not marker.exists()
    sio.load(path, trusted=sio.get_untrusted_types(file=path))
    assert marker.exists()


def test_pickle_planted_as_xgboost_booster_or_torch_weights_is_not_run(trained, tmp_path):
    import shutil

    for name, weights in (("xgboost", "model.ubj"), ("mlp", "model.safetensors")):
        marker = tmp_path / f"PWNED-{name}"
        folder = tmp_path / name
        shutil.copytree(trained[name], folder)
        (folder / weights).write_bytes(pickle.dumps(_Payload(marker)))
        with pytest.raises(Exception) as info:
            load_model(folder)
        assert not isinstance(info.value, AssertionError)
        assert not marker.exists(), f"{name}: loading a planted pickle ran it"


def test_manifest_cannot_name_an_arbitrary_class(trained, tmp_path):
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(trained["ridge"], folder)
    manifest = json.loads((folder / "model.json").read_text())
    manifest["model"] = "os.system"
    (folder / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(KeyError, match="os.system"):
        load_model(folder)
