"""The word tables a scene is read with, and the morphology over them.

Nouns and their kinds (``lexicon.tsv``, ``subjects.yaml`` and WordNet's compounds), people named
after their trade, animals' bodies, emotion-laden attributes, English words, verbs, postures and
counts; :func:`singular` and :func:`kind_of` read a word against them. Every table is package data
(``knowledge/data``; provenance in ``SOURCES.md``) loaded once.
"""

from __future__ import annotations

import csv
import io
import re
from functools import lru_cache
from importlib import resources
from typing import NotRequired, TypedDict, cast

from emotion_director.files import load_shipped_yaml
from emotion_director.knowledge.facts import Kind
from emotion_director.knowledge.scene.vocabulary import (
    _DETERMINERS,
    _JOINERS,
    _LOCATIVE,
    ANIMATE_KINDS,
    FACT_WORDS,
    HOUR_WORDS,
    KIND_FACTS,
    PRIVATE_SITES,
)


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
    not_subjects: NotRequired[str]  # space-separated: words no table may make a subject
    calendar: NotRequired[str]  # space-separated: months and days, capitalised by rule
    regions: NotRequired[str]  # space-separated: parts of a place ("the rim of", "forest floor")
    media: NotRequired[str]  # space-separated: what a picture is made as ("watercolor of")
    media_pairs: NotRequired[list[str]]  # the same, 2-3 words: "close up", "still life"
    framing: NotRequired[list[str]]  # phrases: a camera angle or shot the user chose
    viewer: NotRequired[list[str]]  # phrases: the viewer's own gaze, opening a clause
    behind: NotRequired[list[str]]  # phrases: the viewer behind the subject, opening a clause
    downward: NotRequired[list[str]]  # phrases: a camera looking straight down
    aerial: NotRequired[list[str]]  # phrases: a framing from far above
    close: NotRequired[list[str]]  # phrases: a framing from close up
    silhouette: NotRequired[list[str]]  # phrases: the subject as a dark shape
    small: NotRequired[list[str]]  # phrases: a composition making the subject small
    figurative: NotRequired[list[str]]  # media that are figures of speech before "of"
    monochrome: NotRequired[list[str]]  # phrases: a picture without colour
    drawn: NotRequired[list[str]]  # phrases: a painted or drawn medium
    soft_look: NotRequired[list[str]]  # phrases: a soft, pale, low-contrast picture
    hard_look: NotRequired[list[str]]  # phrases: a hard, dramatic, high-contrast picture
    drawn_monochrome: NotRequired[list[str]]  # phrases: such a medium without colour
    photographed: NotRequired[list[str]]  # phrases: a photograph
    hues: NotRequired[str]  # space-separated: words that give a phrase a colour
    palette_nouns: NotRequired[str]  # space-separated: a clause naming the picture's colours
    period_words: NotRequired[str]  # space-separated: a time before electric light
    tones: NotRequired[str]  # space-separated: words of a colour's tone
    light_hues: NotRequired[str]  # space-separated: a light's colours
    states: NotRequired[dict[str, str]]  # word -> comma-separated categories
    moods: NotRequired[dict[str, str]]  # how a living subject feels -> comma-separated categories
    vigour_adverbs: NotRequired[list[str]]  # adverbs of a mood that say how hard, not how it feels
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
            if name == "lexicon.tsv" and row[1] in _LIVING_GUESSES and _ing_of_a_verb(row[0]):
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
    for word in curated_subjects().get("not_subjects", "").split():
        kinds.pop(word, None)
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


