"""Orchestration overhead: graph wall time / sum of the LLM-call times.

The test model has a fixed latency and serialises its calls (as the embedded llama.cpp model
does), so the ideal graph takes exactly the sum of its calls; everything above 1.0 is the cost
of LangGraph, validation, the concept graph and consensus. Both numbers come from the same runs.

    python benchmarks/orchestration_overhead.py [--latency 0.1] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from emotion_director import Settings, build_graph
from emotion_director.testing import TestChatModel


class SerialTimedModel(TestChatModel):
    """Fixed latency, one call at a time, and the time spent inside each call recorded."""

    def model_post_init(self, context) -> None:
        super().model_post_init(context)
        self._lock = asyncio.Lock()
        self._inside = 0.0

    async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs):
        async with self._lock:
            start = time.perf_counter()
            await asyncio.sleep(self.latency_s)
            result = self._reply(messages, kwargs)
            self._inside += time.perf_counter() - start
        return result


async def measure(mode: str, latency: float, runs: int) -> float:
    ratios = []
    for i in range(runs + 1):
        model = SerialTimedModel(latency_s=latency)
        graph = build_graph(Settings(backend="test", reading_mode=mode), chat_model=model)
        start = time.perf_counter()
        await graph.ainvoke({"prompt": "an angry dog", "emotion": "contentment", "seed": i})
        wall = time.perf_counter() - start
        if i:  # the first run warms imports and caches
            ratios.append(wall / model._inside)
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    write = asyncio.run(measure("write", args.latency, args.runs))
    choose = asyncio.run(measure("choose", args.latency, args.runs))
    print(f"overhead_write_mode: {write:.3f}")
    print(f"overhead_choose_mode: {choose:.3f}")


if __name__ == "__main__":
    main()
