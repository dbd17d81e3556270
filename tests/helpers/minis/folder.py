"""A miniature of a user's own folder (``dataset.name: folder``): audio in nested folders, in
several formats, a name with a space, one file without labels, and one labels CSV of every kind.

Quirks kept: track ids are relative paths without the extension (``album/01 song``); the labels
CSV names files by ``file`` (the relative path with its extension) and holds two regression
targets on scales of their own, a class column, ``;``-separated mood tags in one column and
an ``artist`` kept as metadata; the dynamic labels CSV names tracks by ``track_id``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.helpers.minis import Miniature, num, write_audio, write_text

FILES = {  # relative path: (valence, tension, quadrant, mood, artist); None: no labels
    "a.wav": (0.25, 5.5, "Q1", "happy;calm", "A"),
    "album/01 song.flac": (-0.5, 2.0, "Q3", "sad", "B"),
    "album/02.mp3": (0.75, 6.5, "Q1", "", "B"),
    "live/x.ogg": (-0.125, 4.0, "Q2", "calm;epic", "C"),
    "extra/unlabelled.wav": None,
}
CONFIG = {"labels": "labels.csv", "dynamic_labels": "dynamic.csv", "targets": ["valence", "tension"],
          "scale": [-1, 1], "scales": {"tension": [1, 7]}, "class_column": "quadrant", "tags_column": "mood",
          "metadata": ["artist"]}


def write(base: Path, seconds: float = 2.0) -> Miniature:
    root = base / "study"
    audio = {}
    for i, rel in enumerate(FILES):
        tid = rel.rsplit(".", 1)[0]
        audio[tid] = write_audio(root / rel, seconds, 22050 if rel.endswith((".wav", ".ogg")) else 44100, seed=i)
    labelled = {rel: row for rel, row in FILES.items() if row is not None}
    write_text(root / "labels.csv", ["file,valence,tension,quadrant,mood,artist"] + [
        f"{rel},{num(v)},{num(t)},{q},{mood},{artist}" for rel, (v, t, q, mood, artist) in labelled.items()])
    ids = [rel.rsplit(".", 1)[0] for rel in labelled]
    dyn_rows = [(tid, 0.5 * (k + 1), round(0.1 * k - 0.2 * i, 4)) for i, tid in enumerate(ids) for k in range(4)]
    write_text(root / "dynamic.csv", ["track_id,time_s,valence"] + [f"{t},{s},{num(v)}" for t, s, v in dyn_rows])

    tags = sorted({t for row in labelled.values() for t in row[3].split(";") if t})
    static = pd.DataFrame({"track_id": ids, "valence": [r[0] for r in labelled.values()],
                           "tension": [r[1] for r in labelled.values()],
                           "quadrant": [r[2] for r in labelled.values()]})
    for tag in tags:
        static[tag] = [float(tag in r[3].split(";")) for r in labelled.values()]
    return Miniature(
        root=root, config=CONFIG, track_ids=sorted(audio), audio=audio,
        spec={"task": "regression", "static_targets": ["valence", "tension"], "scale": (-1.0, 1.0),
              "target_scales": {"tension": (1.0, 7.0)}, "class_column": "quadrant", "classes": ["Q1", "Q2", "Q3"],
              "tags": tags, "dynamic_targets": ["valence"], "dynamic_scale": (-1.0, 1.0), "dynamic_hop_s": 0.5},
        static=static, dynamic=pd.DataFrame(dyn_rows, columns=["track_id", "time_s", "valence"]), splits=None,
        durations={},
        notes=["nested folders, four formats, a space in a name", "labels by file", "every label kind in one CSV"])
