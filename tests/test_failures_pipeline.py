"""A failing and a killed `dvc repro`, for real, in one tiny clone:

1. the per-track cache sits on a full disk: the extract stage fails (exit 75, one line), DVC
   records nothing, so once space is freed the next run re-runs the stage (before: the stage
   "succeeded" with NaN rows and DVC then said "up to date" for good);
2. only the `dvc` process is SIGKILLed while a stage runs: the stage process stops too, leaving
   no store and no temporary file (before: it ran on beside the next run);
3. the next `dvc repro` finishes the stage.

(Only up to `extract@chroma`: the later stages add time, not coverage.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np
from tests.helpers.failing_disk import grow, tiny_disk
from tests.helpers.pipeline_helpers import TINY, dvc, dvc_bin, env, make_clone


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the processes whose parent is ``pid``."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append((int(proc.name), (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()))
        except (OSError, IndexError, ValueError):
            continue
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _kill_dvc_during(repo: Path, stage_script: str, timeout_s: float = 120) -> int:
    """Start `dvc repro`, SIGKILL the dvc process alone once it runs ``stage_script``; returns
    the stage's pid (left alive by the kill)."""
    proc = subprocess.Popen([dvc_bin(), "repro", "extract@chroma"], cwd=repo, env=env(repo), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            stage = [pid for pid, cmd in _children(proc.pid) if stage_script in cmd]
            if stage:
                time.sleep(0.5)  # the stage is importing its libraries, long before it writes anything
                os.kill(proc.pid, signal.SIGKILL)  # dvc only: its process group lives on
                proc.wait()
                return stage[0]
            assert proc.poll() is None, "dvc repro ended before the stage started"
            assert time.monotonic() < deadline, f"{stage_script} never started"
            time.sleep(0.01)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise


def test_a_failed_and_a_killed_dvc_run_leave_nothing_and_the_next_run_finishes(tmp_path):
    with tiny_disk(tmp_path / "cache", "20k") as disk:
        cache = {"cache_dir": str(disk)} if disk else {}  # without a mountable disk: part 1 is left out
        repo = make_clone(tmp_path / "repo", {**TINY, "features": {**TINY["features"], **cache}})

        # 1. a full cache disk fails the stage; nothing is recorded as done
        if disk:
            run = dvc(repo, "repro", "extract@chroma", check=False)
            assert run.returncode != 0
            assert "No space left on device" in run.stderr and "a failure of the machine, not of the audio" in run.stderr
            assert "Traceback" not in run.stderr
            assert not (repo / "features/chroma.h5").exists() and not (repo / "features/chroma.failures.csv").exists()
            grow(disk, "4m")  # space freed: no parameter changes
            assert "extract@chroma" in json.loads(dvc(repo, "status", "--json").stdout)

        # 2. dvc killed on its own while the extract stage runs: the stage stops as well
        stage = _kill_dvc_during(repo, "stages/extract.py")
        deadline = time.monotonic() + 15
        while _alive(stage) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(stage), "the stage process outlived the dvc that started it"
        assert not (repo / "features/chroma.h5").exists()
        assert not list((repo / "features").glob(".*partial*"))

        # 3. the next run completes: every row computed, the failures list empty
        dvc(repo, "repro", "extract@chroma")
        with h5py.File(repo / "features/chroma.h5") as h:
            assert len(h["tracks/id"]) == 6 and np.isfinite(h["static/values"][:]).all()
        assert (repo / "features/chroma.failures.csv").read_text().strip() == "track_id,error"
        assert "up to date" in dvc(repo, "status", "extract@chroma").stdout
