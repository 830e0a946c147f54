"""The emotion-concept graph: emotion -> appraisal -> visual concepts, with scene constraints.

The graph is package data (``knowledge/data/*.yaml``, provenance in ``knowledge/SOURCES.md``). It
grounds every language-model call: persona agents choose among its concepts, and the
chain-of-concept step maps whatever they say back onto it.

Example:
    >>> from emotion_director.knowledge import load_concept_graph, subject_tags
    >>> graph = load_concept_graph()
    >>> tags = subject_tags("a dog in a park")
    >>> {"animal", "legs", "outdoor"} <= tags
    True
    >>> all(c.fits(tags) for c in graph.candidates("awe", tags))
    True
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from functools import lru_cache
from importlib import resources
from typing import Any, Literal, TypeVar, cast, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from emotion_director.emotions import Emotion, resolve_emotion
from emotion_director.files import load_shipped_yaml
from emotion_director.knowledge.scene import (
    PRONOUN_NOUNS,
    Kind,
    SceneModel,
    curated_subjects,
    facts_conflict,
    facts_opposed,
    ing_form,
    kind_of,
    look_conflict,
    noun_heads,
    noun_kinds,
    parse_scene,
    phrase_facts,
    singular,
    stated_feeling,
)
from emotion_director.knowledge.scene.lexicon import _WORD, mood_word
from emotion_director.knowledge.setting import (
    close,
    concept_settings,
    dimension_tags,
    refused_by_readers,
    ruled_out,
    stated_tags,
    unanchored,
)

#: Needs that tie a concept to particular kinds of subject.
KIND_NEEDS = frozenset(
    "person group animal fur ears tail wings bird aquatic fins insect serpent plant food object "
    "vehicle building room place sky event".split()
)

#: Facts about where and when the scene is: a concept that needs one the scene states depicts
#: *this* scene ("rain streaking the tram windows" for a tram in the rain), not any scene.
SETTING_FACTS = frozenset(
    "indoor outdoor urban wild water day midday twilight morning evening night dark rain storm "
    "fog clear winter bloom windy still fire".split()
)


@lru_cache(maxsize=4096)
def prop_head(text: str) -> str | None:
    """The first noun of ``text`` that heads its phrase: a noun followed by another noun is a
    modifier ("roller coaster"), a possessor is the head ("a crocodile's eyes")."""
    words = [w for w in _WORD.findall(text.replace("{the}", "").replace("{poss}", "")) if w]
    words = [w.lower() for w in words]
    for i, word in enumerate(words):
        bare = word.removesuffix("'s")
        if kind_of(bare) is None:
            continue
        if bare == word and i + 1 < len(words) and kind_of(words[i + 1].removesuffix("'s")):
            continue
        return singular(bare)
    return None


def scene_relevance(needs: frozenset[str] | set[str], facts: frozenset[str] | set[str]) -> int:
    """How many of the scene's stated setting facts (place, time, weather, and the places it
    names: ``site:kitchen``) a concept or phrase with these ``needs`` depicts."""
    return sum(1 for fact in needs & facts if fact in SETTING_FACTS or fact.startswith("site:"))


Facet = Literal[
    "object",
    "action",
    "body_language",
    "light",
    "colour",
    "weather",
    "space",
    "composition",
    "texture",
]
FACETS: tuple[str, ...] = get_args(Facet)


class VisualConcept(BaseModel):
    """One depictable visual concept under an appraisal, with what it needs from the scene.

    ``needs`` are scene facts the concept requires or asserts (a face, legs, wings, outdoor,
    night, ...; see :mod:`emotion_director.knowledge.scene`); those implied by its own words
    ("moonlight" -> night) are added when the graph is loaded. ``excludes`` are facts it cannot
    live with. ``text`` may be a template: ``{the}`` names the subject that fits the needs
    ("the dog"), ``{poss}`` its owner when the scene has several subjects ("the cat's").
    """

    model_config = ConfigDict(frozen=True)

    text: str
    facet: Facet
    needs: frozenset[str] = frozenset()
    excludes: frozenset[str] = frozenset()
    appraisal: str = Field(description="id of the appraisal this concept depicts")
    emotion: Emotion
    setting: frozenset[str] = Field(
        default=frozenset(),
        description="setting tags the concept presupposes (night, indoor, party, ...); it joins "
        "only a scene that states them all (see :mod:`emotion_director.knowledge.setting`)",
    )

    @property
    def tags(self) -> tuple[str, ...]:
        """The concept's needs, sorted (``("any",)`` when it needs nothing)."""
        return tuple(sorted(self.needs)) or ("any",)

    @property
    def bound(self) -> bool:
        """Whether the text names the subject or its owner (a template)."""
        return "{the}" in self.text or "{poss}" in self.text

    @property
    def specific(self) -> bool:
        """Whether the concept is written for particular kinds of subject."""
        return self.bound or bool(self.needs & KIND_NEEDS)

    @property
    def prop(self) -> str | None:
        """The head noun of the thing the concept brings in ("a roller coaster cresting the
        drop" -> ``coaster``; "a crocodile's eyes breaking the surface" -> ``crocodile``)."""
        return prop_head(self.text)

    def prop_named(self, scene: SceneModel) -> bool:
        """Whether the scene names the concept's prop as a thing in it (singular or plural):
        "a roller coaster at a fair" does, "roller derby skaters" and "a hot dog stand" (for
        "an old dog's grey muzzle") do not."""
        return self.prop is not None and self.prop in noun_heads(scene.text)

    def relevance(self, scene: SceneModel | frozenset[str] | set[str]) -> int:
        """How many of the scene's stated setting facts (place, time, weather) the concept
        depicts: 0 for a concept that would fit any scene."""
        facts = scene.facts if isinstance(scene, SceneModel) else scene
        return scene_relevance(self.needs, facts)

    def conflict(
        self,
        scene: SceneModel | frozenset[str] | set[str],
        stated: frozenset[str] | None = None,
        anchored: bool = True,
    ) -> str | None:
        """Why this concept contradicts the scene (or its facts), or ``None`` if it fits.

        ``stated``: the scene's setting tags, when the caller has more than its facts give.
        ``anchored=False`` skips the check that the scene states the concept's setting (see
        :mod:`~emotion_director.knowledge.setting`) and keeps the contradiction checks."""
        facts = scene.facts if isinstance(scene, SceneModel) else frozenset(scene)
        if anchored:
            if stated is None:
                stated = scene.stated if isinstance(scene, SceneModel) else stated_tags(facts)
            if "apart" in self.setting and isinstance(scene, SceneModel) and self.prop_named(scene):
                stated = stated | {"apart"}  # the scene is about the prop's own place
            reason = unanchored(self.setting, stated)
            if reason:
                return reason
        if self.excludes & facts:
            return f"excludes {sorted(self.excludes & facts)[0]}, the scene has it"
        reason = facts_conflict(facts, self.needs, self.text) or look_conflict(
            self.facet, self.text, facts, own=None
        )
        if reason:
            return reason
        if self.facet == "action" and "busy" in facts and self.needs & _AGENT_NEEDS:
            return "the subject is already doing something else"
        if self.facet == "light" and "lit" in facts:
            # the prompt says how the scene is lit: do not relight it (in the blind labels of
            # sets 1-39, added light clashed in 25 of 87 such scenes' phrases, 332 of 1,992
            # elsewhere: "harsh red backlight" under a harsh noon sun, flat overcast light)
            return "the scene already states its light"
        if self.facet == "weather":
            # the prompt says what the weather is: a weather line must be of that weather (in the
            # blind labels of sets 1-41, weather lines of no weather of their own clashed in 15 of
            # 24 readings of such scenes, "towering cumulus clouds filling the sky" on a grey
            # overcast morning; those of the scene's own weather in 17 of 185)
            weather = dimension_tags("weather")
            theirs = (stated if stated is not None else stated_tags(facts)) & weather
            own = self.setting | stated_tags(self.needs)
            # (a grey, diffuse sky is an overcast one; surf is the water's state, not the sky's)
            if theirs and not own & (weather | {"diffuse", "liquid"}):
                return "the scene already states its weather"
        if isinstance(scene, SceneModel):
            face = self.face_conflict(scene)
            if face:
                return face
            owner = scene.owner_for(self.needs) if self.bound else None
            if self.bound and owner is None:
                return "no subject of the kind it names"
            if self.bound and owner is not None and _likened_to_itself(self.text, owner.noun):
                # "the lanterns lit from within like a lantern" for a roundhouse glowing with
                # lanterns (set 44): a simile must liken the subject to something else
                return f"it likens {owner.label()} to itself"
            if (
                self.facet == "composition"
                and owner is not None
                and owner is not scene.main
                and "animate" not in owner.facts
            ):
                # a framing is about who the picture shows: "the footsteps tiny in the corner of
                # a dark frame" for a night watchman hearing footsteps ("a man and his dog" may
                # frame the dog)
                return f"{owner.label()} is not what the picture is of"
            if (
                self.facet == "composition"
                and scene.main is not None
                and scene.main.kind in _VAST_KINDS
                and _close_framing().search(self.text.lower())
            ):
                # "harsh flash snapshot close-up" for a morning glory cloud rolling over a gulf
                # (set 51), "uncomfortably close macro shot" for a meteor over the steppe (set 50)
                return f"{scene.main.label()} is too vast to be framed close up"
            recast = _recast_people(self, scene)
            if recast:
                return recast
            if self.facet == "object" and owner is not None and owner.handled:
                # "an ancient map spread beneath the glass" the glassblower is shaping
                return f"{owner.label()} is in the subject's hands"
            if self.facet == "space" and not self.bound and _located(scene):
                # the prompt says where the scene is: do not move it somewhere else
                return f"the scene is already set ({_located(scene)})"
        return None

    def face_conflict(self, scene: SceneModel) -> str | None:
        """Why this concept would draw a face of another feeling on a subject whose expression
        or mood the scene states (:func:`~emotion_director.knowledge.scene.stated_feeling`: "a
        nervous best man" gets no loose shoulders for contentment), or ``None``: the subject's
        face is the user's ("fishermen laughing" get
        no scowl for anger, a couchette attendant yawning no raised eyebrows: sets 64-65); a grin
        still joins a laughing boy. A face is a body-language, action or framing concept that
        needs one, or one that shows the mouth (``mouth``, ``quiet``); a body is any body
        language bound to the subject, which shows a feeling as a face does ("a crying toddler"
        got "the toddler's long exhale, shoulders loose" for contentment, set 70: in the blind
        labels of sets 1-70, body language of another feeling than a stated expression clashed 2
        of 4 times, of the same feeling 0 of 19)."""
        needs_face = self.facet in _FACE_FACETS and self.needs & {"face", "lips"}
        # (a subject's own body: not a crowd's or a family's, whose faces the scene does not state)
        shows_body = self.facet == "body_language" and self.bound
        if not (needs_face or shows_body or self.setting & _MOUTH_TAGS):
            return None
        owner = scene.owner_for(self.needs) if self.bound else None
        subject = owner or scene.main
        shown = stated_feeling(scene, subject)
        if shown is None or subject is None or self.emotion.value in shown.emotions:
            return None
        verb = "are" if subject.plural else "is"
        said = mood_word(shown.word) or ing_form(shown.word) or shown.word  # "solemnly": solemn
        return f"{subject.label()} {verb} {said}, as the scene says"

    def clash(self, scene: SceneModel) -> str | None:
        """Why this concept contradicts the scene, or ``None``: a free tag whose opposite the
        scene states ("a snarl" on a cat asleep), a fact it excludes, or facts of its own the
        scene's oppose (midday sun at night, a body part no subject has), or the look the user
        chose (a colour in a black and white photo, a thing out of scale in an aerial view or a
        close-up). Unlike
        :meth:`conflict`, a setting or a thing the scene does not state is no contradiction
        ("moonlight on the water" for "a dog in a park"), nor are the graph's preferences for
        the picture it composes (a scene already set somewhere, a framing on another subject,
        one activity at a time)."""
        reason = ruled_out(self.setting, scene.stated)
        if reason:
            return reason
        if self.excludes & scene.facts:
            return f"excludes {sorted(self.excludes & scene.facts)[0]}, the scene has it"
        unstated = self.needs & _THINGS - scene.facts  # brought in, not contradicted
        return facts_conflict(scene.facts, self.needs - unstated, self.text) or look_conflict(
            self.facet, self.text, scene.facts, own=None, preferences=False
        )

    def fits(self, scene: SceneModel | frozenset[str] | set[str]) -> bool:
        """Whether the concept can be added to this scene: it does not contradict it, and it is
        not one that blind readers called a clash in most scenes they saw it in
        (:func:`~emotion_director.knowledge.setting.refused_by_readers`), unless the scene names
        what it shows ("fireworks bursting overhead ..." for a crowd watching fireworks)."""
        if self.text in refused_by_readers() and not (
            isinstance(scene, SceneModel) and self.prop_named(scene)
        ):
            return False
        return self.conflict(scene) is None

    def clashes_with(self, other: VisualConcept) -> bool:
        """Whether two concepts contradict each other (night light + midday sun, ...)."""
        if self.excludes & other.needs or other.excludes & self.needs:
            return True
        # the subject holds one pose or activity at a time: two concepts on the setting's
        # `state` dimension ("{poss} chin resting on crossed paws" and "resting {poss} head on
        # a familiar lap", or at rest and "leaping after a ball") are two different pictures
        state = dimension_tags("state")
        if self.text != other.text and self.setting & state and other.setting & state:
            return True
        # one depth per picture: "soft light fading gradually into the distance" and "crisp fine
        # detail from the foreground to the far edge" say the far distance twice, and disagree
        # on it (`make run`'s "a dog in a park" got both)
        if self.text != other.text and "far" in self.setting and "far" in other.setting:
            return True
        # opposed facts, "in the dark" vs daylight outdoors, two different places
        return facts_opposed(self.needs, other.needs)

    def render(self, scene: SceneModel | None) -> str:
        """The concept's text bound to the scene's subject (templates filled in).

        A posture or expression written without an owner ("ears pinned back") names its owner
        when that is not the scene's first subject, or not in the prompt at all: "a cat and a
        dog" -> "the dog with ears pinned back"; "a funeral" -> "the mourners with ...".
        """
        if scene is None:
            return self._render(None)
        rendered = scene.memo("rendered")  # each persona renders the same options
        known = rendered.get(id(self))
        if known is None or known[0] is not self:
            known = rendered[id(self)] = (self, self._render(scene))
        return known[1]

    def _render(self, scene: SceneModel | None) -> str:
        if not self.bound:
            return self._owned(scene)
        owner = scene.owner_for(self.needs) if scene is not None else None
        label = owner.label() if owner else "the subject"
        several = scene is not None and len(scene.entities) > 1
        text = self.text.replace("{the}", label)
        if several and owner:
            text = text.replace("{poss}", owner.possessive())
        else:  # one subject: a leading owner is implied, a later one is a pronoun
            if text.startswith("{poss} "):
                text = text[len("{poss} ") :]
            pronoun = (
                "their"
                if owner is not None and (owner.plural or "person" in owner.facts)
                else "its"
            )
            text = text.replace("{poss}", pronoun)
        return text.strip()

    def _owned(self, scene: SceneModel | None) -> str:
        if scene is None or not self.needs & _BODY_NEEDS:
            return self.text
        owner = scene.owner_for(self.needs)
        if owner is None:
            return self.text
        if owner is scene.main and not owner.implied:
            # the subject's body: a person's or a group's is "their" ("a rubber duck perched on
            # its head" was written for an animal; a beekeeper wears it on their head)
            if owner.plural or "person" in owner.facts:
                return re.sub(r"\bits\b", "their", self.text)
            return self.text
        first = self.text.split(maxsplit=1)[0].lower()
        verb = first.endswith(("ing", "ed")) or first in {
            "asleep",
            "awake",
            "frozen",
            "caught",
            "half",
            "mid-leap",
            "mid-stride",
        }
        if verb and (self.facet in _OWNED_FACETS or first.endswith("ing")):
            return f"{owner.label()} {self.text}"  # "the dog lying on its side"
        pronoun = re.search(r"\b(its|their|his|her)\b", self.text)
        if pronoun:  # "sunglasses perched on its face" -> "... on the mourners' face"
            return self.text[: pronoun.start()] + owner.possessive() + self.text[pronoun.end() :]
        if self.facet not in _OWNED_FACETS:
            return self.text
        return f"{owner.label()} with {self.text}"


