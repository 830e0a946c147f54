"""Blind labelling of end-to-end scene-fit runs: shuffle the outputs of several code versions for
readers, then score each version from the readers' labels.

``make`` writes the distinct (scene, prompt) pairs of every version, shuffled, without saying
which version wrote them (``judgeN_in.jsonl``, what a reader sees), the id of each version's prompt
per scene (``judgeN_versions.json``) and, per id, the versions that wrote it (``judgeN_key.json``,
the format ``scene_fit_phrases.py`` reads). Identical prompts are shown once, so a reader labels
what changed and what did not at the same cost. Readers follow ``e2e_runs/reader_instructions.txt``
and write one ``{"id", "label", "phrases", "why"}`` line per prompt.

``score`` prints, per version, each reader's clear-clash and clash-or-mild rate, the prompts both
readers call a clash, and how many labels the readers agree on.

    python benchmarks/scene_fit_judge.py make OUT_PREFIX before=a.jsonl after=b.jsonl
    python benchmarks/scene_fit_judge.py score OUT_PREFIX_versions.json R1.jsonl R2.jsonl
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path


def _lines(path: str) -> list[dict]:
    """The JSON objects of a JSONL file, or one line saying what is wrong with it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SystemExit(f"cannot read {path}: {exc.strerror or exc}") from None
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path} line {number} is not JSON: {exc.msg}") from None
    return rows


def make(prefix: str, specs: list[str], seed: int = 17) -> int:
    pairs: dict[tuple[str, str], str] = {}
    versions: dict[str, dict[str, str]] = {}
    for spec in specs:
        name, _, path = spec.partition("=")
        if not path:
            raise SystemExit(f"expected NAME=FILE, got {spec!r}")
        versions[name] = {}
        for row in _lines(path):
            if not {"scene", "emotion", "final"} <= set(row):
                raise SystemExit(
                    f"{path}: expected scene_fit_e2e.py output (scene, emotion, final)"
                )
            pairs.setdefault((row["scene"], row["final"]), row["emotion"])
            versions[name][row["scene"]] = row["final"]
    items = list(pairs.items())
    random.Random(seed).shuffle(items)
    ids = {pair: i for i, (pair, _) in enumerate(items)}
    with open(f"{prefix}_in.jsonl", "w", encoding="utf-8") as fh:
        for (scene, prompt), emotion in items:
            line = {"id": ids[scene, prompt], "scene": scene, "emotion": emotion, "prompt": prompt}
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    by_version = {n: {s: ids[s, p] for s, p in v.items()} for n, v in versions.items()}
    Path(f"{prefix}_versions.json").write_text(json.dumps(by_version, ensure_ascii=False, indent=0))
    writers: dict[int, list[str]] = {}
    for name, scenes in by_version.items():
        for i in scenes.values():
            writers.setdefault(i, []).append(name)
    key = {str(i): "+".join(writers[i]) for i in sorted(writers)}
    Path(f"{prefix}_key.json").write_text(json.dumps(key))
    print(f"{len(items)} distinct prompts from {len(versions)} versions")
    return 0


def score(versions_path: str, readers: list[str]) -> int:
    try:
        versions = json.loads(Path(versions_path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"cannot read {versions_path}: {exc}") from None
    labels = {}
    for path in readers:
        rows = _lines(path)
        if not all({"id", "label"} <= set(row) for row in rows):
            raise SystemExit(f"{path}: every line needs an id and a label")
        labels[Path(path).stem] = {row["id"]: row["label"] for row in rows}
    for name, scenes in versions.items():
        ids = list(scenes.values())
        parts = []
        for reader, label in labels.items():
            clash = sum(label.get(i) == "clash" for i in ids)
            either = sum(label.get(i) in ("clash", "mild") for i in ids)
            parts.append(
                f"{reader}: clash {clash}/{len(ids)}, clash or mild {either / len(ids):.3f}"
            )
        both = sum(all(label.get(i) == "clash" for label in labels.values()) for i in ids)
        print(f"{name}: " + "; ".join(parts) + f"; both readers clash {both}/{len(ids)}")
    every = sorted({i for scenes in versions.values() for i in scenes.values()})
    agree = sum(len({label.get(i) for label in labels.values()}) == 1 for i in every)
    print(f"readers agree on {agree} of {len(every)} prompts")
    return 0


def main(argv: list[str]) -> int:
    if len(argv) >= 3 and argv[0] == "make":
        return make(argv[1], argv[2:])
    if len(argv) >= 3 and argv[0] == "score":
        return score(argv[1], argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
