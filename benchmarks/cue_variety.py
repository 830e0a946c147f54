"""How varied the added cues are across scenes of one emotion: the same "harsh red backlight" in
most anger prompts is the template-like output the project exists to avoid.

Two reports, each per emotion:

* **outputs** (``RUN.jsonl`` files of ``benchmarks/scene_fit_e2e.py``, side by side): the share
  of prompts holding the emotion's most frequent added phrase, and distinct phrases / all added
  phrases. Compare runs of the same scenes, one column per file.
* **offered** (``--offered SCENES``: a ``scene|emotion`` file or a run's JSONL): for each facet, how
  many of the emotion's concepts the ranking may offer a persona in a scene on average (they fit
  the scene and blind readers' risk is below the veto; MiniLM's reader risk where installed), and
  how many personas' shortlists (of the shipped seven, seed 0) hold the most offered concept of
  the facet. No model runs.

    python benchmarks/cue_variety.py before.jsonl after.jsonl
    python benchmarks/cue_variety.py --offered benchmarks/scene_fit/e2e_test96.txt
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path


def _rows(path: Path) -> list[dict[str, str]]:
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = []
    for line in path.read_text().splitlines():
        if "|" in line:
            scene, emotion = line.rsplit("|", 1)
            rows.append({"scene": scene.strip(), "emotion": emotion.strip()})
    return rows


def output_variety(rows: list[dict[str, str]]) -> dict[str, tuple[int, float, float, str]]:
    """``emotion -> (prompts, top phrase share, distinct / all, top phrase)`` of a run."""
    by: dict[str, list[list[str]]] = defaultdict(list)
    for row in rows:
        added = [p.strip() for p in (row.get("added") or "").split(",") if p.strip()]
        by[row["emotion"]].append(added)
    out = {}
    for emotion, prompts in sorted(by.items()):
        counts = Counter(p for added in prompts for p in set(added))
        total = sum(len(added) for added in prompts)
        top, k = counts.most_common(1)[0] if counts else ("", 0)
        out[emotion] = (len(prompts), k / len(prompts), len(counts) / max(total, 1), top)
    return out


def offered(rows: list[dict[str, str]]) -> None:
    from emotion_director.agents.persona_agent import (
        VETO_RISK,
        persona_pool,
        persona_seed,
        scene_terms,
        shortlist,
    )
    from emotion_director.emotions import Emotion
    from emotion_director.graph.builder import shared_reader_risk
    from emotion_director.graph.request import parse_request
    from emotion_director.knowledge.concept_graph import load_concept_graph
    from emotion_director.personas.loader import default_personas

    graph, reader, personas = load_concept_graph(), shared_reader_risk(), default_personas()
    print(f"reader risk: {'MiniLM' if reader is not None else 'count table'}")
    by: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by[row["emotion"]].append(row["scene"])
    print(f"{'emotion':12s} {'facet':14s} {'offered':>8s} {'top in':>7s}  most offered")
    for emotion, scenes in sorted(by.items()):
        safe: dict[str, list[int]] = defaultdict(list)
        held: dict[str, Counter[str]] = defaultdict(Counter)
        for text in scenes:
            request = parse_request(
                {"prompt": text, "emotion": emotion}, max_chars=2000, default_seed=0
            )
            scene = request["scene"]
            pool = persona_pool(graph, Emotion(emotion), scene, frozenset(request["subject_tags"]))
            if reader is not None:
                texts = [c.text for c in pool]
                scene = scene.model_copy(
                    update={"read_risk": dict(zip(texts, reader.risks(scene.text, texts)))}
                )
            terms = scene_terms(pool, scene)
            per = Counter(c.facet for c in pool if terms[id(c)][1] < VETO_RISK)
            for facet in ("light", "colour", "composition", "texture", "body_language"):
                safe[facet].append(per[facet])
            for persona in personas:
                seed = persona_seed(0, persona, Emotion(emotion), request["subject"])
                for concept in shortlist(persona, pool, seed=seed, scene=scene):
                    held[concept.facet][concept.text] += 1
        for facet, counts in safe.items():
            top, k = held[facet].most_common(1)[0] if held[facet] else ("-", 0)
            print(
                f"{emotion:12s} {facet:14s} {sum(counts) / len(counts):8.1f} "
                f"{k / len(scenes):7.2f}  {top[:60]}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="*", type=Path, help="scene_fit_e2e.py JSONL outputs")
    parser.add_argument("--offered", type=Path, help="scenes: what the ranking may offer")
    args = parser.parse_args()
    if args.offered:
        offered(_rows(args.offered))
    if not args.runs:
        return
    results = [output_variety(_rows(path)) for path in args.runs]
    names = [path.stem[:18] for path in args.runs]
    print(f"{'emotion':12s} " + " ".join(f"{n:>26s}" for n in names))
    print(f"{'':12s} " + " ".join(f"{'n  top share  distinct':>26s}" for _ in names))
    totals = [[0, 0.0, 0.0] for _ in names]
    for emotion in sorted({e for r in results for e in r}):
        cells = []
        for i, result in enumerate(results):
            n, top, distinct, _ = result.get(emotion, (0, 0.0, 0.0, ""))
            cells.append(f"{n:>10d} {top:10.2f} {distinct:8.2f}")
            totals[i][0] += n
            totals[i][1] += top * n
            totals[i][2] += distinct * n
        print(f"{emotion:12s} " + " ".join(cells))
        tops = (r.get(emotion, (0, 0.0, 0.0, ""))[3][:40] for r in results)
        print(f"{'':12s}   top: " + " | ".join(tops))
    print(
        f"{'all':12s} "
        + " ".join(f"{n:>10d} {top / max(n, 1):10.2f} {d / max(n, 1):8.2f}" for n, top, d in totals)
    )


if __name__ == "__main__":
    main()
