"""The musicnn checkpoints shipped inside the ``musicnn`` wheel, read without TensorFlow.

``musicnn==0.1.0`` (ISC licence, Pons & Serra 2019) ships four TensorFlow 1 checkpoints
(``musicnn/<model>/.index`` + ``.data-00000-of-00001``). A checkpoint is a *tensor bundle*:
the ``.index`` file is a LevelDB-format table (uncompressed blocks) mapping each variable
name to a ``BundleEntryProto`` (dtype, shape, offset and size in the data file); the data
file holds the raw little-endian values. This module reads that format directly (about a
hundred lines, no TensorFlow, no protobuf library), after checking both files against the
SHA-256 that pip recorded in the wheel's ``RECORD`` when it installed them. The test suite
compares every array with ``tf.train.load_checkpoint`` (bit for bit) in the reference process.
Nothing is ever downloaded: the package must be installed (``pip install --no-deps musicnn==0.1.0``).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MODELS = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")
PACKAGE = "musicnn"
PACKAGE_VERSION = "0.1.0"
INSTALL_HINT = f"pip install --no-deps {PACKAGE}=={PACKAGE_VERSION} (the Makefile does it)"

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_LEN = 48
# TensorFlow DataType enum → numpy dtype (the checkpoints hold float32 variables and an int64 step)
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64, 19: np.float16}


class MusicnnUnavailable(FileNotFoundError):
    """The musicnn package (its checkpoints) is not installed, or a file differs from the wheel's."""


class CheckpointError(ValueError):
    """A checkpoint file that is not a well-formed tensor bundle; the message names the file."""


@dataclass(frozen=True)
class PackagedCheckpoint:
    """One packaged model: its folder and the SHA-256 of its index and data files."""

    model: str
    directory: Path
    sha256: str  # of the data file, as in the wheel's RECORD

    @property
    def index_path(self) -> Path:
        return self.directory / ".index"

    @property
    def data_path(self) -> Path:
        return self.directory / ".data-00000-of-00001"


def package_dir() -> Path:
    """The installed ``musicnn`` package folder (found without importing it: it imports TensorFlow)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MusicnnUnavailable(f"the {PACKAGE} package (which ships the model weights) is not installed: {INSTALL_HINT}")
    return Path(list(spec.submodule_search_locations)[0])


def _recorded_hashes() -> dict[str, str]:
    """``RECORD`` of the installed distribution: relative path → urlsafe-base64 SHA-256."""
    try:
        files = importlib.metadata.files(PACKAGE) or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise MusicnnUnavailable(f"no installed {PACKAGE} distribution: {INSTALL_HINT}") from exc
    return {str(f).replace("\\", "/"): f.hash.value for f in files if f.hash is not None and f.hash.mode == "sha256"}


def _sha256(path: Path) -> tuple[str, str]:
    h = hashlib.sha256(path.read_bytes())
    return h.hexdigest(), base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()


def locate(model: str) -> PackagedCheckpoint:
    """The packaged checkpoint of ``model``, its files checked against the wheel's RECORD."""
    if model not in MODELS:
        raise ValueError(f"features.musicnn.model: {model!r} is not one of {list(MODELS)}")
    directory = package_dir() / model
    recorded = _recorded_hashes()
    hexdigest = ""
    for name in (".index", ".data-00000-of-00001"):
        path = directory / name
        if not path.is_file():
            raise MusicnnUnavailable(f"{path}: missing from the installed {PACKAGE} package; reinstall it: {INSTALL_HINT}")
        expected = recorded.get(f"{PACKAGE}/{model}/{name}")
        if expected is None:
            raise MusicnnUnavailable(f"{path}: not listed in the {PACKAGE} wheel's RECORD; reinstall it: {INSTALL_HINT}")
        hexdigest, b64 = _sha256(path)
        if b64 != expected:
            raise MusicnnUnavailable(f"{path}: differs from the file the {PACKAGE} wheel installed (SHA-256); reinstall it")
    return PackagedCheckpoint(model, directory, hexdigest)


