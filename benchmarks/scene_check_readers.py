"""`scene check` against blind readers, on the phrases real rewrites added.

``benchmarks/scene_fit.py`` measures the check on hand-written pairs. This measures it where it
is used: every phrase an end-to-end rewrite added (``benchmarks/scene_fit_phrases.py`` splits
the prompts and labels each phrase ``clash`` when both blind readers named it in a prompt they
both called a clash, ``fine`` when neither named it; ``unsure`` phrases are left out). Three
answers are scored side by side, with a control that must score badly:

* ``model``: the meaning model alone (``SceneFit(concepts=False)``),
* ``concepts``: the concept binding alone (a phrase stating a concept of the graph whose
  presupposition the scene rules out),
* ``scene check``: both, what ``SceneFit.check`` answers,
* ``control``: random flags at the rate ``scene check`` flags, with a fixed seed.

Judge files are numbered as in ``e2e_runs/`` (``judge31`` holds set 28). The concept tags
`awake`, `moving` and `air` were annotated after reading judge29-30, so files up to ``--split``
(30) are the earlier group; of the later ones, judge32 and judge33 prompted `cool` and `vista`,
so only judge31 and judge34 are wholly unseen by the tags.

    python benchmarks/scene_check_readers.py [--split 30] [--since 1] [--concepts-only]
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from scene_fit_phrases import phrases  # noqa: E402


def _set_number(stem: str) -> int:
    return int(stem.removeprefix("judge") or 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--split", type=int, default=30, help="last judge file of the earlier group"
    )
    parser.add_argument("--since", type=int, default=1, help="first judge file to score")
    parser.add_argument(
        "--concepts-only",
        action="store_true",
        help="score the concept binding alone (seconds, no meaning model: for tag changes)",
    )
    args = parser.parse_args(argv)
    if args.concepts_only:
        return _concepts_only(args)
    from emotion_director.scenefit import SceneFit

    fit = SceneFit.load()
    model = SceneFit(encoder=fit.encoder, weights=fit.weights, concepts=False)
    rows = [
        r for r in phrases() if r["label"] != "unsure" and _set_number(str(r["set"])) >= args.since
    ]
    by_scene: dict[str, list[dict[str, object]]] = collections.defaultdict(list)
    for row in rows:
        by_scene[str(row["scene"])].append(row)
    counts: dict[tuple[str, str], collections.Counter[tuple[bool, bool]]] = collections.defaultdict(
        collections.Counter
    )
    rng = random.Random(0)
    flagged: dict[str, list[tuple[bool, bool]]] = collections.defaultdict(list)
    for scene, mine in by_scene.items():
        texts = [str(r["phrase"]) for r in mine]
        alone = model.check_many(scene, texts)
        both = fit.check_many(scene, texts)
        for row, a, b in zip(mine, alone, both):
            group = (
                f"judge <= {args.split}"
                if _set_number(str(row["set"])) <= args.split
                else f"judge > {args.split}"
            )
            truth = row["label"] == "clash"
            counts[(group, "model")][(a.clash, truth)] += 1
            counts[(group, "concepts")][(b.concept is not None, truth)] += 1
            counts[(group, "scene check")][(b.clash, truth)] += 1
            flagged[group].append((b.clash, truth))
    for group, pairs in flagged.items():
        rate = sum(f for f, _ in pairs) / len(pairs)
        for _, truth in pairs:
            counts[(group, "control")][(rng.random() < rate, truth)] += 1
    headline = ""
    for (group, method), c in sorted(counts.items()):
        tp, fp, fn = c[(True, True)], c[(True, False)], c[(False, True)]
        precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        print(
            f"{group:<12} {method:<12} n={sum(c.values()):<5} clashes={tp + fn:<4} "
            f"flagged={tp + fp:<4} precision {precision:.3f}  recall {recall:.3f}"
        )
        if method == "scene check" and group.startswith("judge >"):
            headline = f"scene_check_later_sets_precision_recall: {precision:.3f} {recall:.3f}"
    print(headline)
    return 0


def _concepts_only(args: argparse.Namespace) -> int:
    """The ``concepts`` rows alone, and the clashes and false flags they name."""
    from emotion_director.scenefit.model import _concept_clash

    counts: dict[str, collections.Counter[tuple[bool, bool]]] = collections.defaultdict(
        collections.Counter
    )
    for row in phrases():
        number = _set_number(str(row["set"]))
        if row["label"] == "unsure" or number < args.since:
            continue
        group = f"judge <= {args.split}" if number <= args.split else f"judge > {args.split}"
        flagged = _concept_clash(str(row["scene"]), str(row["phrase"])) is not None
        counts[group][(flagged, row["label"] == "clash")] += 1
    for group, c in sorted(counts.items()):
        tp, fp, fn = c[(True, True)], c[(True, False)], c[(False, True)]
        print(
            f"{group:<12} concepts     n={sum(c.values()):<5} clashes={tp + fn:<4} "
            f"flagged={tp + fp:<4} precision {tp / max(tp + fp, 1):.3f}  "
            f"recall {tp / max(tp + fn, 1):.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
