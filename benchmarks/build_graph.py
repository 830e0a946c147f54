"""Building a graph: ``build_graph`` as it runs, beside the same build with the shipped persona
files parsed again each time (as every build did before they were parsed once per process).

A server, the MCP tools and ``emotion-director rewrite`` build a graph per run or per call, so
the build is paid once per request. Both are timed alternately in one process.

    python benchmarks/build_graph.py [--builds 30]
"""

from __future__ import annotations

import argparse
import statistics
import time

from emotion_director import Settings, build_graph
from emotion_director.personas import loader
from emotion_director.testing import TestChatModel


def _build(reparse: bool) -> float:
    if reparse:
        loader._shipped_personas.cache_clear()
    start = time.perf_counter()
    build_graph(Settings(backend="test"), chat_model=TestChatModel())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", type=int, default=30)
    args = parser.parse_args()
    _build(False)  # imports and first loads
    cached, reparsed = [], []
    for _ in range(args.builds):
        reparsed.append(_build(True))
        cached.append(_build(False))
    now, before = statistics.median(cached), statistics.median(reparsed)
    print(f"build_graph_ms: {now * 1000:.1f}")
    print(f"build_graph_ms_parsing_personas: {before * 1000:.1f}")
    print(f"build_graph_over_parsing_personas: {now / before:.3f}")


if __name__ == "__main__":
    main()
