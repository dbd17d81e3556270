"""The 4Q audio emotion dataset (Panda, Malheiro & Paiva, IEEE TAFFC 2018).

900 ~30 s AllMusic clips, 225 per Russell quadrant (Q1 = +valence +arousal, Q2 = -V +A,
Q3 = -V -A, Q4 = +V -A), labelled from AllMusic mood tags: a four-class classification task
with no published split (the authors report 20 x 10-fold stratified cross-validation). The
authors ship their top-100 audio features for every clip (``Features/top100_features.csv``),
which the ``provided`` feature set imports, so all 900 clips train even where no audio is on disk.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from moodflow.datasets import DATASETS
from moodflow.datasets._common import (
    audio_files,
    format_ids, build_manifest, dataset_info, drop_duplicates, log, read_split_dir, read_table, require_file,
    scan_audio,
)
from moodflow.datasets.base import AdapterConfig, DatasetAdapter
from moodflow.stores.prepared import LabelSpec, PreparedDataset

BIBTEX = """
@article{panda2018novel,
  title   = {Novel Audio Features for Music Emotion Recognition},
  author  = {Panda, Renato and Malheiro, Ricardo and Paiva, Rui Pedro},
  journal = {IEEE Transactions on Affective Computing},
  volume  = {11},
  number  = {4},
  pages   = {614--626},
  year    = {2020},
  doi     = {10.1109/TAFFC.2018.2820691}
}
"""
LICENSE_INFO = "Research use; the clips are commercial 30 s previews from AllMusic (see mir.dei.uc.pt)."
AUDIO_DIR = "MER_audio_taffc_dataset"
ANNOTATIONS = f"{AUDIO_DIR}/panda_dataset_taffc_annotations.csv"
PROVIDED = "Features/top100_features.csv"
LAYOUT = {
    "audio": f"{AUDIO_DIR}/Q{{1..4}}/<Song>.mp3",
    "labels": f"{ANNOTATIONS}  (Song, Quadrant)",
    "features": f"{PROVIDED}  (SongID + the authors' top-100 features), optional",
}
LABEL_SCALE = {"classes": ["Q1", "Q2", "Q3", "Q4"]}
ANNOTATION_GRID = None  # song-level labels only
CLASSES = ["Q1", "Q2", "Q3", "Q4"]


@dataclass
class FourQConfig(AdapterConfig):
    """``dataset.fourq``."""

    audio_dir: str = ""  # "" = <root>/MER_audio_taffc_dataset


@DATASETS.register
class FourQ(DatasetAdapter):
    """4Q in its authors' layout (``dataset.fourq.audio_dir`` overrides ``<root>/MER_audio_taffc_dataset``)."""

    name = "fourq"
    Config = FourQConfig

    def load(self, work_dir: Path) -> PreparedDataset:
        root = self.require_root()
        audio_dir = Path(self.config.audio_dir or root / AUDIO_DIR)
        path = root / ANNOTATIONS
        if not path.is_file() and (root / "panda_dataset_taffc_annotations.csv").is_file():
            path = root / "panda_dataset_taffc_annotations.csv"
        require_file(path, self.name, "quadrant annotations")
        table = read_table(path, self.name, id_column="Song")
        if "Quadrant" not in table.columns:
            raise ValueError(f"dataset 'fourq': {path} has no column 'Quadrant' (columns: {list(table.columns)})")
        labels = table.rename(columns={"Song": "track_id", "Quadrant": "quadrant"})[["track_id", "quadrant"]]
        labels["quadrant"] = labels["quadrant"].str.upper()
        labels = drop_duplicates(labels, ["track_id"], path, self.name)
        bad = ~labels["quadrant"].isin(CLASSES)
        if bad.any():
            log.warning("fourq: %s: %d row(s) with a quadrant outside %s dropped (ids: %s)",
                        path, int(bad.sum()), CLASSES, format_ids(labels["track_id"][bad]))
            labels = labels[~bad].reset_index(drop=True)

        on_disk = {}
        for q in CLASSES:
            on_disk.update({Path(k).name: v for k, v in scan_audio(audio_dir / q, recursive=False).items()})
        expected = audio_files(audio_dir, {t: f"{q}/{t}.mp3" for t, q in zip(labels["track_id"], labels["quadrant"])},
                               self.name, path)
        labelled = {t: on_disk.get(t, p) for t, p in expected.items()}
        manifest = build_manifest(labelled, on_disk, self.name)
        splits = None
        if self.config.split_dir:
            splits = read_split_dir(self.config.split_dir, manifest["track_id"], self.name)

        spec = LabelSpec(task="classification", class_column="quadrant", classes=list(CLASSES))
        info = dataset_info(sys.modules[__name__], root, audio_dir=str(audio_dir.absolute()),
                            split_source=self.config.split_dir or None)
        provided = root / PROVIDED
        if provided.is_file():
            # the file's last column repeats the label: it must never become a feature
            info["provided_features"] = {"static_csv": str(provided.absolute()), "id_column": "SongID",
                                         "exclude_columns": ["Quadrant"]}
        return PreparedDataset(self.name, manifest, labels, spec, splits=splits, info=info)
