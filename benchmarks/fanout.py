"""Persona fan-out: wall time of 6 persona agents with 200 ms latency / one 200 ms call.

Perfect parallelism gives 1.0; running them one after another would give 6.0. The single call is
timed in the same run, through the same seam (and the graph's cache of built structured-output
runnables), so both sides pay the same model overhead. ``new_scene`` runs a scene not seen before
each time, as a user's requests mostly are (MiniLM reads each new scene's setting).

    python benchmarks/fanout.py [--latency 0.2] [--personas 6] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from emotion_director import Settings, build_graph
from emotion_director.agents.persona_agent import picks_schema
from emotion_director.agents.structured import StructuredMemory, ainvoke_structured
from emotion_director.personas import default_personas
from emotion_director.testing import TestChatModel

sys.path.insert(0, str(Path(__file__).parent))
from orchestration_overhead import NEW_SCENES  # noqa: E402 (one list of new scenes)


async def one_call(model: TestChatModel, memory: StructuredMemory) -> float:
    start = time.perf_counter()
    await ainvoke_structured(
        model, picks_schema(8), [("user", "x")], node="bench", memory=memory, seed=1
    )
    return time.perf_counter() - start


async def run(
    latency: float, n_personas: int, runs: int, new_scenes: bool = False
) -> tuple[float, float, float]:
    model = TestChatModel(latency_s=latency)
    personas = default_personas()[:n_personas]
    graph = build_graph(
        Settings(backend="test", reading_mode="choose"), personas=personas, chat_model=model
    )
    walls, singles = [], []
    memory = StructuredMemory()
    for i in range(runs + 1):
        prompt = NEW_SCENES[i - 1] if new_scenes and i else "a dog in a park"
        start = time.perf_counter()
        await graph.ainvoke({"prompt": prompt, "emotion": "awe", "seed": i})
        wall = time.perf_counter() - start
        single = await one_call(model, memory)
        if i:
            walls.append(wall)
            singles.append(single)
    wall, single = statistics.median(walls), statistics.median(singles)
    return wall, single, wall / single


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--personas", type=int, default=6)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.runs > len(NEW_SCENES):
        parser.error(f"--runs: at most {len(NEW_SCENES)} (a new scene each run)")
    wall, single, ratio = asyncio.run(run(args.latency, args.personas, args.runs))
    new_wall, _, new_ratio = asyncio.run(run(args.latency, args.personas, args.runs, True))
    print(f"graph_wall_s: {wall:.3f}")
    print(f"one_call_s: {single:.3f}")
    print(f"sequential_equivalent: {args.personas:.1f}")
    print(f"fanout_wall_over_one_call: {ratio:.3f}")
    print(f"fanout_wall_over_one_call_new_scene: {new_ratio:.3f}")


if __name__ == "__main__":
    main()
