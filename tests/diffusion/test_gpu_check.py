"""``benchmarks/gpu_check.py --dry``: the GPU check's whole sequence on tiny CPU components, one
JSON line per measurement (or its ``skipped`` line), each measured one with a finite median."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
EXPECTED = (
    [("dpo", "sd15")]
    + [
        (name, size)
        for size in ("sd15", "sdxl")
        for name in ("base", "control", "cached", "cached_mask", "uncached", "ip_adapter")
        + ("graph_base", "graph_control", "graph_cached", "graph_cached_mask", "graph_ip_adapter")
    ]
    + [(name, "attention") for name in ("text", "visual_key", "visual_mask", "visual_plain")]
)


def _dry_run(tmp_path, script, *args):
    """``benchmarks/SCRIPT --dry ARGS`` in a fresh process, this checkout first on the path."""
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "OMP_NUM_THREADS": "2",
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--dry", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_dry_run_writes_one_line_per_measurement(tmp_path):
    out = tmp_path / "gpu_check.jsonl"
    done = _dry_run(tmp_path, "gpu_check.py", "--out", str(out))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["measurement"] == "run"
    results = lines[1:]
    assert [(r["measurement"], r["size"]) for r in results] == EXPECTED
    for r in results:
        if "skipped" in r:
            assert r["why"] and not r["why"].startswith("error"), r
            continue
        assert r["device"] == "cpu" and r["dtype"] == "fp32" and r["scale"] == "tiny"
        assert r["rounds"] >= 2 and r["peak_mb"] is None
        assert math.isfinite(r["median"]) and r["median"] > 0, r
        assert r["p25"] <= r["median"] <= r["p75"], r
    # the printed lines are the file's lines
    printed = [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")]
    assert printed == lines


@pytest.mark.slow
def test_kernel_check_dry_run_passes_on_the_cpu(tmp_path):
    done = _dry_run(tmp_path, "gpu_kernel_check.py")
    line = json.loads(done.stdout.strip().splitlines()[-1])
    assert line["ok"] and line["dropped_exact"] and line["grads_finite"]
    assert line["max_abs_key_vs_mask"] < 1e-4
