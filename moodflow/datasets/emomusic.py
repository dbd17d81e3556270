"""emoMusic, the "1000 Songs for Emotional Analysis of Music" (Soleymani et al., CrowdMM 2013).

744 45-second clips (ids 2-1000) from the Free Music Archive, annotated on Amazon Mechanical
Turk: static valence/arousal per clip on a 1-9 scale, dynamic valence/arousal at 2 Hz from
15 s to 45 s on a -1..1 scale (wide CSVs, one ``sample_<ms>ms`` column per time). The MediaEval
2013 task split the clips into a development set (619) and an evaluation set (125), recorded in
``songs_info.csv``; that is the native split (development = train, evaluation = test).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from moodflow.datasets import DATASETS
from moodflow.datasets._common import (
    audio_files,
    mediaeval_spec,
    build_manifest, check_range, dataset_info, drop_duplicates, log, merge_dynamic, normalise_id,
    read_split_dir, read_table, read_wide_dynamic, require_file, scan_audio, splits_table, to_float,
)
from moodflow.datasets.base import AdapterConfig, DatasetAdapter
from moodflow.stores.prepared import PreparedDataset

BIBTEX = """
@inproceedings{soleymani2013emomusic,
  title     = {1000 Songs for Emotional Analysis of Music},
  author    = {Soleymani, Mohammad and Caro, Micheal N. and Schmidt, Erik M. and Sha, Cheng-Ya and Yang, Yi-Hsuan},
  booktitle = {Proceedings of the 2nd ACM International Workshop on Crowdsourcing for Multimedia (CrowdMM)},
  pages     = {1--6},
  year      = {2013},
  doi       = {10.1145/2506364.2506365}
}
"""
LICENSE_INFO = "Clips from the Free Music Archive under Creative Commons licences (see each file's ID3 tags); annotations for research use."
STATIC_FILE = "annotations/static_annotations.csv"
DYNAMIC_FILES = {"valence": "annotations/valence_cont_average.csv", "arousal": "annotations/arousal_cont_average.csv"}
INFO_FILE = "annotations/songs_info.csv"
LAYOUT = {
    "audio": "clips_45seconds/<song_id>.mp3",
    "static": f"{STATIC_FILE}  (song_id, mean_arousal, std_arousal, mean_valence, std_valence)",
    "dynamic": " + ".join(DYNAMIC_FILES.values()) + "  (song_id, sample_15000ms … sample_45000ms), optional",
    "splits": f"{INFO_FILE}  (song_id, file_name, …, Mediaeval 2013 set), optional",
}
LABEL_SCALE = {"static": [1.0, 9.0], "dynamic": [-1.0, 1.0]}
ANNOTATION_GRID = {"hop_s": 0.5, "first_label_s": 15.0, "last_label_s": 45.0}
NATIVE_SPLIT = {"development": "train", "evaluation": "test"}
_SET_COLUMN = "Mediaeval 2013 set"


@dataclass
class EmoMusicConfig(AdapterConfig):
    """``dataset.emomusic``."""

    audio_dir: str = ""  # "" = <root>/clips_45seconds


@DATASETS.register
class EmoMusic(DatasetAdapter):
    """emoMusic in its authors' layout; ``dataset.emomusic.audio_dir`` overrides ``<root>/clips_45seconds``."""

    name = "emomusic"
    Config = EmoMusicConfig

    def load(self, work_dir: Path) -> PreparedDataset:
        root = self.require_root()
        audio_dir = Path(self.config.audio_dir or root / "clips_45seconds")
        static_path = require_file(root / STATIC_FILE, self.name, "static annotations")
        static = read_table(static_path, self.name, id_column="song_id")
        static = to_float(static, ["mean_valence", "mean_arousal"], static_path, self.name)
        static = static.rename(columns={"song_id": "track_id", "mean_valence": "valence", "mean_arousal": "arousal"})
        static = static[["track_id", "valence", "arousal"]]
        static["track_id"] = static["track_id"].map(normalise_id)
        static = drop_duplicates(static, ["track_id"], static_path, self.name)
        static = check_range(static, ["valence", "arousal"], (1.0, 9.0), static_path, self.name)

        dynamic = None
        dyn_paths = {k: root / v for k, v in DYNAMIC_FILES.items()}
        if all(p.is_file() for p in dyn_paths.values()):
            parts = []
            for target, path in dyn_paths.items():
                part = drop_duplicates(read_wide_dynamic(path, self.name, target), ["track_id", "time_s"], path, self.name)
                parts.append(check_range(part, [target], (-1.0, 1.0), path, self.name))
            dynamic = merge_dynamic(parts, ["valence", "arousal"], self.name, " + ".join(DYNAMIC_FILES.values()))
        elif any(p.is_file() for p in dyn_paths.values()):
            missing = [str(p) for p in dyn_paths.values() if not p.is_file()]
            raise FileNotFoundError(f"dataset 'emomusic': dynamic annotations incomplete, missing {missing}")

        file_names, native = self._songs_info(root)
        labelled_ids = set(static["track_id"]) | (set(dynamic["track_id"]) if dynamic is not None else set())
        labelled = audio_files(audio_dir, {t: file_names.get(t, f"{t}.mp3") for t in labelled_ids}, self.name,
                               f"{static_path} / {root / INFO_FILE}")
        manifest = build_manifest(labelled, scan_audio(audio_dir, recursive=False), self.name)

        split_source = None
        splits = None
        if self.config.split_dir:
            splits = read_split_dir(self.config.split_dir, manifest["track_id"], self.name)
            split_source = str(self.config.split_dir)
        elif native:
            known = set(manifest["track_id"])
            rows = [(t, s) for t, s in native if t in known]
            splits = splits_table(rows, self.name, str(root / INFO_FILE))
            split_source = f"{INFO_FILE} ({_SET_COLUMN}: development=train, evaluation=test)"

        spec = mediaeval_spec(has_dynamic=dynamic is not None)
        info = dataset_info(sys.modules[__name__], root, audio_dir=str(audio_dir.absolute()), split_source=split_source)
        return PreparedDataset(self.name, manifest, static, spec, dynamic_labels=dynamic, splits=splits, info=info)

    def _songs_info(self, root: Path) -> tuple[dict[str, str], list[tuple[str, str]]]:
        """File names and the MediaEval 2013 (id, split) pairs from songs_info.csv, when present."""
        path = root / INFO_FILE
        if not path.is_file():
            return {}, []
        table = read_table(path, self.name, id_column="song_id")
        table["song_id"] = table["song_id"].map(normalise_id)
        names = dict(zip(table["song_id"], table["file_name"])) if "file_name" in table.columns else {}
        if _SET_COLUMN not in table.columns:
            return names, []
        sets = table[_SET_COLUMN].str.lower()
        unknown = sorted(set(sets) - set(NATIVE_SPLIT))
        if unknown:
            log.warning("emomusic: %s: unknown %r values %s; those songs get no split", path, _SET_COLUMN, unknown)
        pairs = [(t, NATIVE_SPLIT[s]) for t, s in zip(table["song_id"], sets) if s in NATIVE_SPLIT]
        return names, pairs
