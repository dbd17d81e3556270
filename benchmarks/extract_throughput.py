"""Extract-stage benchmark: moodflow vs the papers' naive per-file way, cache, memory, Dask.

    .venv/bin/python benchmarks/extract_throughput.py            # ~5-6 min on 2 quiet cores
    .venv/bin/python benchmarks/extract_throughput.py --tracks 20 --rss-sizes 20,100 --skip-dask

Generates synthetic music-like WAV tracks (chords + noise bursts) in a temporary folder and
prints, per extractor (compare, chroma): naive time, moodflow time (decode-once + extract),
speed-up, audio-seconds per second, CPU utilisation; then the incremental re-run cost with
5 % new tracks, peak RSS of the whole stage (process tree) at two dataset sizes, and a Dask
LocalCluster run against the local one. Timings are only meaningful on an otherwise idle
machine. ``--json PATH`` also writes the figures.

Naive = what the papers' scripts do: per track and per extractor, decode the file from disk
again; openSMILE through ``opensmile.Smile`` twice (functionals pass + LLD pass); librosa
``load`` + ``chroma_cqt`` per file; one process.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _measure import Measure, Sampler, cores  # noqa: E402

from moodflow.decode.audio import load_audio  # noqa: E402
from moodflow.stores.audio_store import AudioStoreWriter  # noqa: E402
from moodflow.extract.run import extract_store  # noqa: E402
from moodflow.stores.grid import frame_grid, window_stats  # noqa: E402

SR = 22050
REPO = Path(__file__).resolve().parents[1]


# -- data -------------------------------------------------------------------------------------
def synth_track(seed: int, seconds: float, sr: int = SR) -> np.ndarray:
    """Chords changing every 0.5-1 s, with harmonics and a few noise bursts (float32 mono)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    y = np.zeros(n, np.float32)
    pos = 0
    while pos < n:
        seg = min(n - pos, int(rng.uniform(0.5, 1.0) * sr))
        t = np.arange(seg) / sr
        for midi in rng.integers(45, 80, size=3):
            f = 440.0 * 2 ** ((midi - 69) / 12)
            for h in (1, 2, 3):
                y[pos:pos + seg] += np.sin(2 * np.pi * f * h * t + rng.uniform(0, 6.3)) / (6 * h)
        y[pos:pos + seg] *= np.exp(-t * rng.uniform(0.5, 3.0))
        burst = min(seg, int(0.05 * sr))
        y[pos:pos + burst] += rng.normal(scale=0.2, size=burst)
        pos += seg
    return np.clip(y, -1, 1).astype(np.float32)


def write_wavs(folder: Path, seeds: range, seconds: float) -> list[Path]:
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in seeds:
        path = folder / f"t{s:04d}.wav"
        if not path.exists():
            sf.write(path, synth_track(s, seconds), SR, subtype="PCM_16")
        paths.append(path)
    return paths


def decode(paths: list[Path], out: Path) -> Path:
    """The decode stage's work: every file decoded once into the audio store."""
    with AudioStoreWriter(out, sample_rate=SR, dataset="bench") as writer:
        for p in paths:
            writer.append(p.stem, load_audio(p, SR))
    return out


# -- naive ------------------------------------------------------------------------------------
def naive_compare(paths: list[Path]) -> None:
    import opensmile

    func = opensmile.Smile(opensmile.FeatureSet.ComParE_2016, opensmile.FeatureLevel.Functionals)
    lld = opensmile.Smile(opensmile.FeatureSet.ComParE_2016, opensmile.FeatureLevel.LowLevelDescriptors)
    for p in paths:
        func.process_file(str(p))
        frame = lld.process_file(str(p))
        starts = frame.index.get_level_values("start").total_seconds().to_numpy()
        start, end = frame_grid(float(frame.index.get_level_values("end").total_seconds().max()))
        window_stats(frame.to_numpy(), starts, start, end)


def naive_chroma(paths: list[Path]) -> None:
    import librosa

    for p in paths:
        y, sr = librosa.load(p, sr=SR)
        c = librosa.feature.chroma_cqt(y=y, sr=sr).T
        np.concatenate([c.mean(0), c.std(0)])
        start, end = frame_grid(len(y) / sr)
        window_stats(c, np.arange(len(c)) * 512 / sr, start, end)


NAIVE = {"compare": naive_compare, "chroma": naive_chroma}


# -- moodflow ---------------------------------------------------------------------------------
def run_stage(name: str, audio: Path, out: Path, cache: Path | None, workers: int = 0, **kw) -> dict:
    return extract_store(name=name, config={}, grid={}, audio_path=audio, prepared_dir=out.parent,
                         out_path=out, dataset="bench", workers=workers, cache_dir=cache, **kw)


