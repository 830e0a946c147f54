"""Chain-of-concept refiner: emotion -> appraisals -> concrete visual concepts.

It merges the persona cues with the concept graph. Cues that cannot be drawn (a bare emotion
word, an abstraction) are dropped and recorded; each is replaced by a concrete concept, written
by the model in "write" mode (then checked again) or taken from the graph, following the chain
emotion -> most supported appraisal -> a concept that fits the subject. Every concept is then
checked against the scene model and against the other concepts: one that contradicts the scene
(night light on a noon street, a grin on a chair) or a better supported concept is dropped, and
the reason recorded. Finally the picture is completed from the most supported appraisals: one
concept written for this kind of subject when no persona chose one, then light, colour and
composition, each compatible with everything already chosen.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, Field

from emotion_director.agents.persona_agent import (
    SETTING_BONUS,
    VETO_RISK,
    reader_risk,
    specificity_bonus,
)
from emotion_director.agents.schemas import ConceptChain, ConceptLink, DroppedCue, PersonaReading
from emotion_director.agents.steps import Steps, steps_function
from emotion_director.agents.structured import StructuredMemory, structured_steps
from emotion_director.agents.text import (
    guess_facet,
    speaks_as_writer,
    undrawable_reason,
    unknown_words_reason,
)
from emotion_director.deprecation import renamed_keyword
from emotion_director.emotions import Emotion
from emotion_director.knowledge.concept_graph import (
    KIND_NEEDS,
    ConceptGraph,
    VisualConcept,
    content_words,
    moved_setting,
    scene_relevance,
)
from emotion_director.knowledge.scene import (
    BODY_FACTS,
    SceneModel,
    facts_conflict,
    look_conflict,
    parse_scene,
    phrase_facts,
    scene_nouns,
)
from emotion_director.untrusted import FENCE_NOTE, fence, instruction_echo

#: Body-plan facts: two concepts never contradict each other through them.
BODY = BODY_FACTS

#: Facets every picture should have; the graph fills them when no persona did, with a concept
#: blind readers did not veto (a facet with none is left out unless the prompt would be thin).
ESSENTIAL_FACETS = ("light", "colour", "composition")
#: Kinds of cue the fill-in adds, in this order, while the chain has fewer than ``MIN_FACETS``.
SUPPLEMENTARY_FACETS = ("texture", "object", "space", "weather", "body_language", "action")
MIN_FACETS = 3
#: How strongly the fill-in's random draw shuns concepts readers found clashing: weaker than the
#: ranking's ``READ_RISK``, so that the fill-in of one emotion does not become the same few
#: safest concepts in every scene.
FILL_RISK = 1.0


class Refinement(BaseModel):
    abstract: str
    concrete: str = Field(description="a short phrase naming something visible")


class Refinements(BaseModel):
    items: list[Refinement]


@steps_function
@renamed_keyword(graph="concept_graph")
def chain_of_concept(
    readings: Sequence[PersonaReading],
    *,
    emotion: Emotion,
    subject: str,
    subject_tags: frozenset[str],
    concept_graph: ConceptGraph,
    model: BaseChatModel | None = None,
    mode: Literal["choose", "write"] = "choose",
    retries: int = 2,
    method: str = "function_calling",
    memory: StructuredMemory | None = None,
    grounding: bool = True,
    scene: SceneModel | None = None,
    seed: int = 0,
    scene_fit: Any = None,
    read_risk: Callable[[str, list[str]], list[float]] | None = None,
) -> Steps[ConceptChain]:
    """Turn persona readings into a :class:`ConceptChain` of depictable concepts.

    ``scene_fit`` (a :class:`~emotion_director.scenefit.SceneFit`, optional) drops, beside the
    word tables, every concept it finds clashing with ``subject``, its reason in the trace, and
    vets each concept the graph fills in.

    ``read_risk`` (``scene text, concept texts -> risks``, e.g.
    :meth:`~emotion_director.scenefit.ReaderRisk.risks`, optional) reads the risk of a concept a
    persona's own words name that the scene's reading (``scene.read_risk``) does not hold yet,
    so that it is ranked like the concepts the personas were offered.

    ``await chain_of_concept(...)`` runs it async, ``chain_of_concept.invoke(...)`` sync.
    """
    scene = scene if scene is not None else parse_scene(subject)
    use_scene = scene.entities or scene.read_setting or not subject_tags
    facts = scene.facts if use_scene else frozenset(subject_tags)
    links: dict[str, ConceptLink] = {}
    known: dict[str, VisualConcept] = {}
    dropped: list[DroppedCue] = []
    abstract: list[tuple[str, PersonaReading]] = []

    subject_words = content_words(subject)
    for reading in readings:
        for cue in reading.cues:
            reason = undrawable_reason(cue) or _ungrounded_reason(
                cue, concept_graph, emotion, subject_words, english=scene.english
            )
            if reason:
                dropped.append(DroppedCue(text=cue, persona=reading.persona, reason=reason))
                abstract.append((cue, reading))
                continue
            concept = (
                concept_graph.lookup(cue, emotion, scene)
                or concept_graph.get(cue)
                or concept_graph.closest(cue, emotion)
            )
            if concept is not None:
                known[cue.strip().lower()] = concept
            _support(
                links,
                reading,
                text=cue,
                facet=concept.facet if concept else guess_facet(cue),
                appraisal=concept.appraisal if concept else reading.appraisal,
            )

    ranked_appraisals = _rank_appraisals(links, concept_graph, emotion)
    if abstract:
        yield from _refine(
            abstract,
            links,
            dropped,
            emotion=emotion,
            subject=subject,
            subject_tags=facts,
            concept_graph=concept_graph,
            appraisals=ranked_appraisals,
            model=model if mode == "write" else None,
            retries=retries,
            method=method,
            memory=memory,
            scene=scene,
        )
        ranked_appraisals = _rank_appraisals(links, concept_graph, emotion)
    if read_risk is not None and scene.read_risk is not None:
        # what the personas' words named, and what the chain may fill in from the graph
        reachable = {c.text for c in known.values()}
        if grounding:
            reachable |= {c.text for c in concept_graph.candidates(emotion, scene)}
        unread = sorted(reachable - scene.read_risk.keys())
        if unread:
            more = dict(zip(unread, read_risk(scene.text, unread)))
            scene = scene.model_copy(update={"read_risk": {**scene.read_risk, **more}})
    clashes = _scene_clash(scene_fit, subject)
    _drop_contradictions(links, known, dropped, facts, clashes, scene)
    if grounding:
        rng = random.Random(zlib.crc32(f"{seed}:{emotion.value}:{subject}".encode()))
        completion = _Completion(
            links, known, concept_graph, emotion, scene, ranked_appraisals, rng, clashes
        )
        completion.specific()
        completion.facets()

    for key, link in links.items():
        # free text (a capable model's own cue) is scored on what its words state
        link.fit = (
            specificity_bonus(known[key], scene)
            if key in known
            else SETTING_BONUS * min(scene_relevance(phrase_facts(link.text), scene.facts), 2)
        )
    concepts = sorted(links.values(), key=lambda c: (-c.support, c.origin != "persona", c.text))
    return ConceptChain(
        emotion=emotion,
        appraisals=[concept_graph.appraisal(emotion, a).appraisal for a in ranked_appraisals],
        concepts=concepts,
        dropped=dropped,
    )


def _ungrounded_reason(
    cue: str,
    concept_graph: ConceptGraph,
    emotion: Emotion,
    subject_words: frozenset[str],
    english: bool = True,
) -> str | None:
    """Free text must say something visible beyond the subject: two content words, or a match;
    for an English scene, in English words or the scene's own (:func:`unknown_words_reason`),
    and not the writer speaking of itself (:func:`speaks_as_writer`)."""
    if concept_graph.get(cue) or concept_graph.closest(cue, emotion):
        return None
    words = content_words(cue) - subject_words
    if not words:
        return "only repeats the subject"
    if len(words) < 2:
        return f"too vague to draw ('{cue.strip()[:40]}')"
    if not english:
        return None
    return speaks_as_writer(cue) or unknown_words_reason(cue, subject_words)


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
        text=text.strip(),
        facet=facet,
        appraisal=appraisal,
        origin=origin,
        refined_from=refined_from,
    )
    if reading.persona not in link.supported_by:
        link.supported_by.append(reading.persona)
        link.support = round(link.support + reading.weight * max(reading.intensity, 0.05), 4)
    links[key] = link


def _rank_appraisals(
    links: dict[str, ConceptLink], concept_graph: ConceptGraph, emotion: Emotion
) -> list[str]:
    totals = {a.id: 0.0 for a in concept_graph.appraisals(emotion)}
    for link in links.values():
        if link.appraisal in totals:
            totals[link.appraisal] += link.support
    order = [a.id for a in concept_graph.appraisals(emotion)]
    return sorted(totals, key=lambda a: (-totals[a], order.index(a)))


def _refine(
    abstract: list[tuple[str, PersonaReading]],
    links: dict[str, ConceptLink],
    dropped: list[DroppedCue],
    *,
    emotion: Emotion,
    subject: str,
    subject_tags: frozenset[str],
    concept_graph: ConceptGraph,
    appraisals: list[str],
    model: BaseChatModel | None,
    retries: int,
    method: str,
    memory: StructuredMemory | None = None,
    scene: SceneModel | None = None,
) -> Steps[None]:
    written: dict[str, str] = {}
    if model is not None:
        hints = "\n".join(
            f"- {c.render(scene)}"
            for c in concept_graph.candidates(emotion, scene or subject_tags)[:12]
        )
        listing = "\n".join(f"- {cue}" for cue, _ in abstract)
        result = yield from structured_steps(
            model,
            Refinements,
            [
                (
                    "system",
                    "You turn abstract feelings into concrete things a camera could see. "
                    f"Never use emotion words. Answer only with JSON. {FENCE_NOTE}",
                ),
                (
                    "user",
                    f"Scene: {fence(subject)}. Target emotion: {emotion.value}.\nExamples of "
                    f"concrete details:\n{hints}\nRewrite each abstract phrase as one concrete "
                    f"visual detail:\n{listing}",
                ),
            ],
            node="chain_of_concept",
            retries=retries,
            temperature=0.3,
            method=method,
            memory=memory,
        )
        written = {r.abstract.strip().lower(): r.concrete.strip() for r in result.items}

    used = {key for key in links}
    for cue, reading in abstract:
        concrete = written.get(cue.strip().lower())
        if (
            concrete
            and not undrawable_reason(concrete)
            and instruction_echo(concrete, subject, keep=scene_nouns(scene)) is None
        ):
            known = concept_graph.closest(concrete, emotion)
            _support(
                links,
                reading,
                text=concrete,
                facet=known.facet if known else guess_facet(concrete),
                appraisal=known.appraisal if known else None,
                origin="refined",
                refined_from=cue,
            )
            continue
        # Follow the chain: the most supported appraisal -> its first unused fitting concept
        # that blind readers did not veto in scenes like this one
        for appraisal_id in appraisals:
            fit = [
                c
                for c in concept_graph.appraisal(emotion, appraisal_id).concepts
                if c.fits(scene or subject_tags)
                and c.render(scene).lower() not in used
                and (scene is None or reader_risk(c, scene) < VETO_RISK)
            ]
            if fit:
                used.add(fit[0].render(scene).lower())
                _support(
                    links,
                    reading,
                    text=fit[0].render(scene),
                    facet=fit[0].facet,
                    appraisal=appraisal_id,
                    origin="refined",
                    refined_from=cue,
                )
                break
        else:
            dropped.append(
                DroppedCue(
                    text=cue, persona=reading.persona, reason="no concrete replacement found"
                )
            )


def _facts_of(link: ConceptLink, known: dict[str, VisualConcept]) -> frozenset[str]:
    concept = known.get(link.text.strip().lower())
    return concept.needs if concept is not None else phrase_facts(link.text)


def _scene_clash(scene_fit: Any, subject: str) -> Callable[[str], str | None]:
    """``text -> why it clashes with the scene, or None`` from the scene-fit model (if any)."""
    if scene_fit is None:
        return lambda text: None
    memo: dict[str, str | None] = {}

    def clash(text: str) -> str | None:
        if text not in memo:
            verdict = scene_fit.check(subject, text)
            memo[text] = verdict.reason if verdict.clash else None
        return memo[text]

    return clash


def _pick(
    fit: list[VisualConcept],
    rng: random.Random,
    scene: SceneModel,
    clashes: Callable[[str], str | None],
) -> VisualConcept | None:
    """A random concept of ``fit`` that the scene-fit model lets through (drawn again if not),
    drawn with weight ``exp(-FILL_RISK x reader risk)``: a concept blind readers found clashing
    in scenes like this one is drawn less often (one of risk +0.4 two thirds as often as one no
    riskier than the average phrase), and one of risk ``VETO_RISK`` or more never: a facet with
    no safer concept is left out (``None``), unless the prompt would be too thin without it
    (:meth:`_Completion.facets`)."""
    pairs = [(c, r) for c in fit if (r := reader_risk(c, scene)) < VETO_RISK]
    pool = [c for c, _ in pairs]
    weights = [math.exp(-FILL_RISK * r) for _, r in pairs]
    while pool:
        k = rng.choices(range(len(pool)), weights)[0]
        if clashes(pool[k].render(scene)) is None:
            return pool[k]
        del pool[k], weights[k]
    return None


def _drop_contradictions(
    links: dict[str, ConceptLink],
    known: dict[str, VisualConcept],
    dropped: list[DroppedCue],
    facts: frozenset[str],
    clashes: Callable[[str], str | None] = lambda text: None,
    scene: SceneModel | None = None,
) -> None:
    """Drop concepts that contradict the scene, then those contradicting a better supported one.

    Free text (a capable model's own cue, no concept of the graph) is also dropped where it sets
    a located ``scene`` somewhere else (:func:`~emotion_director.knowledge.concept_graph.
    moved_setting`)."""
    kept: list[ConceptLink] = []
    for link in sorted(links.values(), key=lambda c: (-c.support, c.text)):
        concept = known.get(link.text.strip().lower())
        # a persona's own pick or words are its reading: the graph's options were anchored to the
        # scene before they were offered, and free text is matched to a concept only loosely, so
        # anchoring applies to what is offered and what the graph fills in (`_compatible`)
        reason = (
            concept.conflict(facts, anchored=False)
            or (concept.face_conflict(scene) if scene is not None else None)
            if concept is not None
            else facts_conflict(facts, phrase_facts(link.text), link.text)
            or look_conflict(link.facet, link.text, facts)
            or (moved_setting(scene, link.text) if scene is not None else None)
        )
        if reason is None:
            reason = clashes(link.text)
        if reason is not None:
            reason = f"contradicts the scene: {reason}"
        else:
            clash = next((k for k in kept if _clash(link, k, known)), None)
            if clash is not None:
                reason = f"contradicts the better supported '{clash.text}'"
        if reason is not None:
            del links[link.text.strip().lower()]
            dropped.append(
                DroppedCue(
                    text=link.text, persona=", ".join(link.supported_by) or None, reason=reason
                )
            )
        else:
            kept.append(link)


def _clash(a: ConceptLink, b: ConceptLink, known: dict[str, VisualConcept]) -> bool:
    ca, cb = known.get(a.text.strip().lower()), known.get(b.text.strip().lower())
    if ca is not None and cb is not None:
        return ca.clashes_with(cb)
    return facts_conflict(_facts_of(a, known) - BODY, _facts_of(b, known) - BODY) is not None


def _compatible(
    concept: VisualConcept,
    scene: SceneModel,
    links: dict[str, ConceptLink],
    known: dict[str, VisualConcept],
) -> bool:
    if not concept.fits(scene) or concept.render(scene).strip().lower() in links:
        return False
    probe = ConceptLink(text=concept.render(scene), facet=concept.facet)
    trial = {**known, probe.text.strip().lower(): concept}
    return not any(_clash(probe, link, trial) for link in links.values())


def _add_from_graph(
    links: dict[str, ConceptLink],
    known: dict[str, VisualConcept],
    concept: VisualConcept,
    appraisal_id: str,
    scene: SceneModel,
) -> None:
    """Add a concept taken from the graph (origin 'graph') to the chain, rendered for the scene."""
    text = concept.render(scene)
    links[text.lower()] = ConceptLink(
        text=text, facet=concept.facet, appraisal=appraisal_id, origin="graph"
    )
    known[text.lower()] = concept


@dataclass
class _Completion:
    """The chain's own additions to the personas' concepts, from the graph, in appraisal order:
    each addition is drawn from the first appraisal that has a concept of the wanted kind that
    fits the scene and the links so far (recorded as origin 'graph', with its appraisal)."""

    links: dict[str, ConceptLink]
    known: dict[str, VisualConcept]
    concept_graph: ConceptGraph
    emotion: Emotion
    scene: SceneModel
    appraisals: list[str]
    rng: random.Random  # seeded per subject: the same emotion does not get the same fill everywhere
    clashes: Callable[[str], str | None] = lambda text: None

    def add(
        self,
        wanted: Callable[[VisualConcept], bool],
        choose: Callable[[list[VisualConcept]], VisualConcept | None] | None = None,
    ) -> None:
        """Add one concept that is ``wanted``, chosen from an appraisal's fitting ones by
        ``choose`` (a risk-weighted draw unless given)."""
        for appraisal_id in self.appraisals:
            fit = [
                c
                for c in self.concept_graph.appraisal(self.emotion, appraisal_id).concepts
                if wanted(c) and _compatible(c, self.scene, self.links, self.known)
            ]
            choice = (choose or self.pick)(fit) if fit else None
            if choice is not None:
                _add_from_graph(self.links, self.known, choice, appraisal_id, self.scene)
                return

    def pick(self, fit: list[VisualConcept]) -> VisualConcept | None:
        return _pick(fit, self.rng, self.scene, self.clashes)

    def specific(self) -> None:
        """The most supported appraisal, made concrete for *this* subject: when no chosen concept
        is written for the subject's kind, one from the best-supported appraisal that has one."""
        if any(c.bound for key, c in self.known.items() if key in self.links):
            return

        def kind_first(fit: list[VisualConcept]) -> VisualConcept | None:
            # written for this kind of subject first; a template that fits any subject last
            kind_specific = [c for c in fit if c.needs & KIND_NEEDS]
            return self.pick(kind_specific) or self.pick([c for c in fit if c not in kind_specific])

        self.add(lambda c: c.bound, kind_first)

    def facets(self) -> None:
        """A concept of each essential facet the links lack; and where the personas' picks and
        the essentials leave fewer than ``MIN_FACETS`` kinds of cue (a lone chair has no light
        its scene states), one more kind: a prompt of two cues is thin. Only concepts below the
        reader-risk veto are drawn, unless no other concept would reach ``MIN_FACETS``."""
        for facet in ESSENTIAL_FACETS:
            if facet not in {link.facet for link in self.links.values()}:
                self.add(_of_facet(facet))
        for facet in SUPPLEMENTARY_FACETS:
            present = {link.facet for link in self.links.values()}
            if len(present) >= MIN_FACETS:
                break
            if facet not in present:
                self.add(_of_facet(facet))
        # still too thin (no safe concept of the missing facets fits): the least risky of the
        # vetoed ones, over every missing facet and appraisal, as few as make MIN_FACETS kinds
        while len({link.facet for link in self.links.values()}) < MIN_FACETS:
            if not self.add_least_risky():
                break

    def add_least_risky(self) -> bool:
        """Add the concept of least reader risk, vetoed or not (:data:`~emotion_director.agents.
        persona_agent.VETO_RISK`), of a facet the links lack, from any appraisal, that fits the
        scene and the links and that the scene-fit model lets through; ``False`` if none does."""
        present = {link.facet for link in self.links.values()}
        facets = [f for f in (*ESSENTIAL_FACETS, *SUPPLEMENTARY_FACETS) if f not in present]
        options = [
            (reader_risk(c, self.scene), c.text, appraisal_id, c)
            for appraisal_id in self.appraisals
            for c in self.concept_graph.appraisal(self.emotion, appraisal_id).concepts
            if c.facet in facets and _compatible(c, self.scene, self.links, self.known)
        ]
        for _, _, appraisal_id, concept in sorted(options, key=lambda o: o[:2]):
            if self.clashes(concept.render(self.scene)) is None:
                _add_from_graph(self.links, self.known, concept, appraisal_id, self.scene)
                return True
        return False


def _of_facet(facet: str) -> Callable[[VisualConcept], bool]:
    return lambda concept: concept.facet == facet
