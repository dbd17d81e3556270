"""Checking an HDF5 store from elsewhere (a DVC remote, a colleague) before reading it.

HDF5 can make a dataset read bytes of another file (external raw storage, virtual datasets)
and links can point into other files (external links) or elsewhere in the file (soft links);
attributes and shapes can claim anything. :func:`open_hdf5` refuses a file that is not HDF5,
and :func:`check_hdf5` one that uses any of those indirections or holds oversized attributes
— reading only metadata. :func:`check_feature_store` then checks the feature-store layout
(docs/feature_store.md): dtypes, shapes, names against columns, offsets against frames, unique
ids; :func:`deep_check_feature_store` reads every value (``moodflow info --check``).
Every problem is an :class:`InvalidStoreError` naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from moodflow.core.errors import MoodflowError

MAX_LINKS = 1000
MAX_ATTR_BYTES = 1 << 20
MAX_ATTRS = 64
MAX_TRACKS = 1 << 24
MAX_FEATURES = 1 << 22
MAX_STATIC_VALUES = 1 << 32


class InvalidStoreError(MoodflowError, ValueError):
    """A store that is not HDF5, uses external storage or links, or does not fit its schema."""


def open_hdf5(path: str | Path) -> h5py.File:
    """``path`` opened read-only and checked by :func:`check_hdf5`."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if not path.is_file():
        raise InvalidStoreError(f"{path}: not a file")
    if not h5py.is_hdf5(str(path)):
        with open(path, "rb") as fh:
            head = fh.read(8)
        raise InvalidStoreError(f"{path}: not an HDF5 file (it starts with {head!r}, not the HDF5 signature)")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise InvalidStoreError(f"{path}: unreadable HDF5 file ({exc})") from None
    try:
        check_hdf5(h5, path)
    except BaseException:
        h5.close()
        raise
    return h5


def _check_attrs(obj: h5py.HLObject, path: Path, where: str) -> None:
    names = list(obj.attrs)
    if len(names) > MAX_ATTRS:
        raise InvalidStoreError(f"{path}: {where} has {len(names)} attributes (at most {MAX_ATTRS})")
    for name in names:
        attr = obj.attrs.get_id(name)
        size = attr.get_storage_size()
        if size <= MAX_ATTR_BYTES and h5py.check_string_dtype(attr.dtype) is not None and attr.shape == ():
            value = obj.attrs[name]  # a variable-length string: its size is only known by reading it
            size = len(value) if isinstance(value, (str, bytes)) else size
        if size > MAX_ATTR_BYTES:
            raise InvalidStoreError(f"{path}: attribute {where}@{name} takes {size:,} bytes (at most {MAX_ATTR_BYTES:,})")


