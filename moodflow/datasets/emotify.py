"""Emotify (Aljanaki, Wiering & Veltkamp 2016): emotion induced by music, from a crowdsourcing game.

400 one-minute excerpts, 100 each of classical, rock, electronic and pop, in
``emotifymusic/<genre>/<n>.mp3`` (n = 1…100 within each genre). ``data.csv`` holds one row per
listener rating with the header (a space after every comma)::

    track id, genre, amazement, solemnity, tenderness, nostalgia, calmness, power,
    joyful_activation, tension, sadness, mood, liked, disliked, age, gender, mother tongue

Track ids 1–400 run classical 1–100, rock 101–200, electronic 201–300, pop 301–400; each of the
nine GEMS columns is 1 when the listener chose that emotion. Labels per track: the share of its
listeners who chose each GEMS emotion (nine regression targets on 0–1) and the dominant one
(classification, column ``dominant``; a tie goes to the first in GEMS order). The genre is kept
in the manifest as metadata, so ``train.protocol.group: genre`` holds each genre out in turn.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from moodflow.datasets import DATASETS
from moodflow.datasets._common import (
    build_manifest, dataset_info, format_ids, log, read_split_dir, read_table, require_file, resolve, scan_audio,
    to_float,
)
from moodflow.datasets.base import AdapterConfig, DatasetAdapter
from moodflow.stores.prepared import LabelSpec, PreparedDataset

BIBTEX = """
@article{aljanaki2016emotify,
  title   = {Studying emotion induced by music through a crowdsourcing game},
  author  = {Aljanaki, Anna and Wiering, Frans and Veltkamp, Remco C.},
  journal = {Information Processing \\& Management},
  volume  = {52},
  number  = {1},
  pages   = {115--128},
  year    = {2016},
  doi     = {10.1016/j.ipm.2015.03.004}
}
"""
LICENSE_INFO = "Annotations for research use (the authors' terms); audio from Magnatune under its own licence."
GEMS = ["amazement", "solemnity", "tenderness", "nostalgia", "calmness", "power", "joyful_activation", "tension",
        "sadness"]
GENRES = ["classical", "rock", "electronic", "pop"]  # track ids 1-100, 101-200, 201-300, 301-400
PER_GENRE = 100
CLASS_COLUMN = "dominant"
LAYOUT = {
    "audio": "emotifymusic/<genre>/<n>.mp3  (genre: classical | rock | electronic | pop; n = 1…100)",
    "ratings": "data.csv  (track id, genre, amazement, …, sadness, mood, liked, disliked, age, gender, "
               "mother tongue; one row per rating)",
}
LABEL_SCALE = {"static": [0.0, 1.0], "meaning": "share of listeners who chose each GEMS emotion"}
ANNOTATION_GRID = None


def genre_and_number(track_id: int) -> tuple[str, int]:
    """Global track id (1–400) → (genre, number within the genre folder)."""
    if not 1 <= track_id <= PER_GENRE * len(GENRES):
        raise ValueError(f"track id {track_id} outside 1-{PER_GENRE * len(GENRES)}")
    return GENRES[(track_id - 1) // PER_GENRE], (track_id - 1) % PER_GENRE + 1


@dataclass
class EmotifyConfig(AdapterConfig):
    """``dataset.emotify``."""

    ratings: str = ""  # "" = <root>/data.csv
    audio_dir: str = ""  # "" = <root>/emotifymusic


@DATASETS.register
class Emotify(DatasetAdapter):
    """Emotify in its authors' layout (see the module docstring)."""

    name = "emotify"
    Config = EmotifyConfig

    def load(self, work_dir: Path) -> PreparedDataset:
        root = self.require_root()
        path = require_file(resolve(self.config.ratings, root) if self.config.ratings else root / "data.csv",
                            self.name, "ratings (data.csv)")
        audio_dir = Path(self.config.audio_dir) if self.config.audio_dir else root / "emotifymusic"
        ratings = self._ratings(path)
        shares = ratings.groupby("track_id", sort=True)[GEMS].mean()
        counts = ratings.groupby("track_id", sort=True).size()
        dominant = [GEMS[int(np.argmax(row))] for row in shares.to_numpy()]
        static = pd.DataFrame({"track_id": [str(t) for t in shares.index]})
        for g in GEMS:
            static[g] = shares[g].to_numpy(float)
        static[CLASS_COLUMN] = dominant

        labelled = {}
        for tid in static["track_id"]:
            genre, number = genre_and_number(int(tid))
            labelled[tid] = audio_dir / genre / f"{number}.mp3"
        on_disk = {}
        for genre in GENRES:  # files are named 1..100 per genre: map them back to the global ids
            for rel, p in scan_audio(audio_dir / genre, recursive=False).items():
                if rel.isdigit() and 1 <= int(rel) <= PER_GENRE:
                    on_disk[str(GENRES.index(genre) * PER_GENRE + int(rel))] = p
        manifest = build_manifest(labelled, on_disk, self.name)
        manifest["genre"] = [genre_and_number(int(t))[0] for t in manifest["track_id"]]
        manifest["n_ratings"] = [int(counts.get(int(t), 0)) for t in manifest["track_id"]]
        spec = LabelSpec(task="regression", static_targets=list(GEMS), scale=(0.0, 1.0), scale_name="0-1",
                         class_column=CLASS_COLUMN, classes=sorted(set(dominant)))
        splits = read_split_dir(self.config.split_dir, manifest["track_id"], self.name) if self.config.split_dir else None
        info = dataset_info(sys.modules[__name__], root, audio_dir=str(audio_dir.absolute()),
                            n_ratings=int(len(ratings)), split_source=self.config.split_dir or None)
        return PreparedDataset(self.name, manifest, static, spec, splits=splits, info=info)

    def _ratings(self, path: Path) -> pd.DataFrame:
        """One row per rating: integer track_id and the nine 0/1 GEMS columns (others dropped);
        rows with an unknown track id, a genre that contradicts the id, or non-0/1 values are
        dropped with one warning each."""
        table = read_table(path, self.name, id_column="track id")
        missing = [c for c in ["genre", *GEMS] if c not in table.columns]
        if missing:
            raise ValueError(f"dataset 'emotify': {path} lacks column(s) {missing} (columns: {list(table.columns)})")
        table = to_float(table, ["track id", *GEMS], path, self.name)
        ids = table["track id"].to_numpy(float)
        valid = np.isfinite(ids) & (ids == np.round(ids)) & (ids >= 1) & (ids <= PER_GENRE * len(GENRES))
        if not valid.all():
            log.warning("emotify: %s: %d rating(s) with a track id outside 1-400 dropped (ids: %s)", path,
                        int((~valid).sum()), format_ids(table["track id"][~valid].astype(str)))
        table = table[valid].copy()
        table["track_id"] = table["track id"].astype(int)
        expected = [genre_and_number(t)[0] for t in table["track_id"]]
        wrong = table["genre"].str.lower().to_numpy() != np.asarray(expected, dtype=object)
        if wrong.any():
            log.warning("emotify: %s: %d rating(s) whose genre contradicts the track id range dropped (ids: %s)",
                        path, int(wrong.sum()), format_ids(table["track_id"][wrong].astype(str)))
            table = table[~wrong]
        values = table[GEMS].to_numpy(float)
        bad = ~np.isin(values, (0.0, 1.0)).all(axis=1)
        if bad.any():
            log.warning("emotify: %s: %d rating(s) with GEMS values other than 0/1 dropped (ids: %s)", path,
                        int(bad.sum()), format_ids(table["track_id"][bad].astype(str)))
            table = table[~bad]
        return table[["track_id", *GEMS]].reset_index(drop=True)
