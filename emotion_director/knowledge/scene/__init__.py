"""The scene model of a prompt: who or what is in it, where, when, and what it already feels like.

A prompt is parsed into :class:`SceneModel`: its subjects (head noun, kind, body plan), the
setting (indoor/outdoor, urban/wild, water, sky), time of day and weather when stated, stated
actions and states, and emotion-laden attributes of the subjects. Everything is read off word
lists shipped as package data (``knowledge/data``; provenance and licences in ``SOURCES.md``):

* ``lexicon.tsv``: thousands of concrete English nouns with their kind (person, group, mammal,
  bird, fish, insect, serpent, plant, food, object, vehicle, building, room, landscape, event,
  sky; ``fire`` is curated only), derived at development time from open lexical resources
  (``evals/build_lexicon.py``);
* ``subjects.yaml``: hand-curated kinds for common nouns (they win over the derived ones) and the
  setting, time and weather words;
* ``attributes.tsv``: emotion-laden modifiers (NRC Emotion Lexicon words mapped to the 8
  categories) and the expression words that can be recast.

The same facts vocabulary describes concepts (:func:`phrase_facts`): a concept contradicts a
scene when it needs a body part no subject has ("wings", "legs"), or asserts a fact whose
opposite the scene states (night vs day, sunrise vs sunset, indoor vs outdoor, rain vs clear
sky, snow vs grass, a crowd vs a summit, "in the dark" outdoors vs a stated sun), or sets the
scene in a place (:data:`SITES`) that is not part of the one the scene states.

Example:
    >>> scene = parse_scene("a sobbing toddler in a kitchen at night")
    >>> scene.entities[0].noun, scene.entities[0].kind
    ('toddler', 'person')
    >>> sorted({"indoor", "night", "face"} & scene.facts)
    ['face', 'indoor', 'night']
    >>> contradiction(scene.facts, "warm late-afternoon sunlight")
    "'sunlight' says day, the scene says night"

The package's modules, each importing only those listed before it: :mod:`.vocabulary` (the facts
vocabulary), :mod:`.lexicon` (word tables and morphology), :mod:`.model` (what a parsed scene
is), :mod:`.conflicts` (a phrase's facts against a scene's), :mod:`.language`, :mod:`.heads`
(where the nouns are), :mod:`.phrases` and :mod:`.clauses` (what a clause states),
:mod:`.parse` (:func:`parse_scene`) and :mod:`.subject` (fitting the subject to the target
emotion).
"""

from emotion_director.knowledge.facts import Kind
from emotion_director.knowledge.scene.clauses import ing_form, noun_heads
from emotion_director.knowledge.scene.conflicts import (
    contradiction,
    facts_conflict,
    facts_opposed,
    phrase_facts,
)
from emotion_director.knowledge.scene.heads import (
    calendar_positions,
    framing_conflict,
    look_conflict,
    name_positions,
    subjects_own,
    unknown_head,
)
from emotion_director.knowledge.scene.language import detect_language, scene_nouns
from emotion_director.knowledge.scene.lexicon import (
    ARTICLES,
    POSSESSIVE,
    CuratedSubjects,
    adjectives,
    agent_nouns,
    animal_bodies,
    attribute_concreteness,
    attribute_lexicon,
    body_parts,
    counts,
    curated_subjects,
    english_words,
    expression_words,
    is_filler,
    kind_of,
    known_english,
    mostly_verbs,
    motion_verbs,
    names_the_thing,
    noun_facts,
    noun_kinds,
    noun_traits,
    postures,
    singular,
    verbs,
    vocal_verbs,
)
from emotion_director.knowledge.scene.model import EmotionalAttribute, SceneModel, SubjectEntity
from emotion_director.knowledge.scene.parse import parse_scene
from emotion_director.knowledge.scene.subject import (
    CONCRETE_MIN,
    POSITIVE,
    RECAST,
    SUBJECT_TOKEN_BUDGET,
    SceneAdjustment,
    conflicts_with_target,
    drop_hanging,
    fit_subject,
    held_from,
    scene_facts,
    stated_expression,
    stated_feeling,
)
from emotion_director.knowledge.scene.vocabulary import (
    ANIMATE_KINDS,
    ASLEEP_WORDS,
    BODY_FACTS,
    DISTANT_WORDS,
    FACT_WORDS,
    KIND_FACTS,
    NOT_PLACES,
    OPPOSITES,
    OPPOSITES_UNLESS,
    PLACE_KINDS,
    PRIVATE_SITES,
    PRONOUN_NOUNS,
    SITE_WITHIN,
    SITES,
    sites_compatible,
)

__all__ = [
    "ARTICLES",
    "ANIMATE_KINDS",
    "ASLEEP_WORDS",
    "BODY_FACTS",
    "CONCRETE_MIN",
    "CuratedSubjects",
    "DISTANT_WORDS",
    "EmotionalAttribute",
    "FACT_WORDS",
    "KIND_FACTS",
    "Kind",
    "NOT_PLACES",
    "OPPOSITES",
    "OPPOSITES_UNLESS",
    "PLACE_KINDS",
    "PRONOUN_NOUNS",
    "POSITIVE",
    "POSSESSIVE",
    "PRIVATE_SITES",
    "RECAST",
    "SITES",
    "SITE_WITHIN",
    "SUBJECT_TOKEN_BUDGET",
    "SceneAdjustment",
    "SceneModel",
    "SubjectEntity",
    "adjectives",
    "agent_nouns",
    "animal_bodies",
    "attribute_concreteness",
    "attribute_lexicon",
    "body_parts",
    "calendar_positions",
    "conflicts_with_target",
    "contradiction",
    "counts",
    "curated_subjects",
    "detect_language",
    "english_words",
    "expression_words",
    "facts_conflict",
    "facts_opposed",
    "fit_subject",
    "ing_form",
    "kind_of",
    "is_filler",
    "known_english",
    "framing_conflict",
    "look_conflict",
    "mostly_verbs",
    "motion_verbs",
    "name_positions",
    "drop_hanging",
    "held_from",
    "names_the_thing",
    "noun_facts",
    "noun_heads",
    "noun_kinds",
    "noun_traits",
    "parse_scene",
    "phrase_facts",
    "postures",
    "scene_facts",
    "scene_nouns",
    "singular",
    "sites_compatible",
    "stated_expression",
    "stated_feeling",
    "subjects_own",
    "unknown_head",
    "verbs",
    "vocal_verbs",
]
