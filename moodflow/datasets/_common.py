"""Helpers the real-dataset adapters share: reading the authors' CSVs, checking labels,
building the manifest and reading published splits.

Every row an adapter drops (duplicate ids, NaN or out-of-scale labels, split ids that are not in
the dataset) is logged with the file it came from and the ids, never dropped silently.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import re
import stat
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from moodflow.stores.prepared import LabelSpec

log = logging.getLogger("moodflow.datasets")

AUDIO_EXTENSIONS = (".mp3", ".wav", ".flac", ".ogg", ".m4a")
SPLIT_NAMES = ("train", "validation", "test")
_SAMPLE_MS = re.compile(r"^\s*sample_(\d+(?:\.\d+)?)ms\s*$")


def format_ids(values: Iterable[Any], limit: int = 10) -> str:
    values = sort_ids(values)
    more = f" … (+{len(values) - limit} more)" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more


def require_file(path: Path, dataset: str, what: str) -> Path:
    """``path`` if it is a file, else a FileNotFoundError naming the dataset and the file."""
    if not path.is_file():
        raise FileNotFoundError(f"dataset {dataset!r}: {what} not found at {path}")
    return path


def read_table(path: Path, dataset: str, *, sep: str = ",", id_column: str | None = None,
               verbatim: Iterable[str] = ()) -> pd.DataFrame:
    """Read a CSV/TSV with stripped column names (DEAM writes ``song_id, valence_mean``) and
    values, except the ``verbatim`` columns (ids that name files, spaces and all).

    ``id_column`` (after stripping) is read as a string and must exist.
    """
    try:
        frame = pd.read_csv(path, sep=sep, skipinitialspace=True, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"dataset {dataset!r}: cannot parse {path}: {exc}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    keep = set(verbatim)
    frame = frame.apply(lambda col: col if col.name in keep else col.str.strip())
    if id_column is not None and id_column not in frame.columns:
        raise ValueError(f"dataset {dataset!r}: {path} has no column {id_column!r} (columns: {list(frame.columns)})")
    return frame


def to_float(frame: pd.DataFrame, columns: Iterable[str], path: Path, dataset: str) -> pd.DataFrame:
    """Convert ``columns`` to float; empty strings become NaN, other non-numbers are an error, and
    so is a non-finite number (``inf``, ``-inf``, ``1e309``), named with the file, the column and
    the track ids (the ``track_id`` column, else the first)."""
    out = frame.copy()
    id_column = "track_id" if "track_id" in frame.columns else frame.columns[0]
    for col in columns:
        if col not in out.columns:
            raise ValueError(f"dataset {dataset!r}: {path} has no column {col!r} (columns: {list(frame.columns)})")
        values = pd.to_numeric(out[col].replace("", np.nan), errors="coerce")
        bad = values.isna() & ~out[col].isin(["", "NaN", "nan", "NA"]) & out[col].notna()
        if bad.any():
            raise ValueError(f"dataset {dataset!r}: {path} column {col!r}: not a number: {list(out[col][bad][:5])}")
        infinite = np.isinf(values.to_numpy(float))
        if infinite.any():
            raise ValueError(f"dataset {dataset!r}: {path} column {col!r}: {int(infinite.sum())} non-finite value(s) "
                             f"{list(out[col][infinite][:3])} (track ids: {format_ids(frame[id_column][infinite])}); "
                             "a label must be a finite number")
        out[col] = values.astype(float)
    return out


def normalise_id(value: Any) -> str:
    """Song ids as strings; ``"12.0"`` (a float written by a spreadsheet) becomes ``"12"``."""
    text = str(value).strip()
    if re.fullmatch(r"\d+\.0+", text):
        text = text.split(".")[0]
    return text


def drop_duplicates(frame: pd.DataFrame, keys: list[str], path: Path, dataset: str) -> pd.DataFrame:
    """Keep one copy of identical duplicate rows; drop every row of a key with conflicting rows."""
    dup = frame.duplicated(keys, keep=False)
    if not dup.any():
        return frame
    identical = frame[dup].drop_duplicates()
    conflicting = identical[identical.duplicated(keys, keep=False)]
    bad_keys = set(map(tuple, conflicting[keys].to_numpy()))
    if bad_keys:
        log.warning("%s: %s: %d id(s) appear more than once with different values, all their rows dropped: %s",
                    dataset, path, len(bad_keys), format_ids(k[0] for k in bad_keys))
    same = set(map(tuple, frame[dup][keys].to_numpy())) - bad_keys
    if same:
        log.warning("%s: %s: %d id(s) repeated with identical values, one copy kept: %s",
                    dataset, path, len(same), format_ids(k[0] for k in same))
    keep = ~frame[keys].apply(tuple, axis=1).isin(bad_keys)
    return frame[keep].drop_duplicates(keys, keep="first").reset_index(drop=True)


def check_range(
    frame: pd.DataFrame, columns: list[str], scale: tuple[float, float] | None, path: Path, dataset: str
) -> pd.DataFrame:
    """Drop rows with a NaN or (when ``scale`` is given) out-of-scale value in ``columns``."""
    values = frame[columns].to_numpy(dtype=float)
    nan = np.isnan(values).any(axis=1)
    if nan.any():
        log.warning("%s: %s: %d row(s) with missing/NaN labels dropped (ids: %s)",
                    dataset, path, int(nan.sum()), format_ids(frame["track_id"][nan]))
    out = np.zeros(len(frame), dtype=bool)
    if scale is not None:
        lo, hi = scale
        tol = 1e-6 * (hi - lo)
        with np.errstate(invalid="ignore"):
            out = ((values < lo - tol) | (values > hi + tol)).any(axis=1) & ~nan
        if out.any():
            log.warning("%s: %s: %d row(s) outside the scale [%g, %g] dropped (ids: %s)",
                        dataset, path, int(out.sum()), lo, hi, format_ids(frame["track_id"][out]))
    return frame[~(nan | out)].reset_index(drop=True)


def sample_ms_time(column: str) -> float | None:
    """``sample_15500ms`` → 15.5; None for any other column name."""
    match = _SAMPLE_MS.match(column)
    return float(match.group(1)) / 1000.0 if match else None


def read_wide_dynamic(path: Path, dataset: str, value_name: str) -> pd.DataFrame:
    """Read a wide per-time CSV (``song_id, sample_15000ms, …``) into long form.

    Rows may be shorter than the header (DEAM: the full songs 2001-2058 are longer than the
    45 s clips, so most rows end early) or pad with empty fields; both just end the song's
    series. Returns ``track_id, time_s, <value_name>``; an empty or NaN value inside a series is
    dropped with a warning.
    """
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh, skipinitialspace=True))
    if not rows:
        raise ValueError(f"dataset {dataset!r}: {path} is empty")
    header = [h.strip() for h in rows[0]]
    times = [sample_ms_time(h) for h in header[1:]]
    if any(t is None for t in times):
        bad = [h for h, t in zip(header[1:], times) if t is None][:3]
        raise ValueError(f"dataset {dataset!r}: {path}: columns after the id must be sample_<ms>ms, got {bad}")
    ids, time_s, values, gaps = [], [], [], set()
    for lineno, row in enumerate(rows[1:], start=2):
        if not row or not row[0].strip():
            continue
        cells = [c.strip() for c in row[1:]]
        while cells and cells[-1] == "":
            cells.pop()
        if len(cells) > len(times):
            raise ValueError(f"dataset {dataset!r}: {path} line {lineno}: {len(cells)} values but only "
                             f"{len(times)} sample_<ms>ms columns in the header")
        tid = normalise_id(row[0])
        for column, t, cell in zip(header[1:], times, cells):
            try:
                v = float(cell) if cell not in ("", "NaN", "nan", "NA") else math.nan
            except ValueError:
                raise ValueError(f"dataset {dataset!r}: {path} line {lineno} column {column!r}: not a number: "
                                 f"{cell[:40]!r} (track id {tid!r})") from None
            if math.isinf(v):
                raise ValueError(f"dataset {dataset!r}: {path} line {lineno} column {column!r}: non-finite value "
                                 f"{cell[:40]!r} (track id {tid!r}); a label must be a finite number")
            if math.isnan(v):
                gaps.add(tid)
                continue
            ids.append(tid)
            time_s.append(t)
            values.append(v)
    if gaps:
        log.warning("%s: %s: empty/NaN values inside the series of %d song(s) dropped: %s",
                    dataset, path, len(gaps), format_ids(gaps))
    return pd.DataFrame({"track_id": ids, "time_s": np.asarray(time_s, float), value_name: np.asarray(values, float)})


def merge_dynamic(parts: list[pd.DataFrame], targets: list[str], dataset: str, sources: str) -> pd.DataFrame:
    """Outer-join per-target long tables on (track_id, time_s); rows missing a target are dropped."""
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.merge(part, on=["track_id", "time_s"], how="outer")
    incomplete = merged[targets].isna().any(axis=1)
    if incomplete.any():
        log.warning("%s: %s: %d (song, time) point(s) lack one of %s and were dropped (ids: %s)",
                    dataset, sources, int(incomplete.sum()), targets, format_ids(merged["track_id"][incomplete]))
    merged = merged[~incomplete]
    return sort_dynamic(merged)


def sort_dynamic(frame: pd.DataFrame) -> pd.DataFrame:
    """Sort a long dynamic table by numeric-aware id, then time."""
    ids = frame["track_id"].astype(str)
    numeric = ids.str.isdigit()
    keys = pd.DataFrame({
        "a": (~numeric).astype(int),
        "b": pd.to_numeric(ids.where(numeric, "0")),
        "c": ids.where(~numeric, ""),
        "t": frame["time_s"].to_numpy(),
    }, index=frame.index)
    order = keys.sort_values(["a", "b", "c", "t"], kind="stable").index
    return frame.loc[order].reset_index(drop=True)


def _sort_key(tid: str) -> tuple:
    return (0, int(tid), "") if tid.isdigit() else (1, 0, tid)


def sort_ids(ids: Iterable[str]) -> list[str]:
    """Ids in numeric order when numeric, then the rest alphabetically."""
    return sorted({str(i) for i in ids}, key=_sort_key)


def scan_audio(folder: Path, *, recursive: bool = True) -> dict[str, Path]:
    """Map ``relative/path/without/extension`` → absolute audio path for the files in ``folder``.

    Ids are the names as written (spaces included). Symbolic links to folders are followed once
    (a link back into a folder already scanned is not: no loops). What looks like audio but is
    not a readable file — a directory named ``x.mp3``, a FIFO, a broken link — is skipped and
    listed, with the reason, in one warning.
    """
    if not folder.is_dir():
        return {}
    found: dict[str, Path] = {}
    skipped: list[str] = []
    seen: set[tuple[int, int]] = set()

    def visit(directory: Path, prefix: str) -> None:
        st = os.stat(directory)
        if (st.st_dev, st.st_ino) in seen:
            skipped.append(f"{prefix.rstrip('/')} (a link to a folder already scanned; not followed again)")
            return
        seen.add((st.st_dev, st.st_ino))
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            rel, audio_name = prefix + entry.name, Path(entry.name).suffix.lower() in AUDIO_EXTENSIONS
            try:
                mode = os.stat(entry.path).st_mode
            except OSError:
                if entry.is_symlink():
                    skipped.append(f"{rel} (broken symbolic link to {os.readlink(entry.path)})")
                continue
            if stat.S_ISDIR(mode):
                if audio_name:
                    skipped.append(f"{rel} (a directory named like an audio file)")
                if recursive:
                    visit(Path(entry.path), rel + "/")
            elif not audio_name:
                continue
            elif not stat.S_ISREG(mode):
                kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
                skipped.append(f"{rel} ({kind}, not a file)")
            else:
                tid = rel[: -len(Path(entry.name).suffix)]
                if tid in found:
                    log.warning("folder %s: %s and %s give the same track id %r; keeping the first",
                                folder, found[tid].name, entry.name, tid)
                    continue
                found[tid] = Path(entry.path).resolve()

    visit(folder, "")
    if skipped:
        log.warning("folder %s: %d entr%s skipped: %s", folder, len(skipped), "y" if len(skipped) == 1 else "ies",
                    "; ".join(skipped[:20]) + (f"; … (+{len(skipped) - 20} more)" if len(skipped) > 20 else ""))
    return found


def match_ids(labelled: Iterable[str], on_disk: Iterable[str], where: str) -> dict[str, str]:
    """Label id → audio id: the same string, or (when no file has exactly that name) the one
    file whose name differs only by surrounding spaces — logged, as a label written ``"a "``
    for ``a.mp3`` (or ``"a"`` for ``"a .mp3"``) is a slip, not another track."""
    disk = set(on_disk)
    loose: dict[str, list[str]] = {}
    for tid in disk:
        loose.setdefault(tid.strip(), []).append(tid)
    labelled = list(labelled)
    exact = set(labelled) & disk
    out, fuzzy = {}, []
    for tid in labelled:
        if tid in disk:
            out[tid] = tid
        elif len(loose.get(tid.strip(), [])) == 1 and loose[tid.strip()][0] not in exact:
            out[tid] = loose[tid.strip()][0]
            fuzzy.append(f"{tid!r} → {out[tid]!r}")
    if fuzzy:
        log.warning("%s: %d label id(s) match a file name only when surrounding spaces are ignored: %s",
                    where, len(fuzzy), ", ".join(sorted(fuzzy)[:10]))
    return out


def build_manifest(
    labelled: dict[str, Path], on_disk: dict[str, Path], dataset: str, durations: dict[str, float] | None = None
) -> pd.DataFrame:
    """Manifest of every labelled track (audio present or not) and every unlabelled file on disk."""
    paths = dict(labelled)
    extra = {k: v for k, v in on_disk.items() if k not in paths}
    paths.update(extra)
    ids = sort_ids(paths)
    # the prepare stage sums up missing audio and unlabelled files in one line (moodflow.prepare.run)
    durations = durations or {}
    return pd.DataFrame({
        "track_id": ids,
        "audio_path": [str(Path(paths[t]).absolute()) for t in ids],
        "duration_s": [float(durations.get(t, np.nan)) for t in ids],
    })


def read_split_dir(split_dir: str | Path, known_ids: Iterable[str], dataset: str) -> pd.DataFrame:
    """Read ``train.txt``/``validation.txt``/``test.txt`` (one id a line) into (track_id, split).

    Ids not in the dataset are logged and left out; an id in two splits is an error.
    """
    folder = Path(split_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"dataset {dataset!r}: split_dir {folder} is not a folder")
    known = set(map(str, known_ids))
    rows: list[tuple[str, str]] = []
    for split in SPLIT_NAMES:
        path = folder / f"{split}.txt"
        if not path.is_file():
            if split == "validation":
                continue
            raise FileNotFoundError(f"dataset {dataset!r}: split file {path} not found")
        ids = [normalise_id(line) for line in path.read_text().splitlines() if line.strip()]
        unknown = [t for t in ids if t not in known]
        if unknown:
            log.warning("%s: %s: %d id(s) not in the dataset, left out: %s", dataset, path, len(unknown), format_ids(unknown))
        rows += [(t, split) for t in ids if t in known]
    return splits_table(rows, dataset, str(folder))


def splits_table(rows: list[tuple[str, str]], dataset: str, source: str) -> pd.DataFrame:
    """(track_id, split) table; refuses an id listed in two different splits."""
    frame = pd.DataFrame(rows, columns=["track_id", "split"]).drop_duplicates()
    clash = frame["track_id"][frame["track_id"].duplicated()]
    if len(clash):
        raise ValueError(f"dataset {dataset!r}: {source}: id(s) in more than one split: {format_ids(clash)}")
    return frame.reset_index(drop=True)


def dataset_info(module: Any, root: Path, **extra: Any) -> dict[str, Any]:
    """The notes every adapter writes into dataset.json (citation, licence, grid, layout)."""
    info = {
        "root": str(root.absolute()),
        "citation": module.BIBTEX.strip(),
        "license": module.LICENSE_INFO.strip(),
        "label_scale": module.LABEL_SCALE,
        "annotation_grid": module.ANNOTATION_GRID,
        "layout": module.LAYOUT,
    }
    if getattr(module, "NATIVE_AUDIO", None):  # how the authors' own features were computed
        info["native_audio"] = dict(module.NATIVE_AUDIO)
    info.update(extra)
    return info


def audio_files(audio_dir: Path, names: dict[str, str], dataset: str, source: object) -> dict[str, Path]:
    """Track id → its audio file ``audio_dir / name`` for names taken from the dataset's own
    files (ids, a file-name column); a name that would lead outside ``audio_dir`` (absolute,
    ``..``, a link out) refuses the dataset, naming ``source`` and the path."""
    from moodflow.core.paths import resolve_inside

    return {t: resolve_inside(audio_dir, names[t], source=f"dataset {dataset!r}: {source}",
                              what=f"audio file of track {t!r}") for t in sort_ids(names)}


def resolve(path: str | Path, base: Path) -> Path:
    """``path`` if absolute, else relative to ``base``."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else base / p


def mediaeval_spec(*, has_dynamic: bool) -> LabelSpec:
    """Labels of the MediaEval-family datasets (DEAM, emoMusic): static valence/arousal on 1–9,
    dynamic at 2 Hz on −1..1."""
    return LabelSpec(
        task="regression", static_targets=["valence", "arousal"],
        dynamic_targets=["valence", "arousal"] if has_dynamic else [],
        scale=(1.0, 9.0), scale_name="1-9", dynamic_hop_s=0.5 if has_dynamic else None,
        dynamic_scale=(-1.0, 1.0) if has_dynamic else None, dynamic_scale_name="-1..1" if has_dynamic else "",
    )
