"""A miniature 4Q (Panda et al.'s ``MER_audio_taffc_dataset`` and ``Features``, as published).

Quirks kept: one folder per quadrant (``Q1`` … ``Q4``) holding ``<Song>.mp3`` (32 kHz
stereo), audio for some songs only; the annotations CSV (``Song,Quadrant``, CRLF) inside the
audio folder; the metadata CSV with every field quoted (CRLF); the authors' top-100 features
with a quoted header and quoted ids (LF) whose last column, ``Quadrant``, repeats the label.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.helpers.minis import Miniature, write_audio, write_text

SONGS = {"MT0000004637": "Q3", "MT0000011357": "Q2", "MT0000040632": "Q1", "MT0000218346": "Q4",
         "MT0000088320": "Q3", "MT0000377411": "Q2", "MT0000082187": "Q1", "MT0000203193": "Q4"}
WITH_AUDIO = ["MT0000004637", "MT0000011357", "MT0000040632", "MT0000218346"]
FEATURES = ["F0525", "F1152", "ORIGINAL-TEXTURE-Musical Layers (Mean)", "F1166"]


def write(base: Path, seconds: float = 2.0) -> Miniature:
    root = base / "4Q"
    audio_dir = root / "MER_audio_taffc_dataset"
    write_text(audio_dir / "panda_dataset_taffc_annotations.csv",
               ["Song,Quadrant"] + [f"{s},{q}" for s, q in SONGS.items()], newline="\r\n")
    write_text(audio_dir / "panda_dataset_taffc_metadata.csv",
               ['"Song","Artist","Title","Quadrant","PQuad","MoodsTotal"'] + [
                   f'"{s}","Artist, {i}","Title {i}","{q}",0.666666666666667,3' for i, (s, q) in enumerate(SONGS.items())],
               newline="\r\n")
    write_text(root / "Features/top100_features.csv",
               [",".join(f'"{c}"' for c in ["SongID", *FEATURES, "Quadrant"])] + [
                   f'"{s}",{4.5 + i},9.2878,0.92722,{700750 + i},"{q}"' for i, (s, q) in enumerate(SONGS.items())])
    audio = {s: write_audio(audio_dir / SONGS[s] / f"{s}.mp3", seconds, 32000, channels=2, seed=i)
             for i, s in enumerate(WITH_AUDIO)}
    static = pd.DataFrame({"track_id": list(SONGS), "quadrant": list(SONGS.values())})
    return Miniature(
        root=root, config={}, track_ids=list(SONGS), audio=audio,
        spec={"task": "classification", "class_column": "quadrant", "classes": ["Q1", "Q2", "Q3", "Q4"],
              "static_targets": [], "scale": None},
        static=static, splits=None, durations={},
        provided={"static_csv": "Features/top100_features.csv", "id_column": "SongID",
                  "exclude_columns": ["Quadrant"]},
        notes=["quadrant folders", "CRLF annotations", "quoted feature CSV repeating the label"])
