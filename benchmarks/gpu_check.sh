#!/usr/bin/env bash
# The GPU figures for MC-Diffusion in one run (README "Benchmarks"):
#   visual-prompt overhead at SD 1.5 size (batch 4) and SDXL size   (targets <= 1.05 / <= 1.03 per step)
#   DPO step / plain step at SD 1.5 and SDXL size, bf16, gradient checkpointing
#                                                    (targets <= 1.25x time and memory, <= 1.6x with NVP)
# Usage: bash benchmarks/gpu_check.sh          # on a CUDA machine
#        bash benchmarks/gpu_check.sh tiny     # the same sequence at tiny size on the CPU (dry run)
# Output goes to stdout and, when $OUT is set, to $OUT/gpu_check.log.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
LOG=${OUT:-/tmp}/gpu_check.log
: > "$LOG"

# The benchmarks need emotion_director.diffusion only; where the graph's dependencies (langgraph,
# langchain) are not installed, run them from a copy whose package __init__ imports nothing.
if ! PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" $PY -c "import emotion_director" 2>/dev/null; then
  LIGHT=$(mktemp -d)
  cp -r "$ROOT/emotion_director" "$LIGHT/"
  echo '"""emotion_director, diffusion benchmarks only (graph dependencies absent)."""' \
    > "$LIGHT/emotion_director/__init__.py"
  export PYTHONPATH="$LIGHT${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false

bench() {  # bench LIMIT_S SCRIPT ARGS...: one benchmark, its output labelled, never over LIMIT_S
  local limit=$1; shift
  echo "### $*" | tee -a "$LOG"
  timeout "$limit" $PY "$ROOT/benchmarks/$@" 2>&1 | grep -v -E "Warning|warn\(|should be kept in float32|torchvision" | tee -a "$LOG"
  echo "(exit ${PIPESTATUS[0]})" | tee -a "$LOG"
}

if [ "${1:-}" = "tiny" ]; then
  bench 300 visual_prompt_overhead.py --batch 4 --pairs 6 --gen-pairs 2 --gen-steps 3
  bench 300 visual_prompt_overhead.py --pairs 6 --gen-pairs 2 --gen-steps 3
  bench 300 dpo_step.py --pairs 2 --steps 2 --dtype bf16 --gradient-checkpointing
else
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$LOG"
  bench 70 visual_prompt_overhead.py --sd15-size --batch 4 --pairs 20 --gen-pairs 3 --gen-steps 10
  bench 90 visual_prompt_overhead.py --sdxl-size --pairs 20 --gen-pairs 3 --gen-steps 10
  bench 130 dpo_step.py --sdxl-size --dtype bf16 --gradient-checkpointing --pairs 2 --steps 4
  bench 120 dpo_step.py --sd15-size --dtype bf16 --gradient-checkpointing --pairs 4 --steps 4
fi
