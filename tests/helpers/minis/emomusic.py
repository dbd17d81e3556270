"""A miniature emoMusic / 1000 Songs (``emoMusic/`` as the authors publish it).

Quirks kept: static labels on 1–9 with arousal before valence; continuous averages (and stds)
in wide CSVs from ``sample_15000ms`` to ``sample_45000ms`` (61 values, −1..1) with long
printed floats; ``songs_info.csv`` with every field quoted and tabs inside the quotes
(``"\t2.mp3"``, ``"\tBlues\t"``), whose "Mediaeval 2013 set" column (development / evaluation)
is the native split; audio as ``clips_45seconds/<id>.mp3`` (44.1 kHz mono) for some songs only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tests.helpers.minis import Miniature, num, write_audio, write_text

IDS = ["2", "3", "4", "5", "7", "8", "1000"]
SETS = {"2": "development", "3": "evaluation", "4": "development", "5": "development", "7": "development",
        "8": "evaluation", "1000": "evaluation"}
WITH_AUDIO = ["2", "3", "5", "7"]
TIMES_MS = range(15000, 45001, 500)  # 61 points


def write(base: Path, seconds: float = 2.0) -> Miniature:
    root = base / "emoMusic"
    ann = root / "annotations"
    rng = np.random.default_rng(13)
    static = pd.DataFrame({"track_id": IDS, "valence": np.round(rng.uniform(1, 9, len(IDS)), 1),
                           "arousal": np.round(rng.uniform(1, 9, len(IDS)), 1)})
    write_text(ann / "static_annotations.csv", ["song_id,mean_arousal,std_arousal,mean_valence,std_valence"] + [
        f"{t},{num(a)},0.99443,{num(v)},0.66667" for t, v, a in static.itertuples(index=False)])
    header = "song_id," + ",".join(f"sample_{ms}ms" for ms in TIMES_MS)
    curves = {target: {t: np.round(rng.uniform(-1, 1, len(TIMES_MS)), 15) for t in IDS}
              for target in ("valence", "arousal")}
    for target, per_song in curves.items():
        write_text(ann / f"{target}_cont_average.csv", [header] + [
            f"{t}," + ",".join(num(v) for v in per_song[t]) for t in IDS])
        write_text(ann / f"{target}_cont_std.csv", [header] + [
            f"{t}," + ",".join("0.399379384703605" for _ in TIMES_MS) for t in IDS])
    write_text(ann / "songs_info.csv", [
        '"song_id","file_name","Artist","Song title","start of the segment (min.sec)",'
        '"end of the segment (min.sec)","Genre","Mediaeval 2013 set"'] + [
        f'{t},"\t{t}.mp3","Artist {t}\t","\tSong  {t}\t","\t0.48\t","\t1.33\t","\tBlues\t","{SETS[t]}"' for t in IDS])
    audio = {t: write_audio(root / "clips_45seconds" / f"{t}.mp3", seconds, 44100, seed=int(t)) for t in WITH_AUDIO}
    rows = [(t, ms / 1000.0, curves["valence"][t][k], curves["arousal"][t][k])
            for t in IDS for k, ms in enumerate(TIMES_MS)]
    return Miniature(
        root=root, config={}, track_ids=IDS, audio=audio,
        spec={"task": "regression", "static_targets": ["valence", "arousal"], "scale": (1.0, 9.0),
              "dynamic_targets": ["valence", "arousal"], "dynamic_scale": (-1.0, 1.0), "dynamic_hop_s": 0.5},
        static=static, dynamic=pd.DataFrame(rows, columns=["track_id", "time_s", "valence", "arousal"]),
        splits={t: {"development": "train", "evaluation": "test"}[s] for t, s in SETS.items()}, durations={},
        notes=["songs_info.csv fields quoted with tabs", "61 points 15-45 s", "native MediaEval 2013 split"])
