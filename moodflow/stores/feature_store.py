"""The HDF5 feature store: the on-disk contract other tools read (see docs/feature_store.md).

Layout (schema ``moodflow.features`` version 1)::

    /                   attrs: schema, schema_version, dataset, extractor, extractor_version,
                        config (JSON), versions (JSON), sample_rate; created only when
                        SOURCE_DATE_EPOCH is set (no wall-clock time: same inputs, same bytes)
    /tracks/id          (N,) UTF-8
    /tracks/duration_s  (N,) float64
    /features/names     (F,) UTF-8
    /features/groups    (F,) UTF-8, optional: each feature's group (LLD family, pitch class, layer)
    /frames/names       (F',) UTF-8, only when frame columns differ from the static ones
    /static/values      (N, F) float32, NaN row = track failed
    /frames/values      (T, F) float32, or (T, L, D) for layered embeddings (MERT)
    /frames/offsets     (N+1,) int64; track i owns rows offsets[i]:offsets[i+1]
    /frames/start_s     (T,) float64
    /frames/end_s       (T,) float64
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any, Iterable

import h5py
import numpy as np

from moodflow.stores.h5file import AtomicH5Writer
from moodflow.stores.validate import check_feature_store, deep_check_feature_store, open_hdf5
from moodflow.core.versions import package_versions

SCHEMA = "moodflow.features"
SCHEMA_VERSION = 1
_STR = h5py.string_dtype("utf-8")
_GZIP = dict(compression="gzip", compression_opts=4, shuffle=True)
_FLUSH_BYTES = 8 << 20  # write buffered tracks in blocks of about this size


def names_digest(names: list[str]) -> str:
    """The digest of a store's feature names that a model records (``feature_names_sha`` in
    model.json and bundle.json): same names in the same order, same digest."""
    import hashlib

    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


def _created() -> dict[str, str]:
    """``{"created": …}`` from ``SOURCE_DATE_EPOCH`` (the reproducible-builds convention), else
    nothing: a wall-clock time would make two identical runs write different bytes."""
    import os

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return {}
    return {"created": _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc).isoformat(timespec="seconds")}


class StoreMismatchError(ValueError):
    """A store was made by another schema, extractor or config than the one asked for."""


class FeatureStoreWriter(AtomicH5Writer):
    """Writes a store track by track into a temporary file, renamed on :meth:`close`.

    Memory stays bounded: frames are appended to resizable chunked datasets.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        feature_names: list[str],
        frame_shape: tuple[int, ...],
        extractor: str,
        extractor_version: str,
        config: dict[str, Any],
        dataset: str,
        sample_rate: int | None,
        frame_names: list[str] | None = None,
        feature_groups: list[str] | None = None,
        packages: tuple[str, ...] = (),
    ):
        frame_shape = tuple(frame_shape)
        columns = frame_names if frame_names is not None else feature_names
        if len(frame_shape) == 1 and frame_shape[0] != len(columns):
            raise ValueError(f"{path}: frames of {frame_shape[0]} columns need as many frame names, not {len(columns)}")
        super().__init__(path)
        n_feat = len(feature_names)
        h = self._h5
        h.attrs.update(
            schema=SCHEMA,
            schema_version=SCHEMA_VERSION,
            dataset=dataset,
            extractor=extractor,
            extractor_version=extractor_version,
            config=json.dumps(config, sort_keys=True),
            versions=json.dumps(package_versions(packages), sort_keys=True),
            sample_rate=int(sample_rate or 0),
            **_created(),
        )
        h.create_dataset("features/names", data=np.array(feature_names, dtype=object), dtype=_STR)
        if frame_names is not None:
            h.create_dataset("frames/names", data=np.array(frame_names, dtype=object), dtype=_STR)
        if feature_groups is not None:
            if len(feature_groups) != n_feat:
                raise ValueError(f"{path}: {len(feature_groups)} feature groups for {n_feat} features")
            h.create_dataset("features/groups", data=np.array(feature_groups, dtype=object), dtype=_STR)
        self._ids = h.create_dataset("tracks/id", (0,), maxshape=(None,), dtype=_STR, chunks=(1024,))
        self._dur = h.create_dataset("tracks/duration_s", (0,), maxshape=(None,), dtype="f8", chunks=(1024,))
        self._static = h.create_dataset(
            "static/values", (0, n_feat), maxshape=(None, n_feat), dtype="f4",
            chunks=(max(1, min(256, 2**20 // max(n_feat, 1))), n_feat), **_GZIP,
        )
        frame_shape = tuple(frame_shape)
        row = int(np.prod(frame_shape)) if frame_shape else 1
        self._frames = h.create_dataset(
            "frames/values", (0, *frame_shape), maxshape=(None, *frame_shape), dtype="f4",
            chunks=(max(1, min(512, 2**20 // max(row, 1))), *frame_shape), **_GZIP,
        )
        self._start = h.create_dataset("frames/start_s", (0,), maxshape=(None,), dtype="f8", chunks=(4096,))
        self._end = h.create_dataset("frames/end_s", (0,), maxshape=(None,), dtype="f8", chunks=(4096,))
        self._offsets = [0]
        self._buffer: list[tuple] = []
        self._buffered_bytes = 0

    def append(
        self,
        track_id: str,
        duration_s: float,
        static: np.ndarray,
        frames: np.ndarray,
        start_s: np.ndarray,
        end_s: np.ndarray,
    ) -> None:
        """Add one track (``static`` all-NaN and zero frames marks a failed track).

        Tracks are buffered and written in blocks (a few MB), which keeps memory bounded and
        costs one HDF5 write per block instead of six per track.
        """
        frames = np.asarray(frames, dtype=np.float32)
        if frames.shape[1:] != self._frames.shape[1:]:
            raise ValueError(f"{self.path}: track {track_id!r} frames have shape {frames.shape[1:]}, "
                             f"the store holds {self._frames.shape[1:]}")
        self._buffer.append((track_id, float(duration_s), np.asarray(static, dtype=np.float32), frames,
                             np.asarray(start_s, dtype=np.float64), np.asarray(end_s, dtype=np.float64)))
        self._buffered_bytes += frames.nbytes + self._static.shape[1] * 4
        self._offsets.append(self._offsets[-1] + len(frames))
        if self._buffered_bytes >= _FLUSH_BYTES or len(self._buffer) >= 1024:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        ids, durations, statics, frames, starts, ends = zip(*self._buffer)
        n0, n = self._ids.shape[0], len(ids)
        for ds, values in ((self._ids, np.array(ids, dtype=object)), (self._dur, np.asarray(durations))):
            ds.resize((n0 + n,))
            ds[n0:] = values
        self._static.resize((n0 + n, self._static.shape[1]))
        self._static[n0:] = np.stack(statics)
        t0 = self._frames.shape[0]
        block = np.concatenate(frames)
        if len(block):
            self._frames.resize((t0 + len(block), *self._frames.shape[1:]))
            self._frames[t0:] = block
            for ds, values in ((self._start, starts), (self._end, ends)):
                ds.resize((t0 + len(block),))
                ds[t0:] = np.concatenate(values)
        self._buffer, self._buffered_bytes = [], 0

    def _finish(self) -> None:
        self._flush()
        self._h5.create_dataset("frames/offsets", data=np.asarray(self._offsets, dtype=np.int64))


class FeatureStore:
    """Read access to a store; arrays are read lazily, per track or all at once."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"feature store {self.path} does not exist")
        self._h5 = open_hdf5(self.path)  # no links, no external storage, bounded attributes
        try:
            attrs = self._h5.attrs
            if attrs.get("schema") != SCHEMA:
                raise StoreMismatchError(f"{self.path}: not a moodflow feature store (schema {attrs.get('schema')!r})")
            version = attrs.get("schema_version", -1)
            if not isinstance(version, (int, np.integer)) or int(version) != SCHEMA_VERSION:
                raise StoreMismatchError(
                    f"{self.path}: schema version {int(version) if isinstance(version, np.integer) else version!r} but this moodflow "
                    f"reads version {SCHEMA_VERSION}; re-run the extract stage"
                )
            layout = check_feature_store(self._h5, self.path)
        except BaseException:
            self._h5.close()
            raise
        self.ids: list[str] = layout.ids
        self.feature_names: list[str] = layout.feature_names
        self.frame_names: list[str] | None = layout.frame_names
        self.feature_groups: list[str] | None = layout.feature_groups
        self.offsets: np.ndarray = layout.offsets
        self._index = {tid: i for i, tid in enumerate(self.ids)}

    def deep_check(self) -> list[str]:
        """Problems found by reading every value (``moodflow info --check``); empty when fine."""
        return deep_check_feature_store(self._h5, self.path, check_feature_store(self._h5, self.path))

    @property
    def attrs(self) -> dict[str, Any]:
        out = dict(self._h5.attrs)
        for key in ("config", "versions"):
            if key in out:
                out[key] = json.loads(out[key])
        return out

    @property
    def config(self) -> dict[str, Any]:
        return json.loads(self._h5.attrs["config"])

    @property
    def extractor(self) -> str:
        return str(self._h5.attrs["extractor"])

    @property
    def durations(self) -> np.ndarray:
        return self._h5["tracks/duration_s"][:]

    @property
    def frame_shape(self) -> tuple[int, ...]:
        return tuple(self._h5["frames/values"].shape[1:])

    def check(self, extractor: str, config: dict[str, Any] | None = None) -> None:
        """Refuse a store made by another extractor or config than the one asked for."""
        if self.extractor != extractor:
            raise StoreMismatchError(f"{self.path}: made by extractor {self.extractor!r}, not {extractor!r}")
        if config is not None and self.config != json.loads(json.dumps(config, sort_keys=True)):
            raise StoreMismatchError(
                f"{self.path}: made with config {self.config} but {config} was asked for; re-run extract"
            )

    def index(self, track_id: str) -> int:
        try:
            return self._index[track_id]
        except KeyError:
            raise KeyError(f"{self.path}: no track {track_id!r}") from None

    def static(self, ids: Iterable[str] | None = None) -> np.ndarray:
        """(N, F) static matrix, in store order or for the given ids."""
        values = self._h5["static/values"]
        if ids is None:
            return values[:]
        rows = np.fromiter((self.index(t) for t in ids), dtype=np.int64)
        if rows.size == 0:
            return np.empty((0, values.shape[1]), dtype=np.float32)
        unique, inverse = np.unique(rows, return_inverse=True)
        return values[unique][inverse]

    def static_frame(self):
        """The static matrix as a pandas DataFrame (index: track id, columns: feature names)."""
        import pandas as pd

        return pd.DataFrame(self.static(), index=pd.Index(self.ids, name="track_id"), columns=self.feature_names)

    def frames_frame(self, track_id: str):
        """One track's frames as a DataFrame indexed by (start_s, end_s); (T, F) stores only."""
        import pandas as pd

        values, start, end = self.frames(track_id)
        index = pd.MultiIndex.from_arrays([start, end], names=["start_s", "end_s"])
        columns = (self.frame_names or self.feature_names) if values.ndim == 2 else None
        return pd.DataFrame(values.reshape(len(values), -1), index=index, columns=columns)

    def frames(self, track_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(values, start_s, end_s) of one track's frames."""
        i = self.index(track_id)
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return self._h5["frames/values"][a:b], self._h5["frames/start_s"][a:b], self._h5["frames/end_s"][a:b]

    def close(self) -> None:
        self._h5.close()

    def __enter__(self) -> "FeatureStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_store(path: str | Path) -> FeatureStore:
    """Open a feature store for reading (use as a context manager)."""
    return FeatureStore(path)
