"""Corpus-size benchmark: N generated 30 s demo tracks through decode → compare + chroma → models.

    .venv/bin/python benchmarks/corpus.py --tracks 100 --json corpus-100.json
    .venv/bin/python benchmarks/corpus.py --tracks 1000 --json corpus-1000.json   # 8.3 h of audio

Each stage runs as its own process (as under `dvc repro`), sampled from outside for wall time,
CPU time and peak RSS of its process tree: prepare (the demo generator writes the WAVs),
decode, extract compare and chroma (cold per-track cache). Then: store sizes; the read time of
the whole static matrix and of one track's frames; the incremental cost of +5 % tracks
(prepare and decode again, extract with the cache: only the new tracks are extracted, asserted);
the naive per-file way (`extract_throughput.naive_*`: decode each file again, two openSMILE
passes, librosa per file, one process) on the first ``--naive-tracks`` tracks, per track
against moodflow's per-track cost in the same run; and the 10-fold CV wall time and held-out
R² (valence/arousal) of each model in ``--models`` on the compare store. Timings on a shared
machine move with its load: the JSON records the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _measure import Sampler, cores  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SETS = ("compare", "chroma")


def _child(stage: str, work: str, n: int, seconds: float) -> None:
    """One stage in this (child) process."""
    w = Path(work)
    if stage == "prepare":
        from moodflow.prepare.run import prepare_dataset

        prepare_dataset({"name": "demo", "demo": {"n_clips": n, "duration_s": seconds}}, w / "prepared")
    elif stage == "decode":
        from moodflow.decode.run import decode_dataset

        decode_dataset(w / "prepared", w / "audio.h5", w / "decode_errors.csv", sample_rate=22050)
    else:
        from moodflow.extract.run import extract_store

        counts = extract_store(name=stage, config={}, grid={}, audio_path=w / "audio.h5", prepared_dir=w / "prepared",
                               out_path=w / f"{stage}.h5", dataset="demo", workers=0, cache_dir=w / "cache")
        (w / f"{stage}.counts.json").write_text(json.dumps(counts))


def stage(name: str, work: Path, n: int, seconds: float) -> dict:
    """Run one stage as a child process; its wall/CPU seconds and peak tree RSS."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, __file__, "--child", name, str(work), str(n), str(seconds)],
                            env=env, stderr=subprocess.DEVNULL)
    with Sampler(proc.pid, interval=0.2) as s:
        rc = proc.wait()
    m = s.stop()
    if rc:
        raise RuntimeError(f"stage {name} ({n} tracks) exited with {rc}")
    return {"wall_s": round(m.wall_s, 2), "cpu_s": round(m.cpu_s, 2), "peak_rss_mib": round(m.peak_rss_mib, 1),
            "audio_s_per_s": round(n * seconds / max(m.wall_s, 1e-9), 1)}


