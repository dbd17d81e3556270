#!/usr/bin/env bash
# GPU check (benchmarks/gpu_check.py): MERT-95M-shaped extraction in fp32/bf16 at batch 8/32,
# XGBoost device cuda vs cpu, mlp/seq heads on CUDA vs CPU; one JSON of figures.
#   benchmarks/gpu_check.sh [--out gpu_check.json]        # one GPU, < 8 min
#   benchmarks/gpu_check.sh --device cpu --tiny           # CPU smoke run (CI)
# PYTHON picks the interpreter (default: .venv/bin/python if present, else python3);
# GPU_CHECK_TIMEOUT (seconds, default 480) bounds the whole run.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export DISABLE_SAFETENSORS_CONVERSION=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec timeout "${GPU_CHECK_TIMEOUT:-480}" "$PYTHON" benchmarks/gpu_check.py "$@"
