"""The Slurm path of docs/cluster.md, run for real on a private one-node cluster (the
``slurm_cluster`` fixture): the documented sbatch array script, a task cancelled halfway and
requeued, and the extract stage starting a dask-jobqueue SLURMCluster — each store the bytes of
the plain unsharded run. Skips where Slurm/MUNGE are not installed or the run is not root."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from moodflow.extract.shard import shard_items
from moodflow.stores.audio_store import AudioStore
from moodflow.stores.entries import PARTIAL, unpack_arrays
from tests.helpers.pipeline_helpers import REPO, deep_update, dvc, env, make_clone

pytestmark = pytest.mark.slow
N_CLIPS = 12
PARAMS = {
    "dataset": {"name": "demo", "demo": {"n_clips": N_CLIPS, "duration_s": 6.0}},
    "features": {"sets": ["compare"], "workers": 1, "cache_dir": ""},
    "train": {"models": ["ridge"], "protocol": {"kind": "kfold", "folds": 3}, "min_train": 2, "min_test": 1},
}
# sizes for a 2-core node; the script's #SBATCH lines stay as documented (command-line options win)
SIZE = ["--cpus-per-task=1", "--mem=1G"]


def documented_array_script() -> str:
    """The sbatch script of docs/cluster.md, as the reader copies it."""
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "docs/cluster.md").read_text(), re.S)
    scripts = [b for b in blocks if "#SBATCH --array" in b]
    assert len(scripts) == 1, "docs/cluster.md should hold exactly one sbatch array script"
    return scripts[0]


def set_params(repo: Path, update: dict) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    deep_update(params, update)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def slurm_repo(slurm_cluster, tmp_path_factory):
    """A clone with the demo decoded, the docs' script rendered for it (``script``) and the
    unsharded store of a plain local run (``unsharded``)."""
    root = tmp_path_factory.mktemp("slurm")
    repo = make_clone(root / "repo", PARAMS)
    venv = Path(sys.executable).parent.parent
    if not (venv / "bin" / "activate").is_file():
        pytest.skip(f"{sys.executable} is not in a virtual environment (the script sources .venv/bin/activate)")
    (repo / ".venv" / "bin").mkdir(parents=True)  # the clone's .venv: this run's environment
    (repo / ".venv" / "bin" / "activate").write_text(f"source {venv / 'bin' / 'activate'}\n")
    (repo / "logs").mkdir()
    text = documented_array_script()
    assert "/shared/projects/moodflow" in text and "/shared/cache" in text
    script = root / "extract_array.sbatch"
    script.write_text(text.replace("/shared/projects/moodflow", str(repo))
                      .replace("/shared/cache", str(root / "shared")))
    dvc(repo, "repro", "extract@compare")  # check, prepare, decode and the unsharded store
    shutil.copy(repo / "features" / "compare.h5", root / "unsharded.h5")
    return {"root": root, "repo": repo, "script": script, "unsharded": root / "unsharded.h5", "cluster": slurm_cluster}


def sbatch(ctx, *args: str, wait: bool = False) -> subprocess.CompletedProcess:
    cluster = ctx["cluster"]
    cmd = [shutil.which("sbatch", path=cluster.env()["PATH"]) or "sbatch", *(["--wait"] if wait else []), *args,
           str(ctx["script"])]
    return subprocess.run(cmd, cwd=ctx["repo"], env=cluster.env(env(ctx["repo"])), capture_output=True, text=True,
                          timeout=600)


def entries(cache: Path) -> dict[str, Path]:
    found = list(cache.rglob("*.arrays"))
    stems = {p.stem: p for p in found}
    assert len(stems) == len(found), "a track cached twice"
    return stems


def part_report(log: Path) -> dict:
    """The JSON line `moodflow extract --shard` printed last into a task's log."""
    lines = [line for line in log.read_text().splitlines() if line.startswith("{")]
    assert lines, log.read_text()
    return json.loads(lines[-1])


def consolidate(ctx, cache: Path) -> str:
    """The docs' closing `dvc repro` (of the store: train and report read it like any other),
    with the cache at ``cache``; its output."""
    set_params(ctx["repo"], {"features": {"cache_dir": str(cache), "executor": "local"}})
    proc = dvc(ctx["repo"], "repro", "extract@compare")
    return proc.stdout + proc.stderr


def test_documented_array_script_then_dvc_repro_is_the_unsharded_store(slurm_repo):
    ctx, cache = slurm_repo, slurm_repo["root"] / "cache-array"
    set_params(ctx["repo"], {"features": {"cache_dir": str(cache)}})
    done = sbatch(ctx, "--parsable", "--array=0-2", *SIZE, wait=True)
    assert done.returncode == 0, done.stdout + done.stderr
    jid = done.stdout.strip().split(";")[0]
    reports = [part_report(ctx["repo"] / "logs" / f"moodflow-extract-{jid}_{i}.out") for i in range(3)]
    assert [r["shard"] for r in reports] == ["0/3", "1/3", "2/3"]
    assert sum(r["extracted"] for r in reports) == N_CLIPS and not any(r["failed"] for r in reports)
    before = {k: p.stat().st_mtime_ns for k, p in entries(cache).items()}
    assert len(before) == N_CLIPS

    out = consolidate(ctx, cache)
    assert f"{N_CLIPS} of {N_CLIPS} tracks cached" in out and ", 0 to extract" in out, out
    assert {k: p.stat().st_mtime_ns for k, p in entries(cache).items()} == before  # nothing rewritten
    assert (ctx["repo"] / "features/compare.h5").read_bytes() == ctx["unsharded"].read_bytes()


