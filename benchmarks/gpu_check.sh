#!/usr/bin/env bash
# The GPU check, now benchmarks/gpu_check.py (JSON lines; --dry: tiny, on the CPU; --out FILE).
exec "${PYTHON:-python3}" "$(dirname "$0")/gpu_check.py" "$@"
