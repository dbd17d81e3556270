"""The decode stage with its per-track cache cold (empty), warm (every file cached) and off.

    MOODFLOW_SHARED_DATA=/work/shared/data .venv/bin/python benchmarks/decode_cache.py
    .venv/bin/python benchmarks/decode_cache.py --synthetic 40   # no shared data: generated WAVs

The corpus is every mp3 of ``$MOODFLOW_SHARED_DATA`` (the real 4Q, PMEmo and emoMusic clips: 32
and 44.1 kHz, mono and stereo, decoded and resampled to 22.05 kHz like a dataset run), or
``--synthetic N`` generated 30 s stereo 44.1 kHz WAVs, as one folder dataset. Each repeat runs
``decode_dataset`` without a cache, with an empty cache (cold: decode + hash + write entries)
and again with the filled one (warm: hash + read entries), and checks that the three audio
stores are the same bytes. Prints a table of median wall seconds; ``--json PATH`` writes them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from moodflow.decode.cache import file_hash  # noqa: E402
from moodflow.decode.run import decode_dataset  # noqa: E402
from moodflow.prepare.run import prepare_dataset  # noqa: E402


def corpus(folder: Path, synthetic: int) -> str:
    folder.mkdir(parents=True)
    shared = os.environ.get("MOODFLOW_SHARED_DATA")
    if not synthetic and shared and Path(shared).is_dir():
        files = sorted(Path(shared).rglob("*.mp3"))
        for i, f in enumerate(files):
            shutil.copy(f, folder / f"{i:03d}_{f.name}")
        return f"{len(files)} real mp3 clips of $MOODFLOW_SHARED_DATA"
    import soundfile as sf

    n = synthetic or 40
    for i in range(n):
        rng = np.random.default_rng(i)
        t = np.arange(30 * 44100) / 44100
        y = np.stack([np.sin(2 * np.pi * f * t) for f in rng.uniform(100, 800, 2)], axis=1) * 0.3
        sf.write(folder / f"song{i:03d}.wav", (y + 0.01 * rng.normal(size=y.shape)).astype(np.float32), 44100,
                 subtype="PCM_16")
    return f"{n} generated 30 s stereo 44.1 kHz WAVs"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--synthetic", type=int, default=0, help="generated WAVs instead of the shared mp3s")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="moodflow-bench-decode-"))
    figures: dict[str, list[float]] = {"no cache": [], "cold": [], "warm": [], "hash only": []}
    try:
        what = corpus(root / "music", args.synthetic)
        prepared = root / "prepared"
        prepare_dataset({"name": "folder", "root": str(root / "music")}, prepared)
        audio_s = 0.0
        for rep in range(args.repeats):
            cache = root / f"cache-{rep}"
            for key, cache_dir in (("no cache", None), ("cold", cache), ("warm", cache)):
                out = root / f"{key.replace(' ', '-')}.h5"
                t0 = time.perf_counter()
                decode_dataset(prepared, out, root / "errors.csv", sample_rate=22050, cache_dir=cache_dir)
                figures[key].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for f in sorted((root / "music").iterdir()):
                file_hash(f)
            figures["hash only"].append(time.perf_counter() - t0)
            plain = (root / "no-cache.h5").read_bytes()
            assert (root / "cold.h5").read_bytes() == plain and (root / "warm.h5").read_bytes() == plain
            if not audio_s:
                import h5py

                with h5py.File(root / "warm.h5") as h5:
                    audio_s = float(np.sum(h5["tracks/duration_s"][:]))
            print(f"repeat {rep + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in figures.items()), flush=True)
        entries = sum(p.stat().st_size for p in (root / "cache-0").rglob("*.arrays"))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    load = os.getloadavg()
    print(f"\n{what}: {audio_s:.0f} s of audio decoded to 22.05 kHz mono; cache entries {entries / 2**20:.1f} MiB; "
          f"{len(os.sched_getaffinity(0))} cores, load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}")
    base = statistics.median(figures["no cache"])
    print("| decode | median wall (s) | runs | vs no cache |")
    print("|---|---|---|---|")
    for key, values in figures.items():
        med = statistics.median(values)
        print(f"| {key} | {med:.2f} | {', '.join(f'{v:.2f}' for v in values)} | {med / base:.2f}x |")
    if args.json:
        args.json.write_text(json.dumps({"corpus": what, "audio_s": audio_s, "entries_bytes": entries, "load": load,
                                         "wall_s": figures}, indent=1))


if __name__ == "__main__":
    main()
