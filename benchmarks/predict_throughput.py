"""``moodflow predict`` on a folder against the extract stage, side by side: audio-seconds per second.

    .venv/bin/python benchmarks/predict_throughput.py --clips 100 --seconds 30 --json predict-throughput.json

A folder of ``--clips`` generated recordings (44.1 kHz stereo WAV, ``tests/helpers/long_audio.py``,
one seed each) is (1) put through the decode stage once, then the extract stage for ``--set``
(its own process: imports, pool, every track, the store written; no cache) and (2) scored by
``moodflow predict FOLDER --model … --no-tags`` (a model of that set trained on the demo) with an
empty feature cache, then (3) scored again with the cache it filled. Steps (1)-(2) repeat
``--repeats`` times, interleaved, so that both see the same load; every step is one process
tree sampled from outside. The ratio reported is predict's audio-seconds per second over the
extract stage's (the median of the repeats), in wall time and in CPU time (audio-seconds per
CPU-second: the fair figure on a machine that others load); predict decodes the files itself,
the extract stage reads the decoded store.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _measure import Sampler  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SR = 22050


def _child(step: str, work: Path, feature_set: str) -> None:
    if step == "decode":
        import pandas as pd

        from moodflow.decode.run import decode_dataset
        from moodflow.stores.prepared import LabelSpec, PreparedDataset

        clips = sorted((work / "clips").glob("*.wav"))
        manifest = pd.DataFrame({"track_id": [c.stem for c in clips], "audio_path": [str(c) for c in clips]})
        spec = LabelSpec(static_targets=["valence"], scale=(1.0, 9.0), scale_name="1-9")
        PreparedDataset("clips", manifest, manifest[["track_id"]].assign(valence=5.0), spec).write(work / "prepared")
        decode_dataset(work / "prepared", work / "audio.h5", work / "errors.csv", sample_rate=SR)
    else:
        from moodflow.extract.run import extract_store

        extract_store(name=feature_set, config={}, grid={}, audio_path=work / "audio.h5", prepared_dir=work / "prepared",
                      out_path=work / f"{feature_set}.h5", dataset="clips", workers=0, cache_dir=None)


def model(work: Path, feature_set: str) -> Path:
    """A ``feature_set``/ridge model trained on a small demo project (made once in ``work``)."""
    root = work / "project"
    folder = root / "models" / feature_set / "ridge"
    if (folder / "model.json").exists():
        return folder
    from moodflow.decode.run import decode_dataset
    from moodflow.extract.run import extract_store
    from moodflow.prepare.run import prepare_dataset
    from moodflow.train.run import train_and_evaluate

    if not (root / "data/audio.h5").exists():
        prepare_dataset({"name": "demo", "demo": {"n_clips": 16, "duration_s": 3.0}}, root / "data/prepared")
        decode_dataset(root / "data/prepared", root / "data/audio.h5", root / "data/errors.csv", sample_rate=SR)
    extract_store(name=feature_set, config={}, grid={}, audio_path=root / "data/audio.h5",
                  prepared_dir=root / "data/prepared", out_path=root / f"features/{feature_set}.h5", dataset="demo",
                  workers=1)
    train_and_evaluate(store_path=root / f"features/{feature_set}.h5", prepared_dir=root / "data/prepared",
                       feature_set=feature_set, model_name="ridge", model_config={"alpha": 100.0}, dynamic=False,
                       protocol={"folds": 4}, seed=0, out_dir=folder, min_train=2, min_test=1, min_per_class=1)
    return folder


def run(cmd: list[str], work: Path, env: dict) -> dict:
    proc = subprocess.Popen(cmd, env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with Sampler(proc.pid, interval=0.2) as s:
        _, err = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({proc.returncode}): {err[-2000:]}")
    return {"wall_s": round(s.result.wall_s, 2), "cpu_s": round(s.result.cpu_s, 1),
            "peak_rss_mib": round(s.result.peak_rss_mib)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--set", default="compare")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child[0], Path(args.child[1]), args.child[2])
        return 0
    from tests.helpers.long_audio import write_long_wav

    work = args.work or Path(tempfile.mkdtemp(prefix="moodflow-predict-"))
    (work / "clips").mkdir(parents=True, exist_ok=True)
    for i in range(args.clips):
        path = work / "clips" / f"clip{i:04d}.wav"
        if not path.exists():
            write_long_wav(path, args.seconds, seed=i)
    folder = model(work, args.set)
    audio_s = args.clips * args.seconds
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    child = [sys.executable, __file__, "--child"]
    decode = run(child + ["decode", str(work), args.set], work, env)
    moodflow = str(Path(sys.executable).parent / "moodflow")
    rows = []
    for r in range(args.repeats):
        extract = run(child + ["extract", str(work), args.set], work, env)
        cache = tempfile.mkdtemp(prefix="cache-", dir=work)
        predict_env = dict(env, XDG_CACHE_HOME=cache)
        cmd = [moodflow, "predict", str(work / "clips"), "--model", str(folder), "--no-tags", "--format", "csv",
               "-o", str(work / f"predict-{r}.csv")]
        cold = run(cmd, work, predict_env)
        warm = run(cmd, work, predict_env)
        row = {"repeat": r, "extract": extract, "predict_cold": cold, "predict_warm_cache": warm,
               "ratio": round(extract["wall_s"] / cold["wall_s"], 3),
               "cpu_ratio": round(extract["cpu_s"] / cold["cpu_s"], 3), "load_avg": round(os.getloadavg()[0], 1)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    ratio = statistics.median(r["ratio"] for r in rows)
    summary = {
        "set": args.set, "clips": args.clips, "seconds": args.seconds, "audio_s": audio_s, "decode": decode,
        "extract_audio_s_per_s": [round(audio_s / r["extract"]["wall_s"], 1) for r in rows],
        "predict_audio_s_per_s": [round(audio_s / r["predict_cold"]["wall_s"], 1) for r in rows],
        "predict_warm_audio_s_per_s": [round(audio_s / r["predict_warm_cache"]["wall_s"], 1) for r in rows],
        "ratio_predict_over_extract": ratio,
        "cpu_ratio_predict_over_extract": statistics.median(r["cpu_ratio"] for r in rows),
        "rows": rows, "cores": os.cpu_count(),
        "when": time.strftime("%Y-%m-%d %H:%M"),
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
