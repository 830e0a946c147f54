"""Chain-of-concept refiner: emotion -> appraisals -> concrete visual concepts.

It merges the persona cues with the concept graph. Cues that cannot be drawn (a bare emotion
word, an abstraction) are dropped and recorded; each is replaced by a concrete concept, written
by the model in "write" mode (then checked again) or taken from the graph, following the chain
emotion -> most supported appraisal -> a concept that fits the subject. Finally the picture is
completed with light, colour and composition from the graph when no persona gave them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, Field

from emotion_director.agents.schemas import ConceptChain, ConceptLink, DroppedCue, PersonaReading
from emotion_director.agents.structured import ainvoke_structured
from emotion_director.agents.text import guess_facet, undrawable_reason
from emotion_director.emotions import Emotion
from emotion_director.knowledge.graph import ConceptGraph, content_words

#: Facets every picture should have; the graph fills them when no persona did.
ESSENTIAL_FACETS = ("light", "colour", "composition")


class Refinement(BaseModel):
    abstract: str
    concrete: str = Field(description="a short phrase naming something visible")


class Refinements(BaseModel):
    items: list[Refinement]


async def chain_of_concept(
    readings: Sequence[PersonaReading],
    *,
    emotion: Emotion,
    subject: str,
    subject_tags: frozenset[str],
    graph: ConceptGraph,
    model: BaseChatModel | None = None,
    mode: Literal["choose", "write"] = "choose",
    retries: int = 2,
    method: str = "function_calling",
    grounding: bool = True,
) -> ConceptChain:
    """Turn persona readings into a :class:`ConceptChain` of depictable concepts."""
    links: dict[str, ConceptLink] = {}
    dropped: list[DroppedCue] = []
    abstract: list[tuple[str, PersonaReading]] = []

    subject_words = content_words(subject)
    for reading in readings:
        for cue in reading.cues:
            reason = undrawable_reason(cue) or _ungrounded_reason(cue, graph, emotion, subject_words)
            if reason:
                dropped.append(DroppedCue(text=cue, persona=reading.persona, reason=reason))
                abstract.append((cue, reading))
                continue
            known = graph.get(cue) or graph.closest(cue, emotion)
            _support(
                links, reading, text=cue, facet=known.facet if known else guess_facet(cue),
                appraisal=known.appraisal if known else reading.appraisal,
            )

    ranked_appraisals = _rank_appraisals(links, graph, emotion)
    if abstract:
        await _refine(
            abstract, links, dropped, emotion=emotion, subject=subject, subject_tags=subject_tags,
            graph=graph, appraisals=ranked_appraisals, model=model if mode == "write" else None,
            retries=retries, method=method,
        )
        ranked_appraisals = _rank_appraisals(links, graph, emotion)
    if grounding:
        _complete_facets(links, graph, emotion, subject_tags, ranked_appraisals)

    concepts = sorted(links.values(), key=lambda c: (-c.support, c.origin != "persona", c.text))
    return ConceptChain(
        emotion=emotion,
        appraisals=[graph.appraisal(emotion, a).appraisal for a in ranked_appraisals],
        concepts=concepts,
        dropped=dropped,
    )


def _ungrounded_reason(
    cue: str, graph: ConceptGraph, emotion: Emotion, subject_words: set[str]
) -> str | None:
    """Free text must say something visible beyond the subject: two content words, or a match."""
    if graph.get(cue) or graph.closest(cue, emotion):
        return None
    words = content_words(cue) - subject_words
    if not words:
        return "only repeats the subject"
    if len(words) < 2:
        return f"too vague to draw ('{cue.strip()[:40]}')"
    return None


def _support(
    links: dict[str, ConceptLink],
    reading: PersonaReading,
    *,
    text: str,
    facet: str,
    appraisal: str | None,
    origin: str = "persona",
    refined_from: str | None = None,
) -> None:
    key = text.strip().lower()
    link = links.get(key) or ConceptLink(
        text=text.strip(), facet=facet, appraisal=appraisal, origin=origin,
        refined_from=refined_from,
    )
    if reading.persona not in link.supported_by:
        link.supported_by.append(reading.persona)
        link.support = round(link.support + reading.weight * max(reading.intensity, 0.05), 4)
    links[key] = link


def _rank_appraisals(
    links: dict[str, ConceptLink], graph: ConceptGraph, emotion: Emotion
) -> list[str]:
    totals = {a.id: 0.0 for a in graph.appraisals(emotion)}
    for link in links.values():
        if link.appraisal in totals:
            totals[link.appraisal] += link.support
    order = [a.id for a in graph.appraisals(emotion)]
    return sorted(totals, key=lambda a: (-totals[a], order.index(a)))


async def _refine(
    abstract: list[tuple[str, PersonaReading]],
    links: dict[str, ConceptLink],
    dropped: list[DroppedCue],
    *,
    emotion: Emotion,
    subject: str,
    subject_tags: frozenset[str],
    graph: ConceptGraph,
    appraisals: list[str],
    model: BaseChatModel | None,
    retries: int,
    method: str,
) -> None:
    written: dict[str, str] = {}
    if model is not None:
        hints = "\n".join(f"- {c.text}" for c in graph.candidates(emotion, subject_tags)[:12])
        listing = "\n".join(f"- {cue}" for cue, _ in abstract)
        result = await ainvoke_structured(
            model, Refinements,
            [("system", "You turn abstract feelings into concrete things a camera could see. "
                        "Never use emotion words. Answer only with JSON."),
             ("user", f"Scene: {subject}. Target emotion: {emotion.value}.\nExamples of "
                      f"concrete details:\n{hints}\nRewrite each abstract phrase as one concrete "
                      f"visual detail:\n{listing}")],
            node="chain_of_concept", retries=retries, temperature=0.3, method=method,
        )
        written = {r.abstract.strip().lower(): r.concrete.strip() for r in result.items}

    used = {key for key in links}
    for cue, reading in abstract:
        concrete = written.get(cue.strip().lower())
        if concrete and not undrawable_reason(concrete):
            known = graph.closest(concrete, emotion)
            _support(
                links, reading, text=concrete,
                facet=known.facet if known else guess_facet(concrete),
                appraisal=known.appraisal if known else None, origin="refined", refined_from=cue,
            )
            continue
        # Follow the chain: the most supported appraisal -> its first unused fitting concept.
        for appraisal_id in appraisals:
            fit = [
                c for c in graph.appraisal(emotion, appraisal_id).concepts
                if c.fits(subject_tags) and c.text.lower() not in used
            ]
            if fit:
                used.add(fit[0].text.lower())
                _support(
                    links, reading, text=fit[0].text, facet=fit[0].facet,
                    appraisal=appraisal_id, origin="refined", refined_from=cue,
                )
                break
        else:
            dropped.append(DroppedCue(text=cue, persona=reading.persona,
                                      reason="no concrete replacement found"))


def _complete_facets(
    links: dict[str, ConceptLink],
    graph: ConceptGraph,
    emotion: Emotion,
    subject_tags: frozenset[str],
    appraisals: list[str],
) -> None:
    present = {link.facet for link in links.values()}
    for facet in ESSENTIAL_FACETS:
        if facet in present:
            continue
        for appraisal_id in appraisals:
            fit = [
                c for c in graph.appraisal(emotion, appraisal_id).concepts
                if c.facet == facet and c.fits(subject_tags)
            ]
            if fit:
                links[fit[0].text.lower()] = ConceptLink(
                    text=fit[0].text, facet=facet, appraisal=appraisal_id, origin="graph"
                )
                break
