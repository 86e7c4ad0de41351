#!/usr/bin/env bash
# The GPU check, in one command, for a machine with an NVIDIA GPU and its driver:
#   bench/gpu.sh
# installs the CUDA runtime wheels beside onnxruntime-gpu (CALLROLES_GPU=1, from PyPI), then runs
# `callroles bench gpu`: every ONNX model on CUDA and on CPU (speed, largest difference) and one
# call through run_call with execution_provider=cuda; results in bench/results/gpu.json.
# Budget: setup 2-6 min on a warm pip cache, the check about 1 min.
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || {
  echo "gpu.sh: no NVIDIA GPU here (nvidia-smi failed)"; exit 2; }
CALLROLES_GPU=1 deploy/setup.sh
exec timeout 480 .venv/bin/callroles bench gpu "$@"
