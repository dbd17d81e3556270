"""benchmarks/gpu_check.sh runs through on a CPU (tiny configuration) and writes its figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_check_runs_on_cpu_and_writes_every_figure(tmp_path):
    out = tmp_path / "gpu_check.json"
    env = dict(os.environ, PYTHON=sys.executable, GPU_CHECK_TIMEOUT="400",
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([str(REPO / "benchmarks" / "gpu_check.sh"), "--device", "cpu", "--tiny", "--out", str(out)],
                         env=env, capture_output=True, text=True, timeout=450)
    assert res.returncode == 0, res.stderr[-3000:]
    figures = json.loads(out.read_text())
    mert = figures["mert"]
    assert sorted(mert["runs"]) == ["bfloat16/batch32", "bfloat16/batch8", "float32/batch32", "float32/batch8"]
    assert all(r["audio_s_per_s"] > 0 for r in mert["runs"].values())
    assert 0 < mert["bf16_vs_fp32_relative_error"]["max"] < 0.05  # bf16 differs, but little
    assert mert["fp32_batch32_vs_batch8_max_abs_diff"] < 1e-4  # equal-length windows: batching changes nothing
    assert figures["xgboost"]["cpu"]["cv_wall_s"] > 0 and figures["xgboost"]["max_abs_prediction_diff"] == 0.0
    for head in ("mlp", "seq"):
        assert figures["heads"][head]["within_tolerance"], figures["heads"][head]
    assert figures["device"] == "cpu" and figures["gpu"] is None


def test_gpu_check_refuses_cuda_without_a_gpu(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    res = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--out", str(tmp_path / "x.json")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "torch sees no CUDA device" in res.stderr
