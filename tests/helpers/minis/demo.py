"""The demo "miniature": the embedded demo dataset at its smallest (the adapter generates its
own audio into the prepared folder, with paths relative to it)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.helpers.minis import Miniature

CONFIG = {"n_clips": 3, "duration_s": 2.0}


def write(base: Path) -> Miniature:
    ids = [f"demo_{i:03d}" for i in range(CONFIG["n_clips"])]
    times = [0.5, 1.0, 1.5]  # centres of the full 1 s windows at a 0.5 s hop in 2 s
    return Miniature(
        root=None, config=dict(CONFIG), track_ids=ids, audio={t: CONFIG["duration_s"] for t in ids},
        spec={"task": "regression", "static_targets": ["valence", "arousal"], "scale": (1.0, 9.0),
              "dynamic_targets": ["valence", "arousal"], "dynamic_hop_s": 0.5},
        static=pd.DataFrame({"track_id": ids}),  # values are the generator's: checked against the scale
        dynamic=pd.DataFrame([(t, s) for t in ids for s in times], columns=["track_id", "time_s"]),
        splits=None, durations={t: CONFIG["duration_s"] for t in ids},
        notes=["generated audio, relative paths"])
