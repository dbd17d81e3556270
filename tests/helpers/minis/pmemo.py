"""A miniature PMEmo2019 (``PMEmo2019/`` as the authors publish it) plus Music2Emo's split files.

Quirks kept: labels on 0–1; dynamic labels from 15.5 s of the chorus clip at 2 Hz
(``frameTime``); column names with parentheses (``Arousal(mean)``, arousal before valence);
``metadata.csv`` lists more songs than are annotated, with quoted albums holding commas, a
``fileName`` column and mm:ss chorus times; audio as ``chorus/<musicId>.mp3`` (44.1 kHz
stereo) for some songs only; the std file beside the means; the provided ComParE features.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tests.helpers.minis import Miniature, num, write_audio, write_split_dir, write_text

FIRST_LABEL_S = 15.5
IDS = ["1", "4", "5", "108", "372"]  # annotated; 108 and 372 have audio
WITH_AUDIO = ["108", "372"]
NOT_ANNOTATED = "1000"  # in metadata.csv only: neither labels nor audio, so not in the manifest
SPLITS = {"1": "train", "4": "train", "5": "validation", "108": "test", "372": "train"}


def write(base: Path, seconds: float = 2.0) -> Miniature:
    root = base / "PMEmo2019"
    rng = np.random.default_rng(7)
    static = pd.DataFrame({"track_id": IDS, "valence": np.round(rng.uniform(0.05, 0.95, len(IDS)), 4),
                           "arousal": np.round(rng.uniform(0.05, 0.95, len(IDS)), 4)})
    write_text(root / "annotations/static_annotations.csv", ["musicId,Arousal(mean),Valence(mean)"] + [
        f"{t},{num(a)},{num(v)}" for t, v, a in static.itertuples(index=False)])

    rows, dyn_lines, std_lines = [], ["musicId,frameTime,Arousal(mean),Valence(mean)"], [
        "musicId,frameTime,Arousal(std),Valence(std)"]
    for i, tid in enumerate(IDS):
        for k in range(6 + i):  # songs end at different times
            t = FIRST_LABEL_S + 0.5 * k
            a, v = (round(float(x), 6) for x in rng.uniform(0.0, 1.0, 2))
            rows.append((tid, t, v, a))
            dyn_lines.append(f"{tid},{t},{num(a)},{num(v)}")
            std_lines.append(f"{tid},{t},0.28788535103253754,0.27573863458662823")
    write_text(root / "annotations/dynamic_annotations.csv", dyn_lines)
    write_text(root / "annotations/dynamic_annotations_std.csv", std_lines)

    durations = {tid: round(28.0 + 3.1 * i, 2) for i, tid in enumerate(IDS)}
    meta = ["musicId,fileName,title,artist,album,duration,chorus_start_time,chorus_end_time"]
    for tid in [*IDS, NOT_ANNOTATED]:
        meta.append(f'{tid},{tid}.mp3,Song {tid},Artist {tid},"Vol. {tid}, Direct Deposit",'
                    f'{num(durations.get(tid, 31.5))},02:35,03:05')
    write_text(root / "metadata.csv", meta)

    audio = {tid: write_audio(root / "chorus" / f"{tid}.mp3", seconds, 44100, channels=2, seed=int(tid))
             for tid in WITH_AUDIO}
    names = ["audspec_lengthL1norm_sma_range", "pcm_RMSenergy_sma_amean", "pcm_zcr_sma_stddev"]
    write_text(root / "features/static_features.csv", ["musicId," + ",".join(names)] + [
        f"{tid},0.5,0.01,{i}" for i, tid in enumerate(IDS)])
    write_text(root / "features/dynamic_features.csv", ["musicId,frameTime," + ",".join(names)] + [
        f"{tid},{FIRST_LABEL_S},0.5,0.01,{i}" for i, tid in enumerate(IDS)])
    split_dir = write_split_dir(base / "splits/music2emo/pmemo", SPLITS)

    dynamic = pd.DataFrame(rows, columns=["track_id", "time_s", "valence", "arousal"])
    return Miniature(
        root=root, config={"split_dir": str(split_dir)}, track_ids=IDS, audio=audio,
        spec={"task": "regression", "static_targets": ["valence", "arousal"], "scale": (0.0, 1.0),
              "dynamic_targets": ["valence", "arousal"], "dynamic_scale": (0.0, 1.0), "dynamic_hop_s": 0.5},
        static=static, dynamic=dynamic, splits=SPLITS, durations=durations,
        provided={"static_csv": "features/static_features.csv", "dynamic_csv": "features/dynamic_features.csv",
                  "id_column": "musicId", "time_column": "frameTime"},
        notes=["first dynamic label at 15.5 s", "metadata.csv lists unannotated songs", "Arousal before Valence"])
