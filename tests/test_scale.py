"""One label-scale type: every spelling moodflow meets is read, one is printed (issue 28 item 3:
the report used to show `1-9` or `1..9`, whichever the data came with)."""

from __future__ import annotations

import pytest

from moodflow.core.device import resolve_device
from moodflow.core.resample import resample
from moodflow.stores.prepared import LabelSpec
from moodflow.stores.scale import Scale, scale_text


@pytest.mark.parametrize("given, low, high, text", [
    ("1-9", 1, 9, "1-9"), ("1..9", 1, 9, "1-9"), ("1–9", 1, 9, "1-9"), (" 1 .. 9 ", 1, 9, "1-9"),
    ([1, 9], 1, 9, "1-9"), ((1.0, 9.0), 1, 9, "1-9"), ("0-1", 0, 1, "0-1"), ("0..1", 0, 1, "0-1"),
    ("-1..1", -1, 1, "-1..1"), ("−1..1", -1, 1, "-1..1"), ("-1-1", -1, 1, "-1..1"), ([-0.5, 2.5], -0.5, 2.5, "-0.5..2.5"),
    ("0..10", 0, 10, "0-10"), (Scale(1, 7), 1, 7, "1-7"),
])
def test_every_spelling_reads_the_same_and_prints_one(given, low, high, text):
    scale = Scale.parse(given)
    assert scale == (low, high) and isinstance(scale, Scale) and str(scale) == text == scale_text(given)
    assert Scale.parse(str(scale)) == scale


@pytest.mark.parametrize("given, message", [
    ("1 to 9", "is not a label scale"), ("one-nine", "is not a label scale"), ([1, 2, 3], "is not a label scale"),
    ("9-1", "low 9 must be below high 1"), ([5, 5], "low 5 must be below high 5"), ([0, float("inf")], "finite"),
])
def test_a_bad_scale_is_one_line_naming_the_setting(given, message):
    with pytest.raises(ValueError, match=message) as info:
        Scale.parse(given, "dataset.folder.scale")
    assert str(info.value).startswith("dataset.folder.scale: ") and "\n" not in str(info.value)


def test_no_scale_is_none():
    assert Scale.parse(None) is None and Scale.parse("") is None and Scale.parse([]) is None and scale_text(None) == ""


def test_a_label_spec_spells_its_scale_names_one_way():
    spec = LabelSpec(static_targets=["valence"], scale=(1.0, 9.0), scale_name="1..9", dynamic_scale_name="−1..1")
    assert (spec.scale_name, spec.dynamic_scale_name) == ("1-9", "-1..1")
    assert LabelSpec.from_dict(spec.to_dict()) == spec


def test_one_device_resolver_names_the_setting():
    import torch

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"^train.mlp.device: 'cuda' asked for but CUDA is not available$"):
            resolve_device("cuda", "train.mlp.device")


def test_one_resampler_is_soxr_hq_and_a_no_op_at_the_same_rate():
    import numpy as np
    import soxr

    y = np.sin(np.arange(22050) / 10.0).astype(np.float64)
    same = resample(y, 22050, 22050)
    assert same.dtype == np.float32 and np.array_equal(same, y.astype(np.float32))
    out = resample(y, 22050, 16000)
    assert out.dtype == np.float32 and np.array_equal(out, soxr.resample(y.astype(np.float32), 22050, 16000, quality="HQ"))
