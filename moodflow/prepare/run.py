"""The prepare stage: a dataset adapter → the prepared folder (manifest, labels, splits).

Besides the tables it writes, into the same folder:

- ``missing_audio.csv``: the labelled tracks without an audio file (track_id, audio_path);
- ``verify.csv`` (when the dataset has an index, :mod:`moodflow.datasets.verify`): the files
  missing, corrupt (size differs; no file is read here) or extra, and ``to_fetch.txt``, the
  relative paths still to download.

The log gets one line for the audio (counts and the share of labels covered) and one for the
index, never one line per file.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

from moodflow.core.atomic import atomic_path
from moodflow.datasets import DATASETS
from moodflow.prepare.settings import dataset_settings
from moodflow.prepare.union import union_prepared
from moodflow.stores.prepared import PreparedDataset

log = logging.getLogger(__name__)
LOW_COVERAGE = 0.5  # below this share of labelled tracks with audio the summary shouts


def prepare_dataset(dataset_params: Mapping[str, Any], out_dir: str | Path) -> PreparedDataset:
    """Run the adapter named by ``dataset.name`` and write its tables into ``out_dir`` atomically.

    ``dataset_params`` is the ``dataset`` section; the adapter's settings are ``dataset.<name>``
    plus ``dataset.split_dir`` when given. Several names give one joint prepared dataset
    (:func:`moodflow.prepare.union.union_prepared`), each member read in a sub-folder.
    """
    settings, adapters = dataset_settings(dataset_params)
    joint = len(settings.names) > 1
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        parts, indexes = [], []
        for name in settings.names:
            config = dict(adapters.get(name) or {})
            if settings.split_dir:
                config["split_dir"] = settings.split_dir
            root = settings.roots.get(name, "") if joint else settings.root
            work = tmp / name if joint else tmp
            work.mkdir(exist_ok=True)
            adapter = DATASETS.get(name)(root or None, config)
            parts.append(adapter.load(work))
            indexes.append((name, adapter.verification_index()))
        prepared = union_prepared(parts, audio_prefixes=settings.names) if joint else parts[0]
        prepared.write(tmp)
        audio_summary(prepared, tmp, Path(out_dir))
        for name, index in indexes:
            if index is not None:
                _check_index(index, tmp, Path(out_dir), name if joint else "")
    if joint:
        log.info("joint dataset %s: %d tracks", prepared.name, len(prepared.manifest))
    return prepared


def _check_index(index: tuple, folder: Path, shown_as: Path, member: str) -> None:
    """Presence and size of the files the dataset's index lists: ``verify.csv`` and ``to_fetch.txt``
    (``verify-<member>.csv`` / ``to_fetch-<member>.txt`` for each member of a joint dataset)."""
    from moodflow.datasets.verify import verify

    suffix = f"-{member}" if member else ""
    result = verify(index[0], index[1], quick=True)
    result.table.to_csv(folder / f"verify{suffix}.csv", index=False)
    todo = result.table[result.table["status"].isin(["missing", "corrupt"])]["path"]
    (folder / f"to_fetch{suffix}.txt").write_text("".join(f"{p}\n" for p in todo))
    (log.info if result.ok else log.warning)(
        "prepare: %sindex check (presence and size): %s%s", f"{member}: " if member else "", result.summary(),
        f"; listed in {shown_as / f'verify{suffix}.csv'}, paths to download in {shown_as / f'to_fetch{suffix}.txt'}"
        if len(result.table) else "")


def audio_summary(prepared: PreparedDataset, folder: Path, shown_as: Path) -> str:
    """Write ``missing_audio.csv`` and log one line: tracks, labelled tracks with audio (share),
    unlabelled audio kept for extraction."""
    manifest = prepared.manifest
    exists = [(folder / p).exists() for p in manifest["audio_path"].astype(str)]  # an absolute p stays itself
    have = dict(zip(manifest["track_id"], exists))
    labelled = set(prepared.static_labels["track_id"])
    if prepared.dynamic_labels is not None:
        labelled |= set(prepared.dynamic_labels["track_id"])
    missing = manifest[[t in labelled and not have.get(t, False) for t in manifest["track_id"]]]
    missing[["track_id", "audio_path"]].to_csv(folder / "missing_audio.csv", index=False)
    unlabelled = int(sum(1 for t, ok in have.items() if ok and t not in labelled))
    line = f"prepare: {prepared.name}: {len(manifest)} tracks"
    if labelled:
        share = 1 - len(missing) / len(labelled)
        shown = f"{share:.1%}" if 0 < share < 0.01 else f"{share:.0%}"  # 6 of 1802 is 0.3 %, not 0 %
        line += f"; {len(labelled) - len(missing)} of {len(labelled)} labelled tracks ({shown}) have audio"
        if len(missing):
            line += f", {len(missing)} have none (listed in {shown_as / 'missing_audio.csv'})"
        if share < LOW_COVERAGE:
            line = (f"ONLY {shown} OF THE LABELLED TRACKS HAVE AUDIO — check dataset.root and the audio folder. "
                    + line)
    else:
        line += "; no labels (extraction-only)"
    if unlabelled and labelled:
        line += f"; {unlabelled} audio file(s) without labels kept for extraction"
    (log.warning if line.startswith("ONLY") else log.info)(line)
    return line
