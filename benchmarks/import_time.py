"""Import cost: what a command pays before it does anything, side by side in one run.

Each row is the median of ``--repeat`` fresh interpreters (``python -c ...``), beside a bare
interpreter as the control. The package root and the CLI import no LangGraph or langchain-core
until a graph is built, so ``personas``, ``bank``, ``scene`` and ``eval report`` commands start at
once; ``build_graph`` pays for them on first use.

    python benchmarks/import_time.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

ROWS = {
    "bare interpreter (control)": "pass",
    "import emotion_director": "import emotion_director",
    "import emotion_director.cli": "import emotion_director.cli",
    "... and build_graph (the graph's imports)": "from emotion_director import build_graph",
    "import langgraph.graph + langchain_core models": (
        "import langgraph.graph, langchain_core.language_models"
    ),
}


def timed(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    results = {name: [] for name in ROWS}
    for _ in range(args.repeat):  # interleaved: load drifts hit every row alike
        for name, code in ROWS.items():
            results[name].append(timed(code))
    base = statistics.median(results["bare interpreter (control)"])
    for name, times in results.items():
        median = statistics.median(times)
        print(f"{name:<46} {median:6.3f} s   {median / base:5.2f}x the bare interpreter")
    root = statistics.median(results["import emotion_director"])
    graph = statistics.median(results["... and build_graph (the graph's imports)"])
    print(
        f"import emotion_director costs {root / graph:.2f}x of importing the graph's stack "
        "(target: <= 0.5 s on 2 cores)"
    )


if __name__ == "__main__":
    main()
