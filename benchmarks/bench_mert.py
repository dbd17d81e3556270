"""MERT-95M speed on CPU: 5 s windows batched vs one at a time (audio-seconds per second).

A random-init ``HubertModel`` of MERT-v1-95M's exact shape (hidden 768, 12 layers, 12 heads,
intermediate 3072, conv_dim 512×7; 94.4 M parameters) stands in for the real weights: speed
depends on the shapes, not the values. Nothing is downloaded or saved.

    .venv/bin/python benchmarks/bench_mert.py --seconds 30 --threads 2 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np


def build_95m(dtype: str = "float32", device: str = "cpu"):
    """(model, processor): a random MERT-v1-95M-shaped HubertModel and its 24 kHz processor."""
    import torch
    from transformers import HubertConfig, HubertModel, Wav2Vec2FeatureExtractor

    torch.manual_seed(0)
    cfg = HubertConfig(
        hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
        conv_dim=[512] * 7, conv_stride=[5, 2, 2, 2, 2, 2, 2], conv_kernel=[10, 3, 3, 3, 3, 2, 2],
        conv_bias=False, feat_extract_norm="group", feat_proj_layer_norm=True,
        do_stable_layer_norm=False, num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16,
    )
    model = HubertModel(cfg).eval().to(device=device, dtype=getattr(torch, dtype))
    processor = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=24000, padding_value=0.0,
                                         do_normalize=True, return_attention_mask=True)
    return model, processor


def main(argv: list[str] | None = None) -> dict:
    import torch

    from moodflow.features.mert import MERT_SAMPLE_RATE, embed_windows, window_bounds

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--compare-dtype", default="",
                    help="also run in this dtype (e.g. bfloat16): its speed and error vs --dtype")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    model, processor = build_95m(args.dtype, args.device)
    n_params = sum(p.numel() for p in model.parameters())
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(int(args.seconds * MERT_SAMPLE_RATE))).astype(np.float32)
    bounds = window_bounds(len(y), MERT_SAMPLE_RATE, window_s=5.0, min_window_s=1.0)
    windows = [y[a:b] for a, b in bounds]

    def run(batch_size: int) -> tuple[float, float, np.ndarray]:
        """Best wall and process-CPU seconds over the repeats (CPU time shows contention)."""
        best, cpu, out = float("inf"), float("inf"), None
        for _ in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            out = embed_windows(model, processor, windows, batch_size=batch_size, device=args.device)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t0)
            cpu = min(cpu, time.process_time() - c0)
        return best, cpu, out

    embed_windows(model, processor, windows[:1], batch_size=1, device=args.device)  # warm-up
    t_one, cpu_one, one = run(1)
    t_batch, cpu_batch, batched = run(args.batch_size)
    result = {
        "device": args.device, "dtype": args.dtype, "threads": args.threads,
        "cpu": platform.processor() or platform.machine(), "torch": torch.__version__,
        "parameters_M": round(n_params / 1e6, 1), "audio_s": args.seconds, "windows": len(windows),
        "one_at_a_time_s": round(t_one, 2), "batched_s": round(t_batch, 2),
        "one_at_a_time_cpu_s": round(cpu_one, 2), "batched_cpu_s": round(cpu_batch, 2),
        "batch_size": args.batch_size,
        "audio_s_per_s_one_at_a_time": round(args.seconds / t_one, 2),
        "audio_s_per_s_batched": round(args.seconds / t_batch, 2),
        "max_abs_diff_batched_vs_one": float(np.abs(batched - one).max()),
    }
    if args.compare_dtype:
        from moodflow.features.mert_loading import positional_conv_error

        model = model.to(getattr(torch, args.compare_dtype))
        result["compare_dtype"] = args.compare_dtype
        result["compare_positional_conv_error"] = round(positional_conv_error(model), 5)
        t_low, cpu_low, low = run(args.batch_size)
        result["compare_batched_s"] = round(t_low, 2)
        result["compare_batched_cpu_s"] = round(cpu_low, 2)
        result["compare_rel_error"] = float(np.linalg.norm(low - batched) / np.linalg.norm(batched))
        result["compare_rel_error_per_state"] = [
            round(float(np.linalg.norm(low[:, s] - batched[:, s]) / np.linalg.norm(batched[:, s])), 5)
            for s in range(batched.shape[1])
        ]
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
