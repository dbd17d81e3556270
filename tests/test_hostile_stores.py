"""Feature stores from others: a crafted HDF5 file is refused, naming the file and the problem,
before anything is read from it (`FeatureStore` on open, and `moodflow info --check`).

Each case starts from a real store written by `FeatureStoreWriter` and changes one thing
with h5py, as someone handing out a store could."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from moodflow.cli import main as cli
from moodflow.stores.feature_store import FeatureStore, FeatureStoreWriter, StoreMismatchError
from moodflow.stores.validate import InvalidStoreError

NAMES = ["f0", "f1", "f2", "f3", "f4"]
SECRET = "root:x:0:0:secret line of a local file\n" * 8


def good_store(path: Path, n: int = 4) -> Path:
    rng = np.random.default_rng(0)
    with FeatureStoreWriter(path, feature_names=NAMES, frame_shape=(5,), extractor="hand", extractor_version="1",
                            config={"a": 1}, dataset="d", sample_rate=22050) as w:
        for i in range(n):
            start = np.arange(3) * 0.5
            w.append(f"t{i}", 2.0, rng.normal(size=5), rng.normal(size=(3, 5)), start, start + 1.0)
    return path


def _replace(h: h5py.File, key: str, **kwargs) -> None:
    del h[key]
    h.create_dataset(key, **kwargs)


def _external_storage(path: Path, tmp: Path) -> None:
    secret = tmp / "passwd"
    secret.write_text(SECRET)
    with h5py.File(path, "a") as h:
        shape = h["static/values"].shape
        _replace(h, "static/values", shape=shape, dtype="f4", external=[(str(secret), 0, secret.stat().st_size)])


def _external_link(path: Path, tmp: Path) -> None:
    other = good_store(tmp / "other.h5", n=4)
    with h5py.File(path, "a") as h:
        del h["static/values"]
        h["static/values"] = h5py.ExternalLink(str(other), "/static/values")


def _soft_link(path: Path, tmp: Path) -> None:
    with h5py.File(path, "a") as h:
        h["tracks/copy"] = h["tracks/duration_s"][:]
        del h["tracks/duration_s"]
        h["tracks/duration_s"] = h5py.SoftLink("/tracks/copy")


def _virtual(path: Path, tmp: Path) -> None:
    secret = tmp / "elsewhere.h5"
    with h5py.File(secret, "w") as other:
        other["x"] = np.full((4, 5), 7.0, dtype="f4")
    with h5py.File(path, "a") as h:
        layout = h5py.VirtualLayout(shape=(4, 5), dtype="f4")
        layout[:] = h5py.VirtualSource(str(secret), "x", shape=(4, 5))
        del h["static/values"]
        h.create_virtual_dataset("static/values", layout)


def _duplicate_ids(path: Path, tmp: Path) -> None:
    with h5py.File(path, "a") as h:
        h["tracks/id"][1] = "t0"


def _more_columns(path: Path, tmp: Path) -> None:
    with h5py.File(path, "a") as h:
        _replace(h, "static/values", data=np.zeros((4, 7), dtype="f4"))


def _complex(path: Path, tmp: Path) -> None:
    with h5py.File(path, "a") as h:
        _replace(h, "static/values", data=np.zeros((4, 5), dtype="c8"))


def _integers(path: Path, tmp: Path) -> None:
    with h5py.File(path, "a") as h:
        _replace(h, "frames/values", data=np.zeros((12, 5), dtype="i4"))


def _offsets_beyond(path: Path, tmp: Path) -> None:
    with h5py.File(path, "a") as h:
        _replace(h, "frames/offsets", data=np.array([0, 3, 6, 9, 5000], dtype=np.int64))


def _offsets_backwards(path: Path, tmp: Path) -> None:
    with h5py.File(path, "a") as h:
        _replace(h, "frames/offsets", data=np.array([0, 9, 3, 6, 12], dtype=np.int64))


def _bad_version(path: Path, tmp: Path) -> None:
    with h5py.File(path, "a") as h:
        h.attrs["schema_version"] = "one"


def _bad_config(path: Path, tmp: Path) -> None:
    with h5py.File(path, "a") as h:
        h.attrs["config"] = "{not json"


def _huge_attribute(path: Path, tmp: Path) -> None:
    with h5py.File(path, "a", libver="latest") as h:  # attributes over 64 KB need the newer format
        h.create_group("notes").attrs["text"] = np.zeros(300_000, dtype="f8")


def _huge_config(path: Path, tmp: Path) -> None:
    with h5py.File(path, "a") as h:
        h.attrs["config"] = '{"x": "' + "a" * (3 << 20) + '"}'


CASES = {
    "external raw storage": (_external_storage, r"/static/values keeps its data in external files .*passwd"),
    "external link": (_external_link, r"/static/values is an external link to .*other\.h5"),
    "soft link": (_soft_link, r"/tracks/duration_s is a soft link to /tracks/copy"),
    "virtual dataset": (_virtual, r"/static/values is a virtual dataset"),
    "duplicate ids": (_duplicate_ids, r"track id 't0' appears more than once"),
    "7 columns for 5 names": (_more_columns, r"/static/values has 7 columns but /features/names lists 5 names"),
    "complex values": (_complex, r"/static/values holds complex64, not float32/float64"),
    "integer frames": (_integers, r"/frames/values holds int32"),
    "offsets beyond the frames": (_offsets_beyond, r"/frames/offsets do not cover the 12 frames .*last 5000"),
    "offsets running backwards": (_offsets_backwards, r"/frames/offsets do not cover the 12 frames .*1 decreasing"),
    "schema_version not a number": (_bad_version, r"schema version 'one'"),
    "config not JSON": (_bad_config, r"attribute config is not JSON"),
    "2.4 MB attribute": (_huge_attribute, r"attribute /notes@text takes 2,400,000 bytes"),
    "3 MB config string": (_huge_config, r"attribute /@config takes 3,145,737 bytes"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_crafted_store_is_refused_naming_file_and_problem(tmp_path, case, capsys):
    craft, problem = CASES[case]
    path = good_store(tmp_path / "store.h5")
    craft(path, tmp_path)
    with pytest.raises((InvalidStoreError, StoreMismatchError), match=problem) as info:
        FeatureStore(path)
    assert str(path) in str(info.value)
    assert SECRET[:10] not in str(info.value)
    assert cli(["info", str(path)]) == 2  # one line on stderr, not a traceback
    err = capsys.readouterr().err
    assert err.startswith("moodflow: error: ") and str(path) in err and "Traceback" not in err


def test_external_storage_is_refused_before_any_byte_is_read(tmp_path):
    """The secret file is unreadable to HDF5 mid-check: had the validator read the dataset, it
    would have failed differently; the refusal comes from the metadata alone."""
    path = good_store(tmp_path / "store.h5")
    _external_storage(path, tmp_path)
    (tmp_path / "passwd").chmod(0)
    with pytest.raises(InvalidStoreError, match="external files"):
        FeatureStore(path)


@pytest.mark.parametrize("content, what", [(b"track_id,valence\n1,0.5\n", b"track_id"), (b"", b"")])
def test_a_file_that_is_not_hdf5_gets_a_clear_error(tmp_path, content, what):
    path = tmp_path / "store.h5"
    path.write_bytes(content)
    with pytest.raises(InvalidStoreError, match=r"store\.h5: not an HDF5 file") as info:
        FeatureStore(path)
    assert what in str(info.value).encode()
    proc = subprocess.run([sys.executable, "-m", "moodflow", "info", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "not an HDF5 file" in proc.stderr and "Traceback" not in proc.stderr


def test_info_check_passes_a_good_store_and_reads_every_value(tmp_path, capsys):
    path = good_store(tmp_path / "store.h5")
    assert cli(["info", "--check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "check: ok" in out and "tracks: 4" in out


def test_info_check_reports_what_only_reading_the_values_shows(tmp_path, capsys):
    """Frames that end before they start (what `win_s: -1` wrote before settings were checked)
    and infinite values: the structure is fine, the content is not."""
    path = good_store(tmp_path / "store.h5")
    with h5py.File(path, "a") as h:
        h["frames/end_s"][2] = -1.0
        h["static/values"][1, 3] = np.inf
    assert cli(["info", str(path)]) == 0  # opening checks the structure only
    capsys.readouterr()
    assert cli(["info", "--check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "1 frame(s) end before they start (first: row 2" in out
    assert "/static/values holds infinite values" in out and str(path) in out


def test_store_writer_refuses_frame_columns_without_names(tmp_path):
    with pytest.raises(ValueError, match="frames of 2 columns need as many frame names, not 5"):
        FeatureStoreWriter(tmp_path / "s.h5", feature_names=NAMES, frame_shape=(2,), extractor="x",
                           extractor_version="1", config={}, dataset="d", sample_rate=1)
    assert not list(tmp_path.iterdir())
