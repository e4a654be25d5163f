#!/usr/bin/env bash
# Run on the GPU machine (no Jupyter, no network; PyTorch, transformers, peft there): the gpu
# profiles of the chapter 3 and 4 benchmarks, from the .device/ folder made by
# benchmarks/prepare_device.py. Results land in results/ and are copied to $OUT to come back.
set -euo pipefail
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export COURSE_DATA_DIR="$PWD/.device/data" COURSE_MINILM_DIR="$PWD/.device/minilm-fp16"
export COURSE_PROFILE=gpu HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
timeout 330 python benchmarks/gpt_shakespeare.py --profile gpu || echo "gpt_shakespeare failed or timed out"
timeout 420 python benchmarks/finetune_sst2.py --methods full lora || echo "finetune_sst2 failed or timed out"
mkdir -p "${OUT:-/tmp/out}" && cp results/*gpu*.json "${OUT:-/tmp/out}/" 2>/dev/null || true
