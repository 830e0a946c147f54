"""Scene metrics: does a rewrite contradict its own scene, and is it written for *this* subject?

Both work on the text of any system's rewrite (not on MC-Agent's internals), so baselines and
ablations are measured the same way.

* ``contradiction_rate`` (0-1, lower is better): share of the phrases a rewrite *adds* (comma
  separated, beyond the prompt's own words) that contradict the prompt's scene model or another
  added phrase: a body part no subject has ("grin" on a chair), night vs day, indoor vs outdoor,
  rain vs clear sky, snow vs grass, urban vs wild, sunrise vs sunset, "in the dark" outdoors by
  day, passers-by on a summit, a place of its own (a hallway at a circus, an ice cave over a
  village, a meadow and a porch), an action given to a subject already doing something else
  (see :mod:`emotion_director.knowledge.scene`). ``contradicted`` is the share of
  rewrites with at least one. The checker is validated against a hand-labelled set of
  scene/phrase pairs shipped as ``evals/data/contradiction_pairs.jsonl``
  (:func:`checker_agreement`).
* ``cross_subject_repetition`` (0-1, lower is better): per emotion, the share of added phrases
  that also appear in the rewrite of a *different* prompt of the same emotion, the subject's own
  nouns replaced by a placeholder first (so "the dog's shadow" and "the chair's shadow" count as
  the same phrase); averaged over emotions, weighted by phrases. A system that appends the same
  list for every subject scores 1.

Example:
    >>> contradictions("a street at noon", "a street at noon, cold moonlight, wet cobblestones")
    [('cold moonlight', "'moonlight' says night, the scene says day")]
"""

from __future__ import annotations

import functools
import json
import re
from collections import defaultdict
from importlib import resources
from typing import Any

from emotion_director.evals.markup import markdown_inline
from emotion_director.knowledge.concept_graph import content_words
from emotion_director.knowledge.scene import (
    BODY_FACTS,
    facts_conflict,
    parse_scene,
    phrase_facts,
    singular,
)

SCENE_METRICS = ("contradiction_rate", "contradicted", "cross_subject_repetition")


def added_phrases(prompt: str, rewrite: str) -> list[str]:
    """The comma-separated phrases of ``rewrite`` that add something to ``prompt``."""
    own = content_words(prompt)
    phrases = [p.strip(" .;:") for p in re.split(r"[,;\n]|\.\s", rewrite) if p.strip(" .;:")]
    out = []
    for phrase in phrases:
        words = content_words(phrase)
        if not words or words <= own:
            continue
        out.append(phrase)
    return out


def contradictions(prompt: str, rewrite: str) -> list[tuple[str, str]]:
    """Added phrases that contradict the prompt's scene or an earlier added phrase, with why."""
    scene = parse_scene(prompt)
    facts = scene.facts
    found: list[tuple[str, str]] = []
    seen: list[tuple[str, frozenset[str]]] = []
    for phrase in added_phrases(prompt, rewrite):
        own = phrase_facts(phrase)
        reason = facts_conflict(facts, own, phrase)
        if reason is None:
            # what the scene states itself ("the corridor ..." in a hospital corridor) is not
            # the phrase's own claim
            mine = own - BODY_FACTS - facts
            for other, other_facts in seen:
                clash = facts_conflict(other_facts, mine, phrase)
                if clash:
                    reason = (
                        f"{re.split(', the scene (?:says|is)', clash)[0]}, '{other}' says otherwise"
                    )
                    break
        if reason:
            found.append((phrase, reason))
        else:  # a phrase already counted as contradicting the scene does not count twice
            seen.append((phrase, own - BODY_FACTS - facts))
    return found


@functools.lru_cache(maxsize=4096)  # a report asks for each row's scores in several sections
def contradiction_scores(prompt: str, rewrite: str) -> dict[str, float]:
    """``contradiction_rate`` over added phrases and ``contradicted`` (0/1) for one rewrite."""
    added = added_phrases(prompt, rewrite)
    bad = contradictions(prompt, rewrite)
    return {
        "contradiction_rate": len(bad) / len(added) if added else 0.0,
        "contradicted": float(bool(bad)),
        "added_phrases": float(len(added)),
    }


def normalise_phrase(prompt: str, phrase: str) -> str:
    """Lower case, subject nouns replaced by ``{subject}``, articles and spaces tidied."""
    scene = parse_scene(prompt)
    nouns = {w for e in scene.entities for w in e.noun.split() if w != "of"}
    words = []
    for word in re.findall(r"[a-z']+|[^\sa-z']", phrase.lower()):
        base = word[:-2] if word.endswith("'s") else word
        if base in nouns or singular(base) in nouns:
            word = "{subject}" + ("'s" if word.endswith("'s") else "")
        words.append(word)
    text = " ".join(w for w in words if w not in {"a", "an", "the"})
    return re.sub(r"\s+", " ", text).strip()


