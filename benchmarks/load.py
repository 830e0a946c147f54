"""Load: 50 graph runs at once vs one after another, against a latency-simulating loopback server.

Each model call takes ``--latency`` s on the simulated OpenAI-compatible server (7 persona calls per
run, concurrent within a run). Prints throughput both ways, their ratio (target >= 10x) and the p95
latency of a run under load.

    python benchmarks/load.py [--runs 50] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from emotion_director import Settings, build_graph
from emotion_director.testing import SimulatedOpenAIServerProcess


async def one(graph, i: int) -> float:
    start = time.perf_counter()
    out = await graph.ainvoke(
        {"prompt": f"a dog wearing tag number {i}", "emotion": "awe", "seed": i}
    )
    assert out["subject"] == f"a dog wearing tag number {i}"  # no cross-talk
    return time.perf_counter() - start


async def main_async(runs: int, latency: float) -> None:
    # the server runs in its own process: only the graph's own cost stays in this one
    with SimulatedOpenAIServerProcess("ok", latency=latency) as server:
        graph = build_graph(Settings(backend="openai", base_url=server.url, reading_mode="choose"))
        await one(graph, -1)  # warm-up
        start = time.perf_counter()
        sequential = [await one(graph, i) for i in range(runs)]
        sequential_s = time.perf_counter() - start
        start = time.perf_counter()
        concurrent = await asyncio.gather(*(one(graph, i) for i in range(runs)))
        concurrent_s = time.perf_counter() - start
    p95 = statistics.quantiles(concurrent, n=20)[18]
    print(
        f"sequential_runs_per_s: {runs / sequential_s:.2f} "
        f"(p50 {statistics.median(sequential):.3f} s)"
    )
    print(f"concurrent_runs_per_s: {runs / concurrent_s:.2f}")
    print(f"concurrent_p95_latency_s: {p95:.3f}")
    print(f"throughput_ratio: {sequential_s / concurrent_s:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    asyncio.run(main_async(args.runs, args.latency))


if __name__ == "__main__":
    main()
