"""MTG-Jamendo, mood/theme subset (Bogdanov et al., ICML 2019 ML4MD workshop).

18,486 full-length Creative Commons tracks from Jamendo tagged with mood/theme tags (multi-label
tagging). ``data/autotagging_moodtheme.tsv`` lists them: TRACK_ID, ARTIST_ID, ALBUM_ID, PATH,
DURATION, then a variable number of tab-separated tags (``mood/theme---happy``). The published
splits ``data/splits/split-<k>/autotagging_moodtheme-{train,validation,test}.tsv`` (k = 0..4,
artist-disjoint) use 56 tags: three rare tags of the full file (ambiental, horror, mellow) are
left out there, and the 504 tracks that only carry those are in no split. By default the label
columns are those 56 tags (``tags: split``); ``tags: all`` keeps every tag of the full file.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from moodflow.core.config import setting
from moodflow.core.paths import inside_or_none, resolve_inside
from moodflow.datasets import DATASETS
from moodflow.datasets._common import (
    build_manifest, dataset_info, log, read_split_dir, require_file, scan_audio, splits_table,
)
from moodflow.datasets.base import AdapterConfig, DatasetAdapter
from moodflow.stores.prepared import LabelSpec, PreparedDataset

BIBTEX = """
@inproceedings{bogdanov2019mtg,
  title     = {The {MTG-Jamendo} Dataset for Automatic Music Tagging},
  author    = {Bogdanov, Dmitry and Won, Minz and Tovstogan, Philip and Porter, Alastair and Serra, Xavier},
  booktitle = {Machine Learning for Music Discovery Workshop, International Conference on Machine Learning (ICML 2019)},
  year      = {2019}
}
"""
LICENSE_INFO = "Metadata CC BY-NC-SA 4.0; audio under each track's Creative Commons licence (Jamendo)."
TSV = "data/autotagging_moodtheme.tsv"
SPLIT_TSV = "data/splits/split-{k}/autotagging_moodtheme-{split}.tsv"
LAYOUT = {
    "tracks": f"{TSV}  (TRACK_ID, ARTIST_ID, ALBUM_ID, PATH, DURATION, TAGS…; tab-separated)",
    "splits": SPLIT_TSV.format(k="<k>", split="{train,validation,test}"),
    "audio": "<audio_dir>/<PATH> (e.g. audio/48/948.mp3; the low-quality download's 48/948.low.mp3 is found too)",
}
LABEL_SCALE = {"tags": "0/1 per mood/theme tag"}
ANNOTATION_GRID = None  # track-level tags only
TAG_PREFIX = "mood/theme---"
SHA256_LISTS = "autotagging_moodtheme_audio*_sha256_tracks.txt"  # MTG's checksums, in data/download/


def read_tsv(path: Path) -> pd.DataFrame:
    """Read an MTG-Jamendo TSV (CRLF or LF, variable number of tag fields) into one row per track.

    Columns: track_id, artist_id, album_id, path, duration_s, tags (a list of full tag names).
    """
    rows = []
    with open(path, encoding="utf-8", newline="") as fh:
        header = fh.readline().rstrip("\r\n").split("\t")
        if header[:5] != ["TRACK_ID", "ARTIST_ID", "ALBUM_ID", "PATH", "DURATION"]:
            raise ValueError(f"dataset 'jamendo': {path}: unexpected header {header[:6]}")
        for lineno, line in enumerate(fh, start=2):
            fields = line.rstrip("\r\n").split("\t")
            if fields == [""]:
                continue
            if len(fields) < 5:
                raise ValueError(f"dataset 'jamendo': {path} line {lineno}: {len(fields)} fields, expected at least 5")
            tags = [t.strip() for t in fields[5:] if t.strip()]
            rows.append((fields[0], fields[1], fields[2], fields[3], float(fields[4] or "nan"), tags))
    return pd.DataFrame(rows, columns=["track_id", "artist_id", "album_id", "path", "duration_s", "tags"])


def short_tag(tag: str) -> str:
    """``mood/theme---happy`` → ``happy``."""
    return tag[len(TAG_PREFIX):] if tag.startswith(TAG_PREFIX) else tag


@dataclass
class JamendoConfig(AdapterConfig):
    """``dataset.jamendo``."""

    split: int = setting(0, min=0, max=4)  # which of MTG's five published splits
    tags: str = setting("split", choices=("split", "all"))  # the 56 tags of the splits, or every tag
    audio_dir: str = ""  # "" = <root>/audio
    # tags: valence/arousal targets (1-9) derived from each track's tags, the mean of a tag table's
    # scores (Music2Emo's); marked derived in the prepared dataset, trained on, never scored
    derive_va: str = setting("none", choices=("none", "tags"))
    va_table: str = ""  # CSV MoodTag,Valence,Arousal (1-9) for derive_va; "" = Music2Emo's table shipped with moodflow


@DATASETS.register
class Jamendo(DatasetAdapter):
    """MTG-Jamendo mood/theme. Config: ``split`` (0-4, default 0), ``tags`` (split | all),
    ``audio_dir`` (default ``<root>/audio``), ``derive_va`` (none | tags: valence/arousal from the
    tags, :mod:`moodflow.datasets.derive`) and ``va_table``. ``dataset.root`` is the repository checkout
    (the folder holding ``data/``) or its ``data`` folder itself.
    """

    name = "jamendo"
    Config = JamendoConfig

    def load(self, work_dir: Path) -> PreparedDataset:
        root = self.require_root()
        base = root if (root / TSV).is_file() or not (root / "autotagging_moodtheme.tsv").is_file() else root.parent
        tsv_path = require_file(base / TSV, self.name, "track list")
        tracks = read_tsv(tsv_path)
        dup = tracks["track_id"].duplicated(keep=False)
        if dup.any():
            log.warning("jamendo: %s: %d duplicated TRACK_ID row(s) dropped: %s", tsv_path, int(dup.sum()),
                        sorted(set(tracks["track_id"][dup]))[:10])
            tracks = tracks[~dup].reset_index(drop=True)

        k = self.config.split
        split_rows, split_tags = self._native_split(base, k, set(tracks["track_id"]))
        mode = self.config.tags
        all_tags = sorted({t for tags in tracks["tags"] for t in tags})
        vocab = sorted(split_tags) if mode == "split" and split_tags else all_tags
        if mode == "split" and split_tags:
            left = sorted(set(all_tags) - set(split_tags))
            if left:
                log.info("jamendo: tags of %s not used by the published splits, left out: %s", tsv_path.name,
                         [short_tag(t) for t in left])

        index = {t: i for i, t in enumerate(vocab)}
        matrix = np.zeros((len(tracks), len(vocab)), dtype=np.int8)
        for r, tags in enumerate(tracks["tags"]):
            for t in tags:
                if t in index:
                    matrix[r, index[t]] = 1
        has_tag = matrix.any(axis=1)
        if (~has_tag).any():
            log.info("jamendo: %d track(s) carry none of the %d tags: in the manifest, without labels",
                     int((~has_tag).sum()), len(vocab))
        names = [short_tag(t) for t in vocab]
        labels = pd.DataFrame(matrix[has_tag], columns=names)
        labels.insert(0, "track_id", tracks["track_id"][has_tag].to_numpy())

        audio_dir = Path(self.config.audio_dir or base / "audio")
        # every track of the TSV is listed (those without a used tag too, for extraction)
        listed = {t: self._audio_path(audio_dir, p, tsv_path) for t, p in zip(tracks["track_id"], tracks["path"])}
        on_disk = self._not_listed_on_disk(audio_dir, tracks)
        durations = dict(zip(tracks["track_id"], tracks["duration_s"]))
        manifest = build_manifest(listed, on_disk, self.name, durations)

        if self.config.split_dir:
            splits = read_split_dir(self.config.split_dir, manifest["track_id"], self.name)
            split_source = str(self.config.split_dir)
        elif split_rows:
            splits = splits_table(split_rows, self.name, str(base / SPLIT_TSV.format(k=k, split="*")))
            split_source = SPLIT_TSV.format(k=k, split="{train,validation,test}")
        else:
            splits, split_source = None, None

        spec = LabelSpec(task="tagging", tags=names)
        info = dataset_info(sys.modules[__name__], base, audio_dir=str(audio_dir.absolute()), split_source=split_source,
                            tag_prefix=TAG_PREFIX, tag_mode=mode)
        prepared = PreparedDataset(self.name, manifest, labels, spec, splits=splits, info=info)
        if self.config.derive_va == "tags":
            from moodflow.datasets.derive import derive_va_from_tags

            prepared = derive_va_from_tags(prepared, self.config.va_table or None)
        return prepared

    def verification_index(self) -> tuple[Path, pd.DataFrame] | None:
        """The mood/theme audio to have under ``audio_dir``: MTG's own
        ``data/download/autotagging_moodtheme_audio*_sha256_tracks.txt`` when present (the
        full-quality or the ``-low`` list, whichever matches more files on disk), else the
        PATH column of the track list (presence only). ``dataset.jamendo.index`` overrides both."""
        if self.root is None or getattr(self.config, "index", ""):
            return super().verification_index()
        from moodflow.datasets.verify import INDEX_COLUMNS, read_sha256_list

        root = self.require_root()
        base = root if (root / TSV).is_file() or not (root / "autotagging_moodtheme.tsv").is_file() else root.parent
        audio_dir = Path(self.config.audio_dir or base / "audio")
        lists = sorted((base / "data" / "download").glob(SHA256_LISTS))
        if lists:
            def present(index: pd.DataFrame) -> tuple[int, bool]:
                found = (inside_or_none(audio_dir, p) for p in index["path"])  # only inside audio_dir
                return sum(bool(f and f.is_file()) for f in found), "-low" not in index.attrs["name"]

            indexes = []
            for path in lists:
                index = read_sha256_list(path)
                index.attrs["name"] = path.name
                indexes.append(index)
            best = max(indexes, key=present)
            log.info("jamendo: checking %s against %s", audio_dir, best.attrs["name"])
            return audio_dir, best
        tsv = require_file(base / TSV, self.name, "track list")
        paths = [str(self._audio_path(audio_dir, p, tsv).relative_to(audio_dir).as_posix()) for p in read_tsv(tsv)["path"]]
        index = pd.DataFrame({c: paths if c == "path" else "" for c in INDEX_COLUMNS})
        return audio_dir, index

    def _native_split(self, base: Path, k: int, known: set[str]) -> tuple[list[tuple[str, str]], set[str]]:
        rows: list[tuple[str, str]] = []
        tags: set[str] = set()
        for split in ("train", "validation", "test"):
            path = base / SPLIT_TSV.format(k=k, split=split)
            if not path.is_file():
                if rows or split != "train":
                    raise FileNotFoundError(f"dataset 'jamendo': split file {path} not found")
                return [], set()
            table = read_tsv(path)
            unknown = sorted(set(table["track_id"]) - known)
            if unknown:
                log.warning("jamendo: %s: %d track(s) not in %s, left out: %s", path, len(unknown), TSV, unknown[:10])
            rows += [(t, split) for t in table["track_id"] if t in known]
            tags.update(t for ts in table["tags"] for t in ts)
        return rows, tags

    @staticmethod
    def _audio_path(audio_dir: Path, rel: str, source: Path) -> Path:
        path = resolve_inside(audio_dir, rel, source=source, what="PATH")
        low = path.with_suffix(".low" + path.suffix)
        return low if not path.exists() and low.exists() else path

    def _not_listed_on_disk(self, audio_dir: Path, tracks: pd.DataFrame) -> dict[str, Path]:
        """Audio files under ``audio_dir`` that the TSV does not list (extraction only)."""
        if not audio_dir.is_dir():
            return {}
        listed = {Path(p).with_suffix("").as_posix() for p in tracks["path"]}
        return {rel: path for rel, path in scan_audio(audio_dir).items() if rel.removesuffix(".low") not in listed}