# -- the tensor bundle format --------------------------------------------------------------
def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise IndexError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _proto_fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) of a serialised protobuf message: varints as int, the rest as bytes."""
    out, pos = [], 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > len(buf):
            raise IndexError("truncated protobuf field")
        out.append((field, value))
    return out


def _block(data: bytes, handle: bytes) -> list[tuple[bytes, bytes]]:
    """The (key, value) entries of the table block that ``handle`` (offset, size varints) points at."""
    offset, pos = _varint(handle, 0)
    size, _ = _varint(handle, pos)
    if offset + size + 5 > len(data):
        raise IndexError("block outside the file")
    if data[offset + size] != 0:
        raise ValueError("compressed table block (only uncompressed bundles are supported)")
    block = data[offset:offset + size]
    (n_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * n_restarts
    entries, pos, key = [], 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        n_value, pos = _varint(block, pos)
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        entries.append((key, block[pos:pos + n_value]))
        pos += n_value
    return entries


def read_index(path: Path) -> dict[str, tuple[type, tuple[int, ...], int, int]]:
    """Variable name → (dtype, shape, offset, size) from a bundle's ``.index`` table."""
    data = path.read_bytes()
    try:
        if len(data) < _FOOTER_LEN or struct.unpack_from("<Q", data, len(data) - 8)[0] != _TABLE_MAGIC:
            raise ValueError("not a TensorFlow table (bad magic number)")
        footer = data[-_FOOTER_LEN:]
        _, pos = _varint(footer, 0)  # metaindex handle (unused)
        _, pos = _varint(footer, pos)
        index_handle = footer[pos:]
        entries = {}
        for _, handle in _block(data, index_handle):
            for key, value in _block(data, handle):
                if key == b"":  # BundleHeaderProto
                    header = dict(_proto_fields(value))
                    if header.get(1, 1) != 1 or header.get(2, 0) != 0:
                        raise ValueError("only single-shard little-endian bundles are supported")
                    continue
                fields = _proto_fields(value)
                f = {k: v for k, v in fields}
                if any(k == 7 for k, _ in fields):
                    raise ValueError(f"{key.decode()}: sliced (partitioned) variables are not supported")
                dtype = _DTYPES.get(int(f.get(1, 0)))
                if dtype is None:
                    raise ValueError(f"{key.decode()}: unsupported dtype enum {f.get(1)}")
                shape = tuple(int(dict(_proto_fields(d)).get(1, 0))
                              for n, d in _proto_fields(f.get(2, b"")) if n == 2)
                if int(f.get(3, 0)) != 0:
                    raise ValueError(f"{key.decode()}: shard {f.get(3)} (only one shard is supported)")
                entries[key.decode()] = (dtype, shape, int(f.get(4, 0)), int(f.get(5, 0)))
    except (ValueError, IndexError, struct.error, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not a readable TensorFlow checkpoint index ({exc})") from exc
    return entries


def read_bundle(index_path: Path, data_path: Path) -> dict[str, np.ndarray]:
    """Every variable of a single-shard tensor bundle, as float32/int64 numpy arrays."""
    entries = read_index(index_path)
    data = data_path.read_bytes()
    out = {}
    for name, (dtype, shape, offset, size) in sorted(entries.items()):
        n = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if size != n * np.dtype(dtype).itemsize or offset < 0 or offset + size > len(data):
            raise CheckpointError(f"{data_path}: variable {name!r} {shape} does not fit (offset {offset}, size {size})")
        out[name] = np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<"), count=n, offset=offset).reshape(shape).copy()
    return out


def load_weights(model: str) -> tuple[dict[str, np.ndarray], PackagedCheckpoint]:
    """All variables of packaged checkpoint ``model`` and where they came from."""
    ckpt = locate(model)
    return read_bundle(ckpt.index_path, ckpt.data_path), ckpt
