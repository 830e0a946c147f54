"""Eval runner: cached re-run vs first run, and concurrent vs sequential throughput.

1. The same eval twice (embedded backend, real SmolLM2), the second time in a new run folder that
   shares the first run's LLM cache: re-run time / first-run time (target <= 0.05).
2. The same eval against a latency-simulating OpenAI-compatible server on 127.0.0.1 (every call
   sleeps ``--latency`` s and answers a schema-valid tool call), with ``--concurrency`` items in
   flight vs one at a time: throughput ratio.

    python benchmarks/eval_cache.py [--cases 3] [--latency 0.2] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from emotion_director import Settings
from emotion_director.evals import load_eval_dataset
from emotion_director.evals.metrics import TextMetrics
from emotion_director.evals.runner import run_eval
from emotion_director.testing import SimulatedOpenAIServer


async def main_async(args: argparse.Namespace) -> None:
    metrics = TextMetrics()
    metrics.score_rewrite("warm up", "warm up", "awe")
    cases = load_eval_dataset("builtin:shortcut")[: args.cases]
    systems = ["single_llm", "mc_agent"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        start = time.perf_counter()
        first = await run_eval(
            systems,
            cases,
            tmp_path / "first",
            metrics=metrics,
            settings=Settings(backend="embedded"),
        )
        first_s = time.perf_counter() - start
        start = time.perf_counter()
        again = await run_eval(
            systems,
            cases,
            tmp_path / "again",
            metrics=metrics,
            settings=Settings(backend="embedded"),
            cache_path=tmp_path / "first" / "llm_cache.sqlite",
        )
        again_s = time.perf_counter() - start
        print(f"first_run_s: {first_s:.2f} ({first.cache_misses} model calls)")
        print(
            f"cached_rerun_s: {again_s:.2f} ({again.cache_hits} hits, {again.cache_misses} misses)"
        )

        many = load_eval_dataset("builtin:neutral")[: args.server_cases]
        timings = {}
        with SimulatedOpenAIServer("ok", latency=args.latency) as server:
            settings = Settings(
                backend="openai", base_url=server.url, reading_mode="choose", max_retries=0
            )
            for concurrency in (1, args.concurrency):
                start = time.perf_counter()
                await run_eval(
                    ["single_llm", "mc_agent"],
                    many,
                    tmp_path / f"c{concurrency}",
                    metrics=metrics,
                    settings=settings,
                    concurrency=concurrency,
                )
                timings[concurrency] = time.perf_counter() - start
        items = 2 * len(many)
        print(f"sequential_items_per_s: {items / timings[1]:.2f}")
        print(
            f"concurrent_items_per_s: {items / timings[args.concurrency]:.2f} "
            f"(concurrency {args.concurrency})"
        )
        print(
            f"concurrent_over_sequential_throughput: {timings[1] / timings[args.concurrency]:.2f}"
        )
        print(f"cached_rerun_over_first_run: {again_s / first_s:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=3)
    parser.add_argument("--server-cases", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=8)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
