"""Paths from other people's files stay inside their root (issue 24, case 2): a dataset index, a
track list, a label file's file-name column, a model manifest and the run's metrics.json name
files that moodflow joins to a root in one helper (moodflow/core/paths.py), which refuses an
absolute path, ``..`` after normalisation and a link leading out, in one line naming the file,
the line and the path. Every file here is made by the test; a sentinel file sits outside each
root, and neither its bytes, its size nor its hash may appear in any output."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from moodflow.core.paths import UnsafePathError, is_inside, path_problem, resolve_inside
from moodflow.datasets import DATASETS
from moodflow.datasets.verify import make_index, read_index, verify
from tests.helpers.bundles import REPO, cli

SR = 22050


@pytest.fixture
def sentinel(tmp_path) -> tuple[Path, list[str]]:
    """A file outside the dataset root; the strings (bytes, size, md5, sha256) no output may hold."""
    token = f"SENTINEL-{uuid.uuid4().hex}"
    path = tmp_path / "outside" / "sentinel.txt"
    path.parent.mkdir()
    path.write_text(token * 7 + "\n")
    data = path.read_bytes()
    return path, [token, hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest(), f" {len(data)} "]


@pytest.fixture
def dataset(tmp_path) -> Path:
    """A downloaded dataset: two clips under ``clips/``."""
    root = tmp_path / "ds"
    (root / "clips").mkdir(parents=True)
    for i in range(2):
        sf.write(root / "clips" / f"c{i}.wav", 0.1 * np.sin(np.arange(SR) * (0.05 + 0.01 * i)), SR)
    return root


def _outputs(*texts: str, files: list[Path] = ()) -> str:
    return "\n".join([*texts, *(p.read_text() for p in files if p.is_file())])


def _assert_clean(text: str, leaks: list[str]) -> None:
    assert "Traceback" not in text
    for leak in leaks:
        assert leak not in text, leak


def test_the_helper_refuses_every_way_out(tmp_path):
    root = tmp_path / "root"
    (root / "in").mkdir(parents=True)
    (root / "link").symlink_to(tmp_path)
    assert resolve_inside(root, "in/./x.wav") == root / "in/x.wav"
    assert resolve_inside(root, "in/../in/x.wav") == root / "in/x.wav"
    cases = {"../x": "leads out of its root with '..'", "in/../../x": "leads out of its root with '..'",
             "/etc/passwd": "is an absolute path", "C:\\Windows\\x": "is a drive path", "c:x": "is a drive path",
             "\\\\host\\share\\x": "is an absolute path", "..\\..\\x": "leads out of its root with '..'",
             "": "is empty", "a\x00b": "holds a NUL byte", ".": "names the root itself",
             "link/x": "leads outside its root through a symbolic link"}
    for text, problem in cases.items():
        with pytest.raises(UnsafePathError, match=problem) as info:
            resolve_inside(root, text, source="index.csv", line=7)
        assert str(info.value).startswith(f"index.csv line 7: path {text!r} ")
    assert path_problem("model.json/.", strict=True) == "has a '.' component"
    assert not is_inside(root, root / "link" / "x") and is_inside(root, root / "in")


def _verify(dataset: Path, index: Path, tmp: Path) -> tuple[subprocess.CompletedProcess, list[Path]]:
    outputs = [tmp / "verify.csv", tmp / "to_fetch.txt"]
    out = cli(["datasets", "verify", "--name", "folder", "--root", str(dataset), "--index", str(index),
               "-o", str(outputs[0]), "--fetch-list", str(outputs[1])], cwd=tmp)
    return out, outputs


@pytest.mark.parametrize("entry, problem", [
    ("../outside/sentinel.txt", "leads out of its root with '..'"),
    ("clips/../../outside/sentinel.txt", "leads out of its root with '..'"),
    ("ABSOLUTE", "is an absolute path"),
    ("link/sentinel.txt", "leads outside its root through a symbolic link"),
])
def test_datasets_verify_refuses_an_index_entry_outside_the_root(dataset, sentinel, tmp_path, entry, problem):
    """Before: moodflow hashed /etc/shadow-like files, printed their sizes, listed foreign
    folders as "extra" and wrote it all to verify.csv / to_fetch.txt."""
    path, leaks = sentinel
    (dataset / "link").symlink_to(path.parent)
    entry = str(path) if entry == "ABSOLUTE" else entry
    index = tmp_path / "index.csv"
    index.write_text(f"path,size,md5\nclips/c0.wav,1,\n{entry},999,{'0' * 32}\n")
    out, outputs = _verify(dataset, index, tmp_path)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip() == (f"moodflow: error: {index} line 3: path {entry!r} {problem}; refused "
                                  f"(paths stay inside {dataset})")
    assert not any(p.exists() for p in outputs)  # no verify.csv, no to_fetch.txt
    _assert_clean(_outputs(out.stdout, out.stderr), leaks)


def test_extra_files_are_listed_only_inside_the_root(dataset, sentinel, tmp_path):
    path, leaks = sentinel
    (dataset / "clips" / "evil.wav").symlink_to(path)  # a link inside the root leading out
    (dataset / "clips" / "new.wav").write_bytes(b"RIFF")
    index = make_index(dataset, ["clips/c0.wav", "clips/c1.wav"])
    result = verify(dataset, index)
    assert result.table.to_dict("records") == [{"status": "extra", "path": "clips/new.wav", "detail": "not in the index"}]
    assert "clips/evil.wav" not in set(make_index(dataset)["path"])  # `moodflow datasets index` never hashes it
    out = cli(["datasets", "index", str(dataset)], cwd=tmp_path)
    assert out.returncode == 0 and "evil.wav" not in out.stdout
    _assert_clean(out.stdout + out.stderr + result.table.to_csv(), leaks)


def test_sha256_lists_name_their_line(dataset, sentinel, tmp_path):
    path, leaks = sentinel
    listing = tmp_path / "tracks_sha256_tracks.txt"
    listing.write_text(f"{'a' * 64} clips/c0.wav\n\n{'b' * 64} *../outside/sentinel.txt\n")
    with pytest.raises(UnsafePathError, match=rf"{listing} line 3: path '\.\./outside/sentinel\.txt' leads out"):
        verify(dataset, read_index(listing))


def test_the_prepare_stage_refuses_a_dataset_index_outside_the_root(dataset, sentinel, tmp_path):
    """``dataset.<name>.index``: the prepare stage exits 2 with one line; nothing is written."""
    path, leaks = sentinel
    (tmp_path / "index.csv").write_text(f"path,size\nclips/c0.wav,1\n{path},1\n../outside/sentinel.txt,5\n")
    (tmp_path / "params.yaml").write_text(json.dumps(
        {"dataset": {"name": "folder", "root": str(dataset), "folder": {"index": str(tmp_path / "index.csv")}}}))
    proc = subprocess.run([sys.executable, str(REPO / "stages/prepare.py"), "data/prepared"], cwd=tmp_path,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last == f"moodflow: error: {tmp_path / 'index.csv'} line 3: path {str(path)!r} is an absolute path; refused " \
                   f"(paths stay inside {dataset})"
    assert not (tmp_path / "data/prepared").exists()
    _assert_clean(proc.stdout + proc.stderr, leaks)


def test_a_file_name_column_of_a_label_file_cannot_lead_out(tmp_path, sentinel):
    """PMEmo's metadata.csv names each clip's file: ``../../outside/sentinel.txt`` is refused."""
    path, leaks = sentinel
    root = tmp_path / "PMEmo2019"
    (root / "annotations").mkdir(parents=True)
    (root / "chorus").mkdir()
    (root / "annotations/static_annotations.csv").write_text("musicId,Arousal(mean),Valence(mean)\n1,0.4,0.5\n2,0.3,0.2\n")
    (root / "metadata.csv").write_text("musicId,fileName\n1,1.mp3\n2,../../outside/sentinel.txt\n")
    with pytest.raises(UnsafePathError, match=r"dataset 'pmemo': .*metadata\.csv: audio file of track '2' "
                                              r"'\.\./\.\./outside/sentinel\.txt' leads out of its root"):
        DATASETS.get("pmemo")(root, {}).load(None)


def test_a_track_list_path_cannot_lead_out(tmp_path, sentinel):
    """MTG-Jamendo's track list names each file (PATH): an absolute path is refused, naming the TSV."""
    path, _ = sentinel
    data = tmp_path / "mtg" / "data"
    data.mkdir(parents=True)
    header = "TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS\n"
    (data / "autotagging_moodtheme.tsv").write_text(
        header + "track_1\tartist_1\talbum_1\t00/1.mp3\t30.0\tmood/theme---happy\n"
        f"track_2\tartist_1\talbum_1\t{path}\t30.0\tmood/theme---sad\n")
    with pytest.raises(UnsafePathError, match=rf"autotagging_moodtheme\.tsv: PATH {str(path)!r} is an absolute path"):
        DATASETS.get("jamendo")(tmp_path / "mtg", {}).load(None)


def test_a_model_manifest_cannot_point_a_part_outside_its_folder(tmp_path, tmp_path_factory, sentinel):
    from moodflow.core.schema import SchemaError
    from moodflow.models.io import load_model
    from tests.helpers.bundles import shared_project

    project = shared_project(tmp_path_factory.getbasetemp().parent)
    folder = tmp_path / "ridge"
    shutil.copytree(project / "models/chroma/ridge", folder)
    manifest = json.loads((folder / "model.json").read_text())
    manifest["tasks"]["static"]["path"] = "../../outside"
    (folder / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(SchemaError, match=r"model\.json: tasks\.static\.path: '\.\./\.\./outside' leads out of its root"):
        load_model(folder)


def test_the_best_model_of_metrics_json_names_one_folder(tmp_path, sentinel):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/metrics.json").write_text(json.dumps({"best": {"feature_set": "..", "model": "outside"}}))
    sf.write(tmp_path / "x.wav", np.zeros(SR), SR)
    out = cli(["predict", "x.wav", "--no-tags"], cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("moodflow: error: ")
    assert ("reports/metrics.json: best.feature_set: '..' must be one folder name ('..' has a '..' component)"
            in out.stderr)
