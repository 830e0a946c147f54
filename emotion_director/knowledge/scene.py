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
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import weakref
from functools import lru_cache
from importlib import resources
from typing import Any, Literal, NotRequired, TypedDict, cast

from pydantic import BaseModel, ConfigDict, Field

from emotion_director.files import load_shipped_yaml
from emotion_director.knowledge.facts import Kind, load_facts_file
from emotion_director.knowledge.setting import stated_tags
from emotion_director.untrusted import strip_end

#: The facts vocabulary (``data/facts.yaml``, checked by :mod:`~emotion_director.knowledge.facts`).
_FACTS = load_facts_file()
#: What a subject of each kind brings to the scene: its body plan and where it belongs.
KIND_FACTS: dict[str, frozenset[str]] = {
    kind: frozenset(facts) for kind, facts in _FACTS.kind_facts.items()
}
#: Kinds that are where the scene happens, not who is in it (unless nothing else is).
PLACE_KINDS = frozenset({"room", "landscape", "sky"})
ANIMATE_KINDS = frozenset({"person", "group", "mammal", "bird", "fish", "insect", "serpent"})
#: Facts only a subject can provide: a concept needing one the scene lacks contradicts it.
BODY_FACTS = frozenset(
    "person human animal animate face lips legs hands ears tail fur wings fins bird insect "
    "serpent food plant vehicle building group event object place room sky water aquatic "
    "paws hooves".split()
)
#: Facts that exclude each other (symmetric).
OPPOSITES: tuple[tuple[str, str], ...] = _FACTS.opposites
#: Facts that exclude each other unless the third holds on either side: "in the dark" outdoors
#: is night, so it contradicts a stated day, but a dark basement at noon is fine.
OPPOSITES_UNLESS: tuple[tuple[str, str, str], ...] = _FACTS.opposites_unless
_OPPOSITE: dict[str, set[str]] = {}
for _a, _b in OPPOSITES:
    _OPPOSITE.setdefault(_a, set()).add(_b)
    _OPPOSITE.setdefault(_b, set()).add(_a)

#: Words of the sun shining on the scene: they state both ``sunny`` and ``clear``.
_SUN_WORDS: tuple[str, ...] = _FACTS.sun_words
#: Words that assert a fact wherever they appear: in the prompt (the scene states it) or in a
#: concept (the concept needs it). Multi-word keys are matched as phrases.
FACT_WORDS: dict[str, tuple[str, ...]] = _FACTS.fact_words()


#: What a ``*`` in a fact's key stands for: up to three words, none a gap break or an -ing word.
_GAP = r" (?:(?!(?:%s) )(?!\S*ing )\S+ ){0,3}" % "|".join(map(re.escape, sorted(_FACTS.gap_breaks)))


def _gap_pattern(key: str) -> re.Pattern[str]:
    """A key with gaps ("in * masks") over a phrase's words (:data:`_GAP`)."""
    return re.compile(" " + _GAP.join(map(re.escape, key.split(" * "))) + " ")


#: The keys with gaps, by fact (plain keys are matched as phrases).
_GAPPED_KEYS: dict[str, tuple[re.Pattern[str], ...]] = {
    fact: tuple(_gap_pattern(key) for key in keys if " * " in key)
    for fact, keys in FACT_WORDS.items()
    if any(" * " in key for key in keys)
}

#: Places a phrase sets the scene in (fact ``site:<name>``): a phrase naming one puts the scene
#: there, which contradicts a scene stated to be in a place that is not part of it.
SITES: dict[str, tuple[str, ...]] = dict(_FACTS.sites)
#: Where each place can be (transitively): two places are compatible when one is part of the
#: other.
SITE_WITHIN: dict[str, tuple[str, ...]] = dict(_FACTS.site_within)
#: Sites that are somebody's home: no crowd of passers-by there.
PRIVATE_SITES: frozenset[str] = _FACTS.private_sites
#: Colour names made of a place word: a palette does not move the scene.
NOT_PLACES: tuple[str, ...] = _FACTS.not_places
#: Words that make a place a view, not where the scene is ("mountains on the horizon").
DISTANT_WORDS: tuple[str, ...] = _FACTS.distant_words


def _site_ancestors(site: str) -> frozenset[str]:
    seen: set[str] = set()
    todo = list(SITE_WITHIN.get(site, ()))
    while todo:
        parent = todo.pop()
        if parent not in seen:
            seen.add(parent)
            todo.extend(SITE_WITHIN.get(parent, ()))
    return frozenset(seen)


_SITE_ANCESTORS = {site: _site_ancestors(site) for site in SITES}


def sites_compatible(a: str, b: str) -> bool:
    """Whether two places can be the same scene (equal, or one part of the other; a hallway
    and any room of the same building: light spilling in from the hallway of a bedroom)."""
    ancestors_a, ancestors_b = (
        _SITE_ANCESTORS.get(a, frozenset()),
        _SITE_ANCESTORS.get(b, frozenset()),
    )
    if "hallway" in (a, b) and ancestors_a & ancestors_b:
        return True
    return a == b or a in ancestors_b or b in ancestors_a


def _sites(facts: frozenset[str] | set[str]) -> set[str]:
    return {f[5:] for f in facts if f.startswith("site:")}


#: Waters that are not the sea: a jetty or a pier beside one is on a lake or a river.
_FRESH_WATER = frozenset("lake lakes river rivers pond ponds canal reservoir stream loch".split())
#: Words that say a water has none left ("a dried-up lake", "a drained canal").
_DRIED = frozenset({"dried-up", "dried", "drained", "dry", "parched", "waterless"})
#: Words that say water is frozen, next to a water word.
_FROZEN = frozenset("frozen iced icebound ice-covered ice-locked".split())
_BENEATH = frozenset("beneath under underneath below".split())


def _phrase_head(words: list[str]) -> str:
    """The last word of the noun phrase that opens ``words``: the tokens keep no commas, so a
    determiner, a possessive or a participle after its first word starts the next phrase ("a
    Polish village its chandeliers" -> "village", "the city lit by" -> "city")."""
    words = list(itertools.dropwhile(lambda w: w in _DETERMINERS, words))
    phrase = [words[0]] if words else []
    for word in words[1:]:
        if word in _DETERMINERS or _participle(word):  # "its", "lit by work lamps"
            break
        phrase.append(word)
    return phrase[-1] if phrase else ""


#: What stands on the ground a scene "beneath" it is under: settlements and their streets (not
#: a skyline or a pavement: "musicians beneath the city skyline" are outdoors).
_SETTLED = frozenset("city town village hamlet street streets".split())
#: What a scene "deep beneath" is in the ground under: a settlement, the ground, rock or a
#: mountain ("deep beneath a Bolivian mountain"; not "deep under the forest canopy", "deep below
#: snowy peaks", "deep under the covers").
_GROUND = _SETTLED | frozenset("ground earth bedrock rock mountain hill".split())
_EMPTY = frozenset("empty deserted abandoned forsaken".split())
_AT_THE_SURFACE = frozenset(
    "leaping leaps jumping jumps breaching breaches surfacing surfaces surface above "
    "flying beached stranded shore beach bowl tank aquarium pond".split()
)
_BREAKS = frozenset("by over near beside next with on in at and of".split())


def _out_of_the_water(tokens: list[str]) -> bool:
    """Whether the prompt takes its subject "out of the water" ("a salmon leaping out of the
    river"; not "a moray eel peering out of a gap in a coral reef", set 37)."""
    waters = set(FACT_WORDS["water"])
    for j, word in enumerate(tokens):
        if word == "out" and tokens[j + 1 : j + 2] == ["of"]:
            phrase = []
            for after in tokens[j + 2 :]:
                if after in _LOCATIVE or after in _JOINERS:
                    break
                phrase.append(after)
            if waters & set(phrase):  # "out of the deep blue sea"; not "out of a gap in a reef"
                return True
    return False


def _said_in(noun: str, lowered: str) -> str | None:
    """How the text puts its subjects in ``noun``: ``"inside"`` ("inside a pyramid", "in an
    indoor stadium"), ``"in"`` ("in a packed warehouse rink"), or ``None`` ("at a church", "in
    front of a castle", "a boy in red near a barn")."""
    # the words between may be possessives ("in a ship's cabin", "in the captain's cabin")
    match = re.search(
        rf"\b(in|inside|within)\s+((?:[\w'-]+\s+){{0,3}}){re.escape(noun)}\b", lowered
    )
    if match is None:
        return None
    between = match.group(2).split()
    if set(between) & _NOT_IN:
        return None
    return "inside" if match.group(1) != "in" or "indoor" in between else "in"


#: Words that, between "in" and a building, show the subjects are not in it.
_NOT_IN = frozenset("front near by beside behind outside next to from of at on".split())
_ICE_PAIRS = [["pack", "ice"], ["sea", "ice"], ["ice", "floe"], ["ice", "floes"], ["ice", "sheet"]]

#: Stated states of a subject (they make the scene's subject "busy" or "asleep").
ASLEEP_WORDS = frozenset("asleep sleeping dozing napping slumbering snoozing".split())


def _sleep_word(token: str, before: str = "") -> bool:
    """A sleep word, or its present tense ("sleeps", "naps", "dozes"; after a subject pronoun
    the base form too: "as they sleep")."""
    if token in ASLEEP_WORDS:
        return True
    if before in _SUBJECT_PRONOUNS and any(
        form in ASLEEP_WORDS
        for form in (token + "ing", token + token[-1:] + "ing", token[:-1] + "ing")
    ):
        return True
    if not token.endswith("s") or len(token) < 4:
        return False
    stems = (token[:-1], token[:-2], token[:-1] + token[-2])  # sleep-s, doz-es, nap-p
    return any(stem + "ing" in ASLEEP_WORDS for stem in stems)


def _asleep_at(tokens: list[str]) -> list[int]:
    return [k for k, token in enumerate(tokens) if _sleep_word(token, tokens[k - 1] if k else "")]


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
        description="not in the prompt: the people an event implies (the mourners of a funeral)",
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


# ---------------------------------------------------------------------------------------------
# Data


def _data_text(name: str) -> str:
    return resources.files("emotion_director.knowledge").joinpath("data", name).read_text("utf-8")


def _tsv_rows(name: str) -> list[list[str]]:
    """The data rows of a shipped TSV file: its comment lines (``#``) and blank lines left out."""
    rows = csv.reader(io.StringIO(_data_text(name)), delimiter="\t")
    return [row for row in rows if row and not row[0].startswith("#")]


def _tsv_pairs(name: str) -> dict[str, str]:
    """The first two columns of a shipped TSV file's data rows, as a mapping."""
    return {row[0]: row[1] for row in _tsv_rows(name) if len(row) >= 2}


def _tsv_words(name: str) -> frozenset[str]:
    """The first column of a shipped TSV file's data rows."""
    return frozenset(row[0] for row in _tsv_rows(name))


class CuratedSubjects(TypedDict):
    """The top-level sections of ``subjects.yaml`` (those read with ``.get`` may be left out)."""

    kinds: dict[str, list[str]]  # kind -> nouns
    traits: NotRequired[dict[str, list[str]]]  # fact -> nouns that have it beyond their kind's
    participants: NotRequired[dict[str, str]]  # event -> who takes part
    settings: dict[str, list[str]]  # setting fact -> words
    expressions: dict[str, str]  # word -> comma-separated categories
    function_words: str  # space-separated
    calendar: NotRequired[str]  # space-separated: months and days, capitalised by rule
    regions: NotRequired[str]  # space-separated: parts of a place ("the rim of", "forest floor")
    media: NotRequired[str]  # space-separated: what a picture is made as ("watercolor of")
    media_pairs: NotRequired[list[str]]  # the same, two words: "close up", "still life"
    framing: NotRequired[list[str]]  # phrases: a camera angle or shot the user chose
    downward: NotRequired[list[str]]  # phrases: a camera looking straight down
    aerial: NotRequired[list[str]]  # phrases: a framing from far above
    close: NotRequired[list[str]]  # phrases: a framing from close up
    silhouette: NotRequired[list[str]]  # phrases: the subject as a dark shape
    monochrome: NotRequired[list[str]]  # phrases: a picture without colour
    drawn: NotRequired[list[str]]  # phrases: a painted or drawn medium
    drawn_monochrome: NotRequired[list[str]]  # phrases: such a medium without colour
    photographed: NotRequired[list[str]]  # phrases: a photograph
    hues: NotRequired[str]  # space-separated: words that give a phrase a colour
    states: NotRequired[dict[str, str]]  # word -> comma-separated categories
    descriptive: NotRequired[list[str]]
    lifeless: NotRequired[dict[str, list[str]]]  # "depictions" / "modifiers" -> words
    parts: list[str]


@lru_cache(maxsize=1)
def curated_subjects() -> CuratedSubjects:
    return cast(CuratedSubjects, load_shipped_yaml(_data_text("subjects.yaml")))


#: Kinds WordNet's plain ``object`` does not override (it files rooms and halls as structures).
_PLACE_LIKE = frozenset({"room", "building", "landscape", "sky"})


@lru_cache(maxsize=1)
def noun_kinds() -> dict[str, Kind]:
    """Noun -> kind: the derived lexicons, overridden by the curated lists.

    WordNet's hypernyms (``wordnet_kinds.tsv``) win over the nearest-neighbour guesses of
    ``lexicon.tsv`` ("jeweler" and "bailiff" are people, a racetrack no vehicle), except that
    WordNet's plain ``object`` leaves a place kind alone: an attic (a "structure" to WordNet)
    stays a room. An agent noun (``wordnet_agents.tsv``) is a person where the guesses made it
    a place, a plant or a vehicle ("a cobbler", "a florist", "a sailor"); anywhere else it is a
    person only after another noun (:func:`_agent_kind`)."""
    kinds: dict[str, str] = {}
    acts = _tsv_words("wordnet_acts.tsv")  # -ing nouns that are acts in every WordNet sense
    for name in (
        "lexicon.tsv",
        "wordnet_senses.tsv",
        "wordnet_agents.tsv",
        "wordnet_kinds.tsv",
        "wordnet_compounds.tsv",
    ):
        for row in _tsv_rows(name):
            if len(row) < 2:
                continue
            if name == "wordnet_agents.tsv" and row[1] == "person":
                if kinds.get(row[0]) not in _GUESSED_PLACES:
                    continue  # "a warbler", "a juicer": the agent reading is only after a noun
            if (
                name == "lexicon.tsv"
                and row[1] in _LIVING_GUESSES
                and row[0].endswith("ing")
                and _ing_of_a_verb(row[0])
            ):
                continue  # an activity guessed to be alive: "fishing" no fish, "jogging" no one
            if name == "lexicon.tsv" and row[0] in acts:
                continue  # an act guessed to be a thing: "a sundew leaf curling around a fly"
            if not (row[1] == "object" and kinds.get(row[0]) in _PLACE_LIKE):
                kinds[row[0]] = row[1]
                if "-" in row[0] or " " in row[0]:  # "organ-grinder" / "organ grinder"
                    kinds[row[0].replace("-", " ")] = kinds[row[0].replace(" ", "-")] = row[1]
    for kind, nouns in curated_subjects()["kinds"].items():
        for noun in nouns:
            kinds[noun] = kind
    # every kind in the shipped tables is a Kind (tests/knowledge/test_scene.py checks them)
    return cast(dict[str, Kind], kinds)


@lru_cache(maxsize=1)
def _compound_nouns() -> frozenset[str]:
    """The two-word nouns of ``wordnet_compounds.tsv``, written with a space."""
    return frozenset(word.replace("-", " ") for word in _tsv_words("wordnet_compounds.tsv"))


@lru_cache(maxsize=4096)
def _entity_facts(noun: str, kind: str, modifiers: tuple[str, ...]) -> frozenset[str]:
    """:attr:`SubjectEntity.facts`, read once per noun, kind and last two modifiers."""
    head = noun.split()[-1]
    words = [*modifiers, head]
    if head in _YOUNG:  # "a harp seal pup" has a harp seal's body
        words = words[:-1]
    for n in (2, 1):  # "a harp seal", then "a seal"
        name = " ".join(words[-n:])  # "sea urchins": the table has "sea urchin"
        if len(words) >= n and (name in animal_bodies() or singular(name) in animal_bodies()):
            return noun_facts(name, kind)
    return noun_facts(head, kind)


_LIVING_TRAITS = frozenset(
    "animate animal face legs hands ears tail fur wings fins paws hooves".split()
)


def noun_facts(noun: str, kind: str) -> frozenset[str]:
    """What a subject brings: its kind's body plan and setting, plus the noun's own traits; an
    animal's body as its WordNet family has it (``wordnet_bodies.tsv``: an elephant has no paws
    or fur, a harp seal no ears, a jellyfish no face)."""
    traits = noun_traits().get(singular(noun)) or noun_traits().get(  # "dairy cows": a cow's
        singular(noun.split()[-1]), frozenset()
    )
    if kind not in ANIMATE_KINDS:  # a carousel horse keeps its size, not its hooves
        traits -= _LIVING_TRAITS
    facts = KIND_FACTS[kind] | traits
    if kind in ANIMATE_KINDS:
        body = animal_bodies().get(noun) or animal_bodies().get(singular(noun))
        if body:
            facts = (facts | body[0]) - body[1]
    return facts - {"paws"} if "hooves" in traits else facts