def cross_subject_repetition(rows: list[dict[str, Any]]) -> float:
    """Share of added phrases also added for another prompt of the same emotion (0-1)."""
    by_emotion: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    for row in rows:
        phrases = [
            normalise_phrase(row["prompt"], p) for p in added_phrases(row["prompt"], row["rewrite"])
        ]
        by_emotion[row["emotion"]].append((row["prompt"], phrases))
    repeated = total = 0
    for items in by_emotion.values():
        if len({prompt for prompt, _ in items}) < 2:
            continue
        for prompt, phrases in items:
            elsewhere = {p for other, ps in items if other != prompt for p in ps}
            repeated += sum(1 for p in phrases if p in elsewhere)
            total += len(phrases)
    return repeated / total if total else 0.0


def per_case_scene_scores(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per system, per case id: ``repetition`` (share of this rewrite's added phrases that the
    same system also added for another subject of the same emotion) and ``contradicted``.
    Per-case values, so two systems can be compared on the same cases with a paired CI."""
    by_system: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if "rewrite" in row:
            by_system[row["system"]].append(row)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for system, items in by_system.items():
        phrases = {
            id(r): [
                normalise_phrase(r["prompt"], p) for p in added_phrases(r["prompt"], r["rewrite"])
            ]
            for r in items
        }
        scores: dict[str, dict[str, float]] = {}
        for row in items:
            elsewhere = {
                p
                for other in items
                if other["emotion"] == row["emotion"] and other["prompt"] != row["prompt"]
                for p in phrases[id(other)]
            }
            own = phrases[id(row)]
            scores[str(row.get("case_id"))] = {
                "repetition": sum(p in elsewhere for p in own) / len(own) if own else 0.0,
                "contradicted": contradiction_scores(row["prompt"], row["rewrite"])["contradicted"],
            }
        out[system] = scores
    return out


def paired_scene_differences(
    rows: list[dict[str, Any]],
    reference: str = "mc_agent",
) -> dict[str, dict[str, tuple[float, float, float]]]:
    """``system - reference`` on the same cases for the per-case scene scores: mean and 95%
    bootstrap interval (negative: the system repeats or contradicts less than the reference)."""
    from emotion_director.evals.tables import bootstrap_ci

    scores = per_case_scene_scores(rows)
    if reference not in scores:
        return {}
    base = scores[reference]
    out: dict[str, dict[str, tuple[float, float, float]]] = {}
    for system, cases in scores.items():
        common = sorted(set(cases) & set(base))
        if system == reference or not common:
            continue
        out[system] = {
            m: bootstrap_ci([cases[c][m] - base[c][m] for c in common])
            for m in ("repetition", "contradicted")
        }
    return out


def scene_summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per system: mean contradiction rate, share contradicted, cross-subject repetition."""
    by_system: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if "rewrite" in row:
            by_system[row["system"]].append(row)
    out: dict[str, dict[str, float]] = {}
    for system, items in by_system.items():
        scores = [contradiction_scores(r["prompt"], r["rewrite"]) for r in items]
        added = sum(s["added_phrases"] for s in scores)
        bad = sum(s["contradiction_rate"] * s["added_phrases"] for s in scores)
        out[system] = {
            "contradiction_rate": bad / added if added else 0.0,
            "contradicted": sum(s["contradicted"] for s in scores) / len(scores),
            "cross_subject_repetition": cross_subject_repetition(items),
        }
    return out


def labelled_pairs() -> list[dict[str, Any]]:
    """The hand-labelled scene/phrase pairs: ``{prompt, phrase, contradicts}``."""
    text = (
        resources.files("emotion_director.evals")
        .joinpath("data", "contradiction_pairs.jsonl")
        .read_text("utf-8")
    )
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def checker_agreement(pairs: list[dict[str, Any]] | None = None) -> dict[str, float]:
    """How well the checker matches the labels: accuracy, precision, recall on contradictions."""
    pairs = pairs if pairs is not None else labelled_pairs()
    tp = fp = fn = tn = 0
    for pair in pairs:
        predicted = bool(contradictions(pair["prompt"], f"{pair['prompt']}, {pair['phrase']}"))
        actual = bool(pair["contradicts"])
        tp += predicted and actual
        fp += predicted and not actual
        fn += actual and not predicted
        tn += not predicted and not actual
    n = max(len(pairs), 1)
    return {
        "pairs": float(len(pairs)),
        "accuracy": (tp + tn) / n,
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
    }


def unseen_pairs() -> list[dict[str, Any]]:
    """Labelled pairs on scenes the word tables were not written for (the scene-fit test split,
    ``benchmarks/scene_fit/test.jsonl``): ``{prompt, phrase, contradicts}``."""
    text = (
        resources.files("emotion_director.evals")
        .joinpath("data", "scene_fit_unseen.jsonl")
        .read_text("utf-8")
    )
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [{"prompt": r["scene"], "phrase": r["phrase"], "contradicts": r["clash"]} for r in rows]


@functools.cache  # the labelled pairs are package data: one measurement per process
def agreement_note() -> str:
    """The checker's own precision and recall, on the set it was written for and on unseen scenes:
    printed next to every contradiction rate, which undercounts by the unseen recall."""
    seen, unseen = checker_agreement(), checker_agreement(unseen_pairs())
    return (
        "Contradiction checker (the word tables) vs labelled pairs: on the "
        f"{seen['pairs']:.0f} pairs it was written for, accuracy {seen['accuracy']:.3f}, precision "
        f"{seen['precision']:.3f}, recall {seen['recall']:.3f}; on {unseen['pairs']:.0f} pairs "
        f"of scenes it was not written for, accuracy {unseen['accuracy']:.3f}, precision "
        f"{unseen['precision']:.3f}, recall {unseen['recall']:.3f}: "
        "the rates below miss most clashes on unseen scenes."
    )


def markdown_section(rows: list[dict[str, Any]]) -> str:
    """The report's scene section (markdown)."""
    summary = scene_summary(rows)
    if not summary:
        return ""
    lines = [
        "",
        "## Scene fit (lower is better)",
        "",
        agreement_note(),
        "",
        "| system | " + " | ".join(SCENE_METRICS) + " |",
        "|---" * (len(SCENE_METRICS) + 1) + "|",
    ]
    for system, metrics in summary.items():
        lines.append(
            f"| {system} | " + " | ".join(f"{metrics[m]:.3f}" for m in SCENE_METRICS) + " |"
        )
    paired = paired_scene_differences(rows)
    if paired:
        lines += [
            "",
            "Paired, system - mc_agent on the same cases (mean [95% bootstrap CI]; "
            "negative: fewer repeated phrases or contradicted rewrites than mc_agent):",
            "",
            "| system | repetition | contradicted |",
            "|---|---|---|",
        ]
        for system, diffs in paired.items():
            cells = [
                f"{d[0]:.3f} [{d[1]:.3f}, {d[2]:.3f}]"
                for d in (diffs["repetition"], diffs["contradicted"])
            ]
            lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def section_scene(summary: dict[str, Any], run: Any) -> Any:
    """The report section (``evals.report.SECTIONS``): scene fit per system."""
    from emotion_director.evals.tables import ReportSection

    rows = [row for items in summary["by_system"].values() for row in items]
    markdown = markdown_section(rows)
    return ReportSection(markdown, html_section(rows)) if markdown else None


def html_section(rows: list[dict[str, Any]]) -> str:
    """The report's scene section (HTML table)."""
    import html

    summary = scene_summary(rows)
    if not summary:
        return ""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ("system", *SCENE_METRICS))
    body = "".join(
        "<tr><td>"
        + html.escape(system)
        + "</td>"
        + "".join(f"<td>{m[k]:.3f}</td>" for k in SCENE_METRICS)
        + "</tr>"
        for system, m in summary.items()
    )
    paired = paired_scene_differences(rows)
    extra = ""
    if paired:
        cells = "".join(
            "<tr><td>"
            + html.escape(system)
            + "</td>"
            + "".join(
                f"<td>{d[0]:.3f} [{d[1]:.3f}, {d[2]:.3f}]</td>"
                for d in (diffs["repetition"], diffs["contradicted"])
            )
            + "</tr>"
            for system, diffs in paired.items()
        )
        extra = (
            "<p>Paired, system - mc_agent on the same cases (mean [95% bootstrap CI]; "
            "negative: fewer repeated phrases or contradicted rewrites):</p><table><thead>"
            "<tr><th>system</th><th>repetition</th><th>contradicted</th></tr></thead>"
            f"<tbody>{cells}</tbody></table>"
        )
    return (
        f"<h2>Scene fit (lower is better)</h2><p>{markdown_inline(agreement_note())}</p>"
        f"<table><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>{extra}"
    )
