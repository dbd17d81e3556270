"""PMEmo (Zhang et al., ICMR 2018): 794 pop-song choruses with valence/arousal annotations.

Static labels are per-song means of the annotators' ratings and dynamic labels are their means
at 2 Hz, both on a 0-1 scale; the first dynamic label is at 15.5 s of the chorus clip. The
dataset ships openSMILE ComParE features (static 6373-d functionals, dynamic 260-d per 0.5 s)
that the ``provided`` feature set imports.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from moodflow.datasets import DATASETS
from moodflow.datasets._common import (
    audio_files,
    build_manifest, check_range, dataset_info, drop_duplicates, normalise_id, read_split_dir,
    read_table, require_file, scan_audio, sort_dynamic, to_float,
)
from moodflow.datasets.base import AdapterConfig, DatasetAdapter
from moodflow.stores.prepared import LabelSpec, PreparedDataset

BIBTEX = """
@inproceedings{zhang2018pmemo,
  title     = {The {PMEmo} Dataset for Music Emotion Recognition},
  author    = {Zhang, Kejun and Zhang, Hui and Li, Simeng and Yang, Changyuan and Sun, Lingyun},
  booktitle = {Proceedings of the 2018 ACM International Conference on Multimedia Retrieval (ICMR)},
  pages     = {135--142},
  year      = {2018},
  doi       = {10.1145/3206025.3206037}
}
"""
LICENSE_INFO = "Research use; the chorus clips are commercial recordings (see the PMEmo download page)."
LAYOUT = {
    "audio": "chorus/<musicId>.mp3",
    "static": "annotations/static_annotations.csv  (musicId, Arousal(mean), Valence(mean))",
    "dynamic": "annotations/dynamic_annotations.csv  (musicId, frameTime, Arousal(mean), Valence(mean))",
    "metadata": "metadata.csv  (musicId, fileName, …, duration, chorus_start_time, chorus_end_time)",
    "provided_static": "features/static_features.csv  (musicId + 6373 ComParE functionals), optional",
    "provided_dynamic": "features/dynamic_features.csv  (musicId, frameTime + 260 features), optional",
}
LABEL_SCALE = {"static": [0.0, 1.0], "dynamic": [0.0, 1.0]}
ANNOTATION_GRID = {"hop_s": 0.5, "first_label_s": 15.5, "window_s": 1.0}
# PMEmo's published ComParE features: openSMILE on the 44.1 kHz stereo chorus clips, mixed down.
NATIVE_AUDIO = {"sample_rate": 44100, "channels": "stereo mixdown",
                "why": "PMEmo's published ComParE features were computed at 44.1 kHz on a stereo mixdown"}

_STATIC_COLS = {"Valence(mean)": "valence", "Arousal(mean)": "arousal"}


@dataclass
class PMEmoConfig(AdapterConfig):
    """``dataset.pmemo``."""

    audio_dir: str = ""  # "" = <root>/chorus


@DATASETS.register
class PMEmo(DatasetAdapter):
    """PMEmo in its authors' layout; ``dataset.pmemo.audio_dir`` overrides ``<root>/chorus``."""

    name = "pmemo"
    Config = PMEmoConfig

    def load(self, work_dir: Path) -> PreparedDataset:
        root = self.require_root()
        audio_dir = Path(self.config.audio_dir or root / "chorus")
        static_path = require_file(root / "annotations" / "static_annotations.csv", self.name, "static annotations")
        static = read_table(static_path, self.name, id_column="musicId")
        static = to_float(static, list(_STATIC_COLS), static_path, self.name)
        static = static.rename(columns={"musicId": "track_id", **_STATIC_COLS})[["track_id", "valence", "arousal"]]
        static["track_id"] = static["track_id"].map(normalise_id)
        static = drop_duplicates(static, ["track_id"], static_path, self.name)
        static = check_range(static, ["valence", "arousal"], (0.0, 1.0), static_path, self.name)

        dynamic = None
        dyn_path = root / "annotations" / "dynamic_annotations.csv"
        if dyn_path.is_file():
            dyn = read_table(dyn_path, self.name, id_column="musicId")
            dyn = to_float(dyn, ["frameTime", *_STATIC_COLS], dyn_path, self.name)
            dyn = dyn.rename(columns={"musicId": "track_id", "frameTime": "time_s", **_STATIC_COLS})
            dyn = dyn[["track_id", "time_s", "valence", "arousal"]]
            dyn["track_id"] = dyn["track_id"].map(normalise_id)
            dyn = drop_duplicates(dyn, ["track_id", "time_s"], dyn_path, self.name)
            dyn = check_range(dyn, ["time_s"], None, dyn_path, self.name)
            dynamic = sort_dynamic(check_range(dyn, ["valence", "arousal"], (0.0, 1.0), dyn_path, self.name))

        durations: dict[str, float] = {}
        file_names: dict[str, str] = {}
        meta_path = root / "metadata.csv"
        if meta_path.is_file():
            meta = read_table(meta_path, self.name, id_column="musicId")
            meta["musicId"] = meta["musicId"].map(normalise_id)
            if "duration" in meta.columns:
                dur = to_float(meta[["musicId", "duration"]], ["duration"], meta_path, self.name)
                durations = dict(zip(dur["musicId"], dur["duration"]))
            if "fileName" in meta.columns:
                file_names = dict(zip(meta["musicId"], meta["fileName"]))

        labelled_ids = set(static["track_id"]) | (set(dynamic["track_id"]) if dynamic is not None else set())
        labelled = audio_files(audio_dir, {t: file_names.get(t, f"{t}.mp3") for t in labelled_ids}, self.name,
                               f"{static_path} / {meta_path}")
        manifest = build_manifest(labelled, scan_audio(audio_dir, recursive=False), self.name, durations)

        splits = None
        if self.config.split_dir:
            splits = read_split_dir(self.config.split_dir, manifest["track_id"], self.name)

        provided = {}
        feat_static = root / "features" / "static_features.csv"
        feat_dynamic = root / "features" / "dynamic_features.csv"
        if feat_static.is_file():
            provided["static_csv"] = str(feat_static.absolute())
        if feat_dynamic.is_file():
            provided["dynamic_csv"] = str(feat_dynamic.absolute())
            provided["time_column"] = "frameTime"
        if provided:
            provided["id_column"] = "musicId"

        spec = LabelSpec(
            task="regression", static_targets=["valence", "arousal"],
            dynamic_targets=["valence", "arousal"] if dynamic is not None else [],
            scale=(0.0, 1.0), scale_name="0-1", dynamic_hop_s=0.5 if dynamic is not None else None,
            dynamic_scale=(0.0, 1.0) if dynamic is not None else None,
            dynamic_scale_name="0-1" if dynamic is not None else "",
        )
        info = dataset_info(sys.modules[__name__], root, audio_dir=str(audio_dir.absolute()),
                            split_source=self.config.split_dir or None)
        if provided:
            info["provided_features"] = provided
        return PreparedDataset(self.name, manifest, static, spec,
                               dynamic_labels=dynamic, splits=splits, info=info)
