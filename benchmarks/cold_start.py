"""A fresh process's first rewrite: what ``emotion-director rewrite`` pays once per call, and what
every test that starts a real process pays, side by side with another checkout in one run.

Each sample is a new interpreter that imports the CLI, builds the graph on a deterministic test
model (no model time) and rewrites a scene it has not seen (MiniLM reads it); it reports its own
CPU seconds (user + system) and wall seconds. The two code paths alternate, and each row is the
median of ``--runs`` samples.

    python benchmarks/cold_start.py --against /tmp/start   # a worktree of an older commit
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = """
import json, resource, time
start = time.perf_counter()
from emotion_director import Settings, build_graph
from emotion_director.testing import TestChatModel
graph = build_graph(Settings(), chat_model=TestChatModel())
graph.invoke({"prompt": "a welder grinding a seam in a dry dock at dusk", "emotion": "awe"})
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"cpu": usage.ru_utime + usage.ru_stime, "wall": time.perf_counter() - start}))
"""


def sample(checkout: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(checkout), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", CODE],
        cwd="/",  # not this checkout: the path given decides which code runs
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: {done.stderr.strip().splitlines()[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, required=True, help="another checkout's root")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if not (args.against / "emotion_director" / "__init__.py").is_file():
        raise SystemExit(f"{args.against} holds no emotion_director package: give a checkout root")
    rows: dict[str, list[dict[str, float]]] = {"this": [], "against": []}
    for _ in range(args.runs):
        rows["this"].append(sample(ROOT))
        rows["against"].append(sample(args.against))
    med = {
        name: {key: statistics.median(s[key] for s in samples) for key in ("cpu", "wall")}
        for name, samples in rows.items()
    }
    for name in ("this", "against"):
        print(f"{name}: cpu_s {med[name]['cpu']:.2f}  wall_s {med[name]['wall']:.2f}")
    print(f"cpu_ratio_this_over_against: {med['this']['cpu'] / med['against']['cpu']:.3f}")


if __name__ == "__main__":
    main()