def test_a_task_cancelled_halfway_and_requeued_resumes_without_duplicates(slurm_repo):
    ctx, cache, cluster = slurm_repo, slurm_repo["root"] / "cache-requeue", slurm_repo["cluster"]
    set_params(ctx["repo"], {"features": {"cache_dir": str(cache)}})
    with AudioStore(ctx["repo"] / "data/audio.h5") as audio:
        part1 = {key for _, key in shard_items(list(audio.ids), audio.audio_hashes(), 1, 2)}
    submitted = sbatch(ctx, "--parsable", "--array=0-1", *SIZE)
    assert submitted.returncode == 0, submitted.stderr
    jid = submitted.stdout.strip().split(";")[0]
    task = f"{jid}_1"
    deadline = time.monotonic() + 300
    while True:  # cancel part 1 once it has cached some of its tracks, not all
        cached = part1 & set(entries(cache)) if cache.exists() else set()
        if 1 <= len(cached) <= len(part1) - 2:
            break
        state = cluster.job_fields(task)[0]["JobState"]
        assert state in ("PENDING", "RUNNING"), f"part 1 ended ({state}) before it could be cancelled halfway"
        assert time.monotonic() < deadline, "part 1 cached nothing in 300 s"
        time.sleep(0.05)
    cluster.run("scancel", task)
    deadline = time.monotonic() + 60
    while cluster.job_fields(task)[0]["JobState"] != "CANCELLED":  # COMPLETING while the part stops
        assert time.monotonic() < deadline, f"part 1 not cancelled in 60 s: {cluster.job_fields(task)}"
        time.sleep(0.05)
    kept = part1 & set(entries(cache))
    assert 1 <= len(kept) < len(part1)
    cluster.run("scontrol", "requeue", task)  # as preemption does for a --requeue job
    cluster.run("scontrol", "update", f"JobId={task}", "StartTime=now")  # else eligible only in ~2 min
    final = cluster.wait_for(jid)
    assert {f["ArrayTaskId"]: (f["JobState"], f["ExitCode"]) for f in final} == {
        "0": ("COMPLETED", "0:0"), "1": ("COMPLETED", "0:0")}, final
    log = ctx["repo"] / "logs" / f"moodflow-extract-{jid}_1.out"  # both runs, appended
    assert "CANCELLED" in log.read_text()
    report = part_report(log)
    assert report["shard"] == "1/2" and report["tracks"] == len(part1), log.read_text()
    assert report["cached"] >= len(kept) and report["extracted"] >= 1, log.read_text()
    assert report["cached"] + report["extracted"] == len(part1), log.read_text()
    # the other documented way, one index submitted again with the number of parts: nothing to do
    again = sbatch(ctx, "--parsable", "--array=1", "--export=ALL,PARTS=2", *SIZE, wait=True)
    assert again.returncode == 0, again.stdout + again.stderr
    log = ctx["repo"] / "logs" / f"moodflow-extract-{again.stdout.strip().split(';')[0]}_1.out"
    assert part_report(log) == {**report, "cached": len(part1), "extracted": 0}, log.read_text()

    found = entries(cache)
    assert set(found) >= part1 and len(found) == N_CLIPS
    for path in found.values():
        unpack_arrays(path.read_bytes())  # every entry whole: its checksum holds
    assert not [p for p in cache.rglob("*") if PARTIAL in p.name]  # SIGTERM removed the entry being written
    out = consolidate(ctx, cache)
    assert f"{N_CLIPS} of {N_CLIPS} tracks cached" in out and ", 0 to extract" in out, out
    assert (ctx["repo"] / "features/compare.h5").read_bytes() == ctx["unsharded"].read_bytes()


def test_the_stage_starts_a_dask_slurm_cluster(slurm_repo):
    ctx, cache, cluster = slurm_repo, slurm_repo["root"] / "cache-dask", slurm_repo["cluster"]
    slurm = {"jobs": 2, "cores": 1, "memory": "2GB", "walltime": "00:10:00", "job_extra_directives": ["--requeue"]}
    set_params(ctx["repo"], {"features": {"cache_dir": str(cache), "executor": "dask", "cluster": "slurm",
                                          "slurm": slurm}})
    proc = dvc(ctx["repo"], "repro", "extract@compare", extra_env={"SLURM_CONF": str(cluster.conf)})
    out = proc.stdout + proc.stderr
    assert f"0 of {N_CLIPS} tracks cached" in out and "dask on a slurm cluster" in out, out
    assert "SLURMCluster at tcp://" in out, out
    assert (ctx["repo"] / "features/compare.h5").read_bytes() == ctx["unsharded"].read_bytes()
    assert len(entries(cache)) == N_CLIPS
    job_logs = sorted((cache / "slurm-logs").glob("dask-worker-*.err"))
    assert job_logs, "no Slurm job ran a worker"
    assert any("Starting Worker" in p.read_text() or "Start worker" in p.read_text() for p in job_logs)
    deadline = time.monotonic() + 30
    while cluster.jobs() and time.monotonic() < deadline:  # the stage's jobs end with it
        time.sleep(0.2)
    assert cluster.jobs() == []
