"""How well the scene parser reads what a scene is of: its main subject and the kind of its nouns.

``benchmarks/scene_fit/subjects_gold.jsonl`` holds the 293 scenes of the end-to-end sets
(``e2e_dev.txt``, ``e2e_test.txt`` .. ``e2e_test8.txt``), each labelled by a language-model helper
that read no code: the head noun of the main subject, its kind, and the kind of every other
concrete noun, in the sense the scene means. Sets 6-8 are reported apart (``test``): they were
the held-out sets of the last round, labelled after the parser rules they measure were written.

    python benchmarks/scene_reader.py [-v]
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

GOLD = Path(__file__).parent / "scene_fit" / "subjects_gold.jsonl"
TEST_SETS = {"e2e_test6", "e2e_test7", "e2e_test8"}


def main(argv: list[str]) -> int:
    from emotion_director.knowledge.scene import kind_of, parse_scene, singular

    rows = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line]
    score: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for row in rows:
        part = "test" if row["set"] in TEST_SETS else "dev"
        entities = parse_scene(row["scene"]).entities
        main = entities[0] if entities else None
        gold = singular(row["subject"].lower())
        noun = singular(main.noun.lower().split()[-1]) if main else None
        counts = score[part]
        counts["scenes"] += 1
        counts["subject"] += noun == gold
        counts["kind"] += bool(main and main.kind == row["kind"])
        if "-v" in argv and not (main and main.kind == row["kind"]):
            print(
                f"  {part}: {row['scene']!r}: {row['subject']}/{row['kind']} read as "
                f"{main.noun if main else None}/{main.kind if main else None}"
            )
        for other, kind in row["nouns"].items():
            counts["nouns"] += 1
            counts["noun kind"] += kind_of(other) == kind
    for part in ("dev", "test"):
        c = score[part]
        print(
            f"{part}: {c['scenes']} scenes, main subject {c['subject'] / c['scenes']:.3f}, "
            f"its kind {c['kind'] / c['scenes']:.3f}; {c['nouns']} other nouns, kind "
            f"{c['noun kind'] / c['nouns']:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
