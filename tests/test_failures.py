"""Transient failures are not results: a full disk or a lack of memory fails the stage with a
clear message and leaves nothing half-written (the next run retries); only what belongs to the
audio marks a track failed, listed with the reason in the stage's CSV. Damaged cache entries
are caught by their checksum and re-extracted.

The full disk is real: a tiny tmpfs (tests/failing_disk.py), or a per-file size limit where this
machine does not let tests mount."""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from tests.helpers.failing_disk import grow, tiny_disk
from moodflow.core.errors import EnvironmentFailure
from moodflow.decode.run import decode_dataset
from moodflow.extract.cache import TrackCache
from moodflow.extract.run import extract_store
from moodflow.features import build_extractor
from moodflow.prepare.run import prepare_dataset
from moodflow.stores.feature_store import FeatureStore

REPO = Path(__file__).resolve().parents[1]
SR = 22050
CHROMA = {"kind": "stft"}


def _tone(seconds: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def decoded(tmp_path) -> Path:
    """A folder dataset of 6 tones (and one 50 ms blip chroma cannot analyse), decoded."""
    root = tmp_path / "music"
    root.mkdir()
    for i in range(6):
        sf.write(root / f"t{i}.wav", _tone(2.0, 220.0 * (i + 1)), SR)
    sf.write(root / "blip.wav", _tone(0.05), SR)
    pd.DataFrame({"track_id": [f"t{i}" for i in range(6)] + ["blip"], "valence": 0.5, "arousal": 0.5}).to_csv(
        root / "labels.csv", index=False)
    prepare_dataset({"name": "folder", "root": str(root), "folder": {"labels": "labels.csv"}}, tmp_path / "prepared")
    decode_dataset(tmp_path / "prepared", tmp_path / "audio.h5", tmp_path / "decode_errors.csv", sample_rate=SR)
    return tmp_path


def _extract(tmp: Path, out: str, cache: Path | None, **kw) -> dict[str, int]:
    return extract_store(name="chroma", config=CHROMA, grid={}, audio_path=tmp / "audio.h5", prepared_dir=tmp / "prepared",
                         out_path=tmp / out, dataset="folder", workers=1, cache_dir=cache,
                         failures_path=tmp / f"{out}.failures.csv", **kw)


def _write_fails_after(monkeypatch, n: int) -> None:
    """Fallback without a mountable disk: the n+1-th cache write fails as a full disk does."""
    real = Path.write_bytes
    calls = {"n": 0}

    def write_bytes(self, data):
        calls["n"] += 1
        if calls["n"] > n:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)


# -- a full cache disk -----------------------------------------------------------------------------
def test_full_cache_disk_fails_extraction_and_the_next_run_completes_it(decoded, tmp_path, monkeypatch):
    """Before: 16 of 40 tracks 'failed' with ENOSPC, the stage succeeded with NaN rows. Now the
    stage fails (nothing written), keeps the entries that fit, and the next run completes."""
    _extract(decoded, "clean.h5", None)
    with tiny_disk(tmp_path / "disk", "16k") as disk:
        cache = disk or tmp_path / "cache"
        if disk is None:
            _write_fails_after(monkeypatch, 2)
        with pytest.raises(EnvironmentFailure, match=r"No space left on device.*a failure of the machine, not "
                                                     r"of the audio: .*cached\.h5 was not written") as info:
            _extract(decoded, "cached.h5", cache)
        assert "tracks already extracted stay in the cache" in str(info.value)
        assert not (decoded / "cached.h5").exists() and not (decoded / "cached.h5.failures.csv").exists()
        assert not list(decoded.glob(".cached.h5.partial*"))
        kept = len(list(TrackCache.for_extractor(cache, build_extractor("chroma", CHROMA)).keys()))
        assert 0 < kept < 7, kept
        if disk is None:
            monkeypatch.undo()
        else:
            grow(disk, "1m")  # space freed, the entries that fit are still there
        counts = _extract(decoded, "cached.h5", cache)
    assert counts["cached"] == kept and counts["extracted"] == 7 - kept
    with FeatureStore(decoded / "cached.h5") as got, FeatureStore(decoded / "clean.h5") as want:
        np.testing.assert_array_equal(got.static(), want.static())
        assert np.isnan(got.static([ "blip"])).all() and np.isfinite(got.static([f"t{i}" for i in range(6)])).all()