def timed(fn, *args, **kw) -> tuple[Measure, object]:
    with Sampler() as s:
        result = fn(*args, **kw)
    return s.stop(), result


STAGE_CHILD = """
import sys
from moodflow.extract.run import extract_store
extract_store(name=sys.argv[1], config={}, grid={}, audio_path=sys.argv[2], prepared_dir=".",
              out_path=sys.argv[3], dataset="bench", workers=0, cache_dir=sys.argv[4])
"""


def stage_in_subprocess(name: str, audio: Path, out: Path, cache: Path) -> Measure:
    """The stage as its own process (what `dvc repro` runs), sampled from outside."""
    proc = subprocess.Popen([sys.executable, "-c", STAGE_CHILD, name, str(audio), str(out), str(cache)],
                            cwd=REPO, stderr=subprocess.DEVNULL)
    with Sampler(proc.pid) as s:
        rc = proc.wait()
    if rc:
        raise RuntimeError(f"extract {name} on {audio} exited with {rc}")
    return s.stop()


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracks", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--extractors", default="compare,chroma")
    ap.add_argument("--rss-sizes", default="50,500", help="two track counts for the memory check")
    ap.add_argument("--rss-seconds", type=float, default=3.0)
    ap.add_argument("--rss-extractor", default="chroma")
    ap.add_argument("--new-fraction", type=float, default=0.05)
    ap.add_argument("--incremental-tracks", type=int, default=200,
                    help="dataset size for the incremental re-run (fixed start-up costs weigh less on more tracks)")
    ap.add_argument("--repeats", type=int, default=2,
                    help="incremental section: best of this many full and incremental runs")
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--skip-mert", action="store_true",
                    help="skip MERT (random-init 95M-shaped model: naive vs the stage, float32 and dtype auto)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    n_cores = cores()
    res: dict = {"cores": n_cores, "tracks": args.tracks, "seconds": args.seconds}
    print(f"{n_cores} cores; {args.tracks} tracks x {args.seconds:g} s; load avg {_load()}")
    with tempfile.TemporaryDirectory(prefix="bench_extract_") as tmp_:
        tmp = Path(tmp_)
        base = write_wavs(tmp / "wav", range(args.tracks), args.seconds)
        m_dec, _ = timed(decode, base, tmp / "audio.h5")
        audio_s = args.tracks * args.seconds
        print(f"\ndecode once: {m_dec.wall_s:.1f} s ({audio_s / m_dec.wall_s:.0f} audio-s/s)")
        res["decode_s"] = m_dec.wall_s
        print(f"\n{'extractor':9} {'naive s':>8} {'mf s':>7} {'x naive':>8} {'x (+decode)':>11} "
              f"{'audio-s/s':>9} {'naive/mf CPU util':>18}")
        for name in args.extractors.split(","):
            NAIVE[name](base[:1])  # imports and first-call set-up are not counted against naive
            m_naive, _ = timed(NAIVE[name], base)
            m_mf, counts = timed(run_stage, name, tmp / "audio.h5", tmp / f"{name}.h5", None)
            assert counts["failed"] == 0, counts
            row = {
                "naive_s": m_naive.wall_s, "moodflow_s": m_mf.wall_s,
                "speedup": m_naive.wall_s / m_mf.wall_s,
                "speedup_with_decode": m_naive.wall_s / (m_mf.wall_s + m_dec.wall_s),
                "audio_s_per_s": audio_s / m_mf.wall_s, "naive_audio_s_per_s": audio_s / m_naive.wall_s,
                "cpu_util": m_mf.utilisation(n_cores), "naive_cpu_util": m_naive.utilisation(n_cores),
            }
            res[name] = row
            print(f"{name:9} {row['naive_s']:8.1f} {row['moodflow_s']:7.1f} {row['speedup']:7.2f}x "
                  f"{row['speedup_with_decode']:10.2f}x {row['audio_s_per_s']:9.0f} "
                  f"{row['naive_cpu_util']:8.0%} / {row['cpu_util']:.0%}")

        n_inc = args.incremental_tracks
        n_new = max(1, math.ceil(n_inc * args.new_fraction))
        grown = write_wavs(tmp / "wav_inc", range(n_inc + n_new), args.seconds)
        decode(grown[:n_inc], tmp / "audio_inc.h5")
        decode(grown, tmp / "audio_grown.h5")
        print(f"\nincremental: {n_inc} tracks cached, then {n_new} new ({n_new / n_inc:.0%}); "
              f"best of {args.repeats} runs each")
        for name in args.extractors.split(","):
            m_nocache, _ = timed(run_stage, name, tmp / "audio_inc.h5", tmp / f"{name}_inc.h5", None)
            m_full, m_inc = None, None
            for k in range(args.repeats):  # best of N: this VM's timings vary by 10-20 %
                cache = tmp / f"cache_{name}_{k}"
                m, _ = timed(run_stage, name, tmp / "audio_inc.h5", tmp / f"{name}_c.h5", cache)
                m_full = m if m_full is None or m.wall_s < m_full.wall_s else m_full
            for k in range(args.repeats):
                before = set(cache.rglob("*.arrays"))
                m, c_inc = timed(run_stage, name, tmp / "audio_grown.h5", tmp / f"{name}_g.h5", cache)
                assert c_inc["extracted"] == n_new, c_inc
                m_inc = m if m_inc is None or m.wall_s < m_inc.wall_s else m_inc
                if k < args.repeats - 1:
                    for entry in set(cache.rglob("*.arrays")) - before:
                        entry.unlink()
            m_noop, _ = timed(run_stage, name, tmp / "audio_grown.h5", tmp / f"{name}_n.h5", cache)
            row = {"full_cached_s": m_full.wall_s, "incremental_s": m_inc.wall_s, "all_cached_s": m_noop.wall_s,
                   "incremental_fraction": m_inc.wall_s / m_full.wall_s,
                   "cache_overhead": m_full.wall_s / m_nocache.wall_s - 1,
                   "extracted": c_inc["extracted"]}
            res[f"incremental_{name}"] = row
            print(f"  {name:8} full (cold cache) {m_full.wall_s:6.1f} s (cache overhead "
                  f"{row['cache_overhead']:+.0%} vs no cache); +{n_new} new: {m_inc.wall_s:5.1f} s "
                  f"= {row['incremental_fraction']:.1%} of full; nothing new: {m_noop.wall_s:.1f} s")

        sizes = [int(s) for s in args.rss_sizes.split(",")]
        print(f"\npeak RSS of the {args.rss_extractor} stage (process tree, cold cache, "
              f"{args.rss_seconds:g} s tracks):")
        res["rss"] = {}
        for n in sizes:
            wavs = write_wavs(tmp / f"wav_rss{n}", range(10_000, 10_000 + n), args.rss_seconds)
            audio = decode(wavs, tmp / f"audio_rss{n}.h5")
            m = stage_in_subprocess(args.rss_extractor, audio, tmp / f"rss{n}.h5", tmp / f"cache_rss{n}")
            res["rss"][n] = {"peak_rss_mib": m.peak_rss_mib, "wall_s": m.wall_s, "cpu_util": m.utilisation(n_cores)}
            print(f"  {n:5d} tracks: peak {m.peak_rss_mib:7.0f} MiB, {m.wall_s:6.1f} s, "
                  f"CPU {m.utilisation(n_cores):.0%}")

        if not args.skip_dask:
            name = "chroma" if "chroma" in args.extractors else args.extractors.split(",")[0]
            m_loc, _ = timed(run_stage, name, tmp / "audio.h5", tmp / "dl.h5", tmp / "cache_dl")
            m_dask, _ = timed(run_stage, name, tmp / "audio.h5", tmp / "dd.h5", tmp / "cache_dd", executor="dask")
            res["dask"] = {"extractor": name, "local_s": m_loc.wall_s, "dask_s": m_dask.wall_s,
                           "dask_cpu_util": m_dask.utilisation(n_cores)}
            print(f"\ndask LocalCluster ({n_cores} worker processes, start-up included) vs local, {name}, "
                  f"cold cache: local {m_loc.wall_s:.1f} s, dask {m_dask.wall_s:.1f} s "
                  f"({m_dask.wall_s / m_loc.wall_s:.2f}x), CPU {m_dask.utilisation(n_cores):.0%}")
    res["load_avg_end"] = _load()
    if not args.skip_mert:
        import bench_mert

        print("\nMERT (random-init MERT-v1-95M shape, CPU): naive = per file librosa.load at 24 kHz, "
              "5 s windows one at a time, no_grad, float32")
        m = bench_mert.main(["--tracks", "6", "--seconds", "10"])
        res["mert"] = m
        print(f"  naive {m['naive_s']:.1f} s ({m['audio_s_per_s']['naive']:.2f} audio-s/s); moodflow float32 "
              f"{m['moodflow_float32_s']:.1f} s ({m['speedup_float32']:.2f}x); moodflow dtype auto "
              f"(= {m['auto_compute_dtype']}) {m['moodflow_auto_s']:.1f} s ({m['speedup_auto']:.2f}x), "
              f"error vs float32 per state <= {m['auto_rel_error_per_state_max']:.1e}")
    print(f"\nload avg at the end {_load()} (timings are only comparable on an idle machine)")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, sort_keys=True, default=str) + "\n")
    return res


def _load() -> str:
    import os

    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"benchmark took {time.perf_counter() - t0:.0f} s")