def reads(store_path: Path) -> dict:
    """Seconds to read the whole static matrix and one (middle) track's frames, fresh opens."""
    from moodflow.stores.feature_store import FeatureStore

    t0 = time.perf_counter()
    with FeatureStore(store_path) as store:
        X = store.static()
    t_static = time.perf_counter() - t0
    with FeatureStore(store_path) as store:
        track = store.ids[len(store.ids) // 2]
        t0 = time.perf_counter()
        frames = store.frames(track)
        t_frames = time.perf_counter() - t0
    return {"size_mib": round(store_path.stat().st_size / 2**20, 2), "static_shape": list(X.shape),
            "read_static_s": round(t_static, 4), "read_one_track_frames_s": round(t_frames, 5),
            "one_track_frames_shape": list(frames[0].shape)}


def naive(work: Path, k: int) -> dict:
    """The naive per-file way on the first ``k`` WAVs, per extractor: seconds per track."""
    from extract_throughput import NAIVE

    from moodflow.stores.prepared import PreparedDataset

    prepared = PreparedDataset.read(work / "prepared")
    paths = [work / "prepared" / p for p in prepared.manifest["audio_path"].astype(str)][:k]
    out = {}
    for name in SETS:
        NAIVE[name](paths[:1])  # warm up (imports, JIT) outside the timing, as extract_throughput does
        with Sampler(interval=0.2) as s:
            NAIVE[name](paths)
        m = s.stop()
        out[name] = {"tracks": len(paths), "wall_s": round(m.wall_s, 2), "s_per_track": round(m.wall_s / len(paths), 4),
                     "peak_rss_mib": round(m.peak_rss_mib, 1)}
    return out


def train(work: Path, models: list[str], folds: int) -> dict:
    """10-fold CV (jobs = all cores) of each model on the compare store: wall seconds and mean R²."""
    import numpy as np

    from moodflow.core.config import build
    from moodflow.evaluation.protocols import make_folds
    from moodflow.evaluation.summary import metrics_from_predictions
    from moodflow.models import MODELS
    from moodflow.models.base import ModelRecipe
    from moodflow.stores.feature_store import FeatureStore
    from moodflow.stores.prepared import PreparedDataset
    from moodflow.train.crossval import cross_validate
    from moodflow.train.problems import ColumnsProblem

    labels = PreparedDataset.read(work / "prepared").static_labels.set_index("track_id")
    with FeatureStore(work / "compare.h5") as store:
        X, ids = store.static().astype(np.float64), np.asarray(store.ids)
    Y = labels.loc[ids, ["valence", "arousal"]].to_numpy(float)
    problem = ColumnsProblem("regression", X, Y, ids, ["valence", "arousal"])
    run_folds = make_folds(ids, kind="kfold", folds=folds).folds
    out = {}
    for name in models:
        recipe = ModelRecipe(name, build(MODELS.get(name).Config, {}, f"train.{name}"))
        t0 = time.perf_counter()
        result = cross_validate(recipe, problem, run_folds, seed=0, jobs=0)
        seconds = time.perf_counter() - t0
        metrics = metrics_from_predictions(result.predictions, None)["static"]
        out[name] = {"cv_wall_s": round(seconds, 1), "r2_valence": round(metrics["valence"]["r2"], 4),
                     "r2_arousal": round(metrics["arousal"]["r2"], 4)}
        print(f"train {name}: {out[name]}", flush=True)
    out["total_cv_wall_s"] = round(sum(v["cv_wall_s"] for v in out.values()), 1)
    out["shape"] = list(X.shape)
    return out


def append_increment(work: Path, n_new: int, seconds: float) -> dict:
    """+``n_new`` tracks without regenerating the corpus: a copy of ``audio.h5`` plus new demo
    clips (ids ``new_NNNN``), then each extract stage with the warm cache (asserts only the new
    ones are extracted); the original store is put back afterwards."""
    import numpy as np

    from moodflow.datasets.demo import clip_params, render_clip
    from moodflow.stores.audio_store import AudioStore, AudioStoreWriter

    src = AudioStore(work / "audio.h5")
    n = len(src.ids)
    with AudioStoreWriter(work / "audio-inc.h5", sample_rate=src.sample_rate, dataset="demo") as out:
        for tid in src.ids:
            out.append(tid, src.signal(tid))
        for i in range(n, n + n_new):
            out.append(f"new_{i:04d}", render_clip(clip_params(0, i), seconds, src.sample_rate).astype(np.float32))
    src.close()
    res = {"new_tracks": n_new, "stages": {}}
    for name in SETS:
        (work / "audio.h5").rename(work / "audio-orig.h5")
        (work / "audio-inc.h5").rename(work / "audio.h5")
        try:
            res["stages"][name] = stage(name, work, n + n_new, seconds)
        finally:
            (work / "audio.h5").rename(work / "audio-inc.h5")
            (work / "audio-orig.h5").rename(work / "audio.h5")
        counts = json.loads((work / f"{name}.counts.json").read_text())
        assert counts["extracted"] == n_new and counts["cached"] == n, counts
        res["stages"][name]["counts"] = counts
    (work / "audio-inc.h5").unlink()
    return res


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracks", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--increment", type=float, default=0.05, help="fraction of new tracks for the incremental run")
    ap.add_argument("--no-incremental", action="store_true", help="skip the +increment run (it regenerates every WAV)")
    ap.add_argument("--naive-tracks", type=int, default=20, help="tracks the naive way runs on (per-track cost)")
    ap.add_argument("--models", default="ridge,svm,random_forest,knn,xgboost", help="'' = skip training")
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--work", type=Path, default=None, help="keep the data here (default: a temporary folder)")
    ap.add_argument("--train-only", action="store_true", help="only the models, on --work's existing stores")
    ap.add_argument("--append-only", action="store_true",
                    help="only +increment tracks appended to --work's audio store (no regeneration), warm cache")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child[0], args.child[1], int(args.child[2]), float(args.child[3]))
        return {}
    if args.append_only:
        n_new = max(1, round(args.tracks * args.increment))
        res = {"tracks": args.tracks, "cores": cores(), "loadavg_before": [round(x, 2) for x in os.getloadavg()],
               "incremental_append": append_increment(args.work, n_new, args.seconds)}
        print(f"incremental (appended): {res['incremental_append']}", flush=True)
        return _finish(res, args, None)
    if args.train_only:
        res = {"tracks": args.tracks, "cores": cores(), "loadavg_before": [round(x, 2) for x in os.getloadavg()],
               "train": train(args.work, [m for m in args.models.split(",") if m], args.folds),
               "loadavg_after": [round(x, 2) for x in os.getloadavg()]}
        if args.json:
            args.json.write_text(json.dumps(res, indent=1) + "\n")
        return res
    tmp = None if args.work else tempfile.TemporaryDirectory(prefix="moodflow-corpus-")
    work = args.work or Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    n, sec = args.tracks, args.seconds
    res: dict = {"tracks": n, "seconds_per_track": sec, "audio_s": n * sec, "cores": cores(),
                 "loadavg_before": [round(x, 2) for x in os.getloadavg()], "stages": {}}
    for name in ("prepare", "decode", *SETS):
        res["stages"][name] = stage(name, work, n, sec)
        print(f"{name}: {res['stages'][name]}", flush=True)
    for name in SETS:
        res["stages"][name]["counts"] = json.loads((work / f"{name}.counts.json").read_text())
        res[f"store_{name}"] = reads(work / f"{name}.h5")
    res["naive"] = naive(work, min(args.naive_tracks, n))
    for name in SETS:
        ours = res["stages"][name]["wall_s"] / n
        res["naive"][name]["x_naive"] = round(res["naive"][name]["s_per_track"] / ours, 2)
        # the naive way decodes per file and extractor; moodflow decodes once for every extractor
        with_decode = (res["stages"][name]["wall_s"] + res["stages"]["decode"]["wall_s"]) / n
        res["naive"][name]["x_naive_with_decode"] = round(res["naive"][name]["s_per_track"] / with_decode, 2)
    print(f"naive: {res['naive']}", flush=True)
    if args.models:
        res["train"] = train(work, [m for m in args.models.split(",") if m], args.folds)
    if args.no_incremental:
        return _finish(res, args, tmp)
    n2 = n + max(1, round(n * args.increment))
    inc = {name: stage(name, work, n2, sec) for name in ("prepare", "decode", *SETS)}
    for name in SETS:
        counts = json.loads((work / f"{name}.counts.json").read_text())
        assert counts["extracted"] == n2 - n and counts["cached"] == n, counts
        inc[name]["counts"] = counts
        inc[name]["fraction_of_full"] = round(inc[name]["wall_s"] / res["stages"][name]["wall_s"], 3)
    res["incremental"] = {"new_tracks": n2 - n, "stages": inc}
    print(f"incremental: {res['incremental']}", flush=True)
    return _finish(res, args, tmp)


def _finish(res: dict, args: argparse.Namespace, tmp) -> dict:
    res["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")
    if tmp:
        tmp.cleanup()
    return res


if __name__ == "__main__":
    main()