#: Before the sun is up ("before sunrise", "pre-dawn"): its sun words name what has not come
#: yet (set 43: a blue sky and golden-hour glow for a rubber tapper before sunrise).
_BEFORE_DAWN = re.compile(
    r"\b(?:before|ahead of|until)\s+(?:the\s+)?(?:sunrise|dawn|daybreak|first light|sunup)\b|"
    r"\bpre-?dawn\b"
)
#: A home's rooms (``private_sites`` in facts.yaml, the home itself aside): a subject at a
#: kitchen table is indoors whatever the weather outside (not a sofa or a cottage, which may
#: stand out in the rain: "an old sofa dumped on the kerb").
_HOME_ROOMS = frozenset(f"site:{site}" for site in PRIVATE_SITES - {"home"})
#: A storm that has passed ("a fulgurite half buried in desert sand after a summer lightning
#: storm" got "storm clouds piling up black and bruised", set 48): the storm words after "after"
#: state no storm now (the ground is still wet, the snow still lies); so does a rain that has
#: stopped ("the pillars of Zhangjiajie emerging from clouds after spring rain" got "drizzle
#: hanging in the air", set 56).
_STORM_NOUNS = (
    r"(?:storms?|rainstorms?|thunderstorms?|snowstorms?|hailstorms?|blizzards?|gales?|"
    r"hurricanes?|typhoons?|cyclones?|downpours?|showers?|snowfalls?|squalls?|rain|rains|"
    r"rainfall|drizzle)\b"
)
_AFTER_A_STORM = re.compile(
    r"\b(?:after|following)\s+(?:a|an|the)?\s*((?:[\w'-]+\s+){0,3}?)" + _STORM_NOUNS
)
#: ... unless the prompt also sets it in one ("during a blizzard after a storm")
_IN_A_STORM = re.compile(
    r"\b(?:during|amid|in)\s+(?:a|an|the)?\s*((?:[\w'-]+\s+){0,3}?)" + _STORM_NOUNS
)


def _said_of_a_storm(pattern: re.Pattern[str], lowered: str) -> bool:
    """Whether ``pattern`` finds a storm its words modify only ("after a summer lightning
    storm", "after morning rain": a time right before the storm is its modifier; not "after the
    dog into the storm", "after midnight as a storm rolls in")."""
    for match in pattern.finditer(lowered):
        words = match.group(1).split()
        if not set(words) & (_PHRASE_ENDS | _DETERMINERS) and not set(words[:-1]) & _WHEN:
            return True
    return False


#: A sky with no cloud (set 41: "dim murky light with a green cast" for a cliff diver on a
#: cloudless afternoon): sunshine where the scene states day.
_CLOUDLESS = re.compile(r"\b(?:cloudless|cloud-free|without a cloud)\b")

#: The scene says how it is lit: a light noun after "under", "in", "by" or "from" ("under
#: buzzing fluorescent lights", "by lamplight", "under the noon sun", "under a bright studio
#: lamp", "in the glow of a forge"; not "in light snow"),
#: "lit by", a "-lit" word, or light that slants, pours or falls somewhere.
_STATED_LIGHT = re.compile(
    r"\b(?:under|in|by|beneath|from)\s+(?:the\s+|a\s+|an\s+)?(?:[\w-]+\s+){0,2}(?:lights?|"
    r"suns?|lamps?|lanterns?|sunlight|moonlight|lamplight|candlelight|firelight|torchlight|glow|floodlights?|"
    r"spotlights?|neon)(?=\s*[,.;]|\s*$|\s+(?:on|in|at|of|over|across|from|through|with|and|as|"
    r"while|during|for|under|beneath|late|early|after|before|until|till|all|one)\b)|\blit\s+(?:only\s+)?by\b|\b(?:moonlit|sunlit|lamplit|"
    r"candlelit|floodlit|neon-lit|lamp-lit|torchlit|backlit|firelit)\b|\blight\s+(?:slants?|"
    r"slanting|pours?|pouring|streams?|streaming|falls?|falling|filters?|filtering)\b"
)
_INSIDE = re.compile(
    r"(?<![\w-])(?<!the )(?<!its )inside(?![\w-])(?:\s+of\b)?((?:\s+[\w'-]+){0,5})"
)
#: Kinds of thing whose inside is no room: "inside a foxglove bell", "inside a hollow stump",
#: "inside a cardboard box"; a building, a vehicle or a noun no table knows ("a lavvu", "a
#: ropewalk") is entered.
_NO_ROOM_KINDS = frozenset(
    "object plant food landscape person group mammal bird fish insect serpent".split()
)


def _inside_a_room(lowered: str) -> bool:
    """Whether "inside" puts the scene indoors: said alone ("a cat inside, watching the rain")
    or before what is no object, plant, animal or landscape."""
    for match in _INSIDE.finditer(lowered):
        words = match.group(1).split()
        phrase = []
        for word in words:
            if word in _PHRASE_ENDS or word in _SET_ON:
                break
            phrase.append(word)
        nouns = [w for w in phrase if w not in _DETERMINERS]
        if not nouns or kind_of(singular(nouns[-1])) not in _NO_ROOM_KINDS:
            return True
    return False


#: Nouns for the young of an animal named before them ("a harp seal pup", "an elephant calf").
_YOUNG = frozenset("pup pups cub cubs calf calves foal foals kit kits baby babies young".split())


@lru_cache(maxsize=1)
def animal_bodies() -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """Animal noun -> (facts it has beyond the kind's plan, facts of the plan it lacks)."""
    bodies = {}
    for row in _tsv_rows("wordnet_bodies.tsv"):
        if len(row) < 2:
            continue
        changes = row[1].split()
        bodies[row[0]] = (
            frozenset(c[1:] for c in changes if c.startswith("+")),
            frozenset(c[1:] for c in changes if c.startswith("-")),
        )
    return bodies


@lru_cache(maxsize=1)
def agent_nouns() -> frozenset[str]:
    """Agent nouns whose first WordNet sense is a person, among senses of other kinds
    (``wordnet_agents.tsv``): after another noun, "a basket weaver" or "a tram conductor" names
    who does the work, not a thing (see :func:`_agent_kind`)."""
    return frozenset(word for word in _tsv_words("wordnet_agents.tsv") if " " not in word)


def _agent_kind(token: str, before: str) -> Kind | None:
    """``person`` when ``token`` is an agent noun that heads a compound after the noun
    ``before`` and no table files it as a living thing: a "peat cutter" cuts peat; a "honey
    badger" stays an animal. A noun no table knows counts ("a batik maker drawing wax patterns",
    set 43: "an ancient map spread beneath the wax"), and so does a people's name ("a Hmong
    weaver"); an adjective does not ("a red slider")."""
    if (
        not before
        or not before.isalpha()
        or before in _DETERMINERS
        or before in body_parts()
        or before in adjectives()
        or (kind_of(before) is None and not _noun_like(before))
    ):
        return None
    word = singular(token)
    if word not in agent_nouns() and token not in agent_nouns():
        return None
    if kind_of(f"{before} {word}") not in (None, "person"):
        return None  # WordNet names the pair a thing: "a coat hanger", "a laser printer"
    return "person" if kind_of(token) in (None, "object") else None


@lru_cache(maxsize=1)
def noun_traits() -> dict[str, frozenset[str]]:
    """Noun -> facts of its own beyond its kind's (a horse has hooves, not paws, and is large)."""
    traits: dict[str, set[str]] = {}
    for fact, nouns in curated_subjects().get("traits", {}).items():
        for noun in nouns:
            traits.setdefault(noun, set()).add(fact)
    return {noun: frozenset(facts) for noun, facts in traits.items()}


@lru_cache(maxsize=1)
def body_parts() -> frozenset[str]:
    return frozenset(curated_subjects()["parts"])


@lru_cache(maxsize=1)
def _attribute_rows() -> tuple[tuple[str, ...], ...]:
    """The rows of ``attributes.tsv`` (word, categories[, concreteness]); none when it was
    removed (see SOURCES.md on its licence)."""
    try:
        text = _data_text("attributes.tsv")
    except FileNotFoundError:
        return ()
    return tuple(
        tuple(row)
        for row in csv.reader(io.StringIO(text), delimiter="\t")
        if len(row) >= 2 and not row[0].startswith("#")
    )


@lru_cache(maxsize=1)
def attribute_lexicon() -> dict[str, tuple[str, ...]]:
    """Emotion-laden modifier -> Mikels categories (derived from the NRC Emotion Lexicon).

    Only the curated states when ``attributes.tsv`` was removed (see SOURCES.md on its licence).
    """
    return {row[0]: tuple(row[1].split(",")) for row in _attribute_rows()} | _curated_states()


@lru_cache(maxsize=1)
def attribute_concreteness() -> dict[str, float]:
    """Emotion-laden modifier -> how concrete it is (Brysbaert et al. 2014, 1-5), where rated:
    "muddy" (4.32) shows a thing, "gloomy" (2.52) a feeling."""
    return {row[0]: float(row[2]) for row in _attribute_rows() if len(row) >= 3 and row[2] != "-"}


def _curated_states() -> dict[str, tuple[str, ...]]:
    raw = curated_subjects().get("states") or {}
    return {word: tuple(emotions.split(",")) for word, emotions in raw.items()}