#: Needs that name a thing or place a concept brings into the picture (water, a sky, a room), not
#: a body its subject must have: a scene that does not mention one does not contradict it.
_THINGS = frozenset("place room sky water building vehicle object food plant group event".split())
#: Facets that describe a subject's own body (their owner is named when it is not obvious).
_OWNED_FACETS = frozenset({"body_language", "action"})
_BODY_NEEDS = frozenset("face lips legs hands ears tail fur wings fins animate".split())


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


V = TypeVar("V")

#: Scenes whose candidates a concept graph keeps (a rewrite asks once per persona).
_CANDIDATE_CACHE = 64


class ConceptGraph:
    """All emotions' concept chains, with lookups by emotion, subject and text.

    ``emotions`` maps each emotion to its concepts, or is a function that loads one emotion's
    (the shipped graph: an emotion's file is read when a lookup first needs it, so a rewrite
    reads one file of eight; :meth:`get` reads the file that holds the text, found by ``holder``
    without building concepts, or every file when there is no ``holder``; :meth:`mentioned`
    reads them all).
    """

    def __init__(
        self,
        emotions: Mapping[Emotion, EmotionConcepts] | Callable[[Emotion], EmotionConcepts],
        holder: Callable[[str], Emotion | None] | None = None,
    ) -> None:
        self._load = emotions if callable(emotions) else None
        # the emotion whose file holds a concept's text, read without building its concepts
        # (a lookup by text of a cue that is no concept's text then reads no file)
        self._holder = holder
        self._emotions: dict[Emotion, EmotionConcepts] = {}
        self._by_text: dict[str, VisualConcept] = {}
        self._words: dict[str, frozenset[str]] = {}
        # (emotion, the scene's content) -> its candidates: the personas of one rewrite ask for
        # the same scene's candidates, each a fit check of every concept of the emotion
        self._candidates: dict[tuple[Emotion, str], tuple[VisualConcept, ...]] = {}
        # (emotion, the scene's content) -> each concept's text bound to the scene, lower case
        self._rendered: dict[tuple[Emotion, str], dict[str, VisualConcept]] = {}
        # (emotion, free text) -> the closest concept: asked again for each persona's cues
        self._closest: dict[tuple[Emotion, str], VisualConcept | None] = {}
        # each concept's text as a pattern over free text (its longest literal run first, a
        # cheap test before the pattern), built on the first :meth:`mentioned`
        self._patterns: list[tuple[tuple[str, re.Pattern[str]], VisualConcept]] | None = None
        self._lock = threading.RLock()
        if not callable(emotions):
            for concepts in emotions.values():
                self._add(concepts)

    def _add(self, concepts: EmotionConcepts) -> None:
        for appraisal in concepts.appraisals:
            for concept in appraisal.concepts:
                self._by_text[concept.text] = concept
                self._words[concept.text] = content_words(concept.text)
        # published last: a thread that sees the emotion loaded finds its texts too
        self._emotions[concepts.emotion] = concepts

    def _of(self, emotion: Emotion | str) -> EmotionConcepts:
        """One emotion's concepts, loaded on first use."""
        wanted = resolve_emotion(emotion)
        found = self._emotions.get(wanted)
        if found is not None:
            return found
        if self._load is None:
            raise KeyError(wanted)
        with self._lock:
            if wanted not in self._emotions:
                self._add(self._load(wanted))
            return self._emotions[wanted]

    def _all(self) -> None:
        """Every emotion's concepts loaded (for lookups by text alone)."""
        if self._load is not None and len(self._emotions) < len(Emotion):
            for emotion in Emotion:
                self._of(emotion)

    def appraisals(self, emotion: Emotion | str) -> tuple[Appraisal, ...]:
        return self._of(emotion).appraisals

    def appraisal(self, emotion: Emotion | str, appraisal_id: str) -> Appraisal:
        return next(a for a in self.appraisals(emotion) if a.id == appraisal_id)

    def avoid(self, emotion: Emotion | str) -> tuple[str, ...]:
        """Cues that work against ``emotion``; used for the negative prompt."""
        return self._of(emotion).avoid

    def concepts(self, emotion: Emotion | str) -> list[VisualConcept]:
        return [c for a in self.appraisals(emotion) for c in a.concepts]

    def candidates(
        self, emotion: Emotion | str, scene: SceneModel | frozenset[str] | set[str]
    ) -> list[VisualConcept]:
        """The emotion's concepts that fit the scene (or a set of its facts), in graph order."""
        if not isinstance(scene, SceneModel):
            return [c for c in self.concepts(emotion) if c.fits(scene)]
        key = (resolve_emotion(emotion), _scene_key(scene))
        found = self._remember(
            self._candidates,
            key,
            lambda: tuple(c for c in self.concepts(emotion) if c.fits(scene)),
            _CANDIDATE_CACHE,
        )
        return list(found)

    def lookup(
        self, text: str, emotion: Emotion | str, scene: SceneModel | None
    ) -> VisualConcept | None:
        """The emotion's concept whose text, bound to ``scene``, is exactly ``text``."""
        wanted = text.strip().lower()
        if scene is None:
            return next(
                (c for c in self.concepts(emotion) if c.render(None).lower() == wanted), None
            )
        key = (resolve_emotion(emotion), _scene_key(scene))

        def bind() -> dict[str, VisualConcept]:
            rendered: dict[str, VisualConcept] = {}
            for concept in self.concepts(emotion):  # the first concept of a text wins
                rendered.setdefault(concept.render(scene).lower(), concept)
            return rendered

        rendered = self._remember(self._rendered, key, bind, _CANDIDATE_CACHE)
        return rendered.get(wanted)

    def mentioned(self, phrase: str) -> list[VisualConcept]:
        """The concepts whose text occurs in ``phrase`` as whole words, longest first; a
        template matches with any owner or none ("{poss} ears pinned back" in "the old cat's
        ears pinned back" and in "ears pinned back"). This binds free text (a model's rewrite,
        a phrase given to ``scene check``) back to the concepts, and so to what they presuppose.
        """
        self._all()
        with self._lock:
            if self._patterns is None:
                # in the graph's order (emotions in turn), whatever order they were read in
                self._patterns = sorted(
                    (
                        (_template_pattern(c.text), c)
                        for emotion in Emotion
                        for c in self.concepts(emotion)
                    ),
                    key=lambda pc: -len(pc[1].text),
                )
        found = []
        lowered = " ".join(phrase.replace("\u2019", "'").lower().split())
        for (literal, pattern), concept in self._patterns:
            if literal in lowered and pattern.search(lowered):
                found.append(concept)
        return found

    def get(self, text: str) -> VisualConcept | None:
        """The concept with exactly this text, if any (texts are unique across emotions)."""
        found = self._by_text.get(text.strip())
        if found is None and self._load is not None and len(self._emotions) < len(Emotion):
            if self._holder is None:
                self._all()
            else:
                holder = self._holder(text.strip())
                if holder is None:
                    return None
                self._of(holder)
            found = self._by_text.get(text.strip())
        return found

    def closest(self, text: str, emotion: Emotion | str) -> VisualConcept | None:
        """The emotion's concept sharing the most content words with ``text`` (None if none)."""
        key = (resolve_emotion(emotion), text)
        return self._remember(
            self._closest, key, lambda: self._closest_uncached(text, emotion), 4096
        )

    def _remember(self, cache: dict[Any, V], key: Any, compute: Callable[[], V], size: int) -> V:
        """``cache[key]``, computed when missing; the oldest entry goes when the cache is full.

        Thread-safe, and computed once: the personas of a sync run ask at the same moment from
        LangGraph's worker threads (they wait a millisecond or two for the first one's answer
        rather than each computing it), and a server shares the graph across runs."""
        with self._lock:
            if key not in cache:
                value = compute()
                while len(cache) >= size:
                    del cache[next(iter(cache))]
                cache[key] = value
            return cache[key]

    def _closest_uncached(self, text: str, emotion: Emotion | str) -> VisualConcept | None:
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