def test_failures_csv_lists_tracks_that_failed_because_of_their_audio(decoded, caplog):
    """A track whose extraction raises (NaN samples in the audio store) and one too short to
    give values (50 ms): NaN rows in the store, each listed with its reason, one summary line."""
    from moodflow.stores.audio_store import AudioStore, AudioStoreWriter

    with AudioStore(decoded / "audio.h5") as audio, \
            AudioStoreWriter(decoded / "nan.h5", sample_rate=SR, dataset="folder") as writer:
        for tid in audio.ids:
            y = np.array(audio.signal(tid))
            if tid == "t3":
                y[100:200] = np.nan
            writer.append(tid, y)
    with caplog.at_level(logging.INFO, logger="moodflow.extract.run"):
        counts = extract_store(name="chroma", config=CHROMA, grid={}, audio_path=decoded / "nan.h5",
                               prepared_dir=decoded / "prepared", out_path=decoded / "s.h5", dataset="folder",
                               workers=1, failures_path=decoded / "s.failures.csv")
    assert counts["failed"] == 1 and counts["tracks"] == 6
    table = pd.read_csv(decoded / "s.failures.csv")
    assert list(table.columns) == ["track_id", "error"] and list(table["track_id"]) == ["blip", "t3"]
    reasons = dict(zip(table["track_id"], table["error"]))
    assert reasons["blip"].startswith("no values (all NaN)") and "not finite" in reasons["t3"]
    with FeatureStore(decoded / "s.h5") as store:
        assert np.isnan(store.static(["blip", "t3"])).all() and np.isfinite(store.static(["t0", "t5"])).all()
    summary = [r.getMessage() for r in caplog.records if "tracks extracted" in r.getMessage()]
    assert len(summary) == 1 and not [r for r in caplog.records if r.levelno >= logging.WARNING][1:]
    assert "5 of 7 tracks extracted" in summary[-1] and "2 without values" in summary[-1]


# -- a damaged cache entry ---------------------------------------------------------------------------
def test_a_bit_flipped_cache_entry_is_caught_logged_and_re_extracted(decoded, tmp_path, caplog):
    """Before: flipping bytes inside an entry (same size) poisoned the next store silently."""
    cache = tmp_path / "cache"
    _extract(decoded, "a.h5", cache)
    entries = sorted(TrackCache.for_extractor(cache, build_extractor("chroma", CHROMA)).dir.glob("??/*.arrays"))
    victim = entries[0]
    data = bytearray(victim.read_bytes())
    data[-10] ^= 0xFF  # a float of the last array: same size, still parses
    victim.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="moodflow.extract.cache"):
        counts = _extract(decoded, "b.h5", cache)
    assert counts["extracted"] == 1
    assert f"cache entry {victim} is damaged (checksum mismatch" in caplog.text
    with FeatureStore(decoded / "a.h5") as a, FeatureStore(decoded / "b.h5") as b:
        np.testing.assert_array_equal(a.static(), b.static())
        for tid in a.ids:
            np.testing.assert_array_equal(a.frames(tid)[0], b.frames(tid)[0])


