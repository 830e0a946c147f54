"""End-to-end rewrite on the embedded backend (SmolLM2-135M GGUF, default personas).

Prints the p50 latency over 5 prompts, the peak RSS, and, from the same runs, the share of wall
time spent inside llama.cpp calls (graph wall / model time): what is left to optimise outside
the model. The first (cold) run, which loads the GGUF, is reported separately.

    python benchmarks/embedded_rewrite.py
"""

from __future__ import annotations

import resource
import statistics
import time

import emotion_director.agents.embedded as models
from emotion_director import Settings, build_graph

PROMPTS = [
    ("a dog in a park", "awe"),
    ("an angry dog", "contentment"),
    ("a funeral", "amusement"),
    ("a birthday party", "fear"),
    ("a bowl of fruit on a table", "disgust"),
]

_inside = 0.0
_calls = 0
_original = models.EmbeddedChatModel._generate_here


def _timed(self, *args, **kwargs):
    global _inside, _calls
    start = time.perf_counter()
    try:
        return _original(self, *args, **kwargs)
    finally:
        _inside += time.perf_counter() - start
        _calls += 1


def main() -> None:
    global _inside, _calls
    models.EmbeddedChatModel._generate_here = _timed
    graph = build_graph(Settings(backend="embedded"))
    start = time.perf_counter()
    graph.invoke({"prompt": "a cat", "emotion": "sadness"})
    cold = time.perf_counter() - start
    walls, inside = [], []
    for prompt, emotion in PROMPTS:
        _inside = 0.0
        start = time.perf_counter()
        graph.invoke({"prompt": prompt, "emotion": emotion})
        walls.append(time.perf_counter() - start)
        inside.append(_inside)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    p50 = statistics.median(walls)
    print(f"cold_first_run_s: {cold:.2f}")
    print(f"latencies_s: {' '.join(f'{w:.2f}' for w in walls)}")
    print(f"model_calls_per_run: {_calls / (len(PROMPTS) + 1):.1f}")
    print(f"peak_rss_mb: {rss_mb:.0f}")
    print(
        f"graph_wall_over_model_time: {statistics.median(w / i for w, i in zip(walls, inside)):.3f}"
    )
    print(f"p50_latency_s: {p50:.2f}")


if __name__ == "__main__":
    main()
