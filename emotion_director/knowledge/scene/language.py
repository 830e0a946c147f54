"""Whether a scene is written in English (:func:`detect_language`), and the nouns it names
(:func:`scene_nouns`).
"""

from __future__ import annotations

import re

from emotion_director.knowledge.scene.conflicts import _FUNCTION_WORDS, _PARTICIPLES
from emotion_director.knowledge.scene.lexicon import (
    _WORD,
    _known_english,
    _language_words,
    _noun_like,
    kind_of,
    verbs,
)
from emotion_director.knowledge.scene.model import SceneModel, SubjectEntity
from emotion_director.knowledge.scene.vocabulary import (
    _BASE_FORM_PRONOUNS,
    _OPENERS,
    _PRONOUN_FALLBACK,
    _PRONOUN_SUBJECTS,
    ANIMATE_KINDS,
    bare_pronoun,
)


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
    if first in _OPENERS:  # "As the ferry horn sounds, he tosses ...": not the horn (whether a
        # clause of its own follows the comma is for the parser to check: parse._main_clause_at)
        taken = len(_WORD.findall(lowered.split(",", 1)[0]))
        return taken if taken < len(tokens) else 0
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


def pronoun_subject(tokens: list[str], start: int, nouns: set[str]) -> SubjectEntity | None:
    """The subject a pronoun names where it opens the main clause at ``start`` ("She reads by
    the window": a woman; "As the horn sounds, he tosses ...": a man; "They're dancing": people),
    else ``None``. It is implied (no noun of the prompt names it); concepts bound to it name it
    by its noun ("the woman's shoulders dropped"), or as a person where the scene's ``nouns``
    already hold that noun ("she comforts a sobbing woman")."""
    word = tokens[start] if start < len(tokens) else ""
    named = _PRONOUN_SUBJECTS.get(bare_pronoun(word))
    if named is None or (start + 1 >= len(tokens) and "'" not in word):
        return None
    noun, kind = named
    if noun in nouns:
        noun = _PRONOUN_FALLBACK[kind]
    return SubjectEntity(noun=noun, kind=kind, plural=kind == "group", implied=True)


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
    return _agreeing([t for i, t in enumerate(tokens) if i not in dropped])


def _agreeing(tokens: list[str]) -> list[str]:
    """``tokens`` with the verb right after "they", "we" or "I" in the third person, as the facts
    vocabulary lists verbs ("they whisper in a dark cinema" states silence as "whispers" does,
    "we watch the fireworks" eyes on something as "watches" does)."""
    out = list(tokens)
    for i in range(1, len(out)):
        word = out[i]
        if bare_pronoun(out[i - 1]) in _BASE_FORM_PRONOUNS and word in verbs():
            out[i] = third_person(word)
    return out


def third_person(verb: str) -> str:
    """A verb's third-person singular: "whisper" -> "whispers", "watch" -> "watches", "cry" ->
    "cries"."""
    if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if verb.endswith("y") and len(verb) > 1 and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def scene_nouns(scene: SceneModel | None) -> frozenset[str]:
    """The words of the noun a scene's main subject is named by ("a swarm of honeybees in a
    hollow stump": swarm, honeybees): text that holds one of them is about the scene's own
    subject. (Not every thing it names: an order written into a scene names things too.)"""
    if scene is None or scene.main is None:
        return frozenset()
    return frozenset(word for word in scene.main.noun.split() if word != "of")
