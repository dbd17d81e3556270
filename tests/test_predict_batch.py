"""``moodflow predict`` on many files: the extract stage's workers and per-track cache, progress
on stderr and through the API's callback, and the same numbers as the pipeline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.test_predict import project  # noqa: F401 - the trained tiny demo project (module fixture)

REPO = Path(__file__).resolve().parents[1]


def _wavs(project: Path) -> list[Path]:
    return sorted((project / "data/prepared").rglob("*.wav"))


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.rglob("*.arrays"))


def test_pool_cache_and_pipeline_agree(project, tmp_path):  # noqa: F811
    """Four files through the pool: static features equal the pipeline's store (the stage's
    values bit for bit), one cache entry per file; a second run reads them instead of computing."""
    from moodflow import Predictor
    from moodflow.app import batch
    from moodflow.stores.feature_store import FeatureStore

    wavs = _wavs(project)[:4]
    predictor = Predictor(project / "models/compare/ridge", mood_tags=False)
    calls = []
    first = predictor.predict(wavs, progress=lambda done, total, path: calls.append((done, total, path)),
                              cache_dir=tmp_path / "cache")
    assert calls == [(i + 1, 4, str(w)) for i, w in enumerate(wavs)]
    assert len(_entries(tmp_path / "cache")) == 4
    with FeatureStore(project / "features/compare.h5") as store:
        stored = dict(zip(store.ids, store.static()))
    job = predictor._job
    for wav in wavs:
        _, feats, cached = batch.analyse_file(job, str(wav))
        assert cached  # the entry the pool wrote
        assert np.array_equal(feats.static, stored[wav.stem])  # the extract stage's own values
    stamps = {p: p.stat().st_mtime_ns for p in _entries(tmp_path / "cache")}
    again = Predictor(project / "models/compare/ridge", mood_tags=False).predict(wavs, progress=False,
                                                                                 cache_dir=tmp_path / "cache")
    assert [r["valence"] for r in again] == [r["valence"] for r in first]
    assert {p: p.stat().st_mtime_ns for p in _entries(tmp_path / "cache")} == stamps  # read, not rewritten
    uncached = Predictor(project / "models/compare/ridge", mood_tags=False).predict(wavs[:2], progress=False,
                                                                                    cache_dir=False)
    assert [r["valence"] for r in uncached] == [r["valence"] for r in first[:2]]


def test_a_damaged_entry_is_recomputed(project, tmp_path):  # noqa: F811
    from moodflow import Predictor

    wav = _wavs(project)[:1]
    p = Predictor(project / "models/compare/ridge", mood_tags=False)
    value = p.predict(wav, progress=False, cache_dir=tmp_path / "c")[0]["valence"]
    entry = _entries(tmp_path / "c")[0]
    data = bytearray(entry.read_bytes())
    data[-3] ^= 0xFF
    entry.write_bytes(bytes(data))
    assert p.predict(wav, progress=False, cache_dir=tmp_path / "c")[0]["valence"] == value
    assert entry.read_bytes() != bytes(data)  # written again, whole


def test_progress_lines_when_stderr_is_not_a_terminal(project, tmp_path):  # noqa: F811
    """The CLI on a folder: one line a few seconds (and a last one) on stderr, results on stdout."""
    env = {"PYTHONPATH": str(REPO), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
           "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    folder = project / "data/prepared/audio"
    out = subprocess.run([sys.executable, "-m", "moodflow", "predict", str(folder), "--model",
                          str(project / "models/compare/ridge"), "--no-tags", "--format", "csv"],
                         cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    n = len(_wavs(project))
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("moodflow: predict:")]
    assert lines and lines[-1].startswith(f"moodflow: predict: {n}/{n} files"), out.stderr
    assert len(out.stdout.strip().splitlines()) >= n + 1  # header (+ provenance lines) and one row a file
    assert len(_entries(tmp_path / "xdg" / "moodflow")) == n  # ~/.cache/moodflow outside a project


def test_default_cache_is_the_projects(tmp_path, monkeypatch):
    from moodflow.app.batch import default_cache_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir(tmp_path) == tmp_path / "xdg" / "moodflow"
    (tmp_path / "params.yaml").write_text("features:\n  cache_dir: .cache/mf\n")
    assert default_cache_dir(tmp_path) == tmp_path / ".cache/mf"
    (tmp_path / "params.yaml").write_text("features: [unexpected\n")
    assert default_cache_dir(tmp_path) == tmp_path / "xdg" / "moodflow"


@pytest.mark.slow
def test_predict_one_hour_in_bounded_memory(project, tmp_path):  # noqa: F811
    """`moodflow predict` on a generated 1-hour 44.1 kHz stereo WAV (635 MB) with the demo's
    compare model and the musicnn mood tags: peak memory of the whole process tree (the parent
    and the two forked children, PSS: shared pages counted once) under 1.5 GB."""
    psutil = pytest.importorskip("psutil")
    sys.path.insert(0, str(REPO / "benchmarks"))
    from _measure import Sampler

    from tests.helpers.long_audio import write_long_wav

    wav = write_long_wav(tmp_path / "hour.wav", 3600.0)
    env = dict(os.environ, PYTHONPATH=str(REPO), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    proc = subprocess.Popen([sys.executable, "-m", "moodflow", "predict", str(wav), "--model",
                             str(project / "models/compare/ridge"), "--format", "json", "-o", str(tmp_path / "p.json")],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with Sampler(proc.pid, interval=0.5, pss=True) as s:
        _, err = proc.communicate(timeout=3000)
    assert proc.returncode == 0, err
    print(f"1-hour predict: peak PSS {s.result.peak_pss_mib:.0f} MiB, tree RSS {s.result.peak_rss_mib:.0f} MiB, "
          f"largest process {s.result.peak_process_rss_mib:.0f} MiB, wall {s.result.wall_s:.0f} s")
    assert psutil is not None and s.result.peak_pss_mib < 1500, s.result
    import json

    doc = json.loads((tmp_path / "p.json").read_text())
    assert doc["predictions"][0]["duration_s"] == pytest.approx(3600.0, abs=0.01)
    assert doc["predictions"][0]["mood_tags"]