#: Kinds of subject no close-up can hold: a sky's phenomenon (a landscape kind also holds
#: gardens, paths and ponds, which a close-up may frame).
_VAST_KINDS = frozenset({"sky"})


@lru_cache(maxsize=1)
def _close_framing() -> re.Pattern[str]:
    """A composition that frames its subject close up: a framing of ``subjects.yaml``'s
    ``close`` list, the one the parser reads a prompt's own close-up with."""
    phrases = sorted(curated_subjects().get("close", []), key=len, reverse=True)
    return re.compile(r"\b(?:%s)\b" % "|".join(map(re.escape, phrases)))


def _likened_to_itself(text: str, noun: str) -> bool:
    """Whether a template's simile ("... like a lantern") names its own owner's noun, in the
    singular or the plural."""
    head = singular(noun.split()[-1].lower())
    return any(
        singular(word) == head
        for pair in re.findall(r"\blike (?:an? |the )?([\w-]+)(?: ([\w-]+))?", text.lower())
        for word in pair
        if word
    )


STOPWORDS = frozenset(
    "a an the of in on at to with and or its it is are by for from into over under up down "
    "all this that as be their his her one some very".split()
)


#: What a template's ``{the}`` or ``{poss}`` stands for in free text: an owner of up to three
#: words ("its", "the cat's", "the old dog", "the mourners'").
_OWNER = r"(?:(?:the|a|an)\s+)?(?:[\w-]+\s+){0,2}?[\w-]+(?:'s|')?"


