"""GPU check: MERT-95M-shaped extraction, XGBoost and the neural heads on DEVICE against the CPU.

    benchmarks/gpu_check.sh                      # on a CUDA machine, < 8 min on one GPU
    benchmarks/gpu_check.sh --device cpu --tiny  # what CI runs (tests/test_gpu_check.py)

Writes one JSON (``--out``, default ``gpu_check.json``):

- ``mert``: a random-init HubertModel of MERT-v1-95M's exact shape (94.4 M parameters; a tiny
  one with ``--tiny``) saved as a local checkpoint, run by the real extract stage over a decoded
  audio store of ``--mert-tracks`` × 30 s, in float32 and bfloat16 at batch sizes 8 and 32:
  wall seconds (model load included), audio-seconds per second, and the bfloat16-vs-float32
  relative error of every track's stored values (goal on an H100/H200: ≥ 3,000 audio-s/s);
- ``xgboost``: 5-fold CV of XGBoost on the demo's compare store (chroma with ``--tiny``) with
  ``device: DEVICE`` and ``device: cpu``: seconds, R², largest prediction difference;
- ``heads``: ``mlp`` (static) and ``seq`` (dynamic) trained by the train stage on DEVICE and on
  the CPU: seconds and metrics, and whether they agree within ``--tolerance`` (R² points).
Nothing is downloaded; the demo dataset is generated.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MERT_95M = dict(
    hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
    conv_dim=[512] * 7, conv_stride=[5, 2, 2, 2, 2, 2, 2], conv_kernel=[10, 3, 3, 3, 3, 2, 2],
    conv_bias=False, feat_extract_norm="group", feat_proj_layer_norm=True,
    do_stable_layer_norm=False, num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16,
)
MERT_TINY = {**MERT_95M, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
             "intermediate_size": 64, "conv_dim": [16] * 7, "num_conv_pos_embeddings": 16,
             "num_conv_pos_embedding_groups": 2}
SR = 22050


def save_checkpoint(folder: Path, sizes: dict) -> Path:
    import torch
    from transformers import HubertConfig, HubertModel, Wav2Vec2FeatureExtractor

    torch.manual_seed(0)
    HubertModel(HubertConfig(**sizes)).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=24000, padding_value=0.0, do_normalize=True,
                             return_attention_mask=True).save_pretrained(folder)
    return folder


def music_store(path: Path, tracks: int, seconds: float) -> Path:
    """A decoded-audio store of demo-generator clips (the decode stage's output format)."""
    from moodflow.datasets.demo import clip_params, render_clip
    from moodflow.stores.audio_store import AudioStoreWriter

    with AudioStoreWriter(path, sample_rate=SR, dataset="gpu_check") as writer:
        for i in range(tracks):
            writer.append(f"m{i:04d}", render_clip(clip_params(1, i), seconds, SR).astype(np.float32))
    return path


def timed(fn, *args, **kw) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - t0, out


def check_mert(work: Path, device: str, tiny: bool, tracks: int, seconds: float) -> dict:
    from moodflow.extract.run import extract_store
    from moodflow.stores.feature_store import FeatureStore

    ckpt = save_checkpoint(work / "mert-ckpt", MERT_TINY if tiny else MERT_95M)
    audio = music_store(work / "mert-audio.h5", tracks, seconds)
    runs, values = {}, {}
    for dtype in ("float32", "bfloat16"):
        for batch in (8, 32):
            out = work / f"mert-{dtype}-{batch}.h5"
            config = {"model": str(ckpt), "device": device, "dtype": dtype, "batch_size": batch}
            wall, _ = timed(extract_store, name="mert", config=config, grid={}, audio_path=audio, prepared_dir=work,
                            out_path=out, dataset="gpu_check", workers=0, cache_dir=None)
            with FeatureStore(out) as store:
                values[(dtype, batch)] = store.static()
            runs[f"{dtype}/batch{batch}"] = {"wall_s": round(wall, 2), "audio_s_per_s": round(tracks * seconds / wall, 1)}
            print(f"mert {dtype} batch {batch}: {runs[f'{dtype}/batch{batch}']}", flush=True)
    ref, low = values[("float32", 8)], values[("bfloat16", 8)]
    rel = np.linalg.norm(low - ref, axis=1) / np.maximum(np.linalg.norm(ref, axis=1), 1e-12)
    batch_diff = float(np.max(np.abs(values[("float32", 32)] - ref)))
    best = max(r["audio_s_per_s"] for r in runs.values())
    return {"shape": "tiny" if tiny else "MERT-v1-95M", "tracks": tracks, "seconds_per_track": seconds,
            "audio_s": tracks * seconds, "runs": runs, "bf16_vs_fp32_relative_error": {
                "mean": float(rel.mean()), "max": float(rel.max())},
            "fp32_batch32_vs_batch8_max_abs_diff": batch_diff, "best_audio_s_per_s": best,
            "goal_3000_audio_s_per_s_met": bool(best >= 3000) if not tiny and device == "cuda" else None}


def demo(work: Path, tiny: bool) -> tuple[Path, str]:
    """The demo dataset prepared, decoded and one store extracted: (store path, feature set)."""
    from moodflow.decode.run import decode_dataset
    from moodflow.extract.run import extract_store
    from moodflow.prepare.run import prepare_dataset

    clips = {"n_clips": 24, "duration_s": 6.0} if tiny else {}
    prepare_dataset({"name": "demo", "demo": clips}, work / "prepared")
    decode_dataset(work / "prepared", work / "audio.h5", work / "decode_errors.csv", sample_rate=SR)
    name = "chroma" if tiny else "compare"
    extract_store(name=name, config={"kind": "stft"} if tiny else {}, grid={}, audio_path=work / "audio.h5",
                  prepared_dir=work / "prepared", out_path=work / f"{name}.h5", dataset="demo", workers=0)
    return work / f"{name}.h5", name


def check_xgboost(store: Path, prepared: Path, device: str) -> dict:
    from moodflow.core.config import build
    from moodflow.evaluation.protocols import make_folds
    from moodflow.evaluation.summary import metrics_from_predictions
    from moodflow.models import MODELS
    from moodflow.models.base import ModelRecipe
    from moodflow.stores.feature_store import FeatureStore
    from moodflow.stores.prepared import PreparedDataset
    from moodflow.train.crossval import cross_validate
    from moodflow.train.problems import ColumnsProblem

    labels = PreparedDataset.read(prepared).static_labels.set_index("track_id")
    with FeatureStore(store) as fs:
        X, ids = fs.static().astype(np.float64), np.asarray(fs.ids)
    problem = ColumnsProblem("regression", X, labels.loc[ids, ["valence", "arousal"]].to_numpy(float), ids,
                             ["valence", "arousal"])
    folds = make_folds(ids, kind="kfold", folds=5).folds
    out, preds = {}, {}
    for dev in dict.fromkeys((device, "cpu")):
        recipe = ModelRecipe("xgboost", build(MODELS.get("xgboost").Config, {"device": dev}, "train.xgboost"), n_jobs=1)
        wall, result = timed(cross_validate, recipe, problem, folds, seed=0, jobs=1)
        m = metrics_from_predictions(result.predictions, None)["static"]
        preds[dev] = result.predictions.select_dtypes("number").to_numpy(float)
        out[dev] = {"cv_wall_s": round(wall, 2), **{f"r2_{k}": round(v["r2"], 4) for k, v in m.items()}}
        print(f"xgboost {dev}: {out[dev]}", flush=True)
    out["max_abs_prediction_diff"] = float(np.nanmax(np.abs(preds[device] - preds["cpu"])))
    out["shape"] = list(X.shape)
    return out


def _scores(metrics: dict) -> dict[str, float]:
    """Flat {task.target.metric: value} of the R² and Pearson r figures in a metrics dict."""
    flat = {}
    for task in ("static", "dynamic"):
        for target, ms in (metrics.get(task) or {}).items():
            for key in ("r2", "pearson_r", "r"):
                if isinstance(ms, dict) and isinstance(ms.get(key), (int, float)):
                    flat[f"{task}.{target}.{key}"] = round(float(ms[key]), 4)
    return flat


def check_heads(store: Path, prepared: Path, feature_set: str, work: Path, device: str, tolerance: float,
                tiny: bool) -> dict:
    from moodflow.train.run import train_and_evaluate

    out = {}
    for model, dynamic in (("mlp", False), ("seq", True)):
        res = {}
        for dev in dict.fromkeys((device, "cpu")):
            config = {"device": dev, **({"epochs": 20 if model == "mlp" else 3} if tiny else {})}
            wall, metrics = timed(train_and_evaluate, store_path=store, prepared_dir=prepared, feature_set=feature_set,
                                  model_name=model, model_config=config, out_dir=work / f"models/{model}-{dev}",
                                  protocol={"kind": "kfold", "folds": 3}, seed=0, dynamic=dynamic, jobs=1,
                                  min_train=10, min_test=5)
            res[dev] = {"wall_s": round(wall, 2), "scores": _scores(metrics)}
            print(f"{model} {dev}: {res[dev]}", flush=True)
        a, b = res[device]["scores"], res["cpu"]["scores"]
        diff = max((abs(a[k] - b[k]) for k in a if k in b and k.endswith("r2")), default=0.0)
        res["max_r2_diff"] = round(diff, 4)
        res["within_tolerance"] = bool(diff <= tolerance and set(a) == set(b) and any(k.endswith("r2") for k in a))
        out[model] = res
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--tiny", action="store_true", help="tiny MERT and small data (CI on a CPU)")
    ap.add_argument("--mert-tracks", type=int, default=None, help="default: 200 (tiny: 3)")
    ap.add_argument("--mert-seconds", type=float, default=None, help="default: 30 (tiny: 6)")
    ap.add_argument("--tolerance", type=float, default=0.05, help="largest R² difference device vs CPU")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: mert,xgboost,heads")
    ap.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    args = ap.parse_args(argv)
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_check: --device cuda but torch sees no CUDA device (use --device cpu)")
    skip = set(filter(None, args.skip.split(",")))
    tracks = args.mert_tracks or (3 if args.tiny else 200)
    seconds = args.mert_seconds or (6.0 if args.tiny else 30.0)
    res: dict = {"device": args.device, "tiny": args.tiny, "host": platform.node(), "torch": torch.__version__,
                 "gpu": torch.cuda.get_device_name(0) if args.device == "cuda" else None,
                 "cpu_cores": os.cpu_count()}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="moodflow-gpu-check-") as tmp:
        work = Path(tmp)
        if "mert" not in skip:
            res["mert"] = check_mert(work, args.device, args.tiny, tracks, seconds)
        if not {"xgboost", "heads"} <= skip:
            store, name = demo(work, args.tiny)
            if "xgboost" not in skip:
                res["xgboost"] = check_xgboost(store, work / "prepared", args.device)
            if "heads" not in skip:
                res["heads"] = check_heads(store, work / "prepared", name, work, args.device, args.tolerance, args.tiny)
    res["total_wall_s"] = round(time.perf_counter() - t0, 1)
    args.out.write_text(json.dumps(res, indent=1, default=str) + "\n")
    print(f"gpu_check: wrote {args.out} ({res['total_wall_s']} s)")
    return res


if __name__ == "__main__":
    main()
