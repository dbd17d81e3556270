"""MERT extraction: the papers' way vs the moodflow extract stage (audio-seconds per second).

A random-init ``HubertModel`` of MERT-v1-95M's exact shape (hidden 768, 12 layers, 12 heads,
intermediate 3072, conv 512×7; 94.4 M parameters) is saved as a local checkpoint: speed depends
on the shapes, not the values. Nothing is downloaded.

- naive (MERT's model card, MARBLE): per file ``librosa.load(sr=24000)``, 5 s windows one at a
  time through the processor and ``model(..., output_hidden_states=True)`` under
  ``torch.no_grad()``, float32;
- moodflow: ``extract_store(name="mert")`` on the decoded audio store — windows batched,
  the DataLoader (``loader_workers: auto``: none on a CPU), ``inference_mode`` — once with
  ``dtype: float32`` and once with the default ``dtype: auto`` (bfloat16 where the hardware has
  it and the measured error is within the bound). Both sides include loading the model.

    .venv/bin/python benchmarks/bench_mert.py --tracks 6 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SR = 22050
MERT_95M = dict(
    hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
    conv_dim=[512] * 7, conv_stride=[5, 2, 2, 2, 2, 2, 2], conv_kernel=[10, 3, 3, 3, 3, 2, 2],
    conv_bias=False, feat_extract_norm="group", feat_proj_layer_norm=True,
    do_stable_layer_norm=False, num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16,
)


def save_checkpoint(folder: Path) -> Path:
    """A random MERT-v1-95M-shaped model and its 24 kHz processor, saved where
    ``features.mert.model`` can point."""
    import torch
    from transformers import HubertConfig, HubertModel, Wav2Vec2FeatureExtractor

    torch.manual_seed(0)
    HubertModel(HubertConfig(**MERT_95M)).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=24000, padding_value=0.0, do_normalize=True,
                             return_attention_mask=True).save_pretrained(folder)
    return folder


def naive(checkpoint: Path, paths: list[Path], window_s: float = 5.0, device: str = "cpu") -> dict[str, np.ndarray]:
    """The papers' way: per file, load at 24 kHz, one window at a time, ``no_grad``, float32."""
    import librosa
    import torch
    from transformers import HubertModel, Wav2Vec2FeatureExtractor

    model = HubertModel.from_pretrained(checkpoint).eval().to(device)
    processor = Wav2Vec2FeatureExtractor.from_pretrained(checkpoint)
    out = {}
    for path in paths:
        y, sr = librosa.load(path, sr=24000)
        size = int(window_s * sr)
        rows = []
        for start in range(0, len(y), size):
            window = y[start:start + size]
            if len(window) < sr and start > 0:  # a tail shorter than 1 s is dropped (MARBLE)
                break
            inputs = processor(window, sampling_rate=sr, return_tensors="pt").to(device)
            with torch.no_grad():
                res = model(**inputs, output_hidden_states=True)
            rows.append(torch.stack(res.hidden_states).squeeze(1).mean(-2).cpu().numpy())
        out[path.stem] = np.stack(rows)
    return out


def moodflow(checkpoint: Path, audio: Path, out: Path, dtype: str, threads: int, device: str = "cpu") -> None:
    from moodflow.extract.run import extract_store

    extract_store(name="mert", config={"model": str(checkpoint), "device": device, "dtype": dtype,
                                       "threads": threads},
                  grid={}, audio_path=audio, prepared_dir=out.parent, out_path=out, dataset="bench")


def main(argv: list[str] | None = None) -> dict:
    import torch

    from extract_throughput import decode, write_wavs
    from moodflow.features.mert.precision import native_bf16
    from moodflow.stores.feature_store import FeatureStore

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (both sides)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-mert-") as tmp:
        tmp = Path(tmp)
        checkpoint = save_checkpoint(tmp / "mert95m")
        paths = write_wavs(tmp / "wav", range(args.tracks), args.seconds)
        audio = decode(paths, tmp / "audio.h5")
        naive(checkpoint, paths[:1], device=args.device)  # warm-up: first-call costs are not the method's
        t0 = time.perf_counter()
        ref = naive(checkpoint, paths, device=args.device)
        t_naive = time.perf_counter() - t0
        times, stores = {}, {}
        for dtype in ("float32", "auto"):
            t0 = time.perf_counter()
            moodflow(checkpoint, audio, tmp / f"{dtype}.h5", dtype, args.threads, args.device)
            times[dtype] = time.perf_counter() - t0
            with FeatureStore(tmp / f"{dtype}.h5") as store:
                stores[dtype] = ({t: store.frames(t)[0] for t in ref}, store.config["compute_dtype"])
        audio_s = args.tracks * args.seconds
        fp32, auto = stores["float32"][0], stores["auto"][0]
        n_states = next(iter(fp32.values())).shape[1]
        per_state = [
            float(np.linalg.norm(np.concatenate([auto[t][:, s] - fp32[t][:, s] for t in ref]))
                  / np.linalg.norm(np.concatenate([fp32[t][:, s] for t in ref])))
            for s in range(n_states)
        ]
        result = {
            "cpu": platform.processor() or platform.machine(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "device": args.device,
            "native_bf16": native_bf16(args.device),
            "tracks": args.tracks, "audio_s": audio_s,
            "naive_s": round(t_naive, 2), "moodflow_float32_s": round(times["float32"], 2),
            "moodflow_auto_s": round(times["auto"], 2), "auto_compute_dtype": stores["auto"][1],
            "speedup_float32": round(t_naive / times["float32"], 2),
            "speedup_auto": round(t_naive / times["auto"], 2),
            "audio_s_per_s": {"naive": round(audio_s / t_naive, 2),
                              "float32": round(audio_s / times["float32"], 2),
                              "auto": round(audio_s / times["auto"], 2)},
            "max_abs_diff_float32_vs_naive": float(max(np.abs(fp32[t] - ref[t]).max() for t in ref)),
            "auto_rel_error_per_state_max": round(max(per_state), 5),
            "auto_rel_error_per_state_min": round(min(per_state), 5),
        }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
