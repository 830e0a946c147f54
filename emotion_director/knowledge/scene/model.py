"""What a parsed scene is: :class:`SceneModel`, its subjects (:class:`SubjectEntity`) and the
emotion-laden words describing them (:class:`EmotionalAttribute`).
"""

from __future__ import annotations

import weakref
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from emotion_director.knowledge.facts import Kind
from emotion_director.knowledge.scene.lexicon import (
    _entity_facts,
    _noun_like,
    animal_bodies,
    kind_of,
    singular,
)
from emotion_director.knowledge.scene.vocabulary import (
    _PRONOUN_FALLBACK,
    _PRONOUN_SUBJECTS,
    ANIMATE_KINDS,
    BODY_FACTS,
)
from emotion_director.knowledge.setting import stated_tags


def _sleeper(tokens: list[str], k: int, entities: list[SubjectEntity]) -> SubjectEntity | None:
    """Whom the sleep word at ``k`` describes: the noun right after it ("a nurse watching a
    sleeping patient": the patient), else the nearest living subject named before it ("a
    fisherman mending nets, gulls dozing on the rail": the gulls), else the first one after it
    ("a dozing old watchman"); ``None`` when the scene names no living subject. Only a
    participle stands before its noun: "asleep" and "sleeps" describe who came before them ("an
    old man asleep mouth-open": not the mouth)."""
    nxt = tokens[k + 1] if k + 1 < len(tokens) else ""
    if nxt and tokens[k].endswith("ing") and _noun_like(nxt):  # "a sleeping patient"
        named = [e for e in entities if e.noun.split()[0] == nxt]
        return named[0] if named else SubjectEntity(noun=nxt, kind="thing")
    at = {}
    for entity in entities:
        head = entity.noun.split()[0]
        if entity.kind in ANIMATE_KINDS and head in tokens and entity.noun not in at:
            at[entity.noun] = (tokens.index(head), entity)
    before = [(i, e) for i, e in at.values() if i < k]
    after = [(i, e) for i, e in at.values() if i > k]
    if before:
        return max(before, key=lambda pair: pair[0])[1]
    return min(after, key=lambda pair: pair[0])[1] if after else None


class SubjectEntity(BaseModel):
    """One subject of the scene (a person, an animal, a thing)."""

    model_config = ConfigDict(frozen=True)

    noun: str = Field(description="head noun as written (lower case)")
    kind: Kind
    plural: bool = False
    modifiers: list[str] = Field(default_factory=list, description="words describing it")
    handled: bool = Field(
        default=False,
        description='what the scene\'s subject is working on ("shaping molten glass", '
        '"pulling down the shutters"): in its hands, so nothing is propped on it',
    )
    implied: bool = Field(
        default=False,
        description="named by no noun of the prompt: the people an event implies (the mourners "
        "of a funeral), or the person a pronoun names ('she reads by the window': a woman)",
    )

    @property
    def facts(self) -> frozenset[str]:
        return _entity_facts(self.noun, self.kind, tuple(self.modifiers[-2:]))

    def label(self) -> str:
        """``the cat`` / ``the firefighters``: how a concept names its owner; a two-word name the
        tables know keeps its first word (``the sea lion``, ``the organ grinder``)."""
        if self.modifiers and " " not in self.noun:
            two = f"{self.modifiers[-1]} {singular(self.noun)}"
            if two in animal_bodies() or kind_of(two):  # kind_of knows WordNet's compounds
                return f"the {self.modifiers[-1]} {self.noun}"
        return f"the {self.noun}"

    def possessive(self) -> str:
        """``the cat's`` / ``the mourners'``; a count or group owns nothing itself: "a caravan
        of camels" has ``the camels'`` fur."""
        if " of " in self.noun:
            inner = self.noun.rsplit(" of ", 1)[1]
            # ("the camels'", but "the people's": a plural not in -s takes -'s)
            return f"the {inner}'" if inner.endswith("s") else f"the {inner}'s"
        return (
            f"{self.label()}'" if self.plural and self.noun.endswith("s") else f"{self.label()}'s"
        )


