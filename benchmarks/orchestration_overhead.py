"""Orchestration overhead: graph wall time / sum of the LLM-call times.

The test model has a fixed latency and serialises its calls (as the embedded llama.cpp model
does), so the ideal graph takes exactly the sum of its calls; everything above 1.0 is the cost
of LangGraph, validation, the concept graph and consensus. Both numbers come from the same runs.

The same request runs each time (a new seed), so what is cached per scene (its MiniLM vectors,
its candidate concepts) is paid once; the ``new_scene`` lines run a scene not seen before each
time, as a user's requests mostly are (MiniLM reads each new scene's setting).

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


#: Scenes for the ``new_scene`` runs (none of them is in the shipped labels or prototypes).
NEW_SCENES = [
    "a night ferry crossing a fjord in sleet",
    "a beekeeper lifting a frame of comb in a lavender field",
    "a toddler asleep in a shopping trolley at a garden centre",
    "two chess players in a smoky cafe in Tbilisi",
    "a lifeguard tower on an empty beach in February",
    "a potter trimming a bowl on a wheel in a cramped studio",
    "a stray cat on the roof of a bus depot at sunrise",
    "a glassblower's apprentice sweeping up shards after closing",
    "an ice-cream van parked outside a flooded cricket ground",
    "a choir rehearsing in a half-built concrete church",
    "a tow truck driver eating noodles under a motorway bridge",
    "a heron on a shopping cart in a canal at dusk",
    "a retired astronaut tending tomatoes on an allotment",
]


async def measure(
    mode: str, latency: float, runs: int, new_scenes: list[str] | None = None
) -> float:
    ratios = []
    for i in range(runs + 1):
        model = SerialTimedModel(latency_s=latency)
        graph = build_graph(Settings(backend="test", reading_mode=mode), chat_model=model)
        prompt = new_scenes[i - 1] if new_scenes and i else "an angry dog"
        start = time.perf_counter()
        await graph.ainvoke({"prompt": prompt, "emotion": "contentment", "seed": i})
        wall = time.perf_counter() - start
        if i:  # the first run warms imports and caches
            ratios.append(wall / model._inside)
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if 2 * args.runs > len(NEW_SCENES):
        parser.error(f"--runs: at most {len(NEW_SCENES) // 2} (a new scene each run)")
    for n, mode in enumerate(("write", "choose")):
        same = asyncio.run(measure(mode, args.latency, args.runs))
        scenes = NEW_SCENES[n * args.runs : (n + 1) * args.runs]
        new = asyncio.run(measure(mode, args.latency, args.runs, scenes))
        print(f"overhead_{mode}_mode: {same:.3f}")
        print(f"overhead_{mode}_mode_new_scene: {new:.3f}")


if __name__ == "__main__":
    main()
