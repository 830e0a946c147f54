"""The emotion-concept graph: emotion -> appraisal -> visual concepts, with subject tags.

The graph is package data (``knowledge/data/*.yaml``, provenance in ``knowledge/SOURCES.md``). It
grounds every language-model call: persona agents choose among its concepts, and the
chain-of-concept step maps whatever they say back onto it.

Example:
    >>> from emotion_director.knowledge import load_concept_graph, subject_tags
    >>> graph = load_concept_graph()
    >>> tags = subject_tags("a dog in a park")
    >>> sorted(tags)
    ['animal', 'nature', 'outdoor']
    >>> all(c.fits(tags) for c in graph.candidates("awe", tags))
    True
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from emotion_director.emotions import Emotion, resolve_emotion

Facet = Literal[
    "object", "action", "body_language", "light", "colour", "weather", "space",
    "composition", "texture",
]
FACETS: tuple[str, ...] = (
    "object", "action", "body_language", "light", "colour", "weather", "space",
    "composition", "texture",
)


class VisualConcept(BaseModel):
    """One depictable visual concept under an appraisal."""

    model_config = ConfigDict(frozen=True)

    text: str
    facet: Facet
    tags: tuple[str, ...] = ("any",)
    appraisal: str = Field(description="id of the appraisal this concept depicts")
    emotion: Emotion

    def fits(self, subject: frozenset[str] | set[str]) -> bool:
        """Whether the concept suits a subject with these tags.

        ``any`` fits every subject; a subject with no known tags accepts concepts that do not
        need a person or an animal in the scene.
        """
        if "any" in self.tags:
            return True
        if not subject:
            return not {"human", "animal"} & set(self.tags) or len(self.tags) > 2
        return bool(set(self.tags) & set(subject))


class Appraisal(BaseModel):
    """An abstract appraisal (why the scene evokes the emotion) and its visual concepts."""

    id: str
    appraisal: str
    source: str
    concepts: tuple[VisualConcept, ...]


class EmotionConcepts(BaseModel):
    emotion: Emotion
    appraisals: tuple[Appraisal, ...]
    avoid: tuple[str, ...] = ()

    @field_validator("emotion", mode="before")
    @classmethod
    def _resolve(cls, value: object) -> Emotion:
        return resolve_emotion(str(value))


class ConceptGraph:
    """All emotions' concept chains, with lookups by emotion, subject and text."""

    def __init__(self, emotions: dict[Emotion, EmotionConcepts]) -> None:
        self._emotions = emotions
        self._by_text = {
            c.text: c for e in emotions.values() for a in e.appraisals for c in a.concepts
        }
        self._words = {text: content_words(text) for text in self._by_text}

    def appraisals(self, emotion: Emotion | str) -> tuple[Appraisal, ...]:
        return self._emotions[resolve_emotion(emotion)].appraisals

    def appraisal(self, emotion: Emotion | str, appraisal_id: str) -> Appraisal:
        return next(a for a in self.appraisals(emotion) if a.id == appraisal_id)

    def avoid(self, emotion: Emotion | str) -> tuple[str, ...]:
        """Cues that work against ``emotion``; used for the negative prompt."""
        return self._emotions[resolve_emotion(emotion)].avoid

    def concepts(self, emotion: Emotion | str) -> list[VisualConcept]:
        return [c for a in self.appraisals(emotion) for c in a.concepts]

    def candidates(
        self, emotion: Emotion | str, subject: frozenset[str] | set[str]
    ) -> list[VisualConcept]:
        """The emotion's concepts that fit a subject with these tags, in graph order."""
        return [c for c in self.concepts(emotion) if c.fits(subject)]

    def get(self, text: str) -> VisualConcept | None:
        """The concept with exactly this text, if any."""
        return self._by_text.get(text.strip())

    def closest(self, text: str, emotion: Emotion | str) -> VisualConcept | None:
        """The emotion's concept sharing the most content words with ``text`` (None if none)."""
        words = content_words(text)
        best, best_score = None, 0.0
        for concept in self.concepts(emotion):
            other = self._words[concept.text]
            if not other:
                continue
            score = len(words & other) / len(words | other)
            if score > best_score:
                best, best_score = concept, score
        return best if best_score >= 0.25 else None


STOPWORDS = frozenset(
    "a an the of in on at to with and or its it is are by for from into over under up down "
    "all this that as be their his her one some very".split()
)


def content_words(text: str) -> set[str]:
    """Lower-cased words of ``text`` without stopwords, crudely singularised."""
    words = re.findall(r"[a-z]+", text.lower())
    return {_singular(w) for w in words if w not in STOPWORDS and len(w) > 2}


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@lru_cache(maxsize=1)
def subject_lexicon() -> dict[str, frozenset[str]]:
    raw = yaml.safe_load(_data_file("subjects.yaml"))
    lexicon: dict[str, set[str]] = {}
    for tag, words in raw.items():
        for word in words:
            lexicon.setdefault(word, set()).add(tag)
    return {word: frozenset(tags) for word, tags in lexicon.items()}


def subject_tags(subject: str) -> frozenset[str]:
    """Tags (human, animal, outdoor, indoor, ...) of the things a subject text mentions."""
    lexicon = subject_lexicon()
    tags: set[str] = set()
    for word in re.findall(r"[a-z]+", subject.lower()):
        for form in (word, _singular(word), word[:-2] if word.endswith("es") else word):
            tags |= lexicon.get(form, frozenset())
    return frozenset(tags)


def _data_file(name: str) -> str:
    return resources.files("emotion_director.knowledge").joinpath("data", name).read_text("utf-8")


@lru_cache(maxsize=1)
def load_concept_graph() -> ConceptGraph:
    """Load the shipped concept graph (cached)."""
    emotions: dict[Emotion, EmotionConcepts] = {}
    for emotion in Emotion:
        raw = yaml.safe_load(_data_file(f"{emotion.value}.yaml"))
        appraisals = []
        for item in raw["appraisals"]:
            concepts = tuple(
                VisualConcept(
                    facet=facet, text=text, tags=tuple(tags), appraisal=item["id"], emotion=emotion
                )
                for facet, text, tags in item["concepts"]
            )
            appraisals.append(
                Appraisal(
                    id=item["id"], appraisal=item["appraisal"], source=item["source"],
                    concepts=concepts,
                )
            )
        emotions[emotion] = EmotionConcepts(
            emotion=raw["emotion"], appraisals=tuple(appraisals), avoid=tuple(raw.get("avoid", ()))
        )
    return ConceptGraph(emotions)