def check_hdf5(h5: h5py.File, path: str | Path) -> None:
    """Refuse soft and external links, external or virtual dataset storage, oversized attributes."""
    path = Path(path)
    links: list[str] = []
    h5.visit_links(lambda name: links.append(name) if len(links) <= MAX_LINKS else True)
    if len(links) > MAX_LINKS:
        raise InvalidStoreError(f"{path}: more than {MAX_LINKS} objects; not a moodflow store")
    _check_attrs(h5, path, "/")
    for name in links:
        link = h5.get(name, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            raise InvalidStoreError(f"{path}: /{name} is an external link to {link.filename}:{link.path}; refusing it")
        if isinstance(link, h5py.SoftLink):
            raise InvalidStoreError(f"{path}: /{name} is a soft link to {link.path}; refusing it")
        obj = h5[name]
        _check_attrs(obj, path, f"/{name}")
        if isinstance(obj, h5py.Dataset):
            if obj.is_virtual:
                raise InvalidStoreError(f"{path}: /{name} is a virtual dataset (reads other files); refusing it")
            if obj.id.get_create_plist().get_external_count():
                raise InvalidStoreError(f"{path}: /{name} keeps its data in external files "
                                        f"({obj.id.get_create_plist().get_external(0)[0].decode(errors='replace')}); refusing it")


@dataclass
class StoreLayout:
    """What a checked feature store holds (read once, by the checks)."""

    ids: list[str]
    feature_names: list[str]
    frame_names: list[str] | None
    offsets: np.ndarray
    feature_groups: list[str] | None = None


def _dataset(h5: h5py.File, key: str, path: Path, ndim: int | None = None) -> h5py.Dataset:
    obj = h5.get(key)
    if not isinstance(obj, h5py.Dataset):
        raise InvalidStoreError(f"{path}: /{key} is missing" if obj is None else f"{path}: /{key} is not a dataset")
    if ndim is not None and obj.ndim != ndim:
        raise InvalidStoreError(f"{path}: /{key} has shape {obj.shape}, expected {ndim} dimension(s)")
    return obj


def _strings(h5: h5py.File, key: str, path: Path, limit: int) -> list[str]:
    ds = _dataset(h5, key, path, 1)
    if h5py.check_string_dtype(ds.dtype) is None:
        raise InvalidStoreError(f"{path}: /{key} holds {ds.dtype}, not strings")
    if len(ds) > limit:
        raise InvalidStoreError(f"{path}: /{key} has {len(ds):,} entries (at most {limit:,})")
    try:
        return [s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in ds[:]]
    except UnicodeDecodeError as exc:
        raise InvalidStoreError(f"{path}: /{key} is not UTF-8 ({exc})") from None


def _floats(h5: h5py.File, key: str, path: Path, shape: tuple) -> h5py.Dataset:
    ds = _dataset(h5, key, path, len(shape))
    if ds.dtype.kind != "f" or ds.dtype.itemsize not in (4, 8):
        raise InvalidStoreError(f"{path}: /{key} holds {ds.dtype}, not float32/float64")
    if any(s is not None and s != d for s, d in zip(shape, ds.shape)):
        want = tuple("?" if s is None else s for s in shape)
        raise InvalidStoreError(f"{path}: /{key} has shape {ds.shape}, expected {want}")
    return ds


def _json_attr(h5: h5py.File, key: str, path: Path) -> Any:
    try:
        value = json.loads(h5.attrs[key])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidStoreError(f"{path}: attribute {key} is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise InvalidStoreError(f"{path}: attribute {key} is not a JSON object")
    return value


def check_feature_store(h5: h5py.File, path: str | Path) -> StoreLayout:
    """The layout of a (schema-checked) feature store, or InvalidStoreError naming the problem."""
    path = Path(path)
    attrs = h5.attrs
    for key in ("extractor", "dataset", "extractor_version"):
        if key in attrs and not isinstance(attrs[key], str):
            raise InvalidStoreError(f"{path}: attribute {key} is {attrs[key]!r}, not a string")
    for key in ("config", "versions"):
        if key in attrs:
            _json_attr(h5, key, path)
    sr = attrs.get("sample_rate", 0)
    if not isinstance(sr, (int, np.integer)) or sr < 0:
        raise InvalidStoreError(f"{path}: attribute sample_rate is {sr!r}, not a sample rate")
    ids = _strings(h5, "tracks/id", path, MAX_TRACKS)
    seen: set[str] = set()
    dup = next((t for t in ids if t in seen or seen.add(t)), None)
    if dup is not None:
        raise InvalidStoreError(f"{path}: track id {dup!r} appears more than once in /tracks/id")
    n = len(ids)
    names = _strings(h5, "features/names", path, MAX_FEATURES)
    frame_names = _strings(h5, "frames/names", path, MAX_FEATURES) if "frames/names" in h5 else None
    groups = _strings(h5, "features/groups", path, MAX_FEATURES) if "features/groups" in h5 else None
    if groups is not None and len(groups) != len(names):
        raise InvalidStoreError(f"{path}: /features/groups lists {len(groups)} groups for {len(names)} features")
    _floats(h5, "tracks/duration_s", path, (n,))
    static = _floats(h5, "static/values", path, (n, None))
    if static.shape[1] != len(names):
        raise InvalidStoreError(f"{path}: /static/values has {static.shape[1]} columns but /features/names "
                                f"lists {len(names)} names")
    if static.size > MAX_STATIC_VALUES:
        raise InvalidStoreError(f"{path}: /static/values claims {static.shape}: too large")
    frames = _dataset(h5, "frames/values", path)
    if frames.dtype.kind != "f" or frames.dtype.itemsize not in (4, 8) or frames.ndim not in (2, 3):
        raise InvalidStoreError(f"{path}: /frames/values holds {frames.dtype} of shape {frames.shape}, "
                                "not float32 (T, F) or (T, L, D)")
    if frames.ndim == 2 and frames.shape[1] != len(frame_names if frame_names is not None else names):
        which = "/frames/names" if frame_names is not None else "/features/names"
        raise InvalidStoreError(f"{path}: /frames/values has {frames.shape[1]} columns but {which} lists "
                                f"{len(frame_names if frame_names is not None else names)} names")
    t = frames.shape[0]
    for key in ("frames/start_s", "frames/end_s"):
        _floats(h5, key, path, (t,))
    off_ds = _dataset(h5, "frames/offsets", path, 1)
    if off_ds.dtype.kind not in "iu" or off_ds.shape != (n + 1,):
        raise InvalidStoreError(f"{path}: /frames/offsets is {off_ds.dtype} {off_ds.shape}, expected int64 ({n + 1},)")
    offsets = off_ds[:].astype(np.int64)
    if offsets[0] != 0 or offsets[-1] != t or np.any(np.diff(offsets) < 0):
        raise InvalidStoreError(f"{path}: /frames/offsets do not cover the {t} frames in order "
                                f"(first {int(offsets[0])}, last {int(offsets[-1])}, "
                                f"{int(np.sum(np.diff(offsets) < 0))} decreasing)")
    return StoreLayout(ids=ids, feature_names=names, frame_names=frame_names, offsets=offsets,
                       feature_groups=groups)


def check_audio_store(h5: h5py.File, path: str | Path) -> tuple[list[str], np.ndarray]:
    """(ids, offsets) of a decoded-audio store, or InvalidStoreError naming the problem."""
    path = Path(path)
    sr = h5.attrs.get("sample_rate")
    if not isinstance(sr, (int, np.integer)) or not 1 <= sr <= 1 << 20:
        raise InvalidStoreError(f"{path}: attribute sample_rate is {sr!r}, not a sample rate")
    ids = _strings(h5, "tracks/id", path, MAX_TRACKS)
    if len(set(ids)) != len(ids):
        raise InvalidStoreError(f"{path}: a track id appears more than once in /tracks/id")
    _floats(h5, "tracks/duration_s", path, (len(ids),))
    samples = _floats(h5, "audio/samples", path, (None,))
    off_ds = _dataset(h5, "audio/offsets", path, 1)
    if off_ds.dtype.kind not in "iu" or off_ds.shape != (len(ids) + 1,):
        raise InvalidStoreError(f"{path}: /audio/offsets is {off_ds.dtype} {off_ds.shape}, expected ({len(ids) + 1},) integers")
    offsets = off_ds[:].astype(np.int64)
    if offsets[0] != 0 or offsets[-1] != samples.shape[0] or np.any(np.diff(offsets) < 0):
        raise InvalidStoreError(f"{path}: /audio/offsets do not cover the {samples.shape[0]} samples in order")
    if "tracks/audio_hash" in h5 and len(_strings(h5, "tracks/audio_hash", path, MAX_TRACKS)) != len(ids):
        raise InvalidStoreError(f"{path}: /tracks/audio_hash does not list one hash per track")
    return ids, offsets


def deep_check_feature_store(h5: h5py.File, path: str | Path, layout: StoreLayout,
                             block_bytes: int = 64 << 20) -> list[str]:
    """Problems found by reading every value (the structure is checked already): unreadable
    blocks, impossible durations, frames that end before they start or run backwards."""
    path = Path(path)
    problems: list[str] = []
    durations = h5["tracks/duration_s"][:]
    bad = np.flatnonzero(np.isinf(durations) | (durations < 0))  # NaN: not known (imported features)
    if len(bad):
        problems.append(f"{path}: /tracks/duration_s of track {layout.ids[bad[0]]!r} is {durations[bad[0]]}")
    start, end = h5["frames/start_s"][:], h5["frames/end_s"][:]
    bad = np.flatnonzero(~(end > start))
    if len(bad):
        problems.append(f"{path}: {len(bad)} frame(s) end before they start (first: row {bad[0]}, "
                        f"{start[bad[0]]} → {end[bad[0]]})")
    for i, tid in enumerate(layout.ids):
        a, b = layout.offsets[i], layout.offsets[i + 1]
        if b - a > 1 and np.any(np.diff(start[a:b]) < 0):
            problems.append(f"{path}: frames of track {tid!r} are not in time order")
            break
    for key in ("static/values", "frames/values"):
        ds = h5[key]
        rows = max(1, block_bytes // max(1, int(np.prod(ds.shape[1:])) * ds.dtype.itemsize))
        for a in range(0, ds.shape[0], rows):
            try:
                block = ds[a:a + rows]
            except (OSError, ValueError) as exc:
                problems.append(f"{path}: /{key} rows {a}..{a + rows - 1} cannot be read ({exc})")
                break
            if np.isinf(block).any():
                problems.append(f"{path}: /{key} holds infinite values (rows {a}..{a + len(block) - 1})")
                break
    return problems
