"""benchmarks/scene_fit_phrases.py: the per-concept counts of blind labels the ranking reads."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]


def _script() -> SimpleNamespace:
    return SimpleNamespace(**runpy.run_path(str(ROOT / "benchmarks" / "scene_fit_phrases.py")))


def _row(scene, concept, label, version="before"):
    return {"set": "judge9", "version": version, "scene": scene, "concept": concept,
            "label": label, "phrase": concept, "facet": "light", "tags": "-"}  # fmt: skip


def test_a_concept_counts_once_per_scene_and_a_clash_in_either_version_wins():
    script = _script()
    rows = [
        _row("a swan", "a red sky full of smoke", "clash", "before"),
        _row("a swan", "a red sky full of smoke", "fine", "after"),  # same scene: one observation
        _row("a toll booth", "a red sky full of smoke", "clash"),
        _row("a farrier", "a red sky full of smoke", "unsure"),  # readers disagree: not counted
        _row("a farrier", "", "clash"),  # no concept line (the subject's own words): not counted
        _row("a farrier", "embers glowing", "fine"),
    ]
    assert script.risk_table(rows) == [
        ("a red sky full of smoke", 2, 2),
        ("embers glowing", 1, 0),
    ]


def test_the_shipped_table_is_what_the_labels_give(tmp_path):
    # the shipped data/concept_risk.tsv is rebuilt from the labels in the repository, not edited
    script = _script()
    out = tmp_path / "risk.tsv"
    script.write_risk(out, script.phrases())
    shipped = ROOT / "emotion_director" / "knowledge" / "data" / "concept_risk.tsv"
    assert out.read_text("utf-8") == shipped.read_text("utf-8"), (
        "data/concept_risk.tsv is out of date with the labels or the concept lines: rebuild it "
        "with `python benchmarks/scene_fit_phrases.py --risk "
        "emotion_director/knowledge/data/concept_risk.tsv`"
    )


def test_the_indexed_concept_match_is_the_first_regex_that_matches():
    """``_first_concept`` tries only the lines that can match; it must find what a loop over
    every line's regex finds, case-folded letters included (re.I folds ſ to s, lower() not)."""
    script = _script()
    concepts = script._concepts()
    first = script._first_concept(concepts)
    texts = [text for *_, text in concepts][::40]
    phrases = []
    for text in texts:
        owned = text.replace("{poss}", "the farrier's").replace("{the}", "the farrier")
        phrases += [owned, owned.upper(), owned.title(), owned + "\n", owned.replace("s", "\u017f")]
    phrases += ["", "   ", "no concept at all", "warm light on the snow"]
    for phrase in phrases:
        loop = next(
            ((f, t, c) for rx, f, t, c in concepts if rx.match(phrase)), ("expression", "-", "")
        )
        assert first(phrase) == loop, phrase
