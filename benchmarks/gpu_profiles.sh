#!/usr/bin/env bash
# Run on the GPU machine (no Jupyter, no network; PyTorch, transformers, peft there): the gpu
# profiles of the chapter 3 and 4 benchmarks, from the .device/ folder made by
# benchmarks/prepare_device.py. Results land in results/ and are copied to $OUT to come back.
#
#   bash benchmarks/gpu_profiles.sh                 # both: chapter 3's GPT, then chapter 4's SST-2
#   FINETUNE_SECONDS=560 bash benchmarks/gpu_profiles.sh finetune   # one step per call, more time
#   bash benchmarks/gpu_profiles.sh precision       # MiniLM steps in fp32 vs bf16 (about a minute)
#
# The device tool stops a command after 600 s, so the default limits (GPT_SECONDS=250: 180 s of
# training plus start-up and evaluation; FINETUNE_SECONDS=330) add up to less than that, and every
# result is copied to $OUT as soon as it is written: a run cut short still brings back what it
# finished (finetune_sst2.py writes its file after each method).
set -euo pipefail
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export COURSE_DATA_DIR="$PWD/.device/data" COURSE_MINILM_DIR="$PWD/.device/minilm-fp16"
export COURSE_PROFILE=gpu HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
OUT="${OUT:-/tmp/out}"
mkdir -p "$OUT"
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(gpt finetune)
for step in "${steps[@]}"; do
  case "$step" in gpt|finetune|precision) ;;
    *) echo "unknown step '$step': use gpt, finetune and/or precision" >&2; exit 2;; esac
done

bring_back() { cp results/*gpu*.json "$OUT/" 2>/dev/null || true; }

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
for step in "${steps[@]}"; do
  case "$step" in
    gpt) timeout "${GPT_SECONDS:-250}" python benchmarks/gpt_shakespeare.py --profile gpu || echo "gpt_shakespeare failed or timed out" ;;
    # full fine-tuning first: if time runs out during LoRA, full's row is already written
    finetune) timeout "${FINETUNE_SECONDS:-330}" python benchmarks/finetune_sst2.py --methods full lora || echo "finetune_sst2 failed or timed out" ;;
    precision) timeout "${PRECISION_SECONDS:-150}" python benchmarks/minilm_precision.py || echo "minilm_precision failed or timed out" ;;
  esac
  bring_back
done
