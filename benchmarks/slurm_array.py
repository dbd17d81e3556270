"""Extraction through the documented Slurm array vs locally, on the same machine (the overhead
of the scheduler path), on a private one-node Slurm cluster (tests/helpers/slurm.py; root,
Debian's slurm-wlm and munge).

    .venv/bin/python benchmarks/slurm_array.py                 # ~5 min on 2 cores
    .venv/bin/python benchmarks/slurm_array.py --tracks 16 --seconds 20 --repeats 1

A generated corpus (chords + noise, ``--tracks`` × ``--seconds``) in a decoded-audio store; the
feature set ``--set`` (default compare) extracted, each way into an empty cache, ``--repeats``
times:

- ``stage``: the extract stage's plain local path (``extract_store``, no cache, all cores);
- ``one part``: ``moodflow extract SET --shard 0/1 --workers <cores>`` (one process);
- ``parts``: ``--shard i/<cores>`` as <cores> plain processes at once, one core each;
- ``array``: docs/cluster.md's sbatch script, ``--array=0-<cores-1> --cpus-per-task=1``, wall
  from ``sbatch`` to the last task's end seen by polling ``squeue`` every 0.1 s, and the same
  with ``sbatch --wait`` (which itself polls every 2 s on the test cluster: MinJobAge=0);
- ``parts, cached`` and ``array, cached``: the same again with every track cached (each part
  only looks its tracks up): the fixed cost of a part, without and with Slurm;
- ``consolidate``: the stage afterwards, every track cached.

The ways run in a different order each repeat (the load drifts on a shared machine), and each
process in a session of its own, as slurmstepd starts every Slurm task: with the kernel's
autogroup scheduling (``/proc/sys/kernel/sched_autogroup_enabled``) a busy machine shares the
CPU between sessions first, so two parts in one session got measurably less of it than the
same two parts as Slurm tasks (24 s vs 37 s here under load 12–15, before this was equalised).

Prints a table (median wall seconds) and ``--json PATH`` writes every figure. Timings mean
something only on an otherwise quiet machine: the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers.slurm import start_cluster, unavailable  # noqa: E402
from tests.helpers.stores import make_audio_store  # noqa: E402


def documented_script() -> str:
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "docs/cluster.md").read_text(), re.S)
    return next(b for b in blocks if "#SBATCH --array" in b)


def workspace(root: Path, tracks: int, seconds: float) -> Path:
    """A folder laid out like the repository for the shard command: params.yaml, data/audio.h5,
    .venv/bin/activate (this interpreter's environment) and logs/."""
    ws = root / "ws"
    (ws / "data").mkdir(parents=True)
    (ws / "logs").mkdir()
    (ws / ".venv" / "bin").mkdir(parents=True)
    venv = Path(sys.executable).parent.parent
    (ws / ".venv" / "bin" / "activate").write_text(f"source {venv / 'bin' / 'activate'}\n")
    make_audio_store(ws / "data" / "audio.h5", list(range(tracks)), seconds=seconds)
    return ws


def set_cache(ws: Path, cache: Path) -> None:
    (ws / "params.yaml").write_text(f"features:\n  cache_dir: {cache}\n  workers: 1\n")


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    e["PATH"] = str(Path(sys.executable).parent) + os.pathsep + e["PATH"]
    return e


def shard_cmd(name: str, part: str, workers: int) -> list[str]:
    return [sys.executable, "-m", "moodflow", "extract", name, "--shard", part, "--workers", str(workers)]


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracks", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--set", default="compare")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    reason = unavailable()
    if reason:
        sys.exit(f"slurm_array: {reason}")
    cores = len(os.sched_getaffinity(0))
    root = Path(tempfile.mkdtemp(prefix="moodflow-bench-slurm-"))
    cluster = start_cluster()
    figures: dict[str, list[float]] = {k: [] for k in ("stage", "one part", "parts", "array", "array --wait",
                                                       "parts, cached", "array, cached", "consolidate")}
    try:
        ws = workspace(root, args.tracks, args.seconds)
        audio = ws / "data" / "audio.h5"
        script = root / "extract_array.sbatch"
        script.write_text(documented_script().replace("/shared/projects/moodflow", str(ws))
                          .replace("/shared/cache", str(root / "shared")))
        sbatch = [shutil.which("sbatch") or "/usr/bin/sbatch", "--parsable", f"--array=0-{cores - 1}",
                  "--cpus-per-task=1", "--mem=1G", f"--export=ALL,SET={args.set}"]
        def sbatch_array(cache: Path, wait: bool = False) -> None:
            set_cache(ws, cache)
            if wait:
                subprocess.run(sbatch[:1] + ["--wait"] + sbatch[1:] + [str(script)], cwd=ws, env=cluster.env(env()),
                               check=True, capture_output=True)
                return
            jid = subprocess.run(sbatch + [str(script)], cwd=ws, env=cluster.env(env()), check=True,
                                 capture_output=True, text=True).stdout.strip().split(";")[0]
            final = cluster.wait_for(jid)  # polls squeue every 0.2 s
            assert all(f["JobState"] == "COMPLETED" for f in final), final

        def parts(cache: Path) -> None:
            set_cache(ws, cache)
            procs = [subprocess.Popen(shard_cmd(args.set, f"{i}/{cores}", 1), cwd=ws, env=env(), start_new_session=True,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(cores)]
            assert all(p.wait() == 0 for p in procs)

        def one_part(cache: Path) -> None:
            set_cache(ws, cache)
            subprocess.run(shard_cmd(args.set, "0/1", cores), cwd=ws, env=env(), check=True, capture_output=True,
                           start_new_session=True)

        def stage(cache: Path | None, out: str) -> None:
            code = (f"from moodflow.extract.run import extract_store; extract_store(name={args.set!r}, config={{}}, "
                    f"grid={{}}, audio_path={str(audio)!r}, prepared_dir={str(ws)!r}, out_path={str(root / out)!r}, "
                    f"dataset='bench', workers={cores}, cache_dir={str(cache) if cache else None!r})")
            subprocess.run([sys.executable, "-c", code], cwd=ws, env=env(), check=True, capture_output=True,
                           start_new_session=True)

        for rep in range(args.repeats):
            ways = [
                ("stage", lambda: stage(None, "stage.h5")),
                ("one part", lambda: one_part(root / f"one-{rep}")),
                ("parts", lambda: parts(root / f"parts-{rep}")),
                ("array", lambda: sbatch_array(root / f"array-{rep}")),
                ("array --wait", lambda: sbatch_array(root / f"wait-{rep}", wait=True)),
            ]
            shift = rep % len(ways)  # a different order each repeat: load drifts on a shared machine
            for key, fn in ways[shift:] + ways[:shift]:
                figures[key].append(timed(fn))
            # the fixed cost alone: every track already cached, each part only looks its tracks up
            figures["parts, cached"].append(timed(lambda: parts(root / f"array-{rep}")))
            figures["array, cached"].append(timed(lambda: sbatch_array(root / f"array-{rep}")))
            figures["consolidate"].append(timed(lambda: stage(root / f"array-{rep}", "cons.h5")))
            assert (root / "cons.h5").read_bytes() == (root / "stage.h5").read_bytes()
            print(f"repeat {rep + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in figures.items()), flush=True)
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    audio_s = args.tracks * args.seconds
    load = os.getloadavg()
    print(f"\n{args.set}: {args.tracks} tracks x {args.seconds:.0f} s ({audio_s:.0f} s of audio), {cores} cores, "
          f"load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}; "
          f"private cluster started in {cluster.started_s:.2f} s")
    base = statistics.median(figures["stage"])
    print("| way | median wall (s) | runs | vs the stage |")
    print("|---|---|---|---|")
    for key, values in figures.items():
        med = statistics.median(values)
        print(f"| {key} | {med:.1f} | {', '.join(f'{v:.1f}' for v in values)} | {med / base:.2f}x |")
    if args.json:
        args.json.write_text(json.dumps({"set": args.set, "tracks": args.tracks, "seconds": args.seconds,
                                         "cores": cores, "load": load, "cluster_start_s": cluster.started_s,
                                         "wall_s": figures}, indent=1))


if __name__ == "__main__":
    main()
