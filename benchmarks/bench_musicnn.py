"""musicnn extraction throughput on CPU: the reference (packaged musicnn + TensorFlow, float32
log-mel fix, in its own interpreter) against moodflow's PyTorch port, in audio-seconds per second.

Both read the same files the same way (``librosa.load(path, sr=16000)``) and compute the same
patches; each side runs every file twice and the second pass counts (steady state: TensorFlow
imported, torch weights loaded). The reference, as packaged, rebuilds its graph and restores the
checkpoint on every call — that is what a user of ``musicnn.extractor.extractor`` pays per file
— so it is also timed on the second pass. Equality of the outputs: ``tests/test_features_musicnn.py``.

    .venv/bin/python benchmarks/bench_musicnn.py [--model MSD_musicnn] [--files N] [--threads 0]

Files: the 4Q clips of ``$MOODFLOW_SHARED_DATA`` (30 s each).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="MSD_musicnn")
    parser.add_argument("--files", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--reference-python", type=Path, default=Path(sys.prefix) / "reference" / "bin" / "python")
    args = parser.parse_args()
    shared = os.environ.get("MOODFLOW_SHARED_DATA")
    if not shared:
        raise SystemExit("set MOODFLOW_SHARED_DATA (the team's real clips)")
    files = sorted(Path(shared).glob("4Q/MER_audio_taffc_dataset/Q*/*.mp3"))[: args.files]
    import librosa

    from moodflow.features import build_extractor

    ex = build_extractor("musicnn", {"model": args.model, "batch_size": args.batch_size}, {})
    audio_s = 0.0
    ours = []
    for run in range(2):
        t0 = time.perf_counter()
        for path in files:
            y, _ = librosa.load(path, sr=16000)
            p = ex.patches(y, 16000)
            if run == 1:
                audio_s += len(y) / 16000
                ours.append(p)
        ours_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ref.npz"
        t0 = time.perf_counter()
        proc = subprocess.run([str(args.reference_python), str(REPO / "tests/helpers/musicnn_reference.py"), str(out),
                               "--models", args.model, "--audio", *map(str, files), "--repeat", "2"],
                              capture_output=True, text=True)
        ref_process_s = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-2000:])
        ref = np.load(out)
        ref_s = sum(float(ref[f"{args.model}/{i}/seconds"]) for i in range(len(files)))
        diff = max(float(np.abs(p.taggram[:len(ref[f"{args.model}/{i}/taggram"])] - ref[f"{args.model}/{i}/taggram"]).max())
                   for i, p in enumerate(ours))
    import torch

    print(f"{len(files)} files, {audio_s:.1f} audio-s, model {args.model}, torch threads {torch.get_num_threads()}")
    print(f"reference (TensorFlow, per call) {ref_s:6.2f} s  {audio_s / ref_s:6.1f} audio-s/s"
          f"   (whole reference process incl. TF import and first pass: {ref_process_s:.1f} s)")
    print(f"moodflow (PyTorch)               {ours_s:6.2f} s  {audio_s / ours_s:6.1f} audio-s/s"
          f"   ({ref_s / ours_s:.2f}x the reference)")
    print(f"max |taggram difference| {diff:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
