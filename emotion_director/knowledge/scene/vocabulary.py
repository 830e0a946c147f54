"""The facts vocabulary of scenes and concepts: what a word states, which facts exclude each other,
the places a phrase can set a scene in, and the words of water, ice and sleep.

Everything here is read from ``data/facts.yaml`` (checked by
:mod:`~emotion_director.knowledge.facts`) or is a closed class of grammar words; nothing here
parses.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from emotion_director.knowledge.facts import Kind, load_facts_file

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

#: Lights in the sky that shine in through a window (``facts.yaml``: window_lights).
_WINDOW_LIGHTS: frozenset[str] = _FACTS.window_lights

#: The word for each hour of the day (0-23) a clock time states (``facts.yaml``: clock_hours).
HOUR_WORDS: dict[int, str] = {
    hour: word for first, last, word in _FACTS.clock_hours for hour in range(first, last + 1)
}


#: Words that assert a fact wherever they appear: in the prompt (the scene states it) or in a
#: concept (the concept needs it). Multi-word keys are matched as phrases.
FACT_WORDS: dict[str, tuple[str, ...]] = _FACTS.fact_words()


#: What a ``*`` in a fact's key stands for: up to this many words, none a gap break
#: (``facts.yaml``: "of", "with", ...) and none an -ing word ("in huge painted masks", not "in
#: her shop painting masks").
_GAP_WORDS = 3
_GAP_BREAKS = frozenset(_FACTS.gap_breaks)
#: A key with gaps, as its parts' words: "goldfish in * bowl" -> (("goldfish", "in"), ("bowl",)).
_Gapped = tuple[tuple[str, ...], ...]

#: The keys with gaps, by fact (plain keys are matched as runs of words).
_GAPPED_KEYS: dict[str, tuple[_Gapped, ...]] = {
    fact: tuple(tuple(tuple(p.split()) for p in key.split(" * ")) for key in keys if " * " in key)
    for fact, keys in FACT_WORDS.items()
    if any(" * " in key for key in keys)
}


#: The keys with gaps by their first word, for :func:`gapped_facts`.
_GAPPED_BY_FIRST: dict[str, tuple[tuple[str, _Gapped], ...]] = {}
for _fact, _keys in _GAPPED_KEYS.items():
    for _parts in _keys:
        _GAPPED_BY_FIRST[_parts[0][0]] = (*_GAPPED_BY_FIRST.get(_parts[0][0], ()), (_fact, _parts))


def _ends_in_ing(word: str) -> bool:
    return word.endswith("ing")


def gapped_facts(words: list[str], participle: Callable[[str], bool] = _ends_in_ing) -> set[str]:
    """The facts of the keys with gaps (:data:`_GAPPED_KEYS`) found in ``words``: each key's
    parts follow each other, each gap up to :data:`_GAP_WORDS` words that are no gap break, no
    ``participle`` (any -ing word unless told: the parser passes ``lexicon._ing_of_a_verb``, an
    -ing form of a verb, which reads the verbs this module lies below)
    and no mark ("bright * afternoon" in "a bright February afternoon", not in "a bright kitchen
    with afternoon tea" nor in "a bright lamp , grey afternoon")."""
    found: set[str] = set()
    for i, word in enumerate(words):
        for fact, parts in _GAPPED_BY_FIRST.get(word, ()):
            first = parts[0]
            if fact not in found and tuple(words[i : i + len(first)]) == first:
                if _parts_from(words, i + len(first), parts, 1, participle):
                    found.add(fact)
    return found


def _parts_from(
    words: list[str], at: int, parts: _Gapped, k: int, participle: Callable[[str], bool]
) -> bool:
    if k == len(parts):
        return True
    part = parts[k]
    for gap in range(_GAP_WORDS + 1):
        j = at + gap
        gap_word = words[j - 1] if gap else ""
        if gap and (gap_word in _GAP_BREAKS or not gap_word[0].isalpha() or participle(gap_word)):
            return False  # a wider gap holds this word too
        if j + len(part) > len(words):
            return False
        if tuple(words[j : j + len(part)]) == part and _parts_from(
            words, j + len(part), parts, k + 1, participle
        ):
            return True
    return False


#: Places a phrase sets the scene in (fact ``site:<name>``): a phrase naming one puts the scene
#: there, which contradicts a scene stated to be in a place that is not part of it.
SITES: dict[str, tuple[str, ...]] = dict(_FACTS.sites)


#: Where each place can be (transitively): two places are compatible when one is part of the
#: other.
SITE_WITHIN: dict[str, tuple[str, ...]] = dict(_FACTS.site_within)


#: Sites that are somebody's home: no crowd of passers-by there.
PRIVATE_SITES: frozenset[str] = _FACTS.private_sites


#: Phrases whose words would assert a fact they do not mean -> a neutral reading of each, spaced
#: as they are matched in a phrase's spaced words (" sea of " -> " mass of "; "frozen mid-"
#: matches the start of a word: " frozen mid-").
FIGURES_OF_SPEECH: dict[str, str] = {
    f" {figure}" + ("" if figure.endswith("-") else " "): f" {neutral}"
    + ("" if neutral.endswith("-") else " ")
    for figure, neutral in _FACTS.figures_of_speech.items()
}


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


def sleep_base_form(token: str) -> bool:
    """Whether ``token`` is a sleep verb's base form ("sleep", "nap", "doze"): its -ing form is a
    sleep word."""
    forms = (token + "ing", token + token[-1:] + "ing", token[:-1] + "ing")
    return any(form in ASLEEP_WORDS for form in forms)


def _sleep_word(token: str, before: str = "") -> bool:
    """A sleep word, or its present tense ("sleeps", "naps", "dozes"; after a subject pronoun
    the base form too: "as they sleep")."""
    if token in ASLEEP_WORDS:
        return True
    if before in _SUBJECT_PRONOUNS and sleep_base_form(token):
        return True
    if not token.endswith("s") or len(token) < 4:
        return False
    stems = (token[:-1], token[:-2], token[:-1] + token[-2])  # sleep-s, doz-es, nap-p
    return any(stem + "ing" in ASLEEP_WORDS for stem in stems)


def _asleep_at(tokens: list[str]) -> list[int]:
    return [k for k, token in enumerate(tokens) if _sleep_word(token, tokens[k - 1] if k else "")]


_LOCATIVE = frozenset(
    "in on at over under by near beside behind inside across through along above below "
    "into onto against outside within among around past beneath off aboard atop amid amidst "
    "underneath upon alongside astride".split()
)


_JOINERS = frozenset({"and", "with", "&", "while", "beside", "plus"})


_DETERMINERS = frozenset("a an the one two three some this that my our his her their its".split())


#: Subject pronouns and the subject each names, (noun, kind): the verb that follows one is what a
#: living subject of the scene does ("She reads by the window" is a woman reading; "we" is the
#: viewer: "a cat on a wall while we drive past").
_PRONOUN_SUBJECTS: dict[str, tuple[str, Kind]] = {
    "he": ("man", "person"),
    "she": ("woman", "person"),
    "they": ("people", "group"),
}
_SUBJECT_PRONOUNS = frozenset(_PRONOUN_SUBJECTS)
#: Pronouns whose verb takes its base form ("they whisper", "we watch"), which the facts
#: vocabulary lists in the third person ("whispers", "watches"): a base form alone is often a
#: noun ("a whisper of wind", "a pocket watch").
_BASE_FORM_PRONOUNS = frozenset({"they", "we", "i"})
#: The noun a pronoun's subject takes where the scene already names its own noun ("she comforts a
#: sobbing woman": a person), by kind.
_PRONOUN_FALLBACK = {"person": "person", "group": "figures"}
#: The nouns a pronoun's subject can take: no noun of the prompt names these people.
PRONOUN_NOUNS = frozenset(n for n, _ in _PRONOUN_SUBJECTS.values()) | frozenset(
    _PRONOUN_FALLBACK.values()
)


def bare_pronoun(token: str) -> str:
    """A subject pronoun without its contraction ("she's" -> "she", "they're" -> "they")."""
    return token.split("'")[0]


#: Conjunctions that open a clause of its own: its subject comes next, then its verb.
_SUBORDINATORS = frozenset(
    "as while whilst when whenever until till once because though although".split()
)
#: Words that open a scene with a clause or phrase before the main one, its subject named after
#: the comma ("As the ferry horn sounds, he tosses ...", "After the storm, a rainbow ...").
_OPENERS = _SUBORDINATORS | frozenset("after before since".split())