# -- HDF5 writes on a full disk --------------------------------------------------------------------
_WRITE_STORES = textwrap.dedent("""
    import errno, os, resource, signal, sys
    import numpy as np
    from moodflow.stores.audio_store import AudioStoreWriter
    from moodflow.stores.feature_store import FeatureStoreWriter
    folder, limit = sys.argv[1], int(sys.argv[2])
    if limit:  # no mountable disk: a per-file size limit makes the same writes fail (EFBIG)
        sys.dont_write_bytecode = True  # a .pyc cut short at the limit would break later imports
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    rng = np.random.default_rng(0)
    for kind in ("audio", "features"):
        try:
            if kind == "audio":
                with AudioStoreWriter(f"{folder}/audio.h5", sample_rate=22050, dataset="d") as w:
                    for i in range(40):
                        w.append(f"t{i}", rng.normal(size=22050 * 5).astype(np.float32))
            else:
                with FeatureStoreWriter(f"{folder}/f.h5", feature_names=[f"f{i}" for i in range(100)],
                                        frame_shape=(100,), extractor="x", extractor_version="1", config={},
                                        dataset="d", sample_rate=1) as w:
                    for i in range(200):
                        start = np.arange(50) * 0.5
                        w.append(f"t{i}", 1.0, rng.normal(size=100), rng.normal(size=(50, 100)), start, start + 1)
            print(kind, "written")
        except OSError as exc:
            print(kind, "refused", errno.errorcode.get(exc.errno, exc.errno))
""")


