"""Orchestration overhead: graph wall time / sum of the LLM-call times.

The test model has a fixed latency and serialises its calls (as the embedded llama.cpp model
does), so the ideal graph takes exactly the sum of its calls; everything above 1.0 is the cost
of LangGraph, validation, the concept graph and consensus. Both numbers come from the same runs.

The same request runs each time (a new seed), so what is cached per scene (its MiniLM vectors,
its candidate concepts) is paid once; the ``new_scene`` lines run a scene not seen before each
time, as a user's requests mostly are (MiniLM reads each new scene's setting).

The ``bare_graph`` line is the floor LangGraph and LangChain set: a graph of the same shape (a
parse node, six persona nodes by ``Send``, one node after them) whose nodes do nothing but make
the same number of structured calls to the same model, with nothing of this library around them.

    python benchmarks/orchestration_overhead.py [--latency 0.1] [--runs 15] [--new-scene-runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import operator
import statistics
import time
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send
from pydantic import BaseModel

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
) -> tuple[float, int]:
    """The median ratio, and how many model calls a run made."""
    ratios, calls = [], 0
    for i in range(runs + 1):
        model = SerialTimedModel(latency_s=latency)
        graph = build_graph(Settings(backend="test", reading_mode=mode), chat_model=model)
        prompt = new_scenes[i - 1] if new_scenes and i else "an angry dog"
        start = time.perf_counter()
        await graph.ainvoke({"prompt": prompt, "emotion": "contentment", "seed": i})
        wall = time.perf_counter() - start
        if i:  # the first run warms imports and caches
            ratios.append(wall / model._inside)
            calls = len(model.calls)
    return statistics.median(ratios), calls


class _Pick(BaseModel):
    choice: str


class _BareState(TypedDict, total=False):
    prompt: str
    readings: Annotated[list[str], operator.add]
    out: str


def bare_graph(model: SerialTimedModel, calls: int, personas: int = 6) -> Any:
    """The graph's shape with no library code: each node only makes its structured calls."""
    structured = model.with_structured_output(_Pick)

    async def parse(state: _BareState) -> dict[str, Any]:
        return {"prompt": state["prompt"]}

    def fan_out(state: _BareState) -> list[Send]:
        return [Send("persona", {"prompt": state["prompt"]}) for _ in range(personas)]

    async def persona(task: dict[str, Any]) -> dict[str, Any]:
        pick = await structured.ainvoke([("user", task["prompt"])])
        return {"readings": [pick.choice]}

    async def after(state: _BareState) -> dict[str, Any]:
        choice = ""
        for _ in range(max(calls - personas, 0)):
            choice = (await structured.ainvoke([("user", state["prompt"])])).choice
        return {"out": choice}

    builder = StateGraph(_BareState)
    builder.add_node("parse", parse)
    builder.add_node("persona", persona)
    builder.add_node("after", after)
    builder.add_edge(START, "parse")
    builder.add_conditional_edges("parse", fan_out, ["persona"])
    builder.add_edge("persona", "after")
    builder.add_edge("after", END)
    return builder.compile()


async def measure_bare(latency: float, runs: int, calls: int) -> float:
    ratios = []
    for i in range(runs + 1):
        model = SerialTimedModel(latency_s=latency)
        graph = bare_graph(model, calls)
        start = time.perf_counter()
        await graph.ainvoke({"prompt": "an angry dog"})
        wall = time.perf_counter() - start
        if i:
            ratios.append(wall / model._inside)
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--runs", type=int, default=15, help="runs of the repeated request")
    parser.add_argument("--new-scene-runs", type=int, default=5)
    args = parser.parse_args()
    if 2 * args.new_scene_runs > len(NEW_SCENES):
        parser.error(f"--new-scene-runs: at most {len(NEW_SCENES) // 2} (a new scene each run)")
    for n, mode in enumerate(("write", "choose")):
        same, calls = asyncio.run(measure(mode, args.latency, args.runs))
        k = args.new_scene_runs
        new, _ = asyncio.run(measure(mode, args.latency, k, NEW_SCENES[n * k : (n + 1) * k]))
        bare = asyncio.run(measure_bare(args.latency, args.runs, calls))
        print(f"overhead_{mode}_mode: {same:.3f}")
        print(f"overhead_{mode}_mode_new_scene: {new:.3f}")
        print(f"overhead_{mode}_mode_bare_graph ({calls} calls): {bare:.3f}")


if __name__ == "__main__":
    main()