def _template_pattern(text: str) -> tuple[str, re.Pattern[str]]:
    """A concept text as (its longest literal run, a whole-word pattern over lower-case text)."""
    pieces = re.split(r"(\{poss\} |\{poss\}|\{the\})", text.lower())
    parts, literals = [], []
    for piece in pieces:
        if piece == "{poss} ":  # a leading owner may be left out ("ears pinned back")
            parts.append(rf"(?:{_OWNER}\s+)?")
        elif piece in ("{poss}", "{the}"):
            parts.append(_OWNER)
        elif piece:
            literals.append(piece.strip())
            parts.append(r"\s+".join(re.escape(w) for w in piece.split(" ")))
    literal = max(literals, key=len)
    return literal, re.compile(rf"(?<![\w-]){''.join(parts)}(?![\w-])")


def _scene_key(scene: SceneModel) -> str:
    """What of a scene decides its candidates and renderings: all of it but the per-concept
    reader risks (~200 numbers, which rank concepts and admit none)."""
    return scene.model_dump_json(exclude={"read_risk"})


@lru_cache(maxsize=16384)
def content_words(text: str) -> frozenset[str]:
    """Lower-cased words of ``text`` without stopwords, crudely singularised (cached: every
    persona of a rewrite ranks the same concepts)."""
    words = re.findall(r"[a-z]+", text.lower())
    return frozenset(_singular(w) for w in words if w not in STOPWORDS and len(w) > 2)


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def subject_lexicon() -> dict[str, Kind]:
    """Noun -> kind of subject (thousands of nouns; see :mod:`emotion_director.knowledge.scene`)."""
    return noun_kinds()