def own_words(entity: SubjectEntity, tokens: list[str] | None = None) -> set[str]:
    """The words that name ``entity`` right before its verb: its noun's last word ("attendant",
    "fishermen"), or, for an implied subject, the pronoun that names it as the scene's ``tokens``
    write it ("she", "they're")."""
    words = {entity.noun.split()[-1], entity.noun + "s"}
    if entity.implied:  # "she smiles": the woman a pronoun names (language.pronoun_subject)
        pronouns = {
            word
            for word, (noun, kind) in _PRONOUN_SUBJECTS.items()
            if entity.noun in (noun, _PRONOUN_FALLBACK[kind])
        }
        words |= pronouns | {t for t in tokens or () if t.split("'")[0] in pronouns}
    return words


class EmotionalAttribute(BaseModel):
    """A word of the prompt that already carries an emotion (``sobbing``, ``rotting``)."""

    model_config = ConfigDict(frozen=True)

    word: str
    emotions: list[str] = Field(description="Mikels categories the word evokes")
    expression: bool = Field(
        default=False, description="a facial or bodily expression (it can be recast)"
    )
    owner: str | None = Field(default=None, description="head noun of the subject it describes")


#: :meth:`SceneModel.memo` of each scene alive: ``id(scene) -> (weak reference, its memos)``.
_SCENE_MEMOS: dict[int, tuple[weakref.ref[SceneModel], dict[str, dict[Any, Any]]]] = {}


class SceneModel(BaseModel):
    """What the prompt states: subjects, setting, time, weather, actions, emotional attributes.

    ``facts`` is the flat set of facts used by compatibility checks (see :func:`contradiction`).
    """

    model_config = ConfigDict(frozen=True)

    text: str
    entities: list[SubjectEntity] = Field(default_factory=list)
    places: list[SubjectEntity] = Field(
        default_factory=list, description="where the subjects are, as stated"
    )
    setting: list[str] = Field(
        default_factory=list, description="indoor/outdoor, urban/wild, water, sky"
    )
    time_of_day: str | None = None
    weather: list[str] = Field(default_factory=list)
    actions: list[str] = Field(default_factory=list, description="stated actions and states")
    attributes: list[EmotionalAttribute] = Field(default_factory=list)
    english: bool = True
    language_note: str | None = None
    facts: frozenset[str] = frozenset()
    read_setting: frozenset[str] = Field(
        default=frozenset(),
        description="setting tags a meaning-based reader found in the text (see "
        ":mod:`emotion_director.knowledge.setting`); empty when none ran",
    )
    read_risk: dict[str, float] | None = Field(
        default=None,
        description="concept text -> its clash log-odds above the pooled rate in this scene "
        "(negative: below), as blind readers' labels of similar pairs give it "
        "(emotion_director.scenefit.ReaderRisk); None when no reader-risk model ran",
    )

    @property
    def stated(self) -> frozenset[str]:
        """The setting tags the scene states (its facts' and the reader's, with what they imply)."""
        return stated_tags(self.facts, self.read_setting)

    def memo(self, name: str) -> dict[Any, Any]:
        """A dict kept as long as this scene lives, for what a rewrite reads of it many times
        (every persona ranks and renders the same concepts against one scene). Held outside
        the model, so it takes no part in equality, copies or serialization."""
        held = _SCENE_MEMOS.get(id(self))
        if held is None or held[0]() is not self:
            key = id(self)

            def forget(_: object, key: int = key) -> None:
                _SCENE_MEMOS.pop(key, None)

            held = _SCENE_MEMOS[key] = (weakref.ref(self, forget), {})
        return held[1].setdefault(name, {})

    @property
    def main(self) -> SubjectEntity | None:
        return self.entities[0] if self.entities else None

    @property
    def kind(self) -> str | None:
        return self.main.kind if self.main else None

    def owner_for(self, needs: frozenset[str] | set[str]) -> SubjectEntity | None:
        """The first subject whose body plan has everything ``needs`` asks of a body.

        Skies and events ("fireworks", "a wedding") only own concepts that ask for them.
        """
        body = set(needs) & BODY_FACTS
        for entity in self.entities:
            if body <= entity.facts and (entity.kind not in {"sky", "event"} or body):
                return entity
        return None
