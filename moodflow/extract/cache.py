"""Per-track feature cache: one small file per (track audio, extractor config) pair.

An entry lives at ``<root>/<extractor>/<fingerprint>/<aa>/<audio hash>.arrays`` where

- ``audio hash`` is blake2b of the decoded float32 samples and the sample rate, so a track
  re-decoded identically hits and any change to its audio misses, whatever its id;
- ``fingerprint`` is blake2b of the extractor name, its version, its full config (grid
  included, as written into the store), the store schema version, this cache's format and the
  versions of the libraries that compute features.

Entries are the shared checksummed format of :mod:`moodflow.stores.entries`, written to a
temporary name and renamed, so a killed run leaves only whole entries. A damaged entry fails
its checksum on read, is logged, deleted and re-extracted; it never reaches a store.
Failed tracks are not cached (they are retried on the next run).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from moodflow.core.versions import package_versions
from moodflow.features.base import TrackFeatures
from moodflow.stores.entries import DamagedEntry, fingerprint, prepare_dir, read_entry, write_entry
from moodflow.stores.feature_store import SCHEMA_VERSION

CACHE_FORMAT = 3  # 1: .npz entries; 2: no checksum
_SUFFIX = ".arrays"
# libraries whose version can change any feature values (a pip upgrade must not serve old
# values), besides the extractor's own ``packages``
_VALUE_PACKAGES = ("numpy", "scipy", "soxr")
_ARRAYS = ("static", "frames", "start_s", "end_s")
log = logging.getLogger(__name__)


def fingerprint_payload(name: str, version: str, config: dict[str, Any],
                        packages: tuple[str, ...] = ()) -> dict[str, Any]:
    """Everything an entry's values depend on besides the audio (``packages``: the extractor's)."""
    versions = package_versions(packages)
    return {
        "extractor": name,
        "extractor_version": str(version),
        "config": config,
        "store_schema_version": SCHEMA_VERSION,
        "cache_format": CACHE_FORMAT,
        "packages": {k: versions[k] for k in (*_VALUE_PACKAGES, *packages) if k in versions},
    }


class TrackCache:
    """The cache folder of one extractor configuration under ``root``.

    ``feature_count`` and ``frame_shape`` let :meth:`load` reject an entry that does not fit
    the extractor (a damaged file counts as a miss and is overwritten).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        name: str,
        version: str,
        config: dict[str, Any],
        feature_count: int,
        frame_shape: tuple[int, ...],
        packages: tuple[str, ...] = (),
    ):
        self.payload = fingerprint_payload(name, version, config, packages)
        self.key = fingerprint(self.payload)
        self.dir = Path(root) / name / self.key
        self.feature_count = int(feature_count)
        self.frame_shape = tuple(int(s) for s in frame_shape)

    @classmethod
    def for_extractor(cls, root: str | os.PathLike, extractor) -> "TrackCache":
        """The cache of ``extractor`` (an :class:`~moodflow.features.base.Extractor`) under ``root``."""
        return cls(
            root, name=extractor.name, version=extractor.version, config=extractor.config_dict(),
            feature_count=len(extractor.feature_names()), frame_shape=tuple(extractor.frame_shape()),
            packages=extractor.packages,
        )

    def spec(self) -> dict[str, Any]:
        """Plain-value description to rebuild this cache in another process (:meth:`from_spec`)."""
        return {"dir": str(self.dir), "feature_count": self.feature_count, "frame_shape": list(self.frame_shape)}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "TrackCache":
        self = cls.__new__(cls)
        self.dir = Path(spec["dir"])
        self.key = self.dir.name
        self.payload = None
        self.feature_count = int(spec["feature_count"])
        self.frame_shape = tuple(spec["frame_shape"])
        return self

    def prepare(self) -> None:
        """Create the folder, describe it in ``config.json`` and drop day-old partial files."""
        prepare_dir(self.dir, self.payload)

    def path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}{_SUFFIX}"

    def __contains__(self, key: str) -> bool:
        return self.path(key).is_file()

    def keys(self) -> Iterator[str]:
        """Audio hashes with an entry."""
        for p in self.dir.glob(f"??/*{_SUFFIX}"):
            yield p.stem

    def save(self, key: str, feats: TrackFeatures) -> Path:
        """Write one entry atomically, in the dtypes the feature store keeps."""
        arrays = {
            "static": np.asarray(feats.static, dtype=np.float32),
            "frames": np.asarray(feats.frames, dtype=np.float32),
            "start_s": np.asarray(feats.start_s, dtype=np.float64),
            "end_s": np.asarray(feats.end_s, dtype=np.float64),
        }
        return write_entry(self.path(key), arrays)

    def load(self, key: str) -> TrackFeatures | None:
        """The entry for ``key``, or None when missing or damaged (a miss: the damaged file is
        logged and deleted, so the track is re-extracted). An I/O error reading it is raised."""
        return read_entry(self.path(key), self._features, "the track is extracted again")

    def _features(self, arrays: dict[str, np.ndarray]) -> TrackFeatures:
        arrays = {k: arrays[k] for k in _ARRAYS}
        static, frames = arrays["static"], arrays["frames"]
        t = len(frames)
        if static.shape != (self.feature_count,):
            raise DamagedEntry(f"static shape {static.shape}, the extractor gives ({self.feature_count},)")
        times_ok = len(arrays["start_s"]) == t and len(arrays["end_s"]) == t
        if t and (tuple(frames.shape[1:]) != self.frame_shape or not times_ok):
            raise DamagedEntry(f"frames of shape {frames.shape}, the extractor gives (T, {self.frame_shape})")
        return TrackFeatures(static=static, frames=frames, start_s=arrays["start_s"], end_s=arrays["end_s"])