def subject_tags(subject: str) -> frozenset[str]:
    """The scene facts of a subject text (kinds, body plan, setting, time, weather)."""
    return parse_scene(subject).facts


def _concept(entry: list[str], appraisal: str, emotion: Emotion) -> VisualConcept:
    facet, text, needs, excludes = [*entry, "", ""][:4]
    words = text.replace("{the}", "").replace("{poss}", "")
    return VisualConcept(
        facet=cast(Facet, facet),  # from the data file; the model validates it
        text=text,
        appraisal=appraisal,
        emotion=emotion,
        setting=concept_settings().get(text, frozenset()),
        needs=frozenset(needs.split()) | phrase_facts(words),
        excludes=frozenset(excludes.split()),
    )


#: Needs that make an action the subject's own (not another creature's).
_AGENT_NEEDS = frozenset("animate legs hands person fur ears tail wings bird aquatic fins".split())


def _located(scene: SceneModel) -> str | None:
    """The stated place of the scene, if any: where the subjects are ("on a sofa", "in a
    kitchen"), a room, building or landscape subject, or an event (it happens where it is)."""
    if scene.places:
        return scene.places[0].noun
    for entity in scene.entities:
        if entity.kind in {"room", "landscape", "building", "event"}:
            return entity.noun
    return None


