"""How well the refiner's cue filter tells drawable cues from a small model's noise.

``benchmarks/cues/server_cues.jsonl`` holds the 472 distinct cues SmolLM2-135M wrote as persona
cues over a real llama.cpp server (``python -m llama_cpp.server``, write mode, 27 scenes of the
end-to-end sets, 2026-12-07), each labelled ``drawable`` or not by a helper who saw the cue
alone and no rule of the filter. The filter is what the refiner asks of a persona's free cue:
:func:`~emotion_director.agents.text.undrawable_reason`, then the refiner's grounding check
(two content words beyond the subject, English words for an English scene). Scored on halves
split by a hash of the scene (dev was read while building the filter, test was not), beside a
control that drops cues at random at the same rate.

    python benchmarks/cue_filter.py [--misses]
"""

from __future__ import annotations

import argparse
import json
import random
import zlib
from pathlib import Path

from emotion_director.agents import refiner
from emotion_director.agents.text import undrawable_reason
from emotion_director.emotions import Emotion
from emotion_director.knowledge import load_concept_graph, parse_scene
from emotion_director.knowledge.concept_graph import content_words

CASES = Path(__file__).parent / "cues" / "server_cues.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="list the dev cues scored wrong")
    args = parser.parse_args()
    graph = load_concept_graph()
    rows = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        scene = parse_scene(row["scene"])
        row["reason"] = undrawable_reason(row["cue"]) or refiner._ungrounded_reason(
            row["cue"],
            graph,
            Emotion(row["emotion"]),
            content_words(row["scene"]),
            english=scene.english,
        )
        row["split"] = "dev" if zlib.crc32(row["scene"].encode()) % 2 == 0 else "test"
    rate = sum(r["reason"] is not None for r in rows) / len(rows)
    rng = random.Random(0)
    control = {id(r): rng.random() < rate for r in rows}
    print(f"cues: {len(rows)} ({sum(not r['drawable'] for r in rows)} labelled undrawable)")
    for split in ("dev", "test"):
        part = [r for r in rows if r["split"] == split]
        for name, drops in (
            ("filter", lambda r: r["reason"] is not None),
            ("control: random drops at its rate", lambda r: control[id(r)]),
        ):
            hit = sum(drops(r) and not r["drawable"] for r in part)
            dropped = sum(drops(r) for r in part)
            bad = sum(not r["drawable"] for r in part)
            fine_dropped = sum(drops(r) and r["drawable"] for r in part)
            print(
                f"{split} {name}: precision {hit / max(dropped, 1):.3f} recall "
                f"{hit / max(bad, 1):.3f} (drawable cues dropped: {fine_dropped} of "
                f"{len(part) - bad})"
            )
    if args.misses:
        for r in rows:
            if r["split"] == "dev" and (r["reason"] is not None) == r["drawable"]:
                print("kept" if r["reason"] is None else "dropped", "|", r["cue"], "|", r["reason"])


if __name__ == "__main__":
    main()
