"""Cold start of ``moodflow predict``: one fresh process, one 30 s clip, a classical model.

Builds a small trained project in a temporary folder (the demo dataset, ``compare`` features,
``ridge``: the demo's best model), then times ``python -m moodflow predict CLIP --model DIR``
end to end (interpreter start, imports, model load, decode, openSMILE, prediction) as a
researcher runs it: with ``--no-tags`` (the classical model alone; goal ≤ 3 s) and with the
default zero-shot musicnn mood tags (adds torch and the tagger). Reports each run and the median.

    .venv/bin/python benchmarks/predict_cold_start.py [--clip PATH] [--runs 5] [--before CHECKOUT]

``--before`` times another checkout's ``moodflow predict`` (e.g. ``git archive <commit>``
unpacked in a folder) on the same model and clip. Variants run interleaved, so a busy shared
machine slows them alike; the minimum is the closest to an idle machine.

Default clip: the first 4Q clip of ``$MOODFLOW_SHARED_DATA`` (30 s), else a synthetic 30 s WAV.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def build_project(root: Path) -> Path:
    from moodflow.decode.run import decode_dataset
    from moodflow.extract.run import extract_store
    from moodflow.prepare.run import prepare_dataset
    from moodflow.train.run import train_and_evaluate

    prepare_dataset({"name": "demo", "demo": {"n_clips": 30, "duration_s": 4.0}}, root / "data/prepared")
    decode_dataset(root / "data/prepared", root / "data/audio.h5", root / "data/errors.csv", sample_rate=22050)
    extract_store(name="compare", config={}, grid={"win_s": 1.0, "hop_s": 0.5}, audio_path=root / "data/audio.h5",
                  prepared_dir=root / "data/prepared", out_path=root / "features/compare.h5", dataset="demo", workers=2)
    train_and_evaluate(store_path=root / "features/compare.h5", prepared_dir=root / "data/prepared",
                       feature_set="compare", model_name="ridge", model_config={"alpha": 100.0},
                       protocol={"folds": 3}, seed=0, out_dir=root / "models/compare/ridge")
    return root / "models/compare/ridge"


def default_clip(tmp: Path) -> Path:
    shared = os.environ.get("MOODFLOW_SHARED_DATA")
    if shared:
        clips = sorted(Path(shared).glob("4Q/MER_audio_taffc_dataset/Q*/*.mp3"))
        if clips:
            return clips[0]
    import numpy as np
    import soundfile as sf

    t = np.arange(30 * 44100) / 44100
    path = tmp / "clip30.wav"
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 0.5 * t))).astype("float32"), 44100)
    return path


def time_once(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tempfile.gettempdir())
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clip", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", type=Path, default=None, help="another checkout to time the same way")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = build_project(tmp)
        clip = args.clip or default_clip(tmp)
        base = [sys.executable, "-m", "moodflow", "predict", str(clip), "--model", str(model), "--format", "json"]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        variants = {
            "classical model, --no-tags": (base + ["--no-tags"], env),
            "  same, prefetch off": (base + ["--no-tags"], {**env, "MOODFLOW_PREDICT_PREFETCH": "0"}),
            "classical model + mood tags": (base, env),
        }
        if args.before:
            variants["before (other checkout)"] = (base, {**os.environ, "PYTHONPATH": str(args.before)})
        times: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(args.runs):
            for label, (cmd, e) in variants.items():
                times[label].append(time_once(cmd, e))
        for label, ts in times.items():
            print(f"{label:30s} min {min(ts):.2f} s  median {statistics.median(ts):.2f} s  runs: "
                  + ", ".join(f"{t:.2f}" for t in ts))
    print(f"clip: {clip}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