def _recast_people(concept: VisualConcept, scene: SceneModel) -> str | None:
    """Why a group concept that names people of its own ("family members leaning shoulder to
    shoulder", "a grandmother braiding a child's hair", "a crowd throwing hats into the air")
    would cast the people a scene names only by a pronoun as those people ("After the fire
    alarm sounds, they stand shivering in the car park of a call centre" got "family members
    leaning shoulder to shoulder", both readers: a clash, set 84), or ``None``. The scene does
    not say who they are, so the picture may not say it either; a concept of no people-noun
    ("heads thrown back mid-laugh") or of the pronoun's own ("two figures squared off") joins."""
    main = scene.main
    if concept.bound or "group" not in concept.needs or main is None:
        return None
    if not (main.implied and main.noun in PRONOUN_NOUNS):
        return None
    for word in _WORD.findall(concept.text.lower()):
        noun = singular(word)
        if not {word, noun} & PRONOUN_NOUNS and kind_of(noun) in {"person", "group"}:
            return f"it casts {main.label()} as {word}, whom the scene does not name"
    return None


#: Setting tags of a concept that shows the subject's mouth (open, or held shut).
_MOUTH_TAGS = frozenset({"mouth", "quiet"})
#: Facets whose concepts show a subject's face when they need one.
_FACE_FACETS = frozenset({"body_language", "action", "composition"})
#: Kinds of noun that say where a scene is (not an event, a storm or a vehicle).
_SETTING_KINDS = frozenset({"landscape", "room", "building"})
#: Words that show another place from where the scene is: a view, a picture, a reflection.
_SHOWN_FROM_HERE = re.compile(
    r"\b(?:views?|photos?|paintings?|maps?|posters?|pictures?|reflections?|reflected|"
    r"through (?:a|the) window|in the (?:background|distance)|on the horizon)\b"
)