#: The hours as words ("at two in the morning", "three a.m.").
_HOUR_NAMES = "one two three four five six seven eight nine ten eleven twelve".split()
#: A clock time: a 12-hour one with "a.m."/"p.m." ("3 a.m.", "2am", "12:30 p.m."), or with a part
#: of the day after it and a word of time or a clause's start before it ("at 3 in the morning",
#: "until two in the morning", "a cafe, 3 in the morning"; not "a table for 2 in the evening",
#: "the two in the morning mist"),
#: or a 24-hour one after a word of time that no 12-hour reading fits ("at 17:45", "by 04:00",
#: "at 23h10"; not "at 7:30", "priced at 19.50", nor "a 1:12 scale").
_CLOCK = re.compile(
    (
        r"(?P<lead>\b(?:at|around|about|by|until|till|past|after|before|from|since)\s+)?"
        r"(?:\b(?P<h>1[0-2]|0?[1-9]|%s)(?:[:.][0-5]\d)?\s*(?:(?P<ap>[ap])\.?\s?m\b\.?"
        r"|(?:o'clock\s+)?(?P<part>in\s+the\s+(?:morning|afternoon|evening)|at\s+night)\b)"
        r"|(?P<h24>\b(?:1[3-9]|2[0-3]|0\d))[:h][0-5]\d\b)"
    )
    % "|".join(_HOUR_NAMES),
    re.IGNORECASE,
)


def _clock_hour(match: re.Match[str]) -> int:
    """The hour (0-23) a :data:`_CLOCK` match states."""
    if match["h24"] is not None:
        return int(match["h24"])
    said = match["h"].lower()
    hour = (_HOUR_NAMES.index(said) + 1 if said in _HOUR_NAMES else int(said)) % 12
    # ("12 a.m." is midnight, "12 p.m." noon)
    part = (match["part"] or "").lower()
    if part.endswith("night"):  # "11 at night" is 23; "2 at night" is still night, not 2 a.m.'s
        return hour + 12 if hour >= 6 else 0
    later = (match["ap"] or "").lower() == "p" or "afternoon" in part or "evening" in part
    return hour + 12 if later else hour


#: A size likened to a thing's, after a noun ("a cat the size of a dog", "hailstones the size of
#: golf balls", "a huntsman the size of a dinner plate on the ute's sun visor": set 103 framed
#: "the size"): how big the noun is, not a thing in the scene.
_MEASURE = re.compile(
    r"(?<=\w)\s+the\s+(?:size|height|length|width|weight)\s+of\s+"
    r"(?:(?:an?|the|my|your|his|her|their|our|two|three)\s+)?(?:[\w'-]+\s+){0,2}?[\w'-]+"
    r"(?=\s*(?:[,.;]|$)|\s+(?:on|in|at|by|with|under|over|near|beside|behind|while|as|and|"
    r"into|onto|across|through|from|off|\w+ing)\b)"
)


def without_measures(text: str) -> str:
    """``text`` without the sizes it likens to other things (:data:`_MEASURE`), for the parser
    only: "a cat the size of a dog" is a cat, and no dog is in the scene."""
    return _MEASURE.sub("", text)


def clock_words(text: str) -> str:
    """``text`` with each clock time it states written as the word for that part of the day
    (``facts.yaml``'s ``clock_hours``: "a laundromat at 3 a.m." -> "a laundromat at night",
    "at 3 in the morning" -> "at night", "at 17:45" -> "at evening"): digits are no words to
    the parser, and "morning" in "3 in the morning" would state daylight."""
    if not HOUR_WORDS:
        return text

    def word(match: re.Match[str]) -> str:
        lead = match["lead"] or ""
        if match["h24"] is not None and not lead:
            return match.group(0)  # "a 1:12 scale": a 24-hour time needs a word of time
        opens = match.start() == 0 or text[max(0, match.start() - 3) : match.start()].rstrip()[
            -1:
        ] in {",", ";", "("}
        if match["part"] is not None and not lead and not opens:
            return match.group(0)  # "a table for 2 in the evening": two of something
        return lead + HOUR_WORDS[_clock_hour(match)]

    return _CLOCK.sub(word, text)


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


