"""Miniature copies of the datasets in their authors' layouts, written by code (mirdata's sample
folders, without committing audio).

One module per registered dataset adapter, ``tests/helpers/minis/<adapter name>.py``, with
``write(base: Path) -> Miniature``: it writes the dataset's own file names, CSV dialects and
quirks (header spaces, CRLF, quoted fields, ragged rows, label offsets …) with a few seconds of
generated audio under ``base``, and returns what the adapter should read from it.
``tests/test_datasets_minis.py`` prepares every registered adapter's miniature and compares; an
adapter without a miniature fails there.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf


@dataclass
class Miniature:
    """A written miniature and what its adapter should make of it.

    ``static`` / ``dynamic`` are the labels exactly as prepared (``track_id`` first; None for the
    demo, which makes its own and is checked by its scale); ``audio`` the seconds of audio each
    track with a file got; ``durations`` the manifest's ``duration_s`` where the dataset states it
    (None: not checked); ``spec`` the :class:`LabelSpec` fields the adapter must set;
    ``provided`` the ``info.provided_features`` entries (paths relative to ``root``).
    """

    root: Path | None
    config: dict[str, Any]
    track_ids: list[str]
    audio: dict[str, float]
    spec: dict[str, Any]
    static: pd.DataFrame | None
    dynamic: pd.DataFrame | None = None
    splits: dict[str, str] | None = None
    durations: dict[str, float] | None = None
    provided: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)  # the quirks this miniature reproduces

    def params(self, name: str) -> dict[str, Any]:
        """The ``dataset`` section of params.yaml that prepares this miniature."""
        return {"name": name, "root": str(self.root) if self.root else "", name: dict(self.config)}


def names() -> list[str]:
    """The adapters that have a miniature (module names of this package)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def module(name: str) -> ModuleType:
    """The miniature writer of adapter ``name``."""
    return importlib.import_module(f"{__name__}.{name}")


def write_audio(path: Path, seconds: float = 2.0, sample_rate: int = 22050, channels: int = 1,
                seed: int = 0) -> float:
    """A few seconds of a chord with a little noise (never silent, different per ``seed``) in the
    format the suffix names (mp3, wav, flac, ogg); returns the duration written."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    root = 110.0 * 2 ** (rng.integers(0, 24) / 12)
    y = sum(0.2 * np.sin(2 * np.pi * root * r * t) for r in (1.0, 1.25, 1.5))
    y = y * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * t)) + 0.01 * rng.standard_normal(n)
    data = np.stack([y, np.roll(y, 7)], axis=1) if channels == 2 else y
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".mp3": "MP3", ".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}[path.suffix.lower()]
    sf.write(path, data.astype(np.float32), sample_rate, format=fmt)
    return n / sample_rate


def write_text(path: Path, lines: list[str], newline: str = "\n") -> Path:
    """``lines`` joined by ``newline`` (CRLF where the authors' file has it), ending with one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(newline.join(lines) + newline)
    return path


def write_split_dir(folder: Path, splits: dict[str, str]) -> Path:
    """Music2Emo's split files: ``train.txt``, ``validation.txt``, ``test.txt``, one id a line."""
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation", "test"):
        (folder / f"{split}.txt").write_text("".join(f"{t}\n" for t, s in splits.items() if s == split))
    return folder


def num(value: float) -> str:
    """A label as the authors' CSVs print it: the shortest repr (``3.1``, ``0.4375``, ``3``)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text