def moved_setting(scene: SceneModel, text: str) -> str | None:
    """Why free text (a model's own cue) sets the scene somewhere else, or ``None``: the scene
    says where it is (a landscape, room or building; one of kind of place when a landscape),
    and the text names a place of its own of a kind of place (``setting.yaml``'s `place` tags)
    the scene does not state: "a day at the beach" for a tow truck driver under a motorway
    bridge. A view, a picture or a reflection of another place is no move ("a view of the garden
    through the window" from a kitchen), nor is a place of the scene's own kind ("waves lapping
    at the shore" from a pier, "a picnic blanket on the lawn" in a park). The rule a space
    concept of the graph meets ("the scene is already set"), for words no concept holds."""
    here = next((e for e in [*scene.places, *scene.entities] if e.kind in _SETTING_KINDS), None)
    if here is None:
        return None
    kinds = dimension_tags("place")
    # a landscape of no stated kind ("a hiker on a mountain ridge", "a surfer riding a wave") is
    # still outdoors: only an indoor kind of place moves it ("a cozy living room")
    if here.kind == "landscape" and not scene.stated & kinds:
        kinds = frozenset(k for k in kinds if "indoor" in close({k}))  # (home, hospital, ...)
    if _SHOWN_FROM_HERE.search(text.lower()):
        return None
    cue = parse_scene(text)
    own = [e.noun for e in [*cue.places, *cue.entities] if e.kind in _SETTING_KINDS]
    lowered = scene.text.lower()
    if not own or any(re.search(rf"\b{re.escape(noun)}\b", lowered) for noun in own):
        return None
    theirs = sorted(cue.stated & kinds - scene.stated)
    if not theirs:
        return None
    return (
        f"it sets the scene somewhere else ({own[0]}: {theirs[0]}); the scene is set ({here.noun})"
    )


