"""Long recordings in flat memory: peak RSS and wall of decode, compare, chroma, musicnn and
``moodflow predict`` on generated 10-minute, 1-hour and 3-hour recordings.

    .venv/bin/python benchmarks/long_audio.py --minutes 10 60 180 --json long-audio.json

Each recording is 44.1 kHz stereo 16-bit WAV (``tests/helpers/long_audio.py``: chords, bass,
a noise burst on every beat), written block by block into ``--work``. Every step runs as its own
process, sampled from outside every 0.5 s: wall, CPU, peak RSS summed over its process tree,
peak PSS of the tree (shared pages split between the processes that share them: the honest sum
for predict's forked children) and the largest single process:

- decode: the decode stage (``decode_dataset``) → a one-track audio store at 22.05 kHz;
- compare, chroma, musicnn: the extract stage on that store (one worker, no cache);
- predict: ``moodflow predict FILE --model …`` with a compare/ridge model trained on the demo
  (its feature extraction and the musicnn mood tags run in two forked children while the model
  loads) and an empty feature cache.

Tracks up to 15 minutes (``LONG_AUDIO_S``) are processed in memory as always, longer ones in
bounded windows, so the 10-minute row is the in-memory path and the others the windowed one.
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

from _measure import Sampler  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
STEPS = ("decode", "compare", "chroma", "musicnn", "predict")
SR = 22050


def _child(step: str, work: Path, wav: Path) -> None:
    """One step in this (child) process."""
    import pandas as pd

    from moodflow.stores.prepared import LabelSpec, PreparedDataset

    tag = wav.stem
    prepared = work / f"prepared-{tag}"
    if step == "decode":
        from moodflow.decode.run import decode_dataset

        manifest = pd.DataFrame({"track_id": [tag], "audio_path": [str(wav)]})
        spec = LabelSpec(static_targets=["valence"], scale=(1.0, 9.0), scale_name="1-9")
        PreparedDataset("long", manifest, manifest[["track_id"]].assign(valence=5.0), spec).write(prepared)
        decode_dataset(prepared, work / f"audio-{tag}.h5", work / f"errors-{tag}.csv", sample_rate=SR)
    else:
        from moodflow.extract.run import extract_store

        extract_store(name=step, config={}, grid={}, audio_path=work / f"audio-{tag}.h5", prepared_dir=prepared,
                      out_path=work / f"{step}-{tag}.h5", dataset="long", workers=1, cache_dir=None)


def model(work: Path) -> Path:
    """A compare/ridge model trained on a small demo project (made once in ``work``)."""
    folder = work / "project" / "models" / "compare" / "ridge"
    if (folder / "model.json").exists():
        return folder
    from moodflow.decode.run import decode_dataset
    from moodflow.extract.run import extract_store
    from moodflow.prepare.run import prepare_dataset
    from moodflow.train.run import train_and_evaluate

    root = work / "project"
    prepare_dataset({"name": "demo", "demo": {"n_clips": 16, "duration_s": 3.0}}, root / "data/prepared")
    decode_dataset(root / "data/prepared", root / "data/audio.h5", root / "data/errors.csv", sample_rate=SR)
    extract_store(name="compare", config={}, grid={}, audio_path=root / "data/audio.h5",
                  prepared_dir=root / "data/prepared", out_path=root / "features/compare.h5", dataset="demo", workers=1)
    train_and_evaluate(store_path=root / "features/compare.h5", prepared_dir=root / "data/prepared",
                       feature_set="compare", model_name="ridge", model_config={"alpha": 100.0}, dynamic=False,
                       protocol={"folds": 4}, seed=0, out_dir=folder, min_train=2, min_test=1, min_per_class=1)
    return folder


def measure(step: str, work: Path, wav: Path, model_dir: Path) -> dict:
    """Run one step as a child process, sampled from outside."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    if step == "predict":
        env["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="cache-", dir=work)  # cold: nothing cached
        cmd = [str(Path(sys.executable).parent / "moodflow"), "predict", str(wav), "--model", str(model_dir),
               "--format", "json", "-o", str(work / f"predict-{wav.stem}.json")]
    else:
        cmd = [sys.executable, __file__, "--child", step, str(work), str(wav)]
    proc = subprocess.Popen(cmd, env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with Sampler(proc.pid, interval=0.5, pss=True) as s:
        _, err = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"{step} on {wav.name} failed ({proc.returncode}): {err[-2000:]}")
    r = s.result
    return {"step": step, "wall_s": round(r.wall_s, 1), "cpu_s": round(r.cpu_s, 1),
            "peak_rss_mib": round(r.peak_rss_mib), "peak_pss_mib": round(r.peak_pss_mib),
            "largest_process_rss_mib": round(r.peak_process_rss_mib)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[10, 60, 180])
    ap.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS)
    ap.add_argument("--work", type=Path, default=None, help="folder for the recordings and stores (default: a temp dir)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return 0
    from tests.helpers.long_audio import write_long_wav

    work = args.work or Path(tempfile.mkdtemp(prefix="moodflow-long-"))
    work.mkdir(parents=True, exist_ok=True)
    model_dir = model(work) if "predict" in args.steps else None
    rows = []
    for minutes in args.minutes:
        wav = work / f"long-{minutes:g}min.wav"
        if not wav.exists():
            t0 = time.perf_counter()
            write_long_wav(wav, minutes * 60.0)
            print(f"wrote {wav} ({wav.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t0:.0f} s", flush=True)
        for step in args.steps:
            row = {"minutes": minutes, **measure(step, work, wav, model_dir), "load_avg": round(os.getloadavg()[0], 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
        for name in work.glob(f"*-{wav.stem}.h5"):
            name.unlink()  # the stores of this length are not needed any more
    print("\n| step | " + " | ".join(f"{m:g} min: wall / peak RSS (PSS)" for m in args.minutes) + " |")
    print("|---|" + "---|" * len(args.minutes))
    for step in args.steps:
        cells = [f"{r['wall_s']:.0f} s / {r['peak_rss_mib']} MiB ({r['peak_pss_mib']})"
                 for m in args.minutes for r in rows if r["step"] == step and r["minutes"] == m]
        print(f"| {step} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "cores": os.cpu_count()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
