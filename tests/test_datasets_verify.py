"""Verified datasets: an index of the published files finds what is missing, corrupt or extra,
in the CLI and in the prepare stage; MTG-Jamendo's own sha256 lists."""

import hashlib
import shutil

import pandas as pd
import pytest

from tests.helpers import minis
from tests.helpers.real_data import SHARED, needs_shared

from moodflow.cli import main
from moodflow.datasets import DATASETS
from moodflow.datasets.verify import make_index, read_index, verify
from moodflow.prepare.run import prepare_dataset


@pytest.fixture
def copied(tmp_path):
    """A miniature emoMusic (tests/helpers/minis/emomusic.py: 7 labelled songs, clips 2, 3, 5, 7
    on disk) and its index."""
    mini = minis.module("emomusic").write(tmp_path / "raw", seconds=2.0)
    index = tmp_path / "index.csv"
    make_index(mini.root).to_csv(index, index=False)
    return mini.root, index


def test_verify_finds_a_deleted_and_a_truncated_file(copied, capsys):
    root, index = copied
    table = read_index(index)
    assert float(table.set_index("path").loc["clips_45seconds/2.mp3", "duration_s"]) == pytest.approx(2, abs=0.1)
    assert verify(root, table).ok
    (root / "clips_45seconds/3.mp3").unlink()
    data = (root / "clips_45seconds/5.mp3").read_bytes()
    (root / "clips_45seconds/5.mp3").write_bytes(data[: len(data) // 2])
    (root / "clips_45seconds/99.mp3").write_bytes(b"ID3")
    result = verify(root, table)
    rows = result.table.set_index("path")
    assert result.table["status"].tolist() == ["missing", "corrupt", "extra"]
    assert rows.loc["clips_45seconds/3.mp3", "status"] == "missing"
    assert rows.loc["clips_45seconds/5.mp3", "detail"] == f"truncated: {len(data) // 2} of {len(data)} bytes"
    assert rows.loc["clips_45seconds/99.mp3", "status"] == "extra"
    assert not result.ok and result.summary().endswith("1 missing, 1 corrupt, 1 extra")
    # the same size but other bytes: only the full check (md5) sees it
    clip = root / "clips_45seconds/7.mp3"
    flipped = bytearray(clip.read_bytes())
    flipped[-100] ^= 0xFF
    clip.write_bytes(bytes(flipped))
    assert "clips_45seconds/7.mp3" not in set(verify(root, table, quick=True).table["path"])
    assert verify(root, table).table.set_index("path").loc["clips_45seconds/7.mp3", "detail"] == "md5 differs from the index"
    # the CLI prints one table, exits 1, and writes the paths to download
    code = main(["datasets", "verify", "--name", "emomusic", "--root", str(root), "--index", str(index),
                 "--fetch-list", str(root.parent / "fetch.txt")])
    out = capsys.readouterr().out
    assert code == 1 and out.splitlines()[0].split() == ["status", "path", "detail"]
    assert "missing  clips_45seconds/3.mp3" in out and "1 missing, 2 corrupt, 1 extra" in out
    assert (root.parent / "fetch.txt").read_text().splitlines() == [
        "clips_45seconds/3.mp3", "clips_45seconds/5.mp3", "clips_45seconds/7.mp3"]


def test_prepare_checks_the_index_and_sums_up_in_one_line(copied, tmp_path, caplog):
    root, index = copied
    (root / "clips_45seconds/3.mp3").unlink()
    with caplog.at_level("INFO"):
        prepare_dataset({"name": "emomusic", "root": str(root), "emomusic": {"index": str(index)}}, tmp_path / "p")
    table = pd.read_csv(tmp_path / "p/verify.csv")
    assert table.to_dict("records") == [{"status": "missing", "path": "clips_45seconds/3.mp3", "detail": "not on disk"}]
    assert (tmp_path / "p/to_fetch.txt").read_text() == "clips_45seconds/3.mp3\n"
    missing = pd.read_csv(tmp_path / "p/missing_audio.csv", dtype=str)
    assert len(missing) == 4 and "3" in set(missing["track_id"])  # 7 labelled, 3 clips left here
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith(("prepare:", "ONLY"))]
    assert len(lines) == 2
    assert "3 of 7 labelled tracks (43%) have audio, 4 have none (listed in" in lines[0]
    assert lines[0].startswith("ONLY 43% OF THE LABELLED TRACKS HAVE AUDIO")
    assert "1 missing, 0 corrupt, 0 extra" in lines[1]


@needs_shared
def test_deam_ships_an_index_of_its_annotation_files(tmp_path):
    adapter = DATASETS.get("deam")(SHARED / "DEAM", {})
    root, index = adapter.verification_index()
    assert len(index) == 4 and verify(root, index).ok  # the shared copies are the published bytes
    copy = shutil.copytree(SHARED / "DEAM", tmp_path / "DEAM")
    target = copy / index["path"].iloc[2]
    target.write_text(target.read_text().replace("0.", "1.", 1))
    result = verify(copy, DATASETS.get("deam")(copy, {}).verification_index()[1])
    assert result.table[["status", "path"]].values.tolist() == [["corrupt", index["path"].iloc[2]]]


def test_jamendo_reads_mtg_sha256_lists_and_lists_the_tracks_to_fetch(tmp_path):
    base = tmp_path / "mtg"
    (base / "data/download").mkdir(parents=True)
    tsv = ["TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS"]
    tsv += [f"track_{i:07d}\tartist_1\talbum_1\t{i % 100:02d}/{i}.mp3\t200.0\tmood/theme---happy" for i in (100, 201, 302)]
    (base / "data/autotagging_moodtheme.tsv").write_text("\n".join(tsv) + "\n")
    audio = base / "audio"
    sums = []
    for i in (100, 201, 302):
        path = audio / f"{i % 100:02d}/{i}.low.mp3"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"audio {i}".encode())
        sums.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()} {i % 100:02d}/{i}.low.mp3")
    (base / "data/download/autotagging_moodtheme_audio-low_sha256_tracks.txt").write_text("\n".join(sums) + "\n")
    full = [s.replace(".low.mp3", ".mp3") for s in sums]
    (base / "data/download/autotagging_moodtheme_audio_sha256_tracks.txt").write_text("\n".join(full) + "\n")
    (audio / "01/201.low.mp3").unlink()
    (audio / "02/302.low.mp3").write_bytes(b"half")
    root, index = DATASETS.get("jamendo")(base, {}).verification_index()
    assert root == audio and index["path"].tolist()[0] == "00/100.low.mp3"  # the list matching the files
    prepare_dataset({"name": "jamendo", "root": str(base)}, tmp_path / "p")
    assert (tmp_path / "p/to_fetch.txt").read_text().splitlines() == ["01/201.low.mp3"]
    statuses = pd.read_csv(tmp_path / "p/verify.csv")["status"].tolist()
    assert statuses == ["missing"]  # prepare reads no file: the changed bytes are for `datasets verify`
    assert main(["datasets", "verify", "--name", "jamendo", "--root", str(base), "--fetch-list",
                 str(tmp_path / "fetch.txt")]) == 1
    assert (tmp_path / "fetch.txt").read_text().splitlines() == ["01/201.low.mp3", "02/302.low.mp3"]


def test_verify_without_an_index_says_how_to_make_one(tmp_path, capsys):
    (tmp_path / "a.mp3").write_bytes(b"x")
    assert main(["datasets", "verify", "--name", "folder", "--root", str(tmp_path)]) == 2
    assert "ships no index; pass --index FILE" in capsys.readouterr().err
    assert main(["datasets", "index", str(tmp_path), "-o", str(tmp_path / "i.csv")]) == 0
    assert read_index(tmp_path / "i.csv")["path"].tolist() == ["a.mp3"]
