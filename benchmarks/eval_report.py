"""`eval report` over a finished run: as a user runs it (a fresh process), side by side.

* ``kept``: the run as `eval run` leaves it (each rewrite's vector in vectors.jsonl), reported
  once before, so its plot is kept;
* ``control``: the same run with no vectors.jsonl and no plot (a run from before the vectors
  were kept, or a first report): MiniLM encodes every rewrite and matplotlib draws.

Rounds alternate the two; the medians and their ratio are printed.

    python benchmarks/eval_report.py [--cases 48] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from emotion_director import Settings
from emotion_director.evals import load_eval_dataset
from emotion_director.evals.metrics import VECTORS_FILE, TextMetrics
from emotion_director.evals.runner import run_eval
from emotion_director.testing import TestChatModel


def report_seconds(folder: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "emotion-director"), "eval", "report", str(folder)],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(done.stderr)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp())
    kept = root / "kept"
    asyncio.run(
        run_eval(
            ["identity", "template", "mc_agent"],
            load_eval_dataset("builtin:all")[: args.cases],
            kept,
            settings=Settings(backend="test"),
            chat_model=TestChatModel(),
            metrics=TextMetrics(),
        )
    )
    report_seconds(kept)  # the first report draws the plot it keeps
    times: dict[str, list[float]] = {"kept": [], "control": []}
    for _ in range(args.rounds):
        control = root / "control"
        shutil.rmtree(control, ignore_errors=True)
        shutil.copytree(kept, control)
        (control / VECTORS_FILE).unlink()
        (control / "emotion_alignment.png").unlink()
        times["control"].append(report_seconds(control))
        times["kept"].append(report_seconds(kept))
    median = {k: statistics.median(v) for k, v in times.items()}
    print(f"rows: {3 * args.cases}")
    print(f"eval_report_kept_s: {median['kept']:.2f}")
    print(f"eval_report_control_s: {median['control']:.2f}")
    print(f"eval_report_kept_over_control: {median['kept'] / median['control']:.3f}")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
