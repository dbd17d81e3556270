"""Per-track decode cache: one entry per (audio file content, decode settings).

An entry lives at ``<root>/decode/<fingerprint>/<aa>/<file hash>.arrays`` where

- ``file hash`` is blake2b of the audio file's bytes and its extension (lower case), so the same
  file under another name, folder or dataset hits, and any change to the file misses;
- ``fingerprint`` is blake2b of the decode settings that shape the samples (the resolved sample
  rate, ``min_duration_s``), this cache's format, the versions of the decoding libraries and the
  source of the ``moodflow.decode`` package (an edited decoder never serves old samples).

An entry holds the decoded mono float32 samples in the checksummed format of
:mod:`moodflow.stores.entries` (the one extract's feature cache uses): written atomically, and
a damaged entry (any byte changed) is logged, deleted and decoded again. Files that cannot be
decoded are not cached: they are tried, and reported, again on the next run. So a joint
experiment that adds a dataset decodes only its tracks, and one that drops a dataset decodes
nothing; the audio store is the same bytes as an uncached run's.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np

from moodflow.core.versions import package_versions
from moodflow.stores.entries import DamagedEntry, fingerprint, prepare_dir, read_entry, write_entry

CACHE_FORMAT = 1
_SUFFIX = ".arrays"
_VALUE_PACKAGES = ("numpy", "soundfile", "soxr", "librosa")  # libraries whose version can change samples
_READ_BLOCK = 1 << 20
log = logging.getLogger(__name__)


def file_hash(path: Path) -> str:
    """Hex blake2b (128 bit) of the file's bytes and its lower-case extension, read in blocks."""
    h = hashlib.blake2b(digest_size=16)
    h.update(path.suffix.lower().encode() + b"\0")
    with open(path, "rb") as f:
        while block := f.read(_READ_BLOCK):
            h.update(block)
    return h.hexdigest()


def _decoder_source() -> str:
    """blake2b of the ``moodflow.decode`` package's Python files (names and bytes)."""
    h = hashlib.blake2b(digest_size=16)
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _file_state(path: Path) -> tuple[int, int, int] | None:
    """(size, mtime, inode) of a regular file; None for anything else (the decoder reports it)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino) if stat.S_ISREG(st.st_mode) else None


class DecodeCache:
    """The decode cache folder for one sample rate and ``min_duration_s`` under ``root``.

    :meth:`fetch` is safe to call from several threads; ``hits`` and ``decoded`` count what it did.
    """

    def __init__(self, root: str | os.PathLike, *, sample_rate: int, min_duration_s: float = 0.0):
        versions = package_versions()
        self.payload: dict[str, Any] = {
            "stage": "decode",
            "sample_rate": int(sample_rate),
            "min_duration_s": float(min_duration_s),
            "cache_format": CACHE_FORMAT,
            "packages": {k: versions[k] for k in _VALUE_PACKAGES if k in versions},
            "decoder_source": _decoder_source(),
        }
        self.dir = Path(root) / "decode" / fingerprint(self.payload)
        self.sample_rate, self.min_duration_s = int(sample_rate), float(min_duration_s)
        self.hits = 0
        self.decoded = 0
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """Create the folder (with its ``config.json``) and drop day-old partial files."""
        prepare_dir(self.dir, self.payload)

    def path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}{_SUFFIX}"

    def load(self, key: str) -> np.ndarray | None:
        """The samples of entry ``key``; None when missing or damaged (a damaged entry is logged
        and deleted, so the file is decoded again). An I/O error reading it is raised."""
        return read_entry(self.path(key), self._samples, "the file is decoded again")

    def _samples(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        samples = arrays["samples"]
        if samples.dtype != np.float32 or samples.ndim != 1 or not len(samples) \
                or len(samples) / self.sample_rate < self.min_duration_s:  # as load_audio decides
            raise DamagedEntry(f"samples of dtype {samples.dtype}, shape {samples.shape}: not a decoded track")
        return samples

    def save(self, key: str, samples: np.ndarray) -> Path:
        """Write one entry atomically."""
        return write_entry(self.path(key), {"samples": np.asarray(samples, dtype=np.float32)})

    def fetch(self, path: Path, decode: Callable[[Path], Any]) -> Any:
        """The decoded samples of ``path``: from its entry, or ``decode(path)`` saved as one.

        Whatever ``decode`` returns that is not an array (a stream of a long file) or raises (an
        unusable file) passes through uncached. A path that is not a regular file is left to
        ``decode`` (which names the problem); so is a file that changed while it was decoded."""
        before = _file_state(path)
        if before is None:
            return decode(path)
        key = file_hash(path)
        samples = self.load(key)
        if samples is not None:
            with self._lock:
                self.hits += 1
            return samples
        result = decode(path)
        with self._lock:
            self.decoded += 1
        if isinstance(result, np.ndarray) and _file_state(path) == before:
            self.save(key, result)
        return result
