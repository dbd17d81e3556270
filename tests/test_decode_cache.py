"""The per-track decode cache: hits by file content whatever the name or dataset, the same audio
store bytes as an uncached run, damaged entries caught by their checksum, and — with real DVC —
joint experiments that decode only the tracks they add."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from moodflow.decode.cache import DecodeCache, file_hash
from moodflow.decode.run import decode_dataset
from moodflow.prepare.run import prepare_dataset
from moodflow.stores.entries import PARTIAL, pack_arrays, write_entry
from tests.helpers.pipeline_helpers import dvc, make_clone
from tests.helpers.stores import chord

DEMO = {"name": "demo", "demo": {"n_clips": 4, "duration_s": 2.0}}
COUNTS = re.compile(r"decode: (\d+) tracks read from the cache, (\d+) decoded")


def counts(text: str) -> tuple[int, int]:
    """(read from the cache, decoded) from the decode stage's log line."""
    found = COUNTS.findall(text)
    assert len(found) == 1, text
    return int(found[0][0]), int(found[0][1])


def decode(prepared: Path, out: Path, cache: Path | None, caplog) -> tuple[int, int] | None:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="moodflow.decode"):
        decode_dataset(prepared, out, out.with_suffix(".csv"), sample_rate=22050, cache_dir=cache)
    return counts(caplog.text) if cache else None


@pytest.fixture
def prepared(tmp_path) -> Path:
    prepare_dataset(DEMO, tmp_path / "prepared")
    return tmp_path / "prepared"


def test_cached_runs_give_the_uncached_store_and_decode_nothing_twice(prepared, tmp_path, caplog):
    cache = tmp_path / "cache"
    decode(prepared, tmp_path / "plain.h5", None, caplog)
    assert decode(prepared, tmp_path / "first.h5", cache, caplog) == (0, 4)
    assert decode(prepared, tmp_path / "second.h5", cache, caplog) == (4, 0)
    plain = (tmp_path / "plain.h5").read_bytes()
    assert (tmp_path / "first.h5").read_bytes() == plain and (tmp_path / "second.h5").read_bytes() == plain
    entries = sorted(cache.rglob("*.arrays"))
    assert len(entries) == 4 and not [p for p in cache.rglob("*") if PARTIAL in p.name]
    assert (entries[0].parents[1] / "config.json").is_file()  # what the entries depend on, in words


def test_entries_are_written_in_the_shared_format(tmp_path):
    arrays = {"samples": chord(1), "empty": np.zeros((0, 3), np.float64), "n": np.array([5], np.int64)}
    assert write_entry(tmp_path / "e.arrays", arrays).read_bytes() == pack_arrays(arrays)


def test_a_damaged_entry_is_caught_by_its_checksum_and_decoded_again(prepared, tmp_path, caplog):
    cache = tmp_path / "cache"
    decode(prepared, tmp_path / "plain.h5", None, caplog)
    decode(prepared, tmp_path / "first.h5", cache, caplog)
    entry = sorted(cache.rglob("*.arrays"))[1]
    data = bytearray(entry.read_bytes())
    data[-5] ^= 0x01  # one bit of one sample
    entry.write_bytes(bytes(data))
    assert decode(prepared, tmp_path / "again.h5", cache, caplog) == (3, 1)
    assert "is damaged (checksum mismatch" in caplog.text
    assert (tmp_path / "again.h5").read_bytes() == (tmp_path / "plain.h5").read_bytes()
    assert decode(prepared, tmp_path / "healed.h5", cache, caplog) == (4, 0)  # rewritten whole


def test_keys_follow_the_file_content_and_the_settings(prepared, tmp_path, caplog):
    wav = sorted(prepared.rglob("*.wav"))[0]
    copy = tmp_path / "elsewhere" / "renamed.wav"
    copy.parent.mkdir()
    shutil.copy(wav, copy)
    assert file_hash(copy) == file_hash(wav)  # another name, another folder: the same entry
    assert file_hash(copy.rename(copy.with_suffix(".WAV"))) == file_hash(wav)
    cache = tmp_path / "cache"
    decode(prepared, tmp_path / "first.h5", cache, caplog)
    sf.write(wav, chord(9), 22050)  # the file changed: its entry no longer applies
    assert decode(prepared, tmp_path / "changed.h5", cache, caplog) == (3, 1)
    assert DecodeCache(cache, sample_rate=22050).dir == DecodeCache(cache, sample_rate=22050).dir
    assert DecodeCache(cache, sample_rate=16000).dir != DecodeCache(cache, sample_rate=22050).dir
    assert DecodeCache(cache, sample_rate=22050, min_duration_s=1).dir != DecodeCache(cache, sample_rate=22050).dir


def test_unusable_files_are_not_cached_and_reported_every_time(prepared, tmp_path, caplog):
    bad = sorted(prepared.rglob("*.wav"))[2]
    bad.write_bytes(b"<html>not audio</html>")  # a download that went wrong
    cache = tmp_path / "cache"
    for run in ("first", "second"):
        hits, decoded = decode(prepared, tmp_path / f"{run}.h5", cache, caplog)
        errors = (tmp_path / f"{run}.csv").read_text()
        assert bad.name in errors, errors
        assert decoded == (3 if run == "first" else 0) and hits == (0 if run == "first" else 3)
    assert len(list(cache.rglob("*.arrays"))) == 3


# -- joint experiments with real DVC ----------------------------------------------------------------
def write_folder(root: Path, n: int, seed: int) -> Path:
    """A labelled folder dataset of ``n`` generated clips (none equal to a demo clip)."""
    root.mkdir()
    rows = ["file,valence,arousal"]
    for i in range(n):
        sf.write(root / f"song{i}.wav", chord(seed + i, 2.0), 22050)
        rows.append(f"song{i}.wav,{3 + i % 5},{7 - i % 4}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def decode_counts(repo: Path, *overrides: str) -> tuple[int, int]:
    """`dvc exp run -S …` of the decode stage; the stage's (read from the cache, decoded)."""
    proc = dvc(repo, "exp", "run", *[a for o in overrides for a in ("-S", o)], "decode")
    return counts(proc.stdout + proc.stderr)


@pytest.mark.slow
def test_joint_experiments_decode_only_the_tracks_they_add(tmp_path):
    """Each configuration is new to DVC (a configuration seen before is restored from DVC's run
    cache without running the stage at all)."""
    music, more = write_folder(tmp_path / "music", 3, seed=100), write_folder(tmp_path / "more", 2, seed=200)
    repo = make_clone(tmp_path / "repo", {
        "dataset": {"name": ["demo", "folder"], "roots": {"folder": str(music)},
                    "demo": {"n_clips": 4, "duration_s": 2.0}, "folder": {"labels": "labels.csv", "scale": [1.0, 9.0]}},
        "features": {"sets": ["chroma"]}, "train": {"models": ["ridge"]},
    })
    assert decode_counts(repo) == (0, 7)  # demo's 4 clips and the folder's 3
    assert decode_counts(repo, "dataset.name=demo", "~dataset.roots.folder") == (4, 0)  # drop one: decode nothing
    add = ("dataset.name=[demo,folder]", f"+dataset.roots.folder={more}")
    assert decode_counts(repo, *add) == (4, 2)  # add one: decode only its 2 tracks