@pytest.mark.parametrize("size", ["200k", "700k", "1500k"])
def test_a_full_disk_while_writing_hdf5_is_an_error_not_a_segfault(tmp_path, size):
    """Before: decode and extract died with SIGSEGV (-11) in the cleanup after ENOSPC."""
    with tiny_disk(tmp_path / "disk", size) as disk:
        folder, limit = (disk, 0) if disk else (tmp_path / "out", int(size[:-1]) * 1024)
        folder.mkdir(exist_ok=True)
        proc = subprocess.run([sys.executable, "-c", _WRITE_STORES, str(folder), str(limit)], capture_output=True,
                              text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
        assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
        expected = "ENOSPC" if disk else "EFBIG"
        assert proc.stdout.split("\n")[:2] == [f"audio refused {expected}", f"features refused {expected}"], proc.stdout
        assert [p.name for p in folder.iterdir()] == []  # no store, no temporary file


def test_decode_stage_on_a_full_disk_exits_75_with_one_line_and_no_outputs(tmp_path):
    root = tmp_path / "music"
    root.mkdir()
    for i in range(8):
        sf.write(root / f"t{i}.wav", _tone(3.0, 200.0 + 50 * i), SR)
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    prepare_dataset({"name": "folder", "root": str(root)}, tmp_path / "prepared")
    with tiny_disk(tmp_path / "disk", "300k") as disk:
        out, env = disk or tmp_path / "out", {**os.environ, "PYTHONPATH": str(REPO)}
        out.mkdir(exist_ok=True)
        command = [sys.executable, str(REPO / "stages/decode.py"), "prepared", str(out / "audio.h5"),
                   str(out / "decode_errors.csv")]
        if disk is None:  # the same failed write, by a size limit on each file
            command = [sys.executable, "-c", "import resource, runpy, signal, sys; sys.dont_write_bytecode = True; "
                       "signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
                       "resource.setrlimit(resource.RLIMIT_FSIZE, (300 << 10, resource.RLIM_INFINITY)); "
                       "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')", *command[1:]]
        proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 75, proc.stderr[-2000:]
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith("moodflow: error: decode: writing ") and "a failure of the machine, not of the audio" in last
        assert "Traceback" not in proc.stderr
        assert sorted(p.name for p in out.iterdir()) == []


_DECODE_LOW_MEMORY = textwrap.dedent("""
    import resource, sys
    from moodflow.decode.run import decode_dataset
    from moodflow.core.errors import EnvironmentFailure
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as fh:
        used = int(fh.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (used + (400 << 20), hard))  # 400 MB more than now
    try:
        decode_dataset(sys.argv[1], sys.argv[2], sys.argv[3], sample_rate=48000)
        print("decoded")
    except EnvironmentFailure as exc:
        print("refused:", exc)
""")


def test_out_of_memory_fails_decode_instead_of_marking_the_track_failed(tmp_path):
    """A real MemoryError (an address-space limit below what one long track needs): the track
    is not 'failed', the stage is; no store, no CSV."""
    root = tmp_path / "music"
    root.mkdir()
    sf.write(root / "short.wav", _tone(1.0), SR)
    t = np.arange(48000 * 600) / 48000  # 10 min stereo at 48 kHz: 230 MB as float32 frames
    sf.write(root / "long.wav", np.tile((0.3 * np.sin(2 * np.pi * 220 * t))[:, None], (1, 2)), 48000, subtype="PCM_16")
    del t
    prepare_dataset({"name": "folder", "root": str(root)}, tmp_path / "prepared")
    proc = subprocess.run([sys.executable, "-c", _DECODE_LOW_MEMORY, str(tmp_path / "prepared"), str(tmp_path / "a.h5"),
                           str(tmp_path / "e.csv")], capture_output=True, text=True, cwd=REPO, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("refused: decode: ") and "long.wav" in proc.stdout
    assert "MemoryError" in proc.stdout and "a failure of the machine" in proc.stdout
    assert not (tmp_path / "a.h5").exists() and not (tmp_path / "e.csv").exists()


# -- one summary line for missing and failed audio ----------------------------------------------------
def test_decode_reports_failed_audio_in_one_line_with_the_labelled_share(tmp_path, caplog):
    root = tmp_path / "music"
    root.mkdir()
    sf.write(root / "good.wav", _tone(1.0), SR)
    for name in ("a.mp3", "b.mp3", "c.wav"):
        (root / name).write_text("not audio at all\n" * 4)
    pd.DataFrame({"track_id": ["good", "a", "b", "c"], "valence": 0.5, "arousal": 0.5}).to_csv(root / "l.csv", index=False)
    prepare_dataset({"name": "folder", "root": str(root), "folder": {"labels": "l.csv"}}, tmp_path / "prepared")
    with caplog.at_level(logging.DEBUG, logger="moodflow.decode.run"):
        decode_dataset(tmp_path / "prepared", tmp_path / "a.h5", tmp_path / "e.csv", sample_rate=SR)
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    line = lines[0].getMessage()
    assert line.startswith("ONLY 25% OF THE LABELLED TRACKS HAVE USABLE AUDIO")
    assert "decode: 1 of 4 tracks decoded, 3 failed (3 cannot decode; listed in " in line
    assert "1 of 4 labelled tracks (25%) have audio" in line
    assert len(pd.read_csv(tmp_path / "e.csv")) == 3


# -- a stage whose parent dies ------------------------------------------------------------------------
_ORPHAN = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from moodflow.core.atomic import atomic_path
    from moodflow.core.orphans import exit_with_parent
    assert exit_with_parent()
    with atomic_path(sys.argv[1]) as tmp:
        tmp.write_text("half of an output")
        Path(sys.argv[2]).write_text(str(os.getpid()))
        time.sleep(60)
""")


def test_a_process_whose_parent_is_killed_stops_and_leaves_no_partial_output(tmp_path):
    """The watcher thread of moodflow.core.orphans, in the middle of writing an output."""
    import signal
    import time

    out, ready = tmp_path / "out.txt", tmp_path / "pid"
    parent = subprocess.Popen([sys.executable, "-c", "import subprocess, sys; subprocess.run(sys.argv[1:])",
                               sys.executable, "-c", _ORPHAN, str(out), str(ready)],
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert parent.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    child = int(ready.read_text())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        try:
            os.waitpid(child, os.WNOHANG)  # reaped by init in a container without one: ignore
        except ChildProcessError:
            pass
        time.sleep(0.05)
    state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0] if Path(f"/proc/{child}").exists() else "gone"
    assert state in ("gone", "Z"), f"the orphan is still running ({state})"
    assert not out.exists() and not list(tmp_path.glob(".out.txt.partial-*"))
