"""A miniature Emotify in the authors' exact layout: ``emotifymusic/<genre>/<n>.mp3`` (n = 1…100
within each genre, global ids 1–400 by genre) and ``data.csv`` with one row per rating and a
space after every comma in the header and rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from moodflow.datasets.emotify import CLASS_COLUMN, GEMS, GENRES, PER_GENRE
from tests.helpers.minis import Miniature

HEADER = ("track id, genre, amazement, solemnity, tenderness, nostalgia, calmness, power, joyful_activation, "
          "tension, sadness, mood, liked, disliked, age, gender, mother tongue")


def write_emotify(root: Path, per_genre: int = 8, raters: int = 6, seed: int = 0) -> dict[str, np.ndarray]:
    """Write the miniature under ``root``; returns each global track id's true GEMS shares
    (the mean of the ratings written), for checking the adapter."""
    rng = np.random.default_rng(seed)
    sr = 22050
    t = np.arange(sr) / sr
    lines = [HEADER]
    shares: dict[str, np.ndarray] = {}
    for g, genre in enumerate(GENRES):
        folder = root / "emotifymusic" / genre
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(1, per_genre + 1):
            tid = g * PER_GENRE + n
            tone = (0.3 * np.sin(2 * np.pi * (220 + 20 * n + 100 * g) * t)).astype(np.float32)
            sf.write(folder / f"{n}.mp3", tone, sr, format="MP3")
            p = rng.uniform(0.05, 0.9, size=len(GEMS))
            votes = (rng.uniform(size=(raters, len(GEMS))) < p).astype(int)
            shares[str(tid)] = votes.mean(axis=0)
            for r, row in enumerate(votes):
                fields = [str(tid), genre, *map(str, row), str(int(rng.integers(1, 6))), str(r % 2), str(1 - r % 2),
                          str(20 + r), "female" if r % 2 else "male", "English"]
                lines.append(", ".join(fields))
    (root / "data.csv").write_text("\n".join(lines) + "\n")
    return shares


def write(base: Path, per_genre: int = 2, raters: int = 3) -> Miniature:
    """The miniature for the adapter loop (tests/test_datasets_minis.py): ``per_genre`` tracks
    of each genre, with audio, ``raters`` ratings each."""
    root = base / "emotify"
    shares = write_emotify(root, per_genre=per_genre, raters=raters)
    ids = sorted(shares, key=int)
    static = pd.DataFrame({"track_id": ids, **{g: [shares[t][k] for t in ids] for k, g in enumerate(GEMS)},
                           CLASS_COLUMN: [GEMS[int(np.argmax(shares[t]))] for t in ids]})
    return Miniature(
        root=root, config={}, track_ids=ids, audio={t: 1.0 for t in ids},
        spec={"task": "regression", "static_targets": list(GEMS), "scale": (0.0, 1.0), "class_column": CLASS_COLUMN,
              "classes": sorted(set(static[CLASS_COLUMN]))},
        static=static, splits=None, durations={},
        notes=["one row per rating, a space after every comma", "genre folders numbered 1..100"])