#: What gives light, as a scene names it ("lamplight", "a lantern", "neon").
_LIGHT_SOURCES = (
    r"lights?|lamps?|lanterns?|sunlight|moonlight|lamplight|candlelight|firelight|torchlight|"
    r"glow|floodlights?|spotlights?|neon|fluorescents|(?<=fluorescent\s)tubes?|(?<=neon\s)tubes?"
)


#: A light, a candle or a bulb (what a scene may say it is lit by).
_LIT_BY = rf"(?:{_LIGHT_SOURCES}|candles?|bulbs?)"


#: What a light named as an item may be doing ("one lantern burning": set 101's whittler in an
#: empty byre got "muted low-contrast light").
_LIGHT_ALIGHT = r"(?:burning|glowing|flickering|guttering|blazing|lit|swinging|buzzing)"


#: The scene says how it is lit: a light noun after "under", "in", "by" or "from" ("under
#: buzzing fluorescent lights", "by lamplight", "under the noon sun", "under a bright studio
#: lamp", "in the glow of a forge"; not "in light snow"),
#: "lit by", a "-lit" word, light that slants, pours or falls somewhere, or a place with no light
#: at all ("in lightless depths", "in an unlit stairwell", "in pitch-dark taiga": "a bathysphere
#: descending past drifting ctenophores in lightless depths" got "harsh red backlight", both
#: readers: a clash, set 86); not a thing that is dark ("an unlit sparkler", "a pitch-black cat").
_STATED_LIGHT = re.compile(
    rf"\b(?:under|in|by|beneath|from)\s+(?:the\s+|a\s+|an\s+)?(?:[\w-]+\s+){{0,2}}(?:suns?|"
    rf"{_LIGHT_SOURCES})(?=\s*[,.;]|\s*$|\s+(?:on|in|at|of|over|across|from|through|with|and|as|"
    r"while|during|for|under|beneath|late|early|after|before|until|till|all|one)\b)|\blit\s+(?:only\s+)?by\b|\b(?:moonlit|sunlit|lamplit|"
    r"candlelit|floodlit|neon-lit|lamp-lit|torchlit|backlit|firelit)\b|\blight\s+(?:slants?|"
    r"slanting|pours?|pouring|streams?|streaming|falls?|falling|filters?|filtering)\b|"
    r"\b(?:in|into|through|across|inside|within|under|beneath)\s+(?:the\s+|an?\s+)?"
    r"(?:lightless|unlit|pitch[- ](?:dark|black)|pitch\s+darkness)\b|"
    # a light named as an item of its own ("..., candlelight, oil paintings", "2am, flickering
    # neon", "single lamp"): what lights the scene
    # (or its glare: "ring-light glare", "neon glare", set 110 got dim murky light under one)
    r"(?:^|[,;:])\s*(?:(?!(?:a|an|the|no|some)\b)\w+(?:\s+|-)){0,3}"
    rf"{_LIT_BY}(?:\s+glare)?(?:\s+{_LIGHT_ALIGHT})?\s*(?=[,.;]|$)|"
    # ... with its article where it is said to burn ("hall, a lantern burning")
    r"(?:^|[,;:])\s*(?:an?|the|one)\s+(?:[\w-]+\s+)?"
    rf"{_LIT_BY}\s+{_LIGHT_ALIGHT}\s*(?=[,.;]|$)|"
    # a candle or a bulb the scene is lit by or under ("by a single candle", "under a bare
    # bulb"; not "tulips from bulbs")
    r"\b(?:by|under|beneath)\s+(?:the\s+|a\s+|an\s+)?(?:[\w-]+\s+){0,2}(?:candles?|bulbs?)\b|"
    # light said to come through something ("overcast light through the blinds", "evening
    # light through frosted glass")
    r"\b(?:light|sun|sunlight|moonlight|lamplight|daylight)\s+(?:through|across)\s+\w|"
    # a light's glare or glow ("white glare of floodlights" got red-tinted low-key lighting, set
    # 102, both readers)
    r"\b(?:glare|glow|beams?|wash)\s+of\s+(?:the\s+)?(?:[\w-]+\s+)?"
    rf"{_LIT_BY}\b|"
    # a picture taken with a flash ("an opossum in the rafters of a brewhouse at midnight, flash
    # photo" got "deep shadow with a thin rim of light", set 104)
    r"\b(?:flash|flash-lit|flashlit)\s+(?:photo|photograph|photography|shot|snapshot|"
    r"portrait|picture)s?\b|\b(?:with|under)\s+(?:a\s+|the\s+)?(?:camera\s+|"
    r"on-camera\s+|direct\s+)?flash\s*(?=[,.;]|$)|\b(?:on-camera|direct|pop-up)\s+flash\b"
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
    """Emotion-laden modifier -> Mikels categories (derived from the NRC Emotion Lexicon, with
    the curated moods and states over it).

    Only the curated moods and states when ``attributes.tsv`` was removed (see SOURCES.md on
    its licence).
    """
    return (
        {row[0]: tuple(row[1].split(",")) for row in _attribute_rows()}
        | curated_moods()
        | _curated_states()
    )


@lru_cache(maxsize=1)
def curated_moods() -> dict[str, tuple[str, ...]]:
    """How a living subject feels, as users state it (``subjects.yaml``'s ``moods``: "nervous"
    -> fear, "bored" -> sadness): over the NRC lexicon's categories where it has the word."""
    return _word_categories("moods")


def mood_of(word: str) -> tuple[str, ...] | None:
    """The Mikels categories of a mood the user states, as an adjective (:func:`curated_moods`)
    or as its adverb ("calmly stacking oranges", "solemnly measuring", "angrily", "miserably");
    ``None`` for no mood."""
    base = mood_word(word)
    return curated_moods()[base] if base is not None else None


def mood_word(word: str) -> str | None:
    """The mood adjective ``word`` is or says as an adverb ("calmly" -> "calm", "angrily" ->
    "angry", "miserably" -> "miserable"), or ``None``."""
    moods = curated_moods()
    if word in moods:
        return word
    if not word.endswith("ly"):
        return None
    bases = [word[:-2], word[:-3] + "y" if word.endswith("ily") else ""]
    if word.endswith("ically"):
        bases.append(word[:-4])  # "ecstatically" -> "ecstatic"
    if word.endswith("bly"):
        bases.append(word[:-1] + "e")
    return next((b for b in bases if b in moods), None)


@lru_cache(maxsize=1)
def attribute_concreteness() -> dict[str, float]:
    """Emotion-laden modifier -> how concrete it is (Brysbaert et al. 2014, 1-5), where rated:
    "muddy" (4.32) shows a thing, "gloomy" (2.52) a feeling."""
    return {row[0]: float(row[2]) for row in _attribute_rows() if len(row) >= 3 and row[2] != "-"}


def _curated_states() -> dict[str, tuple[str, ...]]:
    return _word_categories("states")


def _word_categories(section: str) -> dict[str, tuple[str, ...]]:
    """A ``subjects.yaml`` section of word -> comma-separated Mikels categories."""
    raw: dict[str, str] = curated_subjects().get(section) or {}  # type: ignore[assignment]
    return {word: tuple(emotions.split(",")) for word, emotions in raw.items()}


@lru_cache(maxsize=1)
def noun_modifiers() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """Emotion-laden words that WordNet has as nouns only and as no feeling ("mangle", "fete"),
    its feelings ("horror", "panic") and its two-word nouns that open with an emotion word
    ("comic book", "happy hour"): ``wordnet_noun_modifiers.tsv``."""
    rows = _tsv_pairs("wordnet_noun_modifiers.tsv")
    return (
        frozenset(w for w, use in rows.items() if use == "noun"),
        frozenset(w for w, use in rows.items() if use == "feeling"),
        frozenset(w for w, use in rows.items() if use == "compound"),
    )


def names_the_thing(word: str, text: str, *, head: bool = True) -> bool:
    """Whether emotion word ``word`` is part of a thing's name where it first stands in
    ``text`` (which may open with the word before it): a word WordNet has as a noun, never as an
    adjective and not as a feeling ("a laundress wringing sheets through a mangle", "a village
    fete"); a feeling of WordNet's own before another noun ("a horror film poster", "a panic
    room", "a joy ride"; not "a man full of rage") or that an article opens before "of" ("a
    fear of heights", not "an of heights"); or the first word of a WordNet two-word noun ("a
    comic book", "a happy hour crowd"); not a mood the user gave the thing ("a comic actor", "a
    happy dog", "a fun party"). With ``head=False`` a noun of the first kind too counts only
    before another noun ("a dog, beauty" keeps no "beauty")."""
    nouns, feelings, compounds = noun_modifiers()
    lowered = word.lower()
    found = re.search(rf"(?:\b([a-z]+)\s+)?\b{re.escape(lowered)}\s+([a-z]+)", text.lower())
    before, after = (found.group(1), found.group(2)) if found else (None, None)
    before_a_noun = after is not None and after not in _function_words()
    if (lowered in nouns or lowered in feelings) and before in ARTICLES and after == "of":
        return True
    if lowered in nouns:
        return head or before_a_noun
    if lowered in feelings:
        return before_a_noun
    return after is not None and before_a_noun and f"{lowered} {singular(after)}" in compounds


#: Words that open a noun phrase as its article ("a fear of heights", "his panic room").
ARTICLES = frozenset("a an the his her their its my our your this that".split())


@lru_cache(maxsize=1)
def _function_words() -> frozenset[str]:
    return frozenset(curated_subjects()["function_words"].split())


@lru_cache(maxsize=1)
def expression_words() -> dict[str, tuple[str, ...]]:
    """Expression words (``sobbing``, ``snarling``) -> the categories they show."""
    return _word_categories("expressions")


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


_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*", re.UNICODE)


#: What a model writes in place of an answer: a placeholder, not a thing to draw.
_PLACEHOLDERS = frozenset(
    [
        *"n/a na none null nil undefined tbd todo placeholder string example cue".split(),
        "lorem ipsum",
        "lorem ipsum dolor sit amet",
        "not applicable",
    ]
)


def is_filler(text: str) -> bool:
    """Whether ``text`` says nothing: no letter in any script ("...", "-", "123"), every word a
    run of one letter ("xxxx", "aaa aaa"), or a placeholder ("N/A", "TBD", "lorem ipsum",
    "string"). In any language: "夕暮れの路地" and "la lumière dorée" are words.

    Example:
        >>> [is_filler(t) for t in ("xxxx", "N/A", "...", "bokeh", "35mm", "夕暮れ")]
        [True, True, True, False, False, False]
    """
    words = _WORD.findall(text.lower())
    if not words:
        return True
    if all(len(set(w)) == 1 and len(w) > 2 for w in words):
        return True
    return " ".join(words) in _PLACEHOLDERS or text.strip().lower() in _PLACEHOLDERS


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
def ly_adjectives() -> frozenset[str]:
    """Words in -ly that WordNet has as adjectives (``wordnet_ly_adjectives.tsv``): "elderly",
    "friendly"; before a noun they modify it."""
    return _tsv_words("wordnet_ly_adjectives.tsv")


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


@lru_cache(maxsize=1)
def exertion_lemmas() -> dict[str, str]:
    """Verb forms whose most used sense moves the whole body hard, each with its verb
    (``wordnet_exertion.tsv``: "leaping" -> "leap", "sprints" -> "sprint", "wrestling"): a
    living subject doing one states ``exerting``."""
    return _tsv_pairs("wordnet_exertion.tsv")


#: Prepositions of a thing set down: "on a desk", "in a vase", "beside a cup".
_SET_ON = frozenset("on in inside beside next atop upon".split())


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
    if len(word) > 4 and word.endswith("ses") and word[:-1] not in known and word[:-2] in known:
        return word[:-2]  # "buses", "lenses", "walruses" ("horses", "vases" keep their -e)
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


def _gerund(word: str) -> bool:
    """An -ing form of a verb ("waiting", "dining", "sitting"), whether or not it is also a noun
    of its own (unlike :func:`_verb_form`)."""
    return len(word) >= 5 and word.endswith("ing") and any(s in verbs() for s in _ing_stems(word))


@lru_cache(maxsize=4096)
def _closed_compound(word: str) -> Kind | None:
    """The kind of a noun no table lists that is written as one word of two known words, the
    last a living thing: English compounds take the kind of their last part
    ("kitesurfer", "lockkeeper"), or with a hyphen ("sous-chef", "aye-aye" stays unknown); the
    last an agent noun after a noun, a person ("buttermaker"); the last "room", a room."""
    kinds = noun_kinds()
    if "-" in word:
        first, _, last = word.rpartition("-")
        kind = kinds.get(last) or kinds.get(singular(last))
        # the first part is a noun ("sea-lion") or a word English lacks ("sous-chef"), not an
        # adjective or a verb ("hot-dog", "scare-crow") or a letter ("x-ray")
        known = first in kinds or (len(first) >= 3 and first not in english_words())
        if not (known and first.replace("-", "").isalpha()) or first in verbs():
            return None
        # a hyphened building or room is one too: "a cramped counting-house", "a dressing-room"
        return kind if kind in _LIVING_KINDS | {"building", "room"} else None
    if not word.isalpha() or len(word) < 7 or word.endswith(("ing", "ed", "ly")):
        return None  # a verb form is no compound: "blocking" holds no king
    for cut in range(3, len(word) - 3):
        first, last = word[:cut], word[cut:]
        kind = kinds.get(last) or kinds.get(singular(last))
        if kind in _LIVING_KINDS and first in kinds:
            return kind
        # an agent noun after the noun it works on, written as one word, names who does the
        # work as the two words do (see _agent_kind): "a buttermaker", "a cheesemaker"
        if kind in (None, "object") and first in kinds and singular(last) in agent_nouns():
            return "person"
        # a room named for what it holds or is for, in one word, is a room ("a mudroom", "a
        # breakroom", "a bunkroom": set 91's puppy asleep in a mudroom got drizzle), or for
        # what is done in it ("a sittingroom", "a diningroom": set 102's sunny sittingroom got
        # sky, one reader)
        if singular(last) == "room" and (first in kinds or _gerund(first)):
            return "room"
    return None


#: Words that end a prompt's first noun phrase ("a kitesurfer | at a windy estuary"): every
#: preposition of place (vocabulary._LOCATIVE, one list) but "off", a particle as often ("swats
#: flies off"), and these.
_PHRASE_ENDS = (_LOCATIVE - {"off"}) | frozenset(
    "with during down of from to for between up after before while and or as who that which is "
    "are was were without beyond toward towards amongst like than until via no but so".split()
)


def _noun_like(word: str) -> bool:
    """A noun the tables know, or a word they do not know at all ("cooper"): what an -ing or
    -ed word after it does ("a cooper fitting iron hoops"), not what it modifies."""
    if word in _DETERMINERS or word.endswith(("ing", "ed")):
        return False
    spelled = word.replace("-", "").isalpha()  # "aye-ayes"
    return kind_of(word) is not None or (spelled and word not in english_words())


@lru_cache(maxsize=1)
def _wordnet_word_pos() -> dict[str, str]:
    """``wordnet_words.tsv``: word -> its first part of speech."""
    return _tsv_pairs("wordnet_words.tsv")


def _ing_of_a_verb(word: str) -> bool:
    """Whether ``word`` is an -ing form of a verb of :func:`verbs`, whatever noun it also is
    ("building", "painting", "doing"; not "during", nor "spring" or any word in another ending)."""
    return word.endswith("ing") and any(w in verbs() for w in _ing_stems(word))
