"""The `chords` figures of docs/features.md: accuracy on the demo's known score, and speed.

    .venv/bin/python benchmarks/chords_demo.py                     # 40 demo clips of 8 s, ~15 s
    .venv/bin/python benchmarks/chords_demo.py --seed 1 --seconds 10 --set key_profile=temperley
    MOODFLOW_SHARED_DATA=../shared/data .venv/bin/python benchmarks/chords_demo.py   # + speed on a real chorus

Prints chord frame accuracy over the frames where the demo sounds the chord and over all
frames of each chord's span (the chord lasting to the next one), key accuracy (tonic and
mode), and audio seconds per CPU second of ``extract`` on one core.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import yaml

from moodflow.datasets.demo import chord_timeline, clip_params, key_of, render_clip
from moodflow.features import build_extractor
from moodflow.features.chords import PITCH_CLASSES, chord_labels
from moodflow.stores.grid import frame_grid

SR = 22050


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=0, help="the demo's seed (dataset.demo.seed); 0 tuned the defaults")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a features.chords setting")
    args = parser.parse_args()
    config = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}
    ex = build_extractor("chords", config, {})
    names, labels = ex.feature_names(), chord_labels()
    right_all, right_sounding, keys, cpu = [], [], [], 0.0
    for i in range(args.clips):
        p = clip_params(args.seed, i)
        y = render_clip(p, args.seconds, SR)
        t0 = time.process_time()
        chroma, chords, times = ex.analyse(y, SR)
        feats = ex.summarise(chroma, chords, times, args.seconds, *frame_grid(args.seconds))
        cpu += time.process_time() - t0
        gate = 0.15 + 0.8 * p.articulation  # the share of each span render_clip sounds the chord
        for a, b, label in chord_timeline(p, args.seconds):
            inside = (times >= a) & (times < b)
            right_all.append(chords[inside] == labels.index(label))
            right_sounding.append(chords[inside & (times < a + gate * (b - a))] == labels.index(label))
        s = dict(zip(names, feats.static))
        tonic = max(PITCH_CLASSES, key=lambda pc: s[f"key_tonic_{pc}"])
        keys.append(f"{tonic}:{'min' if s['key_is_minor'] else 'maj'}" == key_of(p))
    print(f"demo seed {args.seed}, {args.clips} clips of {args.seconds:g} s, settings {config or 'defaults'}")
    print(f"  chord frame accuracy, sounding frames: {np.concatenate(right_sounding).mean():.3f}")
    print(f"  chord frame accuracy, all frames:      {np.concatenate(right_all).mean():.3f}")
    print(f"  key accuracy (tonic and mode):         {np.mean(keys):.3f}")
    print(f"  speed: {args.clips * args.seconds / cpu:.0f} audio-s per CPU-s (first call includes numba's compile)")
    shared = os.environ.get("MOODFLOW_SHARED_DATA")
    if shared:
        from moodflow.decode.audio import load_audio

        y = load_audio(Path(shared) / "PMEmo2019" / "chorus" / "108.mp3", SR)
        t0 = time.process_time()
        ex.extract(y, SR)
        print(f"  PMEmo chorus 108 ({len(y) / SR:.0f} s): {len(y) / SR / (time.process_time() - t0):.0f} audio-s per CPU-s")


if __name__ == "__main__":
    main()
