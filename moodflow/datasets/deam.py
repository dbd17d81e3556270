"""DEAM, the MediaEval Database for Emotional Analysis in Music (Aljanaki et al., PLOS ONE 2017).

1802 songs from the MediaEval 2013-2015 Emotion in Music tasks: 45 s clips (ids 2-2000) and
full songs (ids 2001-2058). Static labels are per-song means on a 1-9 scale; dynamic labels are
per-song means at 2 Hz from 15 s on a -1..1 scale, in wide CSVs (one row per song, one
``sample_<ms>ms`` column per time) whose rows end where the song ends. The song-level CSV
headers have a space after every comma (``song_id, valence_mean``); the adapter strips it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from moodflow.datasets import DATASETS
from moodflow.datasets._common import (
    audio_files,
    mediaeval_spec,
    build_manifest, check_range, dataset_info, drop_duplicates, merge_dynamic, normalise_id,
    read_split_dir, read_table, read_wide_dynamic, require_file, scan_audio, to_float,
)
from moodflow.datasets.base import AdapterConfig, DatasetAdapter
from moodflow.stores.prepared import PreparedDataset

BIBTEX = """
@article{aljanaki2017deam,
  title   = {Developing a benchmark for emotional analysis of music},
  author  = {Aljanaki, Anna and Yang, Yi-Hsuan and Soleymani, Mohammad},
  journal = {PLOS ONE},
  volume  = {12},
  number  = {3},
  pages   = {e0173392},
  year    = {2017},
  doi     = {10.1371/journal.pone.0173392}
}
"""
LICENSE_INFO = "Annotations CC BY-NC-SA 4.0; audio from freemusicarchive.org, jamendo.com and medleyDB under their own licences."
_ANN = "DEAM_Annotations/annotations/annotations averaged per song"
STATIC_FILES = (
    f"{_ANN}/song_level/static_annotations_averaged_songs_1_2000.csv",
    f"{_ANN}/song_level/static_annotations_averaged_songs_2000_2058.csv",
)
DYNAMIC_FILES = {
    "valence": f"{_ANN}/dynamic (per second annotations)/valence.csv",
    "arousal": f"{_ANN}/dynamic (per second annotations)/arousal.csv",
}
LAYOUT = {
    "audio": "DEAM_audio/MEMD_audio/<song_id>.mp3",
    "static": " + ".join(STATIC_FILES) + "  (song_id, valence_mean, valence_std, arousal_mean, …)",
    "dynamic": " + ".join(DYNAMIC_FILES.values()) + "  (song_id, sample_15000ms, sample_15500ms, …), optional",
}
LABEL_SCALE = {"static": [1.0, 9.0], "dynamic": [-1.0, 1.0]}
ANNOTATION_GRID = {"hop_s": 0.5, "first_label_s": 15.0}
INDEX = "deam.csv"  # the annotation files (md5 of the published CSVs); the audio is not indexed here


@dataclass
class DEAMConfig(AdapterConfig):
    """``dataset.deam``."""

    audio_dir: str = ""  # "" = <root>/DEAM_audio/MEMD_audio


@DATASETS.register
class DEAM(DatasetAdapter):
    """DEAM in its authors' layout.

    ``dataset.deam.audio_dir`` overrides ``<root>/DEAM_audio/MEMD_audio`` (ids 2-1000 are the
    emoMusic clips, so ``emoMusic/clips_45seconds`` serves for those).
    """

    name = "deam"
    Config = DEAMConfig

    def load(self, work_dir: Path) -> PreparedDataset:
        root = self.require_root()
        audio_dir = Path(self.config.audio_dir or root / "DEAM_audio" / "MEMD_audio")
        frames = []
        for rel in STATIC_FILES:
            path = root / rel
            if not path.is_file():
                if rel == STATIC_FILES[0]:
                    require_file(path, self.name, "static annotations (songs 1-2000)")
                continue
            table = read_table(path, self.name, id_column="song_id")
            table = to_float(table, ["valence_mean", "arousal_mean"], path, self.name)
            table = table.rename(columns={"song_id": "track_id", "valence_mean": "valence", "arousal_mean": "arousal"})
            table["track_id"] = table["track_id"].map(normalise_id)
            table = table[["track_id", "valence", "arousal"]]
            table = drop_duplicates(table, ["track_id"], path, self.name)
            frames.append(check_range(table, ["valence", "arousal"], (1.0, 9.0), path, self.name))
        static = pd.concat(frames, ignore_index=True)
        static = drop_duplicates(static, ["track_id"], root / STATIC_FILES[0], self.name)

        dynamic = None
        dyn_paths = {k: root / v for k, v in DYNAMIC_FILES.items()}
        present = [p.is_file() for p in dyn_paths.values()]
        if any(present) and not all(present):
            missing = [str(p) for p in dyn_paths.values() if not p.is_file()]
            raise FileNotFoundError(f"dataset 'deam': dynamic annotations incomplete, missing {missing}")
        if all(present):
            parts = []
            for target, path in dyn_paths.items():
                part = read_wide_dynamic(path, self.name, target)
                part = drop_duplicates(part, ["track_id", "time_s"], path, self.name)
                parts.append(check_range(part, [target], (-1.0, 1.0), path, self.name))
            dynamic = merge_dynamic(parts, ["valence", "arousal"], self.name, " + ".join(DYNAMIC_FILES.values()))

        labelled_ids = set(static["track_id"]) | (set(dynamic["track_id"]) if dynamic is not None else set())
        labelled = audio_files(audio_dir, {t: f"{t}.mp3" for t in labelled_ids}, self.name, "the annotation files")
        manifest = build_manifest(labelled, scan_audio(audio_dir, recursive=False), self.name)
        splits = None
        if self.config.split_dir:
            splits = read_split_dir(self.config.split_dir, manifest["track_id"], self.name)

        spec = mediaeval_spec(has_dynamic=dynamic is not None)
        info = dataset_info(sys.modules[__name__], root, audio_dir=str(audio_dir.absolute()),
                            split_source=self.config.split_dir or None)
        return PreparedDataset(self.name, manifest, static, spec, dynamic_labels=dynamic, splits=splits, info=info)
