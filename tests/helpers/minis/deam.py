"""A miniature DEAM (``DEAM/`` as the authors publish it) plus Music2Emo's split files.

Quirks kept: the song-level CSVs have a space after every comma in the header (``song_id,
valence_mean``) and CRLF line ends; the second one (songs 2001–2058) has more columns, one
named ``valence_ max_mean``; dynamic labels are wide (``sample_15000ms`` …) on −1..1 with
rows that end where the song ends (a 45 s clip's row holds 60 values, 15.0–44.5 s; a full
song's runs on) and no padding; the arousal file's header is one sample longer than the
valence file's, and one full song has one more arousal sample than valence samples (that
time point is dropped); static labels on 1–9; audio ``DEAM_audio/MEMD_audio/<id>.mp3``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from moodflow.datasets.deam import DYNAMIC_FILES, STATIC_FILES
from tests.helpers.minis import Miniature, num, write_audio, write_split_dir, write_text

CLIPS = ["2", "3", "10"]  # 45 s clips: 60 dynamic values each
FULL = {"2001": 64, "2002": 70}  # full songs: their number of valence values
LONGER_AROUSAL = "2002"  # one more arousal value than valence (its last time point is dropped)
WITH_AUDIO = ["2", "3", "2001"]
SPLITS = {"2": "train", "3": "validation", "10": "test", "2001": "train", "2002": "train"}


def write(base: Path, seconds: float = 2.0) -> Miniature:
    root = base / "DEAM"
    rng = np.random.default_rng(11)
    ids = CLIPS + list(FULL)
    static = pd.DataFrame({"track_id": ids, "valence": np.round(rng.uniform(1, 9, len(ids)), 1),
                           "arousal": np.round(rng.uniform(1, 9, len(ids)), 1)})
    first = [r for r in static.itertuples(index=False) if int(r.track_id) <= 2000]
    write_text(root / STATIC_FILES[0], ["song_id, valence_mean, valence_std, arousal_mean, arousal_std"] + [
        f"{r.track_id},{num(r.valence)},0.94,{num(r.arousal)},0.63" for r in first], newline="\r\n")
    second = [r for r in static.itertuples(index=False) if int(r.track_id) > 2000]
    write_text(root / STATIC_FILES[1], [
        "song_id, valence_mean, valence_std, valence_ max_mean, valence_max_std, valence_min_mean, "
        "valence_min_std, arousal_mean, arousal_std, arousal_max_mean, arousal_max_std, arousal_min_mean, "
        "arousal_min_std"] + [f"{r.track_id},{num(r.valence)},0.98,5.0,1.41,2.2,0.98,{num(r.arousal)},0.8,8.6,"
                              "0.49,3.4,1.02" for r in second], newline="\r\n")

    lengths = {"valence": {**{t: 60 for t in CLIPS}, **FULL}}
    lengths["arousal"] = {**lengths["valence"], LONGER_AROUSAL: FULL[LONGER_AROUSAL] + 1}
    values = {target: {t: np.round(rng.uniform(-1, 1, n), 6) for t, n in lengths[target].items()}
              for target in ("valence", "arousal")}
    for target in ("valence", "arousal"):
        width = max(lengths[target].values()) + (1 if target == "arousal" else 0)
        header = "song_id," + ",".join(f"sample_{15000 + 500 * k}ms" for k in range(width))
        write_text(root / DYNAMIC_FILES[target], [header] + [
            f"{t}," + ",".join(num(v) for v in values[target][t]) for t in ids])

    rows = []
    for t in ids:
        for k in range(min(lengths["valence"][t], lengths["arousal"][t])):
            rows.append((t, 15.0 + 0.5 * k, values["valence"][t][k], values["arousal"][t][k]))
    audio = {t: write_audio(root / "DEAM_audio/MEMD_audio" / f"{t}.mp3", seconds, 44100, channels=2, seed=int(t))
             for t in WITH_AUDIO}
    split_dir = write_split_dir(base / "splits/music2emo/deam", SPLITS)
    return Miniature(
        root=root, config={"split_dir": str(split_dir)}, track_ids=ids, audio=audio,
        spec={"task": "regression", "static_targets": ["valence", "arousal"], "scale": (1.0, 9.0),
              "dynamic_targets": ["valence", "arousal"], "dynamic_scale": (-1.0, 1.0), "dynamic_hop_s": 0.5},
        static=static, dynamic=pd.DataFrame(rows, columns=["track_id", "time_s", "valence", "arousal"]),
        splits=SPLITS, durations={},
        notes=["header spaces", "CRLF song-level files", "ragged wide dynamic rows", "one extra arousal sample"])
