"""The suite's own cost table (``--cpu-report``), on a small suite of known cost."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SUITE = """
import subprocess, sys, time

SPIN = "import time\\nend = time.process_time() + 0.6\\nwhile time.process_time() < end: pass"

def test_spins_here():
    exec(SPIN)

def test_spins_in_a_child():
    subprocess.run([sys.executable, "-c", SPIN], check=True)

def test_idle():
    pass
"""


def test_the_cpu_report_tells_a_test_s_own_cpu_from_its_child_processes(tmp_path):
    (tmp_path / "test_small.py").write_text(SUITE)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.cpu_report",
            "--cpu-report",
            "2",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_small.py",
        ],
        cwd=tmp_path,  # (this project's pytest options stay out)
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    assert "CPU of the 2 costliest tests" in out and re.search(r"all 3 tests: [\d.]+ CPU-s", out)
    rows = {
        m[4].rsplit("::", 1)[1]: (float(m[2]), float(m[3]))
        for m in re.finditer(r"([\d.]+)s\s+([\d.]+) own\s+([\d.]+) children\s+(\S+)", out)
    }
    assert set(rows) == {"test_spins_here", "test_spins_in_a_child"}  # the idle test: 3rd
    own, children = rows["test_spins_here"]
    assert own >= 0.5 and children < 0.1
    own, children = rows["test_spins_in_a_child"]
    assert children >= 0.5 and own < 0.3
