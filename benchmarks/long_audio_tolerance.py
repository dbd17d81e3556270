"""How far the windowed (long-signal) path of every extractor is from the in-memory one, on real audio.

    MOODFLOW_SHARED_DATA=/work/shared/data .venv/bin/python benchmarks/long_audio_tolerance.py --json tol.json

Every clip of ``$MOODFLOW_SHARED_DATA`` PMEmo and 4Q (``--clips``) is decoded at 22.05 kHz and
analysed twice per extractor: ``extract`` (the whole signal in memory, what every track up to
15 minutes gets) and ``extract_long`` in blocks of ``--block-s`` seconds (what longer tracks
get; short blocks put many chunk boundaries into a short clip). Reported per extractor: the
largest absolute and relative difference of the static vector and of the frames over all clips,
and whether they were bit-identical.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

EXTRACTORS = [("compare", {}), ("egemaps", {}), ("musicnn", {}), ("chroma", {}), ("chroma", {"kind": "stft"}),
              ("midlevel", {}), ("chords", {})]


def _diff(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    both = np.isfinite(a) & np.isfinite(b)
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return float("inf"), float("inf")
    d = np.abs(a - b)[both]
    if not d.size:
        return 0.0, 0.0
    rel = d / np.maximum(np.abs(a[both]), 1e-12)
    return float(d.max()), float(rel[np.abs(a[both]) > 1e-6].max()) if (np.abs(a[both]) > 1e-6).any() else 0.0


def main(argv: list[str] | None = None) -> int:
    from moodflow.decode.audio import load_audio
    from moodflow.features import build_extractor
    from moodflow.stores.signal import ArraySignal

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--block-s", type=float, default=10.0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    root = Path(os.environ.get("MOODFLOW_SHARED_DATA", "../shared/data"))
    clips = sorted((root / "PMEmo2019/chorus").glob("*.mp3")) + sorted((root / "4Q/MER_audio_taffc_dataset").rglob("*.mp3"))
    clips = clips[: args.clips]
    signals = [load_audio(c, 22050) for c in clips]
    out = []
    for name, config in EXTRACTORS:
        ex = build_extractor(name, config, {})
        worst = {"static_abs": 0.0, "static_rel": 0.0, "frames_abs": 0.0, "frames_rel": 0.0}
        identical = True
        for y in signals:
            a, b = ex.extract(y, 22050), ex.extract_long(ArraySignal(y, 22050), block_s=args.block_s)
            for part in ("static", "frames"):
                identical &= bool(np.array_equal(getattr(a, part), getattr(b, part), equal_nan=True))
                d_abs, d_rel = _diff(getattr(a, part), getattr(b, part))
                worst[f"{part}_abs"] = max(worst[f"{part}_abs"], d_abs)
                worst[f"{part}_rel"] = max(worst[f"{part}_rel"], d_rel)
            identical &= bool(np.array_equal(a.start_s, b.start_s) and np.array_equal(a.end_s, b.end_s))
        row = {"extractor": name, "config": config, "clips": len(signals), "bit_identical": identical,
               **{k: float(f"{v:.3g}") for k, v in worst.items()}}
        out.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
