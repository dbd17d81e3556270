"""Every registered dataset adapter on a miniature of its authors' layout, written by code
(``tests/helpers/minis/<name>.py``), shared data or not: the prepare stage reads it and the
manifest, labels, scales, dynamic grid and splits are exactly what the miniature holds. An
adapter without a miniature fails here. (The team's real copies are the second check:
``tests/test_datasets_<name>.py`` with ``$MOODFLOW_SHARED_DATA``.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from moodflow.datasets import DATASETS
from moodflow.decode.audio import load_audio
from moodflow.prepare.run import prepare_dataset
from moodflow.stores.prepared import PreparedDataset
from tests.helpers import minis


def test_every_registered_adapter_has_a_miniature():
    missing = sorted(set(DATASETS.names()) - set(minis.names()))
    assert not missing, f"no miniature for adapter(s) {missing}: add tests/helpers/minis/<name>.py (see its __init__)"
    assert set(minis.names()) <= set(DATASETS.names()), "a miniature of an adapter that is not registered"


@pytest.mark.parametrize("name", DATASETS.names())
def test_adapter_reads_its_miniature(name, tmp_path):
    if name not in minis.names():
        pytest.fail(f"no miniature for adapter {name!r}: add tests/helpers/minis/{name}.py")
    mini = minis.module(name).write(tmp_path / "raw")
    out = tmp_path / "prepared"
    prepare_dataset(mini.params(name), out)
    prepared = PreparedDataset.read(out)

    _check_manifest(mini, prepared, out)
    _check_spec(mini, prepared.spec)
    _check_labels(mini.static, prepared.static_labels, prepared.spec, "static")
    if mini.dynamic is None:
        assert prepared.dynamic_labels is None or prepared.dynamic_labels.empty
    else:
        _check_labels(mini.dynamic, prepared.dynamic_labels, prepared.spec, "dynamic")
        steps = prepared.dynamic_labels.groupby("track_id")["time_s"].diff().dropna().round(6)
        assert set(steps) == {prepared.spec.dynamic_hop_s}
    if mini.splits is None:
        assert prepared.splits is None
    else:
        assert dict(zip(prepared.splits["track_id"], prepared.splits["split"])) == mini.splits
    if mini.provided is not None:
        recorded = prepared.info["provided_features"]
        for key, value in mini.provided.items():
            expected = str((mini.root / value).absolute()) if key.endswith("_csv") else value
            assert recorded[key] == expected, key


def _check_manifest(mini: minis.Miniature, prepared: PreparedDataset, out: Path) -> None:
    manifest = prepared.manifest.set_index("track_id")
    assert manifest.index.is_unique and sorted(manifest.index) == sorted(mini.track_ids)
    for tid, raw in manifest["audio_path"].items():
        path = Path(raw) if mini.root is not None else out / raw
        assert Path(raw).is_absolute() == (mini.root is not None), raw  # the demo's are relative to its folder
        if tid in mini.audio:
            y = load_audio(path, 22050)  # the pipeline's decoder reads what the miniature wrote
            assert len(y) / 22050 == pytest.approx(mini.audio[tid], abs=0.1), tid
            assert np.abs(y).max() > 0.01
        else:
            assert not path.exists(), f"{tid}: listed without audio, yet {path} exists"
    if mini.durations is not None:
        stated = manifest["duration_s"].to_dict()
        for tid in mini.track_ids:
            if tid in mini.durations:
                assert stated[tid] == pytest.approx(mini.durations[tid]), tid
            else:
                assert np.isnan(stated[tid]), f"{tid}: a duration the dataset does not state"


def _check_spec(mini: minis.Miniature, spec) -> None:
    for key, expected in mini.spec.items():
        value = getattr(spec, key)
        if key == "target_scales":
            value = {k: tuple(v) for k, v in value.items()}
        elif isinstance(value, list) and isinstance(expected, tuple):
            value = tuple(value)
        assert value == expected, f"spec.{key}: {value!r}, expected {expected!r}"
    if spec.scale is not None:
        assert spec.scale_name, "a scale without its name"
    if spec.dynamic_scale is not None:
        assert spec.dynamic_scale_name, "a dynamic scale without its name"


def _check_labels(expected: pd.DataFrame, got: pd.DataFrame, spec, kind: str) -> None:
    """Exactly the expected rows and values (order aside), and every value on its native scale."""
    keys = ["track_id"] + (["time_s"] if kind == "dynamic" else [])
    assert got is not None, f"no {kind} labels"
    got = got.sort_values(keys, kind="stable").reset_index(drop=True)
    want = expected.sort_values(keys, kind="stable").reset_index(drop=True)
    if len(want.columns) > len(keys):  # values given (the demo's come from its generator: ids and times only)
        assert set(got.columns) == set(want.columns), f"{kind} columns {list(got.columns)}, expected {list(want.columns)}"
    pd.testing.assert_frame_equal(got[list(want.columns)], want, check_dtype=False, rtol=1e-12, atol=1e-12)
    targets = spec.static_targets if kind == "static" else spec.dynamic_targets
    default = spec.scale if kind == "static" else (spec.dynamic_scale or spec.scale)
    for target in targets:
        lo, hi = spec.target_scales.get(target) or default
        values = got[target].to_numpy(float)
        assert np.nanmin(values) >= lo and np.nanmax(values) <= hi, f"{kind} {target} outside {lo}..{hi}"
    for tag in spec.tags if kind == "static" else []:
        assert set(got[tag].dropna().astype(float)) <= {0.0, 1.0}
    if kind == "static" and spec.class_column:
        assert set(got[spec.class_column].dropna()) <= set(spec.classes)