@lru_cache(maxsize=1)
def expression_words() -> dict[str, tuple[str, ...]]:
    """Expression words (``sobbing``, ``snarling``) -> the categories they show."""
    raw = curated_subjects()["expressions"]
    return {word: tuple(emotions.split(",")) for word, emotions in raw.items()}


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Words known to be English: the lexicons above plus function words."""
    words = set(noun_kinds()) | set(attribute_lexicon()) | set(expression_words())
    for values in FACT_WORDS.values():
        words |= {w for v in values for w in v.split() if w != "*"}
    words |= set(curated_subjects()["function_words"].split())
    from emotion_director.emotions import EMOTION_WORDS

    words |= set(EMOTION_WORDS)
    return frozenset(words)


@lru_cache(maxsize=1)
def _language_words() -> frozenset[str]:
    """What :func:`detect_language` counts as English: :func:`english_words`, and the verbs and
    adjectives of four letters or more (the short ones are rare English and common elsewhere:
    "het", "die", "con"). Only for telling the language: a verb is no noun to the parser."""
    extra = verbs() | adjectives() | postures() | counts() | vocal_verbs()
    return english_words() | {w for w in extra if len(w) > 3}


def known_english(word: str) -> bool:
    """Whether ``word`` (lower case) is English: a word :func:`detect_language` counts as
    English, or any other word of WordNet (``wordnet_words.tsv``: "facial", "fringe"), or one
    made of them by English morphology."""
    return _known_english(word, _all_english_words())


@lru_cache(maxsize=1)
def _all_english_words() -> frozenset[str]:
    """:func:`_language_words` and ``wordnet_words.tsv``. (:func:`detect_language` keeps to the
    first: WordNet holds many short words of other languages, "het", "sur", "con".)"""
    return _language_words() | frozenset(_wordnet_word_pos())


def _known_english(word: str, known: frozenset[str]) -> bool:
    """Whether ``word`` is an English word of ``known`` or made of them by English morphology:
    an inflection ("stalled", "flickers", "catching"), a hyphenated compound of known words
    ("knee-deep", "silt-clouded") or a closed compound of two of at least four letters
    ("floodwater", "guideline")."""
    if word in known or singular(word) in known:
        return True
    if "-" in word or "'" in word:
        parts = [w for w in re.split(r"['-]", word) if w]
        return all(_known_english(w, known) or len(w) <= 2 for w in parts)
    endings = (("ied", "y"), ("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""))
    for ending, back in endings:
        stem = word[: -len(ending)]
        if word.endswith(ending) and len(stem) > 2:
            if stem + back in known or stem + "e" in known:
                return True
            if len(stem) > 3 and stem[-1] == stem[-2] and stem[:-1] in known:  # "stopped"
                return True
    return any(word[:i] in known and word[i:] in known for i in range(4, len(word) - 3))


# ---------------------------------------------------------------------------------------------
# Parsing

_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*", re.UNICODE)
_LOCATIVE = frozenset(
    "in on at over under by near beside behind inside across through along above below "
    "into onto against outside within among around past beneath off".split()
)
#: Times of day after a preposition ("at night", "in the morning"): not a place.
_WHEN = frozenset(
    "night midnight noon midday dawn dusk daybreak evening morning afternoon twilight nightfall "
    "daytime nighttime night-time".split()
)
#: Buildings without rooms, windows or doors of their own.
_STRUCTURES = frozenset(
    "bridge dam tunnel pier dock wharf monument pyramid silo arch column pillar obelisk "
    "aqueduct viaduct ruins ruin".split()
)
_JOINERS = frozenset({"and", "with", "&", "while", "beside", "plus"})


@lru_cache(maxsize=1)
def _wordnet_nouns() -> frozenset[str]:
    """The nouns of ``wordnet_kinds.tsv`` (one kind in every WordNet sense)."""
    return _tsv_words("wordnet_kinds.tsv")


def _verb_form(word: str) -> bool:
    """Whether ``word`` is an -ing form of a known word ("humming", "roaring"), not a noun of
    its own ("duckling", "ceiling")."""
    if not word.endswith("ing") or len(word) < 6 or word in _wordnet_nouns():
        return False  # WordNet files "pudding" and "building" under one kind: nouns
    return any(w in english_words() for w in _ing_stems(word))


def _ing_stems(word: str) -> tuple[str, ...]:
    """The words an -ing form may come from: "humming" -> hum-m, hum; "baking" -> bak, bake;
    "tying" -> ty, tye, tie."""
    stem = word[:-3]
    return (
        stem,
        stem + "e",
        stem[:-1] if len(stem) > 1 and stem[-1] == stem[-2] else stem,
        stem[:-1] + "ie" if stem.endswith("y") else stem,
    )


@lru_cache(maxsize=1)
def vocal_verbs() -> frozenset[str]:
    """Verbs done with the voice (``wordnet_vocal.tsv``): "yell", "howl", "chant", "whisper"."""
    return _tsv_words("wordnet_vocal.tsv")


@lru_cache(maxsize=1)
def _verb_table() -> dict[str, str]:
    return _tsv_pairs("wordnet_verbs.tsv")


@lru_cache(maxsize=1)
def verbs() -> frozenset[str]:
    """Words that can be a clause's finite verb (``wordnet_verbs.tsv``): WordNet verbs used as
    verbs at least a tenth as often as nouns ("skid", "drift", "block"; not "officer", "line")."""
    return frozenset(_verb_table())


@lru_cache(maxsize=1)
def mostly_verbs() -> frozenset[str]:
    """Those of :func:`verbs` used as verbs at least as often as nouns ("skid", "drift"; not
    "block", "market" or "bar")."""
    return frozenset(word for word, use in _verb_table().items() if use == "verb")


@lru_cache(maxsize=1)
def counts() -> frozenset[str]:
    """Nouns that count, hold or group what follows their "of" (``wordnet_counts.tsv``: "a
    pair", "a flock", "a line", "a cup"); "a wheel", "a corpse" or "a bust" are none."""
    return _tsv_words("wordnet_counts.tsv")


@lru_cache(maxsize=1)
def adjectives() -> frozenset[str]:
    """Words WordNet has as adjectives only (``wordnet_adjectives.tsv``): "vast", "mouldy"; such
    a word heads no noun phrase."""
    return _tsv_words("wordnet_adjectives.tsv")


@lru_cache(maxsize=1)
def _posture_table() -> dict[str, str]:
    return _tsv_pairs("wordnet_postures.tsv")


@lru_cache(maxsize=1)
def postures() -> frozenset[str]:
    """Words that keep their subject in place (``wordnet_postures.tsv``): verb forms
    ("perched", "sitting", "sat", "parked", "moored", "lies", "naps", "stalled") and adjectives
    ("motionless", "stationary", "aground")."""
    return frozenset(_posture_table())


@lru_cache(maxsize=1)
def motion_verbs() -> frozenset[str]:
    """Verb forms whose most used sense is moving from place to place (``wordnet_motion.tsv``:
    "galloping", "soars", "drifting", "flew"): a subject doing one states ``moving``."""
    return frozenset(_tsv_pairs("wordnet_motion.tsv"))


def _destination(noun: str, tokens: list[str], entities: list[SubjectEntity]) -> bool:
    """``noun`` stands only right after a verb of travel that follows a subject, with no
    article or preposition ("a boat coming home"; not "a running dog")."""
    if noun not in _FACTS.destination_words:
        return False
    subjects = {e.noun for e in entities}
    at = [i for i, t in enumerate(tokens) if t == noun]
    return bool(at) and all(
        i > 1
        and tokens[i - 1] in motion_verbs()
        and (tokens[i - 2] in subjects or _noun_like(tokens[i - 2]))
        for i in at
    )


#: Words of a path: a verb they follow moves its subject ("bursting out of a tunnel",
#: "skimming across a harbour", "thundering down the final straight").
_PATH = frozenset("across along through past toward towards down up into out onto around".split())


def _travels(tokens: list[str], subject: SubjectEntity, actions: list[str]) -> bool:
    """Whether the scene sets its subject moving from place to place: a verb it does (one of
    ``actions``, or the word right after its noun: "a hydrofoil skimming across", "horses
    gallop across") is one of travel (:func:`motion_verbs`) that takes no object but a place
    ("a paraglider soaring above meadows", "camels crossing the dunes"; not "a chef turning
    pancakes"), or any verb before a path to a place ("a steam locomotive bursting out of a
    tunnel"; not "a woman looking out of the window", "staring into the distance")."""
    noun = subject.noun.split()[-1]
    after_noun = {tokens[i + 1] for i, t in enumerate(tokens[:-1]) if t == noun}
    for i, token in enumerate(tokens):
        # what it is doing ("racing", "skids", plural "gallop"), not a state it is in ("bent
        # over a workbench")
        doing = token.endswith(("ing", "s")) or (subject.plural and token in motion_verbs())
        if not doing or (token not in actions and token not in after_noun):
            continue
        after = tokens[i + 1 : i + 6]
        if after[:1] and _adverb(after[0]):
            after = after[1:]  # "racing wildly along"
        nxt = after[0] if after else ""
        if nxt in _PATH and _to_a_place(after[1:]):
            return True
        if token not in motion_verbs():
            continue
        if not nxt or nxt in _LOCATIVE | _MOTION_WORDS:
            return True
        thing = after[1] if nxt in _DETERMINERS and len(after) > 1 else nxt
        if kind_of(thing) in PLACE_KINDS:
            return True  # "crossing the dunes", not "turning pancakes"
    return False


def _to_a_place(words: list[str]) -> bool:
    """Whether a path's words name a place: "(of) a tunnel", "the harbour", "a choppy bay";
    not a thing ("slamming down her cards") nor another preposition ("staring up at the stars")."""
    for k, word in enumerate(words[:4]):
        if word == "of" or word in _DETERMINERS or _adverb(word):
            continue
        if word in _LOCATIVE:
            return False
        head = words[_last_noun(words, k)]  # "golden wheat fields": fields
        return kind_of(head) in PLACE_KINDS | {"building"}
    return False


def _set_down(tokens: list[str], subject: SubjectEntity) -> bool:
    """Whether the subject is a thing set down somewhere and doing nothing: an object or a
    food that a preposition of place follows ("a vintage camera on a wooden desk", "a bowl of
    pho on a plastic stool"), which stays where it is (a vehicle may drive off; "a kite over
    the beach" is not set down)."""
    if subject.kind not in {"object", "food"}:
        return False
    noun = subject.noun.split()[-1]
    return any(t == noun and tokens[i + 1] in _SET_ON for i, t in enumerate(tokens[:-1]))


#: Prepositions of a thing set down: "on a desk", "in a vase", "beside a cup".
_SET_ON = frozenset("on in inside beside next atop upon".split())


#: Words between a subject and its verb that change nothing about what it does ("a snow leopard
#: is perched", "a barge lies moored", "an old man, still sitting").
_LINKS = frozenset("is are was were sits lies stands still quietly calmly".split())


def _stays_put(tokens: list[str], subject: SubjectEntity) -> bool:
    """Whether a posture word (:func:`postures`) is the scene's main subject's own verb: right
    after its noun ("a snow leopard perched on a ledge", "a cat sits", "a barge is moored"), or
    a participle or an adjective modifying it ("a parked motorcycle", "a stalled tram", "a
    motionless heron"). A posture word elsewhere is another's, or a noun ("a girl runs past a
    lemonade stand")."""
    words = subject.noun.split()
    last = words[-1]
    if last not in tokens:
        return False
    at = tokens.index(last)
    for word in subject.modifiers:  # "a parked vintage car", "a motionless heron"
        if word in postures() and (word.endswith("ed") or _posture_table()[word] == "adjective"):
            return True  # ("a parking valet" is at work)
    k = at + 1
    while k < len(tokens) and (tokens[k] in _LINKS or tokens[k].endswith("ly")):
        if tokens[k] in postures():
            return True  # "a cat sits", "a barge lies moored"
        k += 1
    return k < len(tokens) and tokens[k] in postures()


def _vocal(token: str, before: str, verbs: frozenset[str] | None = None) -> bool:
    """Whether ``token`` says a living thing uses its voice: the -ing or -s form of a vocal verb
    (or of ``verbs``) right after it ("a purser shouting", "a wolf howls"). Bare forms are not
    read ("a low sky" is no cow lowing), nor the wind's ("a howling gale")."""
    if kind_of(before) not in ANIMATE_KINDS:
        return False
    verbs = vocal_verbs() if verbs is None else verbs
    if token.endswith("ing") and len(token) > 5:
        stem = token[:-3]
        return any(w in verbs for w in (stem, stem + "e", stem[:-1]))
    if token.endswith("s"):
        return token[:-1] in verbs or (token.endswith("es") and token[:-2] in verbs)
    return False


def _absent(tokens: list[str], i: int) -> bool:
    """Whether ``tokens[i]`` is said to be missing: "no" or "without" before it, with at most
    two articles or modifiers between ("a house without a roof", "no hungry customers")."""
    for back in range(1, 4):
        j = i - back
        if j < 0:
            return False
        if tokens[j] in _ABSENT:
            return True
        if kind_of(tokens[j]) or tokens[j] in _LOCATIVE | _JOINERS:
            return False  # another noun or a new phrase between: "no sail on the boat"
    return False


def _compound_first(tokens: list[str], i: int) -> bool:
    """Whether ``tokens[i]`` is the first word of a two-word noun ("window" in "a window
    cleaner's cradle")."""
    nxt = singular(tokens[i + 1].removesuffix(POSSESSIVE)) if i + 1 < len(tokens) else ""
    return bool(nxt) and f"{tokens[i]} {nxt}" in _compound_nouns()


def _names_a_window(tokens: list[str]) -> bool:
    """Whether the prompt shows a window: "window" not as the first word of a two-word noun
    ("a window cleaner's cradle off a skyscraper" is outside)."""
    return any(t == "window" and not _compound_first(tokens, i) for i, t in enumerate(tokens))


POSSESSIVE = "'s"
#: Kinds an -ing word keeps as a noun between a noun and a preposition ("a rock painting in
#: the desert"); one read as nothing or as an animal is a verb ("an orchard humming with doves").
_NOUN_KINDS_OF_ING = frozenset(
    {"object", "food", "building", "room", "landscape", "event", "vehicle", "plant", "fire", "sky"}
)
#: Prepositions of direction and source, which follow a verb, not a noun, after a living thing
#: ("a hummingbird drinking from a flower", "a dog running toward the sea").
_MOTION_WORDS = frozenset({"from", "to", "toward", "towards", "down", "up", "out", "after"})
#: Words that make the next noun absent from the picture ("no customers", "without a sail").
_ABSENT = frozenset({"no", "without"})
#: Buildings where "at" means inside ("a clown at a circus", "a couple at a restaurant").
_INSIDE_AT = frozenset(
    "circus theatre theater cinema museum gallery restaurant cafe café bar pub shop store "
    "supermarket library hospital ballroom gym mall casino bakery concert-hall opera home".split()
)
#: Sites filed as buildings that one is "in" without being indoors: "in a frozen harbour",
#: "in a sewer tunnel" (underground, not a room), "in a graveyard".
_OPEN_SITES = frozenset(
    "harbour harbor port dock docks wharf pier farm zoo cemetery graveyard playground fairground "
    "amusement-park ranch ruins ruin platform stadium dam tunnel carnival bus-stop gas-station "
    "monument pyramid tent-city gravestone-yard".split()
)
#: "X of Y": when X is a container or quantity, Y is what the picture shows.
_CONTAINERS = frozenset(
    "bowl plate basket box pile stack cup glass bunch jar bag heap slice loaf bottle tray "
    "handful crate pot pan bucket mug carton can tin pack herd flock pack school swarm crowd "
    "group team family pair couple".split()
)


@lru_cache(maxsize=16384)
def singular(word: str) -> str:
    """A crude singular for lexicon lookups (``puppies`` -> ``puppy``, ``boxes`` -> ``box``)."""
    irregular = {
        "people": "person",
        "children": "child",
        "men": "man",
        "women": "woman",
        "mice": "mouse",
        "geese": "goose",
        "teeth": "tooth",
        "feet": "foot",
        "wolves": "wolf",
        "leaves": "leaf",
        "knives": "knife",
        "sheep": "sheep",
        "fish": "fish",
        "deer": "deer",
        "loaves": "loaf",
        "shelves": "shelf",
    }
    if word in irregular:
        return irregular[word]
    known = noun_kinds()
    for plural, one in irregular.items():  # "schoolchildren", "grandchildren", "dormice"
        stem = word[: -len(plural)]
        if len(stem) > 2 and word.endswith(plural) and stem + one in known and word not in known:
            return stem + one
    if word.endswith(("is", "us")) and word[:-1] in known and word not in known:
        return word[:-1]  # "okapis", "kiwis", "gnus", "emus" ("iris" and "bus" stay)
    if len(word) > 5 and word.endswith("men") and word not in noun_kinds():
        if word[:-3] + "man" in noun_kinds():  # "fishermen", not "abdomen" or "specimen"
            return word[:-3] + "man"
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "xes", "sses", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def kind_of(word: str) -> Kind | None:
    """The kind of a noun (``None`` when it is not a known noun)."""
    kinds = noun_kinds()
    lowered = word.lower()
    return kinds.get(lowered) or kinds.get(singular(lowered)) or _closed_compound(lowered)


#: Living kinds a nearest-neighbour guess gives no -ing form of a verb ("fishing nets" were a
#: fish with a face and fins in set 40; "boxing", "humming", "jogging" likewise).
_LIVING_GUESSES = frozenset({"person", "group", "mammal", "bird", "fish", "insect", "serpent"})

#: Guessed kinds an agent noun overrides: "a cobbler" was a landscape, "a florist" a plant.
_GUESSED_PLACES = frozenset({"landscape", "room", "building", "plant", "vehicle"})

#: Kinds a closed compound takes from its last part: who or what lives ("a kitesurfer", "a
#: hagfish", "a lockkeeper"). A thing's name keeps no such promise: a "laundromat" is no mat.
_LIVING_KINDS = frozenset({"person", "mammal", "bird", "fish", "insect", "serpent"})


@lru_cache(maxsize=4096)
def _closed_compound(word: str) -> Kind | None:
    """The kind of a noun no table lists that is written as one word of two known words, the
    last a living thing: English compounds take the kind of their last part
    ("kitesurfer", "lockkeeper"), or with a hyphen ("sous-chef", "aye-aye" stays unknown)."""
    kinds = noun_kinds()
    if "-" in word:
        first, _, last = word.rpartition("-")
        kind = kinds.get(last) or kinds.get(singular(last))
        # the first part is a noun ("sea-lion") or a word English lacks ("sous-chef"), not an
        # adjective or a verb ("hot-dog", "scare-crow") or a letter ("x-ray")
        known = first in kinds or (len(first) >= 3 and first not in english_words())
        if not (known and first.replace("-", "").isalpha()) or first in verbs():
            return None
        return kind if kind in _LIVING_KINDS else None
    if not word.isalpha() or len(word) < 7 or word.endswith(("ing", "ed", "ly")):
        return None  # a verb form is no compound: "blocking" holds no king
    for cut in range(3, len(word) - 3):
        first, last = word[:cut], word[cut:]
        kind = kinds.get(last) or kinds.get(singular(last))
        if kind in _LIVING_KINDS and first in kinds:
            return kind
    return None


#: Phrases whose words would assert a fact they do not mean, and a neutral reading of each.
_FIGURES_OF_SPEECH = {
    " sea of ": " mass of ",  # "a sea of clouds" is not water
    " depth of field ": " depth of focus ",  # a lens setting, not an outdoor field
    # the sun has gone: dusk, not the daylight a sunset still has ("a fennec fox digging just
    # after sunset" got "sunlight flashing on droplets flung from its fur" on set 30)
    " after sunset ": " after dusk ",
    " after sundown ": " after dusk ",
    # the air shimmering over hot ground, not a fog ("an abandoned gas station in the Nevada desert
    # at midday, heat haze" read as foggy)
    " heat haze ": " heat shimmer ",
    # motion stopped by the shutter, not ice ("the smoker mid-bounce, frozen in the air" read as
    # winter; set 47)
    " frozen in the air ": " caught in the air ",
    " frozen in mid-air ": " caught in mid-air ",
    " frozen mid-": " caught mid-",
    " frozen in time ": " caught in time ",
}


#: Facts whose words may be written as an adjective in -y ("drizzly" rain, "sleety" snowfall).
_INFLECTED_FACTS = ("rain", "storm", "fog", "snowing", "winter", "windy", "night", "twilight")


def _stem(word: str) -> str:
    """A crude stem that puts a noun and its adjective in -y together: drizzle, drizzly ->
    drizzl; fog, foggy -> fog; sleet, sleety -> sleet."""
    for suffix in ("y", "s", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]  # "fogg" -> "fog"
    return word


@lru_cache(maxsize=1)
def _weather_stems() -> dict[str, frozenset[str]]:
    """Stem -> facts, for the one-word nouns of the weather and time facts (not their -ing
    forms: "whipping" wind says nothing of "whipped" cream)."""
    stems: dict[str, set[str]] = {}
    for fact in _INFLECTED_FACTS:
        for key in FACT_WORDS[fact]:
            if " " not in key and "-" not in key and not key.endswith("ing"):
                stems.setdefault(_stem(key), set()).add(fact)
    return {stem: frozenset(facts) for stem, facts in stems.items()}


def _inflected_facts(words: list[str]) -> set[str]:
    """Facts of weather and time words written as an adjective in -y that no list names:
    "a drizzly spring morning" (rain), "a sleety dusk", "a dusky harbour"; or as the first part
    of a participle: "a rain-lashed mountainside" (rain), "a storm-tossed deck", "fog-bound"."""
    stems = _weather_stems()
    found = {
        fact
        for word in words
        if word.endswith("y") and len(word) >= 5 and kind_of(word) is None  # not "a nighty"
        for fact in stems.get(_stem(word), ())
    }
    for word in words:
        first, _, last = word.partition("-")
        if last and (last.endswith("ed") or last in _PARTICIPLES) and "-" not in last:
            # weather only, done to the place: "a moon-shaped pendant" is no night, "a
            # snow-capped peak" in summer no winter
            found |= stems.get(_stem(first), frozenset()) & _WEATHER_DONE
    return found


#: Weather that a participle can say was done to a place ("rain-lashed", "storm-tossed",
#: "mist-shrouded", "wind-swept", "sleet-streaked").
_WEATHER_DONE = frozenset({"rain", "storm", "fog", "snowing", "windy"})


@lru_cache(maxsize=1)
def _weather_table() -> dict[str, frozenset[str]]:
    """Weather nouns no fact-word list names (``wordnet_weather.tsv``) -> the facts they state;
    the curated lists win over WordNet for the words they name ("snow" on the ground is
    ``snowbound``, not snowfall)."""
    listed = {w for keys in FACT_WORDS.values() for key in keys for w in key.split()}
    table = _tsv_pairs("wordnet_weather.tsv")
    return {
        noun: frozenset(facts.split(",")) for noun, facts in table.items() if noun not in listed
    }


def _weather_nouns(words: list[str]) -> set[str]:
    table = _weather_table()
    found: set[str] = set()
    for word in words:
        found |= table.get(word) or table.get(singular(word)) or frozenset()
    return found


@lru_cache(maxsize=8192)
def phrase_facts(text: str) -> frozenset[str]:
    """Facts a phrase asserts or needs (``"cold moonlight"`` -> ``{"night"}``).

    A phrase that brings its own agent ("a cat dozing on the windowsill", "riders with arms
    thrown up") needs no body from the scene's subjects. Cached: a rewrite asks about the same
    concepts once per persona, and the word tables do not change while the program runs.
    """
    # "a stained bathroom's dim mirror light" is in a bathroom
    words = [w[:-2] if w.endswith("'s") else w for w in _WORD.findall(text.lower())]
    lowered = " " + " ".join(words) + " "
    for phrase, neutral in _FIGURES_OF_SPEECH.items():
        lowered = lowered.replace(phrase, neutral)
    found = set()
    for fact, keys in FACT_WORDS.items():
        if any(f" {key} " in lowered for key in keys):
            found.add(fact)
    found |= {f for f, gapped in _GAPPED_KEYS.items() if any(p.search(lowered) for p in gapped)}
    found |= _inflected_facts(words)  # "drizzly", "sleety", "dusky"
    found |= _weather_nouns(words)  # "a typhoon", "a cloudburst", "the mistral", "a whiteout"
    if "moonless" in found:
        found.discard("moon")  # "no moon" names the moon it denies
    # a palette names colours, not places ("jungle green and gold palette")
    if " palette " not in lowered and not any(f" {key} " in lowered for key in DISTANT_WORDS):
        # a simile puts nothing there: "roots like a cathedral", "like a stage spot"
        placed = lowered.split(" like ")[0] + " "
        for name in NOT_PLACES:
            placed = placed.replace(f" {name} ", " ")
        sites = {site for site, keys in SITES.items() if any(f" {key} " in placed for key in keys)}
        found |= {f"site:{site}" for site in sites}
        if sites & PRIVATE_SITES:
            found.add("private")
    # "a crocodile's eyes": the eyes are the crocodile's own
    for word in words:
        kind = None if word in body_parts() else kind_of(word)
        if kind in ANIMATE_KINDS:  # a horse named in the phrase still has no paws
            found -= noun_facts(word, kind) & BODY_FACTS
            found -= {"animate", "flying"}  # "a crow soaring overhead" flies, not the subject
    return frozenset(found)


def contradiction(
    facts: frozenset[str] | set[str], phrase: str, needs: frozenset[str] | set[str] = frozenset()
) -> str | None:
    """Why ``phrase`` (with extra ``needs``) contradicts a scene with these facts, or ``None``."""
    own = phrase_facts(phrase) | set(needs)
    return facts_conflict(facts, own, phrase)


@lru_cache(maxsize=None)  # one per section: a smaller cache rebuilt them for every clause
def _phrases_pattern(
    section: Literal[
        "framing",
        "aerial",
        "close",
        "downward",
        "monochrome",
        "silhouette",
        "drawn",
        "drawn_monochrome",
        "photographed",
    ],
) -> re.Pattern[str]:
    """A phrase of ``section`` among the first three words of a clause ("isometric ...",
    "..., macro, ...", "an aerial view of ..."; not "a photographer with a telephoto lens")."""
    phrases = sorted(curated_subjects().get(section, []), key=len, reverse=True)
    return re.compile(
        r"^(?:[\w'-]+\s+){0,2}?(" + "|".join(map(re.escape, phrases)) + r")(?![\w'-])"
    )


#: Words after "black and white" or "sepia" that make it the picture's own ("black and white
#: photo of", "sepia tones", "cyanotype of"), not a thing's colour ("a black and white cat").
_LOOK_WORDS = frozenset(
    "photo photograph photography picture image shot film movie print portrait style tones tone "
    "filter aesthetic still of".split()
)


def _stated_look(lowered: str) -> set[str]:
    """What the user chose of the picture's look, said at the head of a clause: ``framed`` (a
    camera angle or shot: "isometric", "aerial view", "close up") and ``monochrome`` ("black
    and white photo", ", sepia,"; not "a black and white cat")."""
    found = set()
    for clause in (c.strip() for c in re.split(r"[,;.]", lowered)):
        if _phrases_pattern("framing").search(clause):
            found.add("framed")
        for scale in ("aerial", "close"):
            if _phrases_pattern(scale).search(clause):
                found |= {"framed", f"{scale}_view"}
        if _phrases_pattern("downward").search(clause):
            found.add("downward_view")
        if _phrases_pattern("silhouette").search(clause):
            found.add("silhouette_view")
        if _names_the_look(clause, "monochrome", _LOOK_WORDS):
            found.add("monochrome")
        medium_next = _DRAWN_NEXT | _word_list("media")
        if _names_the_look(clause, "photographed", medium_next):
            found.add("photographed")
        if _names_the_look(clause, "drawn", medium_next):
            found.add("drawn")
            if _phrases_pattern("drawn_monochrome").search(clause):
                found.add("monochrome")  # "charcoal sketch of", "pencil drawing of"
    return found


#: Words after a painted or drawn medium that make it the picture's own ("oil painting of",
#: "charcoal sketch", "pixel art style"), not a thing in it ("a man painting a fence").
_DRAWN_NEXT = frozenset({"of", "art", "style"})


def _names_the_look(
    clause: str,
    section: Literal["monochrome", "drawn", "photographed"],
    next_words: frozenset[str],
) -> bool:
    """Whether ``clause`` opens with a phrase of ``section`` that ends it or comes before one of
    ``next_words``: the picture's own look, not the colour or the medium of a thing in it."""
    match = _phrases_pattern(section).search(clause)
    if match is None:
        return False
    rest = _WORD.findall(clause[match.end() :])
    return not rest or rest[0] in next_words


#: Facets of a thing set in the picture: out of scale beside the subject in an aerial view or a
#: close-up, unless it is the subject's own ("{the} wearing a tiny party hat").
_SCALED_FACETS = frozenset({"object", "action"})


#: Things with no size of their own: out of scale nowhere ("a shadow with claws thrown across
#: {the}" on a LEGO castle in macro; readers called it fine).
_NO_BODY = frozenset("shadow shadows silhouette silhouettes reflection reflections glow".split())
#: Words after a verb that are no noun or adjective it modifies ("leaping after", "backing away").
_PARTICLES = frozenset(
    "after before toward towards up down out away back forward forwards between alone while "
    "then like until".split()
)


def subjects_own(text: str) -> bool:
    """Whether a phrase is what the subject does or wears, by its first words: the subject
    itself ("{the} wearing a knitted bobble hat", "{poss} ears pinned back"), a participle
    before a function word, or an adverb ("leaping after a bright bouncing ball", "wearing a
    tiny party hat", "frozen mid-step", "slowly sniffing the flowers", "mid-sneeze"), not a
    thing set beside the subject ("a ball frozen at the top of its arc", "wildflowers in the
    foreground", "a figure standing motionless behind {the}", "snow-capped mountains")."""
    if text.lstrip().startswith(("{the}", "{poss}")):  # "{the} wearing a knitted bobble hat"
        return True
    words = _WORD.findall(text.lower())
    if not words:
        return False
    if set(words[:3]) & _NO_BODY:
        return True  # a shadow or a glow has no size of its own ("a looming shadow stretching")
    first = words[0]
    if first.startswith("mid-") or _adverb(first):
        return True
    if not _participle(first):
        return False
    # a participle that goes on to a noun or an adjective names a thing ("snow-capped
    # mountains", "rotting food swarming with flies", "towering ancient trees"); one followed by
    # a determiner, a preposition or a particle is the subject's doing ("leaping after a ball",
    # "wearing a party hat", "backing away step by step")
    nxt = words[1] if len(words) > 1 else ""
    return not nxt or nxt in _FUNCTION_WORDS or nxt in _PARTICLES or nxt.startswith("mid-")


def look_conflict(
    facet: str,
    text: str,
    facts: frozenset[str] | set[str],
    own: bool | None = True,
    preferences: bool = True,
) -> str | None:
    """Why a phrase of ``facet`` overrules the look the user chose, or ``None``: a composition
    where the prompt sets its own framing (a preference of the graph's: ``preferences=False``
    leaves it out), a colour where it asks for no colour, a thing of its own beside the subject
    of an aerial view or a close-up (``own``: whether the phrase is the subject's own, ``None``
    to read it with :func:`subjects_own`; a model's free cue names its owner in its own words, so
    it is taken as the subject's unless said), a face where the subject is a silhouette."""
    if preferences and facet == "composition" and "framed" in facts:
        return "the prompt sets its own framing"
    scaled = facts & {"aerial_view", "close_view"}
    if facet in _SCALED_FACETS and scaled and not (subjects_own(text) if own is None else own):
        if "aerial_view" in facts:
            return "the prompt views the scene from far above: a thing beside it is out of scale"
        if "close_view" in facts:
            return "the prompt frames the subject close up: a thing beside it is out of scale"
    if "silhouette_view" in facts and "face" in phrase_facts(text):
        return "the prompt shows the subject as a silhouette: its face cannot be seen"
    if "masked" in facts and "face" in phrase_facts(text) and "masked" not in phrase_facts(text):
        return "the prompt masks the subject's face: no expression can be read on it"
    if "aerial_view" in facts:
        # "eyes red-rimmed and downcast" in a drone shot of galloping horses (set 47), "grit
        # and sweat on skin" in one of a ploughing match (set 61)
        for detail in sorted(phrase_facts(text) & _FAR_DETAIL.keys()):
            return f"the prompt views the scene from far above: {_FAR_DETAIL[detail]}"
    if "downward_view" in facts and "sky_view" in phrase_facts(text):
        return "the prompt looks straight down at the subject: no sky shows"
    if "monochrome" in facts:
        words = {w for token in _WORD.findall(text.lower()) for w in token.split("-")}
        if facet == "colour" or words & _word_list("hues"):
            return "the prompt asks for a picture without colour"
    if "drawn" in facts and _PHOTO_PROCESS.search(text.lower()):
        return "the prompt asks for a painted or drawn picture: no photographic process"
    if "photographed" in facts and "drawn" not in facts and _DRAWN_PROCESS.search(text.lower()):
        return "the prompt asks for a photograph: no drawn or painted medium"
    return None


#: Body detail no view from far above shows, and how the refusal says so.
_FAR_DETAIL = {
    "face": "no face can be read from there",
    "skin": "no skin can be seen from there",
}


#: A photograph's own process ("grainy film texture", "harsh flash snapshot", "wide lens
#: distortion"), which a painted or drawn picture (``drawn``) does not have; a camera's distance
#: or angle ("long lens from far off", "low angle") is any picture's.
_PHOTO_PROCESS = re.compile(
    r"\b(?:film|grainy|flash|snapshot|polaroid|35mm|bokeh|lens flare|lens distortion|"
    r"depth of field|long exposure|motion blur|over-?exposed|under-?exposed|fingerprints|"
    r"photo-?booth)\b"
)
#: A drawn or painted medium's own marks ("crayon-scribble textures on paper", "visible
#: brushstrokes"), which a photograph (``photographed``) does not have.
_DRAWN_PROCESS = re.compile(
    r"\b(?:crayon|pencil|charcoal|pastel|watercolou?r|gouache|brushstrokes?|ink wash|"
    r"scribbled?|scribble|sketchy|hatching|on paper|paper texture|canvas texture)\b"
)


def facts_conflict(
    facts: frozenset[str] | set[str], own: frozenset[str] | set[str], phrase: str = "it"
) -> str | None:
    """Why facts ``own`` (a concept's) contradict ``facts`` (a scene's), or ``None``."""
    for fact in sorted(own):
        if fact in BODY_FACTS and fact not in facts:
            return f"'{_trigger(phrase, fact)}' needs {fact}, no subject has it"
        if fact in facts:  # the scene states it itself
            continue
        clash = _OPPOSITE.get(fact, set()) & set(facts)
        if clash:
            return f"'{_trigger(phrase, fact)}' says {fact}, the scene says {sorted(clash)[0]}"
    for a, b, unless in OPPOSITES_UNLESS:
        for mine, theirs in ((a, b), (b, a)):
            if (
                mine in own
                and theirs in facts
                and mine not in facts
                and unless not in own
                and unless not in facts
            ):
                return (
                    f"'{_trigger(phrase, mine)}' says {mine}, the scene says {theirs} "
                    f"and is not {unless}"
                )
    if "asleep" in own and "busy" in facts and "asleep" not in facts:
        return f"'{_trigger(phrase, 'asleep')}' says asleep, the subject is doing something"
    their_sites = _sites(facts)
    for site in sorted(_sites(own) - their_sites):
        # "a hospital corridor": a museum hall fits the corridor but not the hospital
        elsewhere = sorted(t for t in their_sites if not sites_compatible(site, t))
        if elsewhere:
            return (
                f"'{_trigger(phrase, 'site:' + site)}' sets it in a {site}, the scene is "
                f"in a {elsewhere[0]}"
            )
    return None


def facts_opposed(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> bool:
    """Whether two concepts' facts contradict each other (body needs aside)."""
    return facts_conflict(set(a) - BODY_FACTS, set(b) - BODY_FACTS) is not None


def _trigger(phrase: str, fact: str) -> str:
    lowered = " " + " ".join(_WORD.findall(phrase.lower())) + " "
    keys = SITES.get(fact[5:], ()) if fact.startswith("site:") else FACT_WORDS.get(fact, ())
    for key in keys:
        if f" {key} " in lowered:
            return key
    return phrase.strip()[:40]


def detect_language(text: str) -> tuple[bool, str | None]:
    """Whether ``text`` reads as English, and a note when it does not."""
    if any(ord(c) > 0x24F and c.isalpha() for c in text):
        scripts = {_script(c) for c in text if c.isalpha() and ord(c) > 0x24F}
        return False, f"non-Latin script ({', '.join(sorted(scripts))}): not English"
    # acronyms ("NY", "NASA") say nothing about the language (capitalised words do: German
    # nouns are capitalised)
    words = _WORD.findall(text)
    tokens = [w.lower() for w in words if not (w.isupper() and len(w) > 1)]
    if not tokens:
        return True, None
    known = _language_words()
    hits = sum(1 for t in tokens if _known_english(t, known))
    # accents in a capitalised word belong to a name ("the Yucatán", "a Citroën"), not to the
    # language of the sentence around it
    accents = sum(1 for w in words if not w[0].isupper() for c in w if ord(c) > 0x7F)
    share = hits / len(tokens)
    if share < 0.5 or (accents and share < 0.8):
        return False, f"only {hits} of {len(tokens)} words are known English words: not English"
    return True, None


def _script(char: str) -> str:
    import unicodedata

    name = unicodedata.name(char, "UNKNOWN")
    return name.split(" ")[0].capitalize()


def _opening_clause(tokens: list[str], lowered: str) -> int:
    """How many words an opening participle clause takes ("Hired to count bats, a surveyor
    sits ...", "Standing on a scaffold, a roof tiler ...", "Having crossed the dunes, a guide
    ..."): its words describe the subject named after its comma. 0 when there is none."""
    if not tokens or "," not in lowered:
        return 0
    first = tokens[0]
    participle = first == "having" or first in _PARTICIPLES or first.endswith(("ed", "ing"))
    if not participle or _noun_like(first) or kind_of(first) is not None:
        return 0  # ("Bedding plants, ..." or "Evening falls, ..." open with a noun)
    taken = len(_WORD.findall(lowered.split(",", 1)[0]))
    if "-" in first and taken > 1 and tokens[1] not in _FUNCTION_WORDS and tokens[1][-2:] != "ly":
        # a compound adjective before its noun, not a clause: "crab-eating macaques raiding a
        # buffet, late November" (set 64 framed "the november"); "Mud-caked, exhausted
        # soldiers" and "Rain-soaked after the storm, a ..." still open with one
        return 0
    return taken if taken < len(tokens) else 0


def _after_opening(
    entities: list[SubjectEntity], tokens: list[str], opening: int
) -> list[SubjectEntity]:
    """``entities`` with those named after the opening clause first, and the clause's own
    participle, read as a thing, dropped ("hired", "parked")."""

    def at(entity: SubjectEntity) -> int:
        head = entity.noun.split()[-1]
        return tokens.index(head) if head in tokens else -1

    kept = [e for e in entities if e.noun != tokens[0]]
    after = [e for e in kept if at(e) >= opening]
    return (after + [e for e in kept if at(e) < opening]) if after else entities


def _unnamed(tokens: list[str], entities: list[SubjectEntity], lowered: str) -> list[str]:
    """``tokens`` without the nouns that name an animal's kind before its head noun, or count
    animals: "a snow leopard" or "a night heron" is no snow and no night, "a school of sardines"
    no school. (A person's are kept: "a night watchman" works at night.)"""
    dropped: set[int] = set()
    for entity in entities:
        if entity.kind not in ANIMATE_KINDS - {"person", "group"}:
            continue
        words = entity.noun.split()
        if len(words) == 3 and words[1] == "of" and words[0] in tokens:
            dropped.add(tokens.index(words[0]))  # "a school of sardines" is in no school
        head = words[-1]
        if head not in tokens:
            continue
        k = tokens.index(head) - 1
        while (
            k >= 0
            and tokens[k] in entity.modifiers
            and _noun_like(tokens[k])
            and re.search(rf"\b{re.escape(tokens[k])}\s+{re.escape(tokens[k + 1])}\b", lowered)
        ):  # (not across a comma: "beneath the city, rats scattering")
            dropped.add(k)  # "a rain-soaked snow leopard cub": snow and leopard, not the rain
            k -= 1
    return [t for i, t in enumerate(tokens) if i not in dropped]


def scene_nouns(scene: SceneModel | None) -> frozenset[str]:
    """The words of the noun a scene's main subject is named by ("a swarm of honeybees in a
    hollow stump": swarm, honeybees): text that holds one of them is about the scene's own
    subject. (Not every thing it names: an order written into a scene names things too.)"""
    if scene is None or scene.main is None:
        return frozenset()
    return frozenset(word for word in scene.main.noun.split() if word != "of")


@lru_cache(maxsize=2048)
def parse_scene(text: str) -> SceneModel:
    """Parse a prompt into a :class:`SceneModel` (pure, no model call; cached per text: one
    request, its eval metrics and the report parse the same prompt many times)."""
    text = text.replace("\u2019", "'")  # "a ventriloquist’s dummy" as typed on a phone
    english, note = detect_language(text)
    lowered = text.lower()
    tokens = [t.lower() for t in _WORD.findall(text)]
    entities, places = (
        _entities(tokens, name_positions(text), calendar_positions(text), _break_positions(text))
        if english
        else ([], [])
    )
    entities = [_lifeless(entity, tokens) for entity in entities]
    # a noun right after a subject's verb of travel is where it goes, not where the scene is:
    # "a fishing boat coming home at dusk", "commuters heading downtown"
    gone = {e.noun for e in entities + places if _destination(e.noun, tokens, entities)}
    entities = [e for e in entities if e.noun not in gone]
    places = [p for p in places if p.noun not in gone]
    opening = _opening_clause(tokens, lowered)
    if opening:  # "Parked beside a dune, the cargo rover waits": the rover, which is parked
        entities = _after_opening(entities, tokens, opening)
    facts: set[str] = set()
    for entity in entities:
        facts |= entity.facts
        if entity.noun in _STRUCTURES:
            facts.add("structure")
    entered = False  # the subjects are inside a building the prompt names
    for place in places:  # where the subjects are: its setting, not its size
        facts |= KIND_FACTS[place.kind] - {"large", "small"}
        if place.kind != "building":
            continue
        said_in = _said_in(place.noun, lowered)
        if singular(place.noun) in _OPEN_SITES and said_in != "inside":
            facts.add("outdoor")  # (a tunnel's site states underground, which overrides it)
        else:  # "in a church" is inside it, "at a church" or "outside a pub" outside
            inside = said_in is not None or (
                place.noun in _INSIDE_AT
                and not re.search(rf"\boutside\s+(\w+\s+){{0,2}}{re.escape(place.noun)}\b", lowered)
            )
            facts.add("indoor" if inside else "outdoor")
            entered = entered or said_in is not None
    if any(e.kind == "bird" for e in entities) and any(
        p.kind in {"object", "plant"}
        and re.search(rf"\b(on|in|at)\s+(\w+\s+){{0,2}}{re.escape(p.noun)}\b", lowered)
        for p in places
    ):
        facts.add("perched")  # "an owl on a branch": not in flight ("a bird near a tree" may be)
    unnamed = [t for t in _unnamed(tokens, entities, lowered) if t not in gone]
    stated = phrase_facts(" ".join(unnamed)) if english else frozenset()
    # a subject's own body words ("a dog's tail") state nothing about the body plan needs
    facts |= stated - BODY_FACTS - {"acting", "awake", "animate"}
    curated = curated_subjects()
    # a compound's first word names no setting: "a window cleaner's cradle" is not indoors
    said = {
        t
        for i, t in enumerate(tokens)
        if not (_compound_first(tokens, i) or _absent(tokens, i)) and t not in gone
    }
    for fact in curated["settings"]:
        words = set(curated["settings"][fact])
        if words & said or {singular(t) for t in said} & words:
            facts.add(fact)
    # a pier or a marina on a lake is not by the sea; "a sea of faces" is a crowd
    if said & _FRESH_WATER or re.search(r"\bsea of\b", lowered):
        facts.discard("sea")
    # water said to be frozen ("a frozen harbour", "a lake iced over", "pack ice"): no waves
    waters = set(FACT_WORDS["water"]) | {"bay", "fjord", "canal"}
    dried = False
    for i, token in enumerate(tokens):
        ahead = list(itertools.takewhile(lambda t: t not in _BREAKS, tokens[i + 1 : i + 5]))
        head = ahead[-1] if ahead else ""
        after = tokens[i + 1 + len(ahead) : i + 4 + len(ahead)]  # "of the lake"
        # "a frozen harbour", "a frozen mountain lake", "a lake iced over", "pack ice"; the
        # water is the first or second word after "frozen", whatever follows it ("a frozen
        # fjord beneath the northern lights")
        water = next((t for t in ahead[:2] if t in waters), None)
        if water is not None:  # the water is the head: "a frozen water bottle" is a bottle
            after_water = ahead[ahead.index(water) + 1 : ahead.index(water) + 2]
            if after_water and kind_of(after_water[0]) and after_water[0] not in _LOCATIVE:
                water = None
        frozen = token in _FROZEN and water is not None
        iced_over = token in _FROZEN and tokens[i + 1 : i + 2] == ["over"]
        if frozen or (iced_over and tokens[i - 1 : i] and tokens[i - 1] in waters):
            facts.add("icebound")
        if token in _DRIED and water is not None:
            dried = True  # "a dried-up soda lake": no water to reflect, no jetty, no sea
        # "a sunken cargo ship" lies under water ("sunken cheeks" do not)
        if token == "sunken" and any(kind_of(t) == "vehicle" for t in tokens[i + 1 : i + 3]):
            facts.add("submerged")
        # "an empty airport", "a deserted seaside pier": no one there (not "an empty bottle")
        if token in _EMPTY and any(kind_of(t) in _PLACE_LIKE for t in ahead[-1:]):
            facts.add("alone")
        if tokens[i : i + 2] in _ICE_PAIRS and re.search(
            rf"\b{token}\s+{tokens[i + 1]}\b", lowered
        ):
            facts.add("icebound")  # (with no comma between: "by the sea, ice cream melting")
        # "a narwhal beneath the arctic pack ice", "divers below the surface (of a lake)"; not
        # "under the sea of clouds", "under the river bridge", "below the surface of the sand"
        if token in _BENEATH and (head in waters or head == "ice"):
            if not (after[:1] == ["of"] and head != "surface"):
                facts.add("submerged")
        further = tokens[i + 1 + len(ahead) : i + 6 + len(ahead)]  # "of a cold blue bay"
        if token in _BENEATH and head == "surface" and (not after or waters & set(further)):
            facts.add("submerged")
        # "a chapel carved deep beneath a Polish village", "a sewer worker beneath the streets
        # of Paris": below the ground (not "under an oak tree", "beneath the sea")
        if token in _BENEATH and head and head not in waters | {"ice", "surface", "snow"}:
            # ("the Earth turns far below in the blackness" has no head)
            under = singular(_phrase_head(ahead))
            if under in _SETTLED or (tokens[i - 1 : i] == ["deep"] and under in _GROUND):
                facts.add("subterranean")
    if dried:
        facts -= {"water", "sea"}
        facts.add("dry")
    # the first clause only: "dramatic lighting, a dog" leads with a style, not a subject
    # (after an opening clause, the main clause's: "Wrapped in oilskins, a trawlerman hauls")
    clauses = text.split(",", 2)
    main = clauses[1] if opening and len(clauses) > 1 else clauses[0]
    cased = _WORD.findall(main)
    first = [t.lower() for t in cased]
    cased = cased[_framing(first) :]
    first = first[_framing(first) :]  # "close up of a stack of pancakes": the pancakes
    head = unknown_head(first) if english else None  # (not "hired", "parked")
    if head is not None and head in first:
        at = first.index(head)
        if cased[at][:1].isupper() and _name_modifies(first, at, frozenset({at})):
            head = None  # a name that styles the noun after it: "Faroese turf-roofed boathouses"
    if head is not None and any(e.noun.startswith(f"{head} of ") for e in entities):
        head = None  # "a pair of fennec foxes": the foxes are the subject
    if head is not None:  # "a welder repairing a hull": the welder, not the hull, is the subject
        known = [e for e in entities if e.noun == head]  # read by the parser ("a bell founder")
        # the nouns before it in its phrase modify it: "a top fuel dragster" has no fuel in it
        before = first[: first.index(head)] if head in first else []
        while before and before[0] in _DETERMINERS:
            before.pop(0)
        modifiers = set(before) if not set(before) & _PHRASE_ENDS else set()
        rest = [e for e in entities if e.noun != head and e.noun not in modifiers]
        entities = [*(known[:1] or [SubjectEntity(noun=head, kind="thing")]), *rest]
    if (
        len(entities) > 1
        and entities[0].kind == "thing"
        and entities[0].noun in entities[1].modifiers
        and re.search(rf"\b{re.escape(entities[0].noun)}\s*,\s*(a|an|the)\b", lowered)
    ):
        entities = entities[1:]  # "Maria, a street vendor": the vendor, whom the name names
    if not entities and places:  # a place alone ("a field of grass") is the subject itself
        entities, places = places[:1], places[1:]
        facts |= entities[0].facts
    if _STATED_LIGHT.search(lowered):
        facts.add("lit")  # "under flickering fluorescent light", "by lamplight", "moonlit"
    if _inside_a_room(lowered):
        facts.add("indoor")  # "a cat inside, watching the rain" ("inside a tulip" is no room)
    if _BEFORE_DAWN.search(lowered):
        # "before sunrise", "pre-dawn": the sun words name what has not come yet (set 43: "a
        # windless blue sky" and "soft golden hour glow" for a rubber tapper before sunrise)
        facts -= {"sunny", "day", "midday", "afternoon"}
        facts.add("night")
    if _said_of_a_storm(_AFTER_A_STORM, lowered) and not _said_of_a_storm(_IN_A_STORM, lowered):
        facts -= {"storm", "snowing", "downpour", "windy", "rain", "drizzle"}
        facts.add("passed_storm")  # (which takes the storm out of a meaning reader's tags too)
    if _CLOUDLESS.search(lowered) and "day" in facts and not facts & {"night", "dark", "evening"}:
        facts.add("sunny")  # no cloud by day is sunshine; at dusk or at night the sun has gone
    facts |= _stated_look(lowered)
    if "masked" in facts and not any(e.kind in {"person", "group"} for e in entities):
        facts.discard("masked")  # a species: "a masked booby", "a veiled chameleon"
    if "indoor" in facts and "outdoor" in facts:
        # "a woman at a window looking at the rain": the subject's own room wins
        # and so does a building they are in ("a gardener in a greenhouse during spring rain")
        window = _names_a_window(tokens)
        # and so does a home's room ("a carver at a kitchen table during a January blizzard":
        # the blizzard is outside; set 48 got "bloody paw prints on the snow")
        home = bool(facts & _HOME_ROOMS)
        if any(e.kind == "room" for e in [*entities, *places]) or window or entered or home:
            facts.discard("outdoor")
        else:
            facts.discard("indoor")
    # a fish in the water is under it, unless it breaks the surface ("a manta ray gliding over
    # a coral wall in deep blue water"; not "a dolphin leaping out of the waves")
    if (
        entities
        and entities[0].kind == "fish"
        and (set(tokens) & set(FACT_WORDS["water"]) or "water" in facts)
        and not set(tokens) & _AT_THE_SURFACE
        and not _out_of_the_water(tokens)
    ):
        facts.add("submerged")
    entities = _with_participants(entities)
    facts |= {fact for entity in entities if entity.implied for fact in entity.facts}
    actions = _actions(tokens, entities, text)
    if actions:
        facts.add("busy")
        entities = _handled(entities, tokens, actions)
    sleepers = [_sleeper(tokens, k, entities) for k in _asleep_at(tokens)]
    if any(sleeper is None or sleeper is entities[0] for sleeper in sleepers):
        facts |= {"asleep", "busy"}  # (a sleeper no table knows: "a sleeping quokka")
    elif sleepers and None not in sleepers:
        facts.discard("asleep")  # another's sleep ("a fisherman mending nets, gulls dozing on
        # the rail"): the subject's eyes may be open
    if "asleep" in facts or (
        entities and (_stays_put(tokens, entities[0]) or (opening and tokens[0] in postures()))
    ):
        facts.add("stationary")  # "a snow leopard perched on a ledge": not racing past the lens
    elif entities and _travels(tokens, entities[0], actions):
        facts.add("moving")  # "a rally car racing along a forest road": its own travel
    elif entities and not actions and _set_down(tokens, entities[0]):
        facts.add("stationary")  # "a vintage camera on a wooden desk": not flipping through
        # the air (set 34), nor "mid-bounce, frozen in the air"
    if any(
        _vocal(token, tokens[i - 1] if i else "")
        or (token.endswith("ing") and _vocal(token, tokens[i + 1] if i + 1 < len(tokens) else ""))
        for i, token in enumerate(tokens)
    ):  # "a purser shouting", "a wolf howls", "a screaming child"
        facts.add("vocal")  # "a purser shouting at stranded passengers": the mouth is open
    if any(
        _vocal(token, tokens[i - 1] if i else "", _FACTS.mouth_verbs)
        for i, token in enumerate(tokens)
    ):
        facts.add("mouth_busy")  # "a handler whistling as a collie pens ewes": lips pursed
    time = next(
        (t for t in ("night", "twilight", "midday", "morning", "evening", "day") if t in facts),
        None,
    )
    weather: list[str] = [
        w for w in ("rain", "storm", "fog", "winter", "clear", "windy") if w in facts
    ]
    setting: list[str] = [
        s for s in ("indoor", "outdoor", "urban", "wild", "water", "sky") if s in facts
    ]
    attributes = _attributes(tokens, entities, lowered) if english else []
    return SceneModel(
        text=text,
        entities=entities,
        places=places,
        setting=setting,
        time_of_day=time,
        weather=weather,
        actions=actions,
        attributes=attributes,
        english=english,
        language_note=note,
        facts=frozenset(facts),
    )


#: Words that end a prompt's first noun phrase ("a kitesurfer | at a windy estuary").
_PHRASE_ENDS = frozenset(
    "in on at over under by with through during beneath above below near across along down into "
    "onto of from to for behind beside between inside outside around against past up after "
    "before while and or as who that which is are was were without within upon underneath "
    "beyond toward towards amid among amongst like than until via no but so".split()
)
#: Words of degree that may stand between a noun and its participle ("half buried", "just
#: landed"): never the phrase's head (not "well" or "still": "a village well", "a whisky still").
_DEGREE_WORDS = frozenset("half just almost".split())
#: Endings of adjectives and adverbs: a phrase's last word ending so is not its head noun.
_NOT_NOUN_ENDINGS = ("ic", "ical", "ly", "ous", "ful", "less", "ive", "able", "ible", "esque")
_DETERMINERS = frozenset("a an the one two three some this that my our his her their its".split())
#: English irregular past participles: after a noun they start the verb phrase ("a trawler caught
#: beside a waterspout"), as a regular -ed form does.
_PARTICIPLES = frozenset(
    "arisen awoken beaten become begun bent bitten bled blown borne broken brought built burnt "
    "bought caught chosen clung come crept dealt dug done drawn driven drunk dwelt eaten fallen "
    "fought found fled flung flown forgotten frozen given gone grown heard hidden held kept "
    "knelt known laid leapt left lent lit lost made meant met paid ridden risen said seen sought "
    "sold sent sewn shaken shone shod shown shrunk shut sung sunk sat slain slept slid slung "
    "smelt sown spoken sped spent spilt spun spoilt sprung stood stolen stuck stung stunk "
    "strewn struck strung sworn swept swollen swum swung taken taught torn told thought thrown "
    "trodden understood woken worn woven wept written".split()
)
_LONG_PARTICIPLES = tuple(p for p in _PARTICIPLES if len(p) >= 4)


#: Kinds whose nouns after a plural name a place ("the farmers market", "the goods train",
#: "the sports bar"), though WordNet has them as verbs too.
_NAMED_PLACES = frozenset({"building", "vehicle", "room", "landscape", "event"})


def _s_verb(word: str) -> bool:
    """Whether ``word`` is the -s form of a verb (``verbs``): "marches", "chases"."""
    return word.endswith("s") and singular(word) != word and singular(word) in verbs()


def _verb_not_noun(word: str, after: str | None) -> bool:
    """Whether a word the tables know as a noun is a verb after a plural noun that "the" opened:
    a determiner follows ("the dockworkers block a gate": no noun phrase goes on so), or it is
    mostly a verb and names no place ("the rally cars skid through"; "the farmers market in the
    square", "the goods train in the snow" and "the sports bar at night" are places)."""
    if after in _DETERMINERS:
        return True
    return word in mostly_verbs() and kind_of(word) not in _NAMED_PLACES


#: Determiners of one thing: the noun phrase they open has a singular head.
_SINGULAR_DETERMINERS = frozenset("a an one each every this that".split())


#: Endings of English agent nouns ("cooper", "chandler", "sculptor", "cellist", "librarian").
_AGENT_ENDINGS = ("er", "or", "ist", "ian")


def _verb_agent(word: str) -> bool:
    """A singular person noun made of a verb and -er or -or: one who does it for a living or
    the moment ("seller", "driver", "cutter", "vendor"); not "mother", "tiger" or "lobster".
    The verb is found as its -ing form's is (:func:`_ing_stems`)."""
    if kind_of(word) != "person" or singular(word) != word or not word.endswith(("er", "or")):
        return False
    return any(stem in verbs() for stem in _ing_stems(word[:-2] + "ing"))


def _adverb(word: str) -> bool:
    """An -ly word that is no noun and no verb: "slowly", not "a rally car" or "a supply
    capsule"."""
    return word.endswith("ly") and kind_of(word) is None and word not in verbs()


def _agrees_as_verb(tokens: list[str] | tuple[str, ...], i: int) -> bool:
    """See :func:`_agrees`; cached per text and position (it asks itself about the words
    before, so a long run of nouns would otherwise cost exponential time)."""
    return _agrees(tuple(tokens), i)


@lru_cache(maxsize=8192)
def _agrees(tokens: tuple[str, ...], i: int) -> bool:
    """Whether ``tokens[i]`` is the finite verb of a clause whose subject ends just before it,
    by agreement, not by a list of verbs: an -s word after a singular noun that "a", "one" or
    "every" opened ("a cat sleeps on a sofa", "a diver hovers beside a ray": the phrase's head
    cannot be plural), or, after a plural noun, a word no table knows as a noun ("astronauts
    drift in the cupola": English noun modifiers are singular) or a verb (``verbs``) that a
    preposition or a determiner follows ("rally cars skid through a forest": no noun phrase
    goes on so). After a noun no table knows ("a freediver kicks toward a shoal"), the -s word
    must be such a verb too. A possessive before it ("a chef's knives") keeps the plural head."""
    if i < 1 or tokens[i - 1].endswith(("'s", "'", "ing", "ed")):
        return False  # ("a bookbinder stitching spines": what is stitched)
    word, before = tokens[i], tokens[i - 1]
    after = tokens[i + 1] if i + 1 < len(tokens) else None
    # a verb, as the next word shows: nothing, a preposition, a determiner or an adverb follows
    verb_here = (singular(word) in verbs() or word in verbs()) and (
        after is None or after in _PHRASE_ENDS or after in _DETERMINERS or _adverb(after)
    )
    # (a weather word is a noun too: "a sandstorm rolls toward a caravan")
    noun_before = _noun_like(before) or (phrase_facts(before) and not before.endswith("y"))
    if kind_of(before) is None and not noun_before:
        return False
    opened_by_one = opened_by_the = False
    for j in range(i - 2, max(-1, i - 6), -1):  # back over the phrase's modifiers
        if tokens[j] in _SINGULAR_DETERMINERS:
            opened_by_one = True
            break
        opened_by_the = opened_by_the or tokens[j] in _DETERMINERS
        verb_form = tokens[j].endswith(("ing", "ed")) or _participle(tokens[j])
        if (
            tokens[j] in _PHRASE_ENDS
            or tokens[j] in _DETERMINERS
            or _adverb(tokens[j])  # not "a rally car", "a supply capsule"
            or (verb_form and j > 0 and _noun_like(tokens[j - 1]))
            or _agrees_as_verb(tokens, j)  # "a couple tends tomato plants"
        ):
            break  # another phrase's: "a keeper climbing spiral stairs" ("a rusted fishing
            # boat" is one phrase)
    if singular(before) != before:
        # a plural noun: the next word, if no noun, is its verb ("astronauts drift"); after
        # "a" or "an" the plural-looking word is a modifier ("an arms dealer")
        return (
            not opened_by_one
            and (kind_of(before) is not None or verb_here)
            and (
                kind_of(word) is None
                or (verb_here and (not opened_by_the or _verb_not_noun(word, after)))
            )
            and word.isalpha()
            and not word.endswith(("ed", "ly", "s"))
            # (a participle is another clause's; a verb that ends so is not: "workers wring out
            # their caps", "choristers sing")
            and not (word.endswith("ing") and word not in verbs())
            and word not in _PHRASE_ENDS
            and word not in _DETERMINERS  # ("a boy named Tomás flies a kite": "a" is no verb)
        )
    plural_form = word.endswith("s") and not word.endswith(("ss", "us", "is", "'s"))
    if kind_of(before) is None and not verb_here:
        # after an agent noun no table knows, "a" still makes the -s form of a verb the verb
        # ("a cooper hammers iron hoops": no phrase that "a" opens ends in a plural); other
        # words, and a plural with its participle, may end or open a clause whose comma the
        # tokens lost ("after a power cut, flies buzzing", "a moored trawler, gulls dozing")
        agent = before.isalpha() and before.endswith(_AGENT_ENDINGS)
        participle_next = after is not None and after.endswith(("ing", "ed"))  # "gulls dozing"
        return (
            agent
            and before not in english_words()
            and not participle_next
            and opened_by_one
            and plural_form
            and _s_verb(word)
        )
    # after "the", an -s word WordNet uses mostly as a verb, before a preposition or a
    # determiner, is the verb too ("the kakapo waddles across mossy ground"; "the farmers
    # market in the square" keeps its noun)
    the_verb = opened_by_the and verb_here and singular(word) in mostly_verbs()
    return (opened_by_one or the_verb) and plural_form and singular(word) != word


def _noun_like(word: str) -> bool:
    """A noun the tables know, or a word they do not know at all ("cooper"): what an -ing or
    -ed word after it does ("a cooper fitting iron hoops"), not what it modifies."""
    if word in _DETERMINERS or word.endswith(("ing", "ed")):
        return False
    spelled = word.replace("-", "").isalpha()  # "aye-ayes"
    return kind_of(word) is not None or (spelled and word not in english_words())


def _participle(word: str) -> bool:
    """Whether ``word`` has a participle's form: -ing, -ed, an irregular participle, or one with
    a prefix ("overgrown", "windblown", "heartbroken")."""
    if word.endswith("eed") and word[:-1] not in verbs():
        return False  # "speed", "tweed", "high-speed" ("agreed", "freed" are participles)
    if word.endswith(("ing", "ed")) or word in _PARTICIPLES:
        return True
    return any(word.endswith(p) for p in _LONG_PARTICIPLES if len(word) - len(p) >= 2)


def unknown_head(tokens: list[str]) -> str | None:
    """The head noun of the prompt's first noun phrase when no word of that phrase is a noun the
    tables know ("a parkourist leaping ..." -> ``parkourist``, "a sleeping sheepdog curled ..." ->
    ``sheepdog``), else ``None``. The phrase ends at a preposition or conjunction, or at a verb
    form (-ing, -ed, an irregular participle) or an adverb (-ly) after its first word, unless
    only participles came before it and it is a known noun ("a yellowed wedding gown" is a gown).
    """
    words = list(tokens)
    while words and words[0] in _DETERMINERS:
        words.pop(0)
    offset = len(tokens) - len(words)
    span: list[str] = []
    for k, word in enumerate(words):
        if span and _agrees_as_verb(tokens, offset + k):
            break  # "a cat sleeps on a sofa": the phrase ends at its verb
        # "mid-game", "mid-air": a state, like a participle ("a backgammon board mid-game")
        verb = word.endswith("ly") or _participle(word) or word.startswith("mid-")
        # after participles only ("a yellowed wedding gown"), a known noun in -ing/-ed goes on
        # with the phrase: the participles modified it
        modifiers_only = all(_participle(w) for w in span)
        following = words[k + 1] if k + 1 < len(words) else ""
        if verb and span and modifiers_only and kind_of(word):
            verb = False
        # after participles only, a gerund before a noun modifies it: "a rusted fishing trawler"
        if (
            verb
            and span
            and modifiers_only
            and word.endswith("ing")
            and following
            and following not in _PHRASE_ENDS
            and not _participle(following)
            and not following.endswith("ly")
        ):
            verb = False
        # a participle before a living thing's name names its kind: "a great crested newt", "a
        # red crowned crane" (set 40 read "great" as the subject)
        if verb and span and _names_a_kind(words, k):
            verb = False
        # an adjective after a noun no table knows stands after it ("a salaryman asleep", "a
        # matatu ablaze"): the noun ended the phrase
        last = span[-1] if span else ""
        if last and not (last in adjectives() or _participle(last)) and _postpositive(word):
            break
        if word in _PHRASE_ENDS or (span and verb):
            if span and modifiers_only and word not in _PHRASE_ENDS:
                return None  # "a rusted mooring post": participles, then no noun it can tell
            break
        span.append(word)
    if not span:
        return None
    # a person's or an animal's thing is the head ("a ventriloquist's dummy"); any other
    # possessor names a measure or a figure ("a stone's throw", "a hair's breadth")
    possessors = [w.removesuffix("'s") for w in span if w.endswith("'s")]
    if any(kind_of(p) not in ANIMATE_KINDS for p in possessors):
        return None
    if len(span) > 1 and span[-1] in _DEGREE_WORDS:
        span.pop()  # "a fulgurite half buried in sand": how far it is buried, not the head
    head = span[-1].removesuffix("'s")
    # the last word of an English noun phrase is its head: known nouns before an unknown one
    # modify it ("a top fuel dragster" is a dragster); an agent noun after a noun is read as a
    # person by the parser ("a basket weaver")
    if kind_of(head) or any(kind_of(w) for w in span if w.endswith("'s")):
        return None
    if len(span) > 1 and _agent_kind(head, span[-2].removesuffix("'s")):
        return None
    # a mood, time or weather word is no subject ("sad", "midnight", "stormy"), nor a common word
    # that is not a concrete noun ("empty", "dramatic") or a style word ("cinematic", "highly")
    spelled = head.replace("-", "").isalpha()  # "aye-ayes", "water-taxi"
    if len(head) < 3 or not spelled or head in attribute_lexicon() or phrase_facts(head):
        return None
    if head in _word_list("media"):  # "close-up of a bee": the bee
        return None
    if head in english_words() or head in adjectives() or head.endswith(_NOT_NOUN_ENDINGS):
        return None
    return head


def _postpositive(word: str) -> bool:
    """Whether ``word`` is an adjective and no noun: it cannot go on a noun phrase as its head
    or as a noun modifier."""
    return word in adjectives() and not kind_of(word) and singular(word) not in _wordnet_nouns()


def name_positions(text: str) -> frozenset[int]:
    """Positions, among ``text``'s words, of those written as proper names: capitalised inside
    a sentence ("a vintage Citroen", "a country road in Burgundy"). Capitals say nothing in a
    text whose content words are all capitalised (title case, capitals), at a sentence's or a
    line's start, after a comma (a list of tags: "a wolf howling, Cinematic lighting") or a
    number ("3 Dogs"), or in "I", "I'm", acronyms, months and days (``calendar`` in
    ``subjects.yaml``). :func:`_entities` decides what a name
    is."""
    matches = list(_WORD.finditer(text))
    content = [m for m in matches if m.group().lower() not in _FUNCTION_WORDS]
    if content and all(m.group()[0].isupper() for m in content):
        return frozenset()  # "A Fox and a Hound in the Snow"
    names = set()
    for i, match in enumerate(matches):
        word = match.group()
        if len(word) < 2 or not word[0].isupper() or word.lower() in _word_list("calendar"):
            continue  # lowercase, "I", or a month or a day ("in September")
        if word.isupper():  # an acronym: a name's first word only before a name ("VW Beetle")
            following = matches[i + 1].group() if i + 1 < len(matches) else ""
            if not (following[:1].isupper() and not following.isupper()):
                continue  # "NASA engineers", "a CV"
        if word.lower().startswith("i'"):
            continue  # "I'm", "I've"
        before = text[: match.start()].rstrip(" \t")
        if before and before[-1] not in _SENTENCE_OPENERS and not before[-1].isdigit():
            names.add(i)
    return frozenset(names)


#: what may stand before a sentence's, a line's, a quotation's or a tag's first word
_SENTENCE_OPENERS = frozenset(".!?:;,\"'\u201c\u2018([-\u2013\u2014*#>\n\u2022\u2026|")
#: words that title case may leave lowercase
_FUNCTION_WORDS = _DETERMINERS | _LOCATIVE | _JOINERS | frozenset("or of to for from as".split())


def _named(tokens: list[str], i: int, names: frozenset[int], kind: str | None) -> bool:
    """Whether the capitalised word at ``i`` (a position of ``names``) names something of no
    kind: anything but a living thing ("the Queen Mary", "in Champagne", "in Burgundy"), and a
    living thing when it ends a run of names that a word English does not have opens ("a
    Chevrolet Impala", "a Honda Monkey", "the Maasai Mara"). A single capitalised animal or
    person keeps its kind ("a Majestic Lion", "a Cat on a Sofa"), and so does the end of a run
    that an English word opens ("a Golden Retriever", "a Bald Eagle")."""
    if kind not in _LIVING_KINDS:
        return True
    start = i
    while start - 1 in names:
        start -= 1
    return start < i and tokens[start] not in english_words()


def _name_modifies(tokens: list[str], i: int, names: frozenset[int]) -> bool:
    """Whether the name at ``i`` modifies a noun that its phrase goes on to: a noun the tables
    know comes before any word that ends the phrase, a participle, a verb or another name
    ("a Venetian water-taxi driver shaking", "a Honda motorcycle"; not "a vintage Citroen
    parked", "Mary Ellen tossed by waves")."""
    for j in range(i + 1, min(len(tokens), i + 4)):
        word = tokens[j]
        if "-" in word and word.endswith("ed"):
            continue  # a compound adjective, no verb: "Faroese turf-roofed boathouses"
        if j in names or word in _PHRASE_ENDS or word in _DETERMINERS or _participle(word):
            return False
        if _agrees_as_verb(tokens, j) or word in body_parts():
            return False
        if _s_verb(word):
            return False  # "a dog called Rex chases rabbits": the name's verb
        if kind_of(word) is not None or (j > i + 1 and singular(word) in agent_nouns()):
            return True  # ("a Hmong batik maker": who makes batik)
        if j == i + 1 and _unknown_noun(word):
            return True  # a name before a noun no table knows styles it: "a Japanese salaryman"
    return False


def _noun_no_kind(word: str) -> bool:
    """Whether ``word`` is a noun to WordNet (``wordnet_words.tsv``'s nouns, which no other table
    reads as English) that no table gives a kind, in no verb form: "figurehead", "tahona"
    is none (WordNet lacks it)."""
    if not word.isalpha() or _participle(word) or word in _PHRASE_ENDS or word in _WHEN:
        return False
    if kind_of(word) is not None or word in adjectives() or word in verbs():
        return False
    if word in _word_list("hues"):
        return False  # a colour, after a comma the tokens do not show ("a skillet, brown eggs")
    stem = singular(word)
    # WordNet's noun, or a closed compound of two English words ("figurehead")
    return _wordnet_word_pos().get(stem) == "n" or (
        stem not in _all_english_words() and known_english(stem)
    )


@lru_cache(maxsize=1)
def _wordnet_word_pos() -> dict[str, str]:
    """``wordnet_words.tsv``: word -> its first part of speech."""
    return _tsv_pairs("wordnet_words.tsv")


def _unknown_noun(word: str) -> bool:
    """Whether ``word`` reads as a noun that no table knows: no English word (:func:`known_english`,
    "a Wardian case"), no verb or adjective, with no verb or adverb ending."""
    if len(word) < 3 or not word.replace("-", "").isalpha() or word.endswith(_NOT_NOUN_ENDINGS):
        return False
    if word in _PHRASE_ENDS or word in _DETERMINERS or word in _WHEN or known_english(word):
        return False
    return not (word in adjectives() or word in verbs() or _verb_form(word))


#: Conjunctions that open a clause of its own: its subject comes next, then its verb.
_SUBORDINATORS = frozenset(
    "as while whilst when whenever until till once because though although".split()
)


def _clause_verb(tokens: list[str], i: int) -> bool:
    """Whether ``tokens[i]`` is the verb of a clause that a conjunction opened: the word after
    that clause's subject, within four words of the conjunction, where the clause's next word
    (or its end) shows that no noun follows ("as mist lifts", "as snow falls outside", "as crows
    perch along its chimney", "while the kettle boils"). Such a word names nothing in the scene,
    though a noun of the same spelling would ("lifts", "falls", "perch"); "as sea lions bask"
    keeps its sea lions (a verb follows them)."""
    nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
    if nxt and nxt not in _CLAUSE_ENDS | _LOCATIVE | _DETERMINERS | _SUBORDINATORS:
        return False
    if i >= len(tokens) or i < 2 or not _subject_noun(tokens[i - 1]):
        return False  # "a once proud ship", "such as big cats": no subject before it
    for j in range(i - 1, max(i - 5, -1), -1):
        if tokens[j] in _SUBORDINATORS:
            between = tokens[j + 1 : i]
            if between[:1] in (["a"], ["an"]) or any(t.endswith(("ing", "ed")) for t in between):
                return False  # "dressed as a fairy princess", "while holding an umbrella"
            return any(t not in _DETERMINERS for t in between)
        if tokens[j] in _LOCATIVE or tokens[j] in _JOINERS:
            return False
    return False


def _subject_noun(word: str) -> bool:
    """Whether ``word`` can end a clause's subject: a noun of a known kind, or a word WordNet
    or the lexicon holds as a noun ("mist", "snow", "crows")."""
    return bool(kind_of(word) or kind_of(singular(word)) or singular(word) in _wordnet_nouns())


#: Words after a clause's verb that are no noun of its subject: place adverbs and conjunctions.
_CLAUSE_ENDS = frozenset(
    "overhead nearby outside inside below above ahead away down up out off about everywhere "
    "home and or but then again slowly".split()
)


@lru_cache(maxsize=8)
def _word_list(section: Literal["calendar", "regions", "media", "hues"]) -> frozenset[str]:
    """A space-separated word list of ``subjects.yaml``: ``calendar`` (months and days),
    ``regions`` (parts of a place: "rim", "floor"), ``media`` (what a picture is made as),
    ``hues`` (words that give a phrase a colour)."""
    return frozenset(curated_subjects().get(section, "").split())


def calendar_positions(text: str) -> frozenset[int]:
    """Positions, among ``text``'s words, of capitalised months and days ("in late March", "on
    a Sunday morning"): times, neither things nor places (a march or a may is lowercase)."""
    return frozenset(
        i
        for i, m in enumerate(_WORD.finditer(text))
        if m.group()[0].isupper() and m.group().lower() in _word_list("calendar")
    )


#: One-word states of the sky ("overcast", "sunny", "cloudless"): never a thing of the scene.
_SKY_WORDS = frozenset(
    key for fact in ("overcast", "clear", "sunny") for key in FACT_WORDS[fact] if " " not in key
)


def _break_positions(text: str) -> frozenset[int]:
    """Positions, among ``text``'s words, of those a comma or another mark ends: a noun there
    modifies nothing after it ("an old barn, lichen roof, morning fog")."""
    matches = list(_WORD.finditer(text))
    return frozenset(
        i
        for i, (this, nxt) in enumerate(itertools.pairwise(matches))
        if re.search(r"[,;:.!?()\u2013\u2014]", text[this.end() : nxt.start()])
    )


def _entities(
    tokens: list[str],
    names: frozenset[int] = frozenset(),
    times: frozenset[int] = frozenset(),
    breaks: frozenset[int] = frozenset(),
) -> tuple[list[SubjectEntity], list[SubjectEntity]]:
    """Subjects (who/what) and places (where), in prompt order. A word at a position of
    ``names`` (:func:`name_positions`) is a thing of no known kind, unless its kind is a place
    ("Bondi Beach") or it heads a known compound; one at a position of ``times``
    (:func:`calendar_positions`) is neither."""
    subjects: list[SubjectEntity] = []
    places: list[SubjectEntity] = []
    locative = False
    modifiers: list[str] = []
    compound: Kind | None = None  # the kind of a two-word noun whose first word came last
    skip_to = -1  # the last word of an "X of Y" subject read ahead
    part_of: int | None = None  # the "of" after a part of a place ("the rim of")
    # "In Paris, a cat ...", "Hovering off Bali, a sunfish ...": a name after a preposition
    # before the subject is where it is
    opens_with_where = bool(tokens) and (tokens[0] in _LOCATIVE or _participle(tokens[0]))
    framing = _framing(tokens)
    for i, token in enumerate(tokens):
        if i <= skip_to:
            continue
        head_of, compound = compound, None
        if i in times:
            continue  # "in late March": when, not what or where
        if token in _LOCATIVE:
            locative = True
            modifiers = []
            continue
        if token in _JOINERS:
            locative = False
            modifiers = []
            continue
        kind = None if token in body_parts() else kind_of(token)
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        before = tokens[i - 1] if i else ""
        if i < framing:
            continue  # "oil painting of", "close up of": how the picture is made, not what
        if token in _word_list("regions"):
            whole = next((k for w in tokens[i + 2 : i + 6] if (k := kind_of(w))), None)
            if nxt == "of" and (kind != "room" or whole == "landscape"):
                part_of = i + 1  # "the surface of a bay": the bay is the place (the floor of a
                modifiers = []  # hall is inside it)
                continue
            if kind_of(before) == "landscape" and before in modifiers:
                kind = "landscape"  # "the forest floor", "the sea floor": outdoors
        kind = _agent_kind(token, before) or kind
        if token in _SKY_WORDS:
            kind = None  # "on an overcast autumn day": the sky's state, not a thing in the scene
        if (
            _clause_verb(tokens, i)
            or _agrees_as_verb(tokens, i)
            or (i == skip_to + 1 and _count_verb(tokens, i))  # "a flock of sheep blocks"
        ):
            kind = None  # "as mist lifts", "as snow falls outside", "a cat naps on a radiator":
            # what happens, not a thing
        if i in names and kind not in PLACE_KINDS and _named(tokens, i, names, kind):
            if i + 1 not in names and _name_modifies(tokens, i, names):
                modifiers.append(token)  # "a Venetian water-taxi driver", "an African grey
                continue  # parrot": the noun after the name is the thing
            kind = "thing"  # "a vintage Jaguar" is a make of car, not an animal ("Bondi Beach"
            # is still a beach)
        partitive = _of_head(tokens, i, kind, names) if not subjects and not places else None
        if partitive is not None:
            # "a pair of fennec foxes", "a line of ducklings", "strips of shark meat": the
            # first noun counts or shapes what follows "of", which is what the scene shows
            inner = tokens[partitive]
            subjects.append(
                SubjectEntity(
                    noun=f"{token} of {inner}",
                    kind=kind_of(inner) or kind or "thing",  # (a team of smokejumpers)
                    plural=token in _CONTAINERS or singular(inner) != inner,
                    modifiers=[
                        *modifiers,
                        *(w for w in tokens[i + 2 : partitive] if w not in _DETERMINERS),
                    ],
                )
            )
            modifiers, skip_to = [], partitive
            continue
        if _absent(tokens, i):
            kind = None  # "a suburb with no customers": no one to give tears to
        elif (
            _verb_form(token)
            and kind_of(before)
            and nxt in _LOCATIVE | _JOINERS
            and kind not in _NOUN_KINDS_OF_ING
        ):
            kind = None  # "an orchard humming with doves": what the orchard does, not a thing
        if head_of is not None:
            kind = head_of  # the head of "an organ grinder": a person, whatever a grinder is
        elif nxt and f"{token} {singular(nxt.removesuffix(POSSESSIVE))}" in _compound_nouns():
            # this word modifies its head, next ("a window cleaner's cradle" too)
            compound = kind_of(f"{token} {singular(nxt.removesuffix(POSSESSIVE))}")
            modifiers.append(token)
            continue
        if kind and _verb_after_subject(token, i, tokens, subjects):
            kind = None  # "a hyena gnawing a ribcage": what the hyena does, not a thing
        if locative and (token in _WHEN or (kind == "fire" and tokens[i - 1] == "on")):
            continue  # "at night", "on fire": when and how, read as facts, not a place or a thing
        # a noun used as a modifier ("a fishing boat", "a bus stop"): the next noun is the head
        # "a hyena gnawing a ribcage": gnawing is no head noun
        acts = _does(kind, nxt, tokens[i + 2] if i + 2 < len(tokens) else "")
        # ... and so is a noun before a possessive: "a coal miner's widow" is a widow
        owner = nxt.removesuffix("'s")
        head = kind_of(owner) or _agent_kind(owner, token)
        # ... and so is a noun before a noun no table knows that goes on to a known one: "a ship
        # figurehead carver" is a carver (set 49 got "the ship covered in polka-dot stickers")
        after_next = tokens[i + 2] if i + 2 < len(tokens) else ""
        # (English noun modifiers are singular: "dogs chase cats" is no compound)
        chained = not {i, i + 1} & breaks
        if not head and after_next and chained and kind_of(token) and singular(token) == token:
            if _noun_no_kind(nxt):
                head = kind_of(after_next) or _agent_kind(after_next, nxt)
            elif (
                nxt in verbs()
                and not (_s_verb(nxt) or _participle(nxt) or nxt in _PHRASE_ENDS)
                # (not a word of the curated lists, which a comma the tokens do not show may
                # stand before: "a skillet, brown eggs", "a cemetery, full moon")
                and nxt not in english_words()
            ):
                # a verb's base form after a singular noun with no determiner is a noun, before
                # a thing: "a duck tour bus" (set 50 gave the bus feathers); not before a living
                # thing ("a shepherd and her collie drive sheep"), but before one agent noun ("a
                # candy floss seller": set 69 gave "the candy" the framing)
                # ... after "a" or "an" ("sheep graze meadow grass" is a clause)
                thing = kind_of(after_next)
                article = {"a", "an"} & set(tokens[max(0, i - 2) : i])
                living = thing is None or (thing in ANIMATE_KINDS and not _verb_agent(after_next))
                head = thing if article and not living else None
        # (a name before an -ing word is what does it: "a Boeing 747 landing"; a name before a
        # name is one name: "a Great Dane")
        named_doer = i in names and nxt.endswith("ing")
        if i in names and i + 1 in names:
            modifiers.append(token)
            continue
        if (
            kind
            and nxt
            and head
            and i not in breaks  # "a brewery loft, dust in the sunbeams": the loft is the head
            and nxt not in _LOCATIVE
            and not acts
            and not named_doer
            and not _clause_verb(tokens, i + 1)  # "as crows perch along": crows, no modifier
            and not _agrees_as_verb(tokens, i + 1)  # "a cat naps on": the cat, no modifier
        ):
            modifiers.append(token)
            continue
        if kind is None:
            if token not in {
                "a",
                "an",
                "the",
                "of",
                "two",
                "three",
                "some",
                "many",
                "his",
                "her",
                "their",
                "its",
            }:
                modifiers.append(token)
            continue
        if (
            kind in PLACE_KINDS
            and nxt == "of"
            and i + 2 < len(tokens)
            and not subjects
            and kind_of(tokens[i + 2])
        ):
            # "a field of grass", "a room of mirrors": the place is the subject
            subjects.append(
                SubjectEntity(
                    noun=f"{token} of {tokens[i + 2]}",
                    kind=kind,
                    modifiers=modifiers,
                )
            )
            modifiers = []
            continue
        if token in _CONTAINERS and nxt == "of" and i + 2 < len(tokens):
            last = _last_noun(tokens, i + 2)  # "a stack of blueberry pancakes": pancakes
            inner = tokens[last]
            inner_kind = kind_of(inner)
            if inner_kind and inner_kind not in PLACE_KINDS:
                entity = SubjectEntity(
                    noun=f"{token} of {inner}",
                    kind=inner_kind,
                    plural=True,
                    modifiers=[*modifiers, *tokens[i + 2 : last]],
                )
                subjects.append(entity)
                modifiers, skip_to = [], last
                continue
        plural = singular(token) != token or token in {"people", "crowd", "family", "couple"}
        entity = SubjectEntity(
            noun=token,
            kind=kind,
            plural=plural,
            modifiers=modifiers,
        )
        modifiers = []
        if (
            kind in PLACE_KINDS
            or (
                locative
                and (kind in {"building", "object", "plant"} or i in names)
                and (subjects or opens_with_where or (places and i in names))  # ("a canal
                # in Venice": where the canal is)
            )
            or (locative and part_of is not None and i <= part_of + 4)  # "below the surface
        ):  # of the Atlantic"; (a name where something is, is a place: "a road in Burgundy")
            places.append(entity)
        elif any(s.noun.endswith(f" of {token}") for s in subjects):
            continue
        else:
            subjects.append(entity)
    return subjects[:4], places


def _last_noun(tokens: list[str], start: int) -> int:
    """Where the noun phrase that begins at ``start`` ends: its last known noun before a word
    that ends phrases or a verb ("blueberry pancakes with syrup": ``pancakes``); ``start`` when
    none is known."""
    last = start
    for j in range(start, min(len(tokens), start + 5)):
        word = tokens[j]
        verb = _participle(word) or _agrees_as_verb(tokens, j) or _count_verb(tokens, j)
        if word in _PHRASE_ENDS or (j > start and verb):
            break  # ("a tray of eclairs flies across": the tray's verb)
        if word in _word_list("media"):
            break  # a style word is no noun of the phrase ("a bowl of soup, food photography")
        if kind_of(word) is not None:
            last = j
        elif word not in _DETERMINERS and not (
            j + 1 < len(tokens) and kind_of(tokens[j + 1]) is not None
        ):
            break  # a word no table knows ends it, unless a noun follows ("hot soup")
    return last


@lru_cache(maxsize=1)
def _media_pairs() -> frozenset[str]:
    """Two-word names of what a picture is made as (``media_pairs``: "close up", "still life")."""
    return frozenset(curated_subjects().get("media_pairs", []))


def _framing(tokens: list[str]) -> int:
    """How many words the opening frame of the picture takes, "of" included: "watercolor of",
    "an oil painting of", "extreme close up of", "aerial view of", "a macro shot of" (a media
    word or pair just before an "of" among the first six words); 0 when it opens with
    no frame. Only the opening: "a child drawing a picture of a horse" draws a real picture."""
    media = _word_list("media")
    for k, word in enumerate(tokens[:6]):
        if word != "of" or not k:
            continue
        before = tokens[k - 1]
        framed = before in media or " ".join(tokens[max(0, k - 2) : k]) in _media_pairs()
        # what comes first only styles the frame ("a pencil sketch of", "black and white photo
        # of", "studio lighting portrait of"): no living thing and no verb ("a child drawing a
        # picture of a horse", "a crumpled photo of a soldier")
        # (a living thing right before the medium names its style or theme: "impressionist
        # painting of", "wildlife photo of")
        styled = not any(
            (kind_of(w) in ANIMATE_KINDS and i < k - 2) or (_participle(w) and w not in media)
            for i, w in enumerate(tokens[: k - 1])
        )
        return k + 1 if framed and styled else 0
    return 0


def _count_verb(tokens: list[str], j: int) -> bool:
    """Whether the -s word at ``j``, after a count's noun, is the count's verb: a verb that a
    plural noun before it ("a crowd of protesters marches"), or a determiner or a preposition
    after it ("a flock of sheep blocks a road", "a cup of coffee steams beside a laptop"),
    shows is no second noun. ("A plate of fish cakes on a table" is read as a plate of fish.)"""
    if j < 1:
        return False
    word, before = tokens[j], tokens[j - 1]
    after = tokens[j + 1] if j + 1 < len(tokens) else ""
    if singular(before) != before and word.isalpha() and word.endswith("s"):
        # after the count's plural members, any -s word is the count's verb, a verb WordNet
        # uses mostly as a noun too ("a team of firefighters battles a blaze"): English noun
        # modifiers are singular, so no plural noun goes on the phrase
        stem = singular(word)
        return stem != word and (stem in verbs() or kind_of(stem) is not None)
    if not _s_verb(word):
        return False
    return after in _DETERMINERS or after in _PHRASE_ENDS


def _names_a_kind(tokens: list[str], j: int) -> bool:
    """Whether the -ed word at ``j`` is part of the name of the living thing after it ("a great
    crested newt", "a pair of great crested grebes", "a red crowned crane"), not a verb."""
    following = tokens[j + 1] if j + 1 < len(tokens) else ""
    return tokens[j].endswith("ed") and kind_of(following) in ANIMATE_KINDS


def _of_head(
    tokens: list[str], i: int, kind: Kind | None, names: frozenset[int] = frozenset()
) -> int | None:
    """Where the head of the noun phrase after "of" is, when ``tokens[i]``, the noun that opens
    the scene, counts, shapes or groups it ("a pair of fennec foxes napping": ``foxes``), and
    is not a place or a building ("a field of grass", "a greenhouse of vines"), a living thing
    ("a mother of twins"), a part ("the neck of a bottle") or a depiction ("a statue of a
    horse"). The phrase ends at a word that ends phrases, an -ing word after a noun, or a verb;
    its head is its last noun, which no capital makes a name ("the hull of the Queen Mary")."""
    if i + 2 >= len(tokens) or tokens[i + 1] != "of" or i in names:
        return None  # (a name with "of" is one name: "a Day of the Dead altar")
    if _agrees_as_verb(tokens, i) or _clause_verb(tokens, i):
        return None
    token = tokens[i]
    if any(w in _PHRASE_ENDS or w not in _DETERMINERS and _participle(w) for w in tokens[:i]):
        return None  # not the opening phrase ("a smokejumper leaping from the door of a plane")
    if token in _DETERMINERS or len(token) < 3 or not token.isalpha() or token in body_parts():
        return None
    if token not in counts() and singular(token) not in counts():
        return None  # "the wheel of a bicycle", "the corpse of a soldier": the wheel, the corpse
    depictions = curated_subjects()["lifeless"]["depictions"]
    if kind in PLACE_KINDS | (ANIMATE_KINDS - {"group"}) or token in depictions:
        return None
    head = None
    for j in range(i + 2, min(len(tokens), i + 8)):
        word = tokens[j]
        if word in _PHRASE_ENDS:
            break
        if head is not None and _participle(word) and not _names_a_kind(tokens, j):
            break  # (a participle before a living thing names its kind: "great crested grebes")
        if j > i + 2 and (_agrees_as_verb(tokens, j) or _count_verb(tokens, j)):
            break  # "a crowd of protesters marches down a street": the count's verb
        if word in _DETERMINERS or _participle(word) or word.endswith("ly") or j in names:
            continue
        if kind_of(word) is not None or (_noun_like(word) and word not in adjectives()):
            head = j  # ("a team of firefighters": a noun no table knows is still the head)
    if head is None or head in names or kind_of(tokens[head]) in PLACE_KINDS:
        return None
    if kind == "group" and kind_of(tokens[head]) not in ANIMATE_KINDS:
        return None  # "the crew of a cargo ship" are people, not a ship
    if kind == "building" and kind_of(tokens[head]) not in ANIMATE_KINDS - {"person", "group"}:
        return None  # a building counts animals only: "a school of silver sardines", not "a
        # school of children" or "a house of cards"
    return head


@lru_cache(maxsize=1024)
def noun_heads(text: str) -> frozenset[str]:
    """The head nouns of the scene's subjects and places, singular: "a hot dog stand" has a
    stand, not a dog; "a rocket salad", a salad."""
    text = text.replace("\u2019", "'")
    tokens = [t.lower() for t in _WORD.findall(text)]
    subjects, places = _entities(tokens, name_positions(text), calendar_positions(text))
    return frozenset(singular(e.noun.split()[-1]) for e in [*subjects, *places])


def _verb_after_subject(
    token: str, i: int, tokens: list[str], subjects: list[SubjectEntity]
) -> bool:
    """Whether ``token`` is an -ing verb right after a subject that can act (an animal, a
    person, a vehicle): "a mahout bathing an elephant", "a truck soaring over cars"."""
    after = tokens[i + 1] if i + 1 < len(tokens) else ""
    return i > 0 and any(
        _does(s.kind, token, after) and tokens[i - 1] in (s.noun, s.noun + "s") for s in subjects
    )


def _does(kind: str | None, word: str, after: str = "") -> bool:
    """Whether ``word`` after a noun of ``kind`` is what it does: an -ing word after something
    that can act, unless it is a noun of its own kind ("a baby duckling", "a family wedding",
    "a police building") that no object, manner or place follows: what a determiner, an -ly
    adverb or a preposition follows is a verb ("two kids building a snow fort", "a couple dancing
    slowly")."""
    if kind not in ANIMATE_KINDS | {"vehicle"} or not word.endswith("ing"):
        return False
    # ... or a preposition: "a hummingbird drinking from a flower", "a groom dancing under
    # lanterns" (in the 1,270 labelled scenes, no living thing's -ing noun is followed by one)
    verb_next = (
        after in _DETERMINERS
        or _adverb(after)
        or (after in _LOCATIVE | _MOTION_WORDS and _verb_form(word))  # (not "a baby duckling
    )  # in a pond", "a chicken dumpling on a plate", "a family wedding in a barn")
    return kind_of(word) in (None, "object") or verb_next


def _lifeless(entity: SubjectEntity, tokens: list[str]) -> SubjectEntity:
    """An animal or person the prompt makes dead or a depiction is a thing (``lifeless`` in
    ``subjects.yaml``): rotting eels pull no faces, carousel horses droop no ears."""
    if entity.kind not in ANIMATE_KINDS:
        return entity
    words = curated_subjects().get("lifeless", {})
    depicted = False
    if entity.noun in tokens:  # "a bronze statue of a (rearing) horse"
        i = tokens.index(entity.noun)
        before = tokens[max(0, i - 5) : i]
        if "of" in before:
            j = len(before) - 1 - before[::-1].index("of")
            depicted = j > 0 and before[j - 1] in words["depictions"]
    # a material word makes an animal a thing ("rusting carousel horses"), but a person's is
    # part of a job title ("a plastic surgeon", "a bronze medalist", "a fossil hunter")
    # (not in an animal's own name: "a stone curlew", "a paper wasp", wordnet_compounds.tsv)
    made = entity.kind not in {"person", "group"} and any(
        m in words["modifiers"] and kind_of(f"{m} {singular(entity.noun)}") not in ANIMATE_KINDS
        for m in entity.modifiers
    )
    if depicted or made:
        return entity.model_copy(update={"kind": "object"})
    return entity


#: Words that may stand between an action and the thing it works on.
_OBJECT_GAP = 3
#: Words after an action that say where or whither, not what it works on ("walking to the bus",
#: "staring out the window"); "down" and "up" are left out: "pulling down the shutters".
_NOT_WORKED = _LOCATIVE | frozenset("to toward towards from out off at for with".split())


def _handled(
    entities: list[SubjectEntity], tokens: list[str], actions: list[str]
) -> list[SubjectEntity]:
    """``entities`` with the things an action of the subject works on marked ``handled``: the
    first lifeless entity within a few words after the action ("a glassblower shaping molten
    glass", "a milliner pulling down the shutters of her shop"; not "a fox asleep in a barn")."""
    marked = list(entities)
    for action in actions:
        if action not in tokens or action in ASLEEP_WORDS:
            continue
        start = tokens.index(action) + 1
        ahead = tokens[start : start + _OBJECT_GAP + 1]
        if any(word in _NOT_WORKED for word in ahead[:1]):
            continue  # "a cat sleeping on a rug", "a girl walking to the bus": where, not what
        for n, entity in enumerate(marked):
            if n == 0 or entity.kind in ANIMATE_KINDS | PLACE_KINDS or entity.implied:
                continue
            head = entity.noun.split()[-1]
            if head in ahead and not set(ahead[: ahead.index(head)]) & _NOT_WORKED:
                marked[n] = entity.model_copy(update={"handled": True})
                break
    return marked


def _with_participants(entities: list[SubjectEntity]) -> list[SubjectEntity]:
    """``entities`` plus the people of an event when the prompt names no one and the event is
    what the prompt shows ("a funeral" -> the mourners), so that postures and expressions get
    an owner who can show them. An event that only places or dates another subject brings no
    one: "a ventriloquist's dummy on a stool after the show" has no performers in it."""
    if not entities or any(e.kind in {"person", "group"} for e in entities):
        return entities
    event = entities[0] if entities[0].kind == "event" else None
    if event is None:
        return entities
    participants = curated_subjects().get("participants", {})
    head = event.noun.split()[-1]
    noun = participants.get(head) or participants.get(singular(head)) or "people"
    return [*entities, SubjectEntity(noun=noun, kind="group", plural=True, implied=True)]


def _actions(tokens: list[str], entities: list[SubjectEntity], text: str = "") -> list[str]:
    """Stated actions of animate subjects (``chewing``, ``reading``, ``asleep``), and of a
    vehicle the verb follows ("a monster truck soaring over crushed cars")."""
    lowered = text.lower()

    def right_after(i: int, nouns: set[str]) -> bool:
        """``tokens[i]`` follows one of ``nouns`` in the text with no comma between ("a cat,
        enchanting lighting" is a style, "a pelican stealing" an action)."""
        return (
            i > 0
            and tokens[i - 1] in nouns
            and (not lowered or re.search(rf"\b{tokens[i - 1]}\s+{tokens[i]}\b", lowered))
            is not None
        )

    if not any(e.kind in ANIMATE_KINDS for e in entities):
        movers = {w for e in entities if e.kind == "vehicle" for w in (e.noun, e.noun + "s")}
        return [
            token
            for i, token in enumerate(tokens)
            if right_after(i, movers)
            and token.endswith("ing")
            and len(token) > 5
            and token not in _NOT_ACTIONS
            and kind_of(token) in (None, "object")
        ]
    expressions = expression_words()
    # right after an animate subject, an emotion-laden -ing word is what it does ("a pelican
    # stealing a sandwich", "camels thundering down a track"), not a mood ("a terrifying storm")
    animate = {w for e in entities if e.kind in ANIMATE_KINDS for w in (e.noun, e.noun + "s")}
    # a count's members end its phrase: "a crew of road workers pours asphalt"
    members = {e.noun.split()[-1] for e in entities if e.kind in ANIMATE_KINDS and " of " in e.noun}
    found = []
    for i, token in enumerate(tokens):
        after = right_after(i, animate)
        if _sleep_word(token, tokens[i - 1] if i else ""):
            found.append(token)
        elif i and tokens[i - 1] in animate and _agrees_as_verb(tokens, i):
            found.append(token)  # the present tense: "a baker slides trays into the oven"
        elif i and tokens[i - 1] in members and _count_verb(tokens, i):
            found.append(token)  # "a team of firefighters battles a blaze"
        elif (
            i
            and tokens[i - 1] in _SUBJECT_PRONOUNS
            and (token in verbs() or singular(token) in verbs())
            and token not in _NOT_ACTIONS
            and token not in _AUXILIARIES
            and singular(token) not in _STILL_VERBS
            and token not in postures()
        ):
            found.append(token)  # a pronoun's verb: "two women laughing as they thresh barley"
        elif (
            after
            and token.endswith("ing")
            and i + 1 < len(tokens)
            # ... or a noun with no determiner: "a harpsichord maker painting flowers" (set 48
            # gave the busy maker "head resting on folded arms, eyes closed")
            and (tokens[i + 1] in _DETERMINERS or _bare_object(tokens, i + 1))
            and token not in expressions
            and _ing_of_a_verb(token)
            and kind_of(token) != "event"  # "a family wedding this summer", "a team meeting"
            and token not in _WHEN
        ):
            # what a determiner follows is a verb, whatever noun the -ing word also is: "a
            # bricklayer building a curved garden wall", "a man painting a fence" (set 36)
            found.append(token)
        elif (
            token.endswith("ing")
            # a short -ing word is a verb's only right after its subject ("a woman tying
            # vines"; not "a thing", "a swing")
            and (len(token) > 5 or (after and _ing_of_a_verb(token) and token not in postures()))
            and token not in expressions
            and (kind_of(token) is None or (after and kind_of(token) == "object"))
            and (token not in attribute_lexicon() or after)
            and token not in _NOT_ACTIONS
        ):
            found.append(token)
    return found


def _bare_object(tokens: list[str], j: int) -> bool:
    """Whether ``tokens[j]`` opens a noun phrase with no determiner that a verb before it takes
    as its object: a noun the tables know, not a preposition, a time or a verb form ("painting
    flowers", "mending fishing nets"; not "painting at dawn")."""
    word = tokens[j]
    if word in _PHRASE_ENDS or word in _WHEN or word.endswith("ly"):
        return False
    return kind_of(word) is not None and not _agrees_as_verb(tokens, j)


def _ing_of_a_verb(word: str) -> bool:
    """Whether an -ing word is a form of a verb of :func:`verbs`, whatever noun it also is
    ("building", "painting", "doing"; not "during")."""
    return any(w in verbs() for w in _ing_stems(word))


#: Subject pronouns: the verb that follows one is what a living subject of the scene does ("we"
#: is the viewer: "a cat on a wall while we drive past").
_SUBJECT_PRONOUNS = frozenset("he she they".split())
#: Verbs of staying still, seeming or being seen: after a pronoun they state no activity ("as he
#: waits for the tide", "where she rests", "as they look on"). Postures are ``postures()``.
_STILL_VERBS = frozenset("wait rest seem look feel appear remain stay watch gaze stare".split())
#: A verb's helpers: what follows them is the action ("they are dancing": the -ing word).
_AUXILIARIES = frozenset(
    "am is are was were be been have has had do does did can could will would shall should may "
    "might must".split()
)

#: -ing words that are no action of the subject.
_NOT_ACTIONS = frozenset(
    {
        "something",
        "nothing",
        "everything",
        "evening",
        "morning",
        "during",
        "ceiling",
        "building",
        "wedding",
        "painting",
        "king",
        "spring",
        "string",
        "thing",
        "ring",
        "swing",
        "wing",
        "lightning",
        # a verb's helpers and a state, not an activity ("a child being bathed", "dying")
        "being",
        "having",
        "dying",
    }
)


def _own_words(entity: SubjectEntity) -> set[str]:
    """The words that name ``entity`` right before its verb ("attendant", "fishermen")."""
    last = entity.noun.split()[-1]
    return {last, entity.noun + "s"}


def ing_form(token: str) -> str | None:
    """The -ing expression word of a finite verb: "cries" -> "crying", "laughs" and "laugh" ->
    "laughing", "smiles" -> "smiling", "sobs" -> "sobbing"; ``None`` for no expression."""
    if len(token) < 3 or token.endswith("ing") or token in _FUNCTION_WORDS:
        return None  # (not "his", which "hissing" could come from)
    bases = {token, token[:-1] if token.endswith("s") else token}
    if token.endswith("ies"):
        bases.add(token[:-3] + "y")
    elif token.endswith("es"):
        bases.add(token[:-2])
    forms = _expression_bases()
    return next((forms[b] for b in sorted(bases) if b in forms), None)


@lru_cache(maxsize=1)
def _expression_bases() -> dict[str, str]:
    """The verb each -ing expression word comes from (:func:`_ing_stems`) -> that word."""
    ing = [word for word in expression_words() if word.endswith("ing")]
    return {stem: word for word in ing for stem in _ing_stems(word)}


def _attributes(
    tokens: list[str], entities: list[SubjectEntity], lowered: str = ""
) -> list[EmotionalAttribute]:
    from emotion_director.emotions import _SYNONYMS, EMOTION_WORDS

    nouns = {e.noun for e in entities} | {w for e in entities for w in e.noun.split()}
    lexicon = attribute_lexicon()
    expressions = expression_words()
    out: list[EmotionalAttribute] = []
    living = {w: e.noun for e in entities if e.kind in ANIMATE_KINDS for w in _own_words(e)}
    for token in dict.fromkeys(tokens):
        at = tokens.index(token)
        before = tokens[at - 1] if at else ""
        # right after the subject's name in the text, no comma between ("a girl hugging her
        # puppy, smiling" is the girl's smile, not the puppy's)
        subject = (
            living.get(before)
            if before and re.search(rf"\b{re.escape(before)}\s+{re.escape(token)}\b", lowered)
            else None
        )
        # an expression as a finite verb right after its subject: "a baby cries", "fishermen
        # laugh" (as "crying", "laughing")
        form = token if token in expressions else ing_form(token) if subject else None
        if form not in expressions and (
            token in nouns or kind_of(token) is not None and token not in expressions
        ):
            continue
        owner = next((e.noun for e in entities if token in e.modifiers), None)
        if form in expressions:
            # right after a living subject, an expression is its own ("a couchette attendant
            # yawning as she folds grey blankets": not the blankets', set 65)
            out.append(
                EmotionalAttribute(
                    word=token,
                    emotions=list(expressions[form]),
                    expression=True,
                    owner=subject or owner,
                )
            )
        elif token in EMOTION_WORDS:
            category = _SYNONYMS.get(token)
            out.append(
                EmotionalAttribute(
                    word=token, emotions=[category.value] if category else [], owner=owner
                )
            )
        elif token in lexicon:
            out.append(EmotionalAttribute(word=token, emotions=list(lexicon[token]), owner=owner))
    return out


def scene_facts(text: str) -> frozenset[str]:
    """Shorthand: the facts of ``parse_scene(text)``."""
    return parse_scene(text).facts


# ---------------------------------------------------------------------------------------------
# Fitting the subject to the target emotion

#: How an expression is recast toward each target: (for people, for animals).
RECAST: dict[str, tuple[str, str]] = {
    "amusement": ("giggling", "romping"),
    "awe": ("wide-eyed", "wide-eyed"),
    "contentment": ("smiling", "drowsy"),
    "excitement": ("cheering", "bounding"),
    "anger": ("scowling", "snarling"),
    "disgust": ("grimacing", "recoiling"),
    "fear": ("trembling", "cowering"),
    "sadness": ("weeping", "whimpering"),
}
POSITIVE = frozenset({"amusement", "awe", "contentment", "excitement"})
#: Estimated CLIP tokens the subject may keep, so concepts still fit in the 77-token window.
SUBJECT_TOKEN_BUDGET = 40


class SceneAdjustment(BaseModel):
    """What was changed in the user's prompt to fit the target emotion, and why."""

    model_config = ConfigDict(frozen=True)

    action: Literal["recast", "negative", "condensed"]
    text: str = Field(description="the words of the prompt concerned")
    replacement: str | None = Field(default=None, description="what they became (recast)")
    reason: str


def conflicts_with_target(attribute: EmotionalAttribute, target: str) -> bool:
    """Whether an attribute of the subject fights the target emotion."""
    if not attribute.emotions or target in attribute.emotions:
        return False
    if attribute.expression:
        return True
    from emotion_director.emotions import EMOTION_WORDS

    if attribute.word in EMOTION_WORDS:
        return True
    descriptive = set(curated_subjects().get("descriptive", []))
    if attribute.word in descriptive:
        return False
    # a curated dramatic state ("burning", "collapsing") still fights a positive target
    if attribute.word not in _curated_states() and _describes_the_scene(attribute.word):
        return False
    # a lexicon word only counts when all its emotions sit on the other side of valence
    return all((e in POSITIVE) != (target in POSITIVE) for e in attribute.emotions)


def stated_expression(scene: SceneModel, owner: SubjectEntity | None) -> EmotionalAttribute | None:
    """The expression the scene states of ``owner`` ("laughing", "sulking", "yawning", "cries"),
    all its expressions' feelings together ("a tearful, smiling bride"), or ``None``: the
    subject's face is the user's (see :meth:`~emotion_director.knowledge.concept_graph.
    VisualConcept.face_conflict`). An expression that names no owner is the first living
    subject's ("fishermen laughing"); one of a subject joined to ``owner`` by "and" is theirs
    too ("a man and a woman laughing")."""
    if owner is None or owner.kind not in ANIMATE_KINDS:
        return None
    first = next((e for e in scene.entities if e.kind in ANIMATE_KINDS), None)
    name = re.escape(owner.noun.split()[-1])
    lowered = scene.text.lower()

    def joined(noun: str) -> bool:
        other = re.escape(noun.split()[-1])
        return (
            re.search(rf"\b{name}\s+(?:and|&)\s+(?:[a-z'-]+\s+){{0,3}}{other}\b", lowered)
            is not None
        )

    own = [
        a
        for a in scene.attributes
        if a.expression
        and (
            a.owner == owner.noun
            or (a.owner is None and owner is first)
            or (a.owner is not None and joined(a.owner))
        )
    ]
    if not own:
        return None
    feelings = list(dict.fromkeys(e for a in own for e in a.emotions))
    return own[0].model_copy(update={"emotions": feelings})


#: Concreteness (1-5) from which a modifier shows what is there rather than a feeling.
CONCRETE_MIN = 3.5


def _describes_the_scene(word: str) -> bool:
    """Whether a modifier of the prompt says what the scene is like, not how to feel about it:
    it shows a thing ("muddy", "frozen", "dusty": concrete) or states a fact of the setting
    ("scorching": hot; "deserted": no one there). Such a word stays in the subject whatever
    emotion it carries: "a muddy cliff road" is muddy for excitement too."""
    lowered = word.lower()
    return (
        attribute_concreteness().get(lowered, 0.0) >= CONCRETE_MIN
        or lowered in _EMPTY
        or bool(phrase_facts(lowered) - BODY_FACTS)
    )


def _is_stated_action(word: str, scene: SceneModel, text: str) -> bool:
    """Whether ``word`` is a verb the prompt states of one of its subjects: an ``-ing`` form
    right after a subject's noun ("a child flying a kite", "birds flying south"), not an emotion
    word ("a rotting apple", "firefighters at a burning house" describe a thing). Removing such
    a word would change what happens in the scene and leave a broken sentence ("a child a
    kite")."""
    from emotion_director.emotions import emotion_words_in

    lowered = word.lower()
    if not lowered.endswith("ing") or emotion_words_in(lowered):
        return False
    at = re.search(rf"\b{re.escape(lowered)}\b", text.lower())
    if at is None:
        return False
    previous = re.findall(r"[a-z]+", text.lower()[: at.start()])[-1:]
    # a subject's noun, or its last word ("a wide pan of paella simmering")
    nouns = {n for e in scene.entities if e.noun for n in (e.noun.lower(), e.noun.split()[-1])}
    return bool(previous) and (previous[0] in nouns or previous[0].rstrip("s") in nouns)


#: Adverbs in -s, which are no plural object ("crying always", "laughing indoors").
_S_ADVERBS = frozenset(
    "always sometimes afterwards indoors outdoors upstairs downstairs backwards forwards "
    "towards besides nowadays perhaps sideways overseas".split()
)


def _takes_an_object(word: str, scene: SceneModel, text: str) -> bool:
    """Whether ``word`` is a subject's verb used with an object in ``text``: it follows one of
    the scene's subjects (:func:`_is_stated_action`), and the next word opens a noun phrase (a
    determiner: "a man yelling a warning") or is a plural ("an auctioneer shouting bids"). Not
    "a woman shouting at a taxi", "a child sobbing quietly", "a child crying alone", "a sobbing
    toddler": those are still recast. A recast would leave an object hanging: "an auctioneer
    smiling bids"."""
    if not _is_stated_action(word, scene, text):
        return False
    lowered = word.lower()
    match = re.search(rf"\b{re.escape(lowered)}\b\s+([a-z][a-z'-]*)", text.lower())
    if match is None:
        return False
    following = match.group(1)
    if following in _DETERMINERS:
        return True
    return (
        following.endswith("s")
        and not following.endswith(("ss", "us", "ly"))
        and following not in _S_ADVERBS
        and following not in _FUNCTION_WORDS
        and following not in _LOCATIVE
    )


def fit_subject(
    scene: SceneModel,
    subject: str,
    target: str,
    *,
    token_budget: int = SUBJECT_TOKEN_BUDGET,
    recast: bool = False,
) -> tuple[str, list[SceneAdjustment], list[str]]:
    """The subject text fitted to ``target``: other conflicting attributes moved to the negative
    prompt, long prompts condensed; with ``recast``, conflicting expressions recast too.

    An expression is the subject's own state as the user wrote it: by default it stays, and the
    concept graph draws no face of another feeling on the subject (:meth:`~emotion_director.
    knowledge.concept_graph.VisualConcept.face_conflict`); blind readers called every recast they
    saw a clash with the scene (19 of 19, sets 1-64: "fishermen laughing" made "fishermen
    scowling").

    Returns the new subject, what was done (for the trace) and the terms for the negative prompt.

    Example:
        >>> scene = parse_scene("a sobbing toddler")
        >>> fit_subject(scene, "a sobbing toddler", "amusement")[0]
        'a sobbing toddler'
        >>> fit_subject(scene, "a sobbing toddler", "amusement", recast=True)[0]
        'a giggling toddler'
    """
    from emotion_director.clip_bpe import estimate_clip_tokens

    adjustments: list[SceneAdjustment] = []
    negatives: list[str] = []
    text = subject
    if not scene.english:
        return text, adjustments, negatives
    for attribute in scene.attributes:
        if not conflicts_with_target(attribute, target):
            continue
        if attribute.word in scene.actions:
            continue  # what the subject is doing ("a night porter dozing"), not a mood to recast
        pattern = re.compile(rf"\b{re.escape(attribute.word)}\b", re.IGNORECASE)
        if not pattern.search(text):
            continue
        owner = next((e for e in scene.entities if e.noun == attribute.owner), None) or next(
            (e for e in scene.entities if e.kind in ANIMATE_KINDS), None
        )
        shown = "/".join(attribute.emotions)
        if attribute.expression and _takes_an_object(attribute.word, scene, text):
            continue  # "an auctioneer shouting bids": what the subject does ("smiling bids")
        if attribute.expression and owner is not None and owner.kind in ANIMATE_KINDS:
            if not recast:
                continue  # the subject's own state, as the user wrote it
            person = "person" in owner.facts
            new = RECAST[target][0 if person else 1]
            text = pattern.sub(new, text, count=1)
            adjustments.append(
                SceneAdjustment(
                    action="recast",
                    text=attribute.word,
                    replacement=new,
                    reason=f"'{attribute.word}' shows {shown}, recast toward {target}",
                )
            )
        else:
            if _is_stated_action(attribute.word, scene, text):
                continue  # "a child flying a kite": the scene's action, not a mood to remove
            text = pattern.sub("", text, count=1)
            negatives.append(attribute.word)
            adjustments.append(
                SceneAdjustment(
                    action="negative",
                    text=attribute.word,
                    reason=f"'{attribute.word}' evokes {shown}, against {target}: moved to the "
                    "negative prompt",
                )
            )
    text = _tidy(text)
    if estimate_clip_tokens(text) > token_budget:
        text, dropped = _condense(text, scene, token_budget)
        adjustments += [
            SceneAdjustment(
                action="condensed",
                text=d,
                reason="detail without a subject, dropped to fit CLIP's 77 tokens",
            )
            for d in dropped
        ]
    return text, adjustments, negatives


def _tidy(text: str) -> str:
    text = strip_end(re.sub(r"\s+", " ", text), " ,.;:")
    text = re.sub(r"\s+([,.;:])", r"\1", text)
    text = re.sub(r",\s*,", ",", text)
    text = re.sub(r"\b([Aa]n?|[Tt]he)\s*,\s*", r"\1 ", text)  # "A , bull" after a removal
    text = re.sub(r"\b([Aa])n (?=[^aeiouAEIOU\W])", r"\1 ", text)
    return re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", r"\1n ", text)


def _condense(text: str, scene: SceneModel, budget: int) -> tuple[str, list[str]]:
    """Keep the clauses that carry a subject; drop other details from the end until it fits."""
    from emotion_director.clip_bpe import estimate_clip_tokens

    clauses = [
        c.strip() for c in re.split(r"[,;]\s*|\.\s+|\s+(?=with\s|while\s|and\s)", text) if c.strip()
    ]
    nouns = {w for e in scene.entities for w in e.noun.split()} - {"of"}
    keep = [
        i == 0
        or bool(
            nouns & {singular(w) for w in _WORD.findall(c.lower())}
            | nouns & set(_WORD.findall(c.lower()))
        )
        for i, c in enumerate(clauses)
    ]
    dropped: list[str] = []
    order = [i for i in reversed(range(len(clauses))) if not keep[i]]
    order += [i for i in reversed(range(1, len(clauses))) if keep[i]]  # then later subjects
    alive = set(range(len(clauses)))
    for i in order:
        if estimate_clip_tokens(", ".join(clauses[j] for j in sorted(alive))) <= budget:
            break
        alive.discard(i)
        dropped.append(clauses[i])
    result = ", ".join(clauses[j] for j in sorted(alive))
    if estimate_clip_tokens(result) > budget:  # one long clause: keep its first words
        words = result.split()
        while len(words) > 4 and estimate_clip_tokens(" ".join(words)) > budget:
            dropped.insert(0, words.pop())
        result = " ".join(words)
    return _tidy(result), dropped