def _data_file(name: str) -> str:
    return resources.files("emotion_director.knowledge").joinpath("data", name).read_text("utf-8")


@lru_cache(maxsize=len(Emotion))
def _raw_emotion(emotion: Emotion) -> dict[str, Any]:
    """One emotion's shipped file (``data/<emotion>.yaml``), as read."""
    data: dict[str, Any] = load_shipped_yaml(_data_file(f"{emotion.value}.yaml"))
    return data


@lru_cache(maxsize=1)
def _text_holders() -> dict[str, Emotion]:
    """Each concept's text -> the emotion whose file holds it."""
    return {
        entry[1]: emotion
        for emotion in Emotion
        for item in _raw_emotion(emotion)["appraisals"]
        for entry in item["concepts"]
    }


def _load_emotion(emotion: Emotion) -> EmotionConcepts:
    """One emotion's concepts from its shipped file (``data/<emotion>.yaml``)."""
    raw = _raw_emotion(emotion)
    appraisals = []
    for item in raw["appraisals"]:
        concepts = tuple(_concept(entry, item["id"], emotion) for entry in item["concepts"])
        appraisals.append(
            Appraisal(
                id=item["id"],
                appraisal=item["appraisal"],
                source=item["source"],
                concepts=concepts,
            )
        )
    return EmotionConcepts(
        emotion=raw["emotion"], appraisals=tuple(appraisals), avoid=tuple(raw.get("avoid", ()))
    )


@lru_cache(maxsize=1)
def load_concept_graph() -> ConceptGraph:
    """The shipped concept graph (cached); each emotion's file is read when first needed."""
    return ConceptGraph(_load_emotion, holder=lambda text: _text_holders().get(text))
