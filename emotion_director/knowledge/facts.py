"""The facts vocabulary as data: ``data/facts.yaml``, checked when it is loaded.

What the scene parser and :func:`~emotion_director.knowledge.scene.contradiction` know of facts
(the words that state each one, which facts exclude each other, the body plan of each kind of
subject, the places a phrase sets a scene in and which place lies within which) is data, not
code: this module reads it once and refuses a file that does not hold together, naming the
section and the entry.

Example:
    >>> facts = load_facts_file()
    >>> ("day", "night") in facts.opposites
    True
    >>> "kitchen" in facts.sites and "home" in facts.site_within["kitchen"]
    True
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Annotated, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, model_validator

from emotion_director.files import load_shipped_yaml

#: The kinds of subject (a subject's kind gives its body plan: ``kind_facts``).
Kind = Literal[
    "person",
    "group",
    "mammal",
    "bird",
    "fish",
    "insect",
    "serpent",
    "plant",
    "food",
    "object",
    "vehicle",
    "building",
    "room",
    "landscape",
    "event",
    "sky",
    "fire",
    # the head noun of the prompt's first noun phrase, in no table ("a parkourist leaping over
    # breakers"): the subject, of a kind nobody knows, so no concept written for a kind binds to it
    "thing",
]

#: A fact's or a place's name: lower-case letters and underscores ("subterranean").
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]*$")]
#: A word or phrase matched whole and case-blind: lower-case, words one space apart.
Words = Annotated[
    str,
    StringConstraints(
        pattern=r"^[a-z0-9'](?:[a-z0-9'.-]*[a-z0-9'.])?(?: [a-z0-9'.-]*[a-z0-9'.])*$",
        max_length=80,
    ),
]
#: A figure of speech or its neutral reading: :data:`Words`, or words ending in "-" (the start of
#: a word: "frozen mid-").
Figure = Annotated[
    str,
    StringConstraints(
        pattern=r"^[a-z0-9'](?:[a-z0-9'.-]*[a-z0-9'.-])?(?: [a-z0-9'.-]*[a-z0-9'.-])*$",
        max_length=80,
    ),
]
#: A fact's key: :data:`Words`, where a ``*`` between two words stands for up to three words
#: that are none of ``gap_breaks`` and no -ing word ("in * masks": "in huge painted masks", not
#: "in her shop painting masks").
FactWords = Annotated[
    str,
    StringConstraints(
        pattern=r"^[a-z0-9'](?:[a-z0-9'.-]*[a-z0-9'.])?(?: (?:\* )?[a-z0-9'.-]*[a-z0-9'.])*$",
        max_length=80,
    ),
]


#: Facts the parser reads by name: the file must give words for each.
REQUIRED_FACTS = frozenset(
    "sunny clear overcast water rain storm fog snowing winter windy night twilight".split()
)


class FactsFile(BaseModel):
    """The sections of ``data/facts.yaml`` (its own comments say what each holds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind_facts: dict[Name, tuple[Name, ...]]
    parser_facts: frozenset[Name]
    opposites: tuple[tuple[Name, Name], ...]
    opposites_unless: tuple[tuple[Name, Name, Name], ...]
    sun_words: tuple[Words, ...]
    facts: dict[Name, tuple[FactWords, ...]]
    gap_breaks: frozenset[Words]
    sites: dict[Name, tuple[Words, ...]]
    site_within: dict[Name, tuple[Name, ...]]
    private_sites: frozenset[Name]
    figures_of_speech: dict[Figure, Figure]
    not_places: tuple[Words, ...]
    distant_words: tuple[Words, ...]
    destination_words: frozenset[Name]
    mouth_verbs: frozenset[Name]
    window_lights: frozenset[Name] = frozenset()
    clock_hours: tuple[tuple[int, int, Words], ...] = ()

    @model_validator(mode="after")
    def _holds_together(self) -> FactsFile:
        problems = [f"opposites: {a!r} against itself" for a, b in self.opposites if a == b]
        known = set(self.facts) | self.parser_facts
        known |= {fact for facts in self.kind_facts.values() for fact in facts}
        for section, rows in (
            ("opposites", self.opposites),
            ("opposites_unless", self.opposites_unless),
        ):
            problems += [
                f"{section}: {name!r} is no fact (not in facts, kind_facts or parser_facts)"
                for name in sorted({n for row in rows for n in row} - known)
            ]
        hours = [h for first, last, _ in self.clock_hours for h in range(first, last + 1)]
        if self.clock_hours and sorted(hours) != list(range(24)):
            problems.append(
                "clock_hours: the rows must name each hour 0-23 exactly once (first <= last), "
                f"they name {sorted(hours)}"
            )
        problems += [
            f"clock_hours: {word!r} states no fact (name it among a fact's words in facts)"
            for *_, word in self.clock_hours
            if not any(word in words for words in self.facts.values())
        ]
        problems += [
            f"facts: no {fact!r} entry (the parser reads it by name)"
            for fact in sorted(REQUIRED_FACTS - set(self.facts))
        ]
        problems += [
            f"figures_of_speech: {figure!r} and {neutral!r} must both end in '-' or neither "
            "(a word's start is replaced by a word's start)"
            for figure, neutral in self.figures_of_speech.items()
            if figure.endswith("-") != neutral.endswith("-")
        ]
        kinds = set(get_args(Kind))
        if set(self.kind_facts) != kinds:
            missing, extra = (
                sorted(kinds - set(self.kind_facts)),
                sorted(set(self.kind_facts) - kinds),
            )
            problems.append(
                f"kind_facts: must name every kind once (missing {missing}, unknown {extra})"
            )
        for section, words in (("facts", self.facts), ("sites", self.sites)):
            problems += [
                f"{section}: {name!r} lists {w!r} twice"
                for name, ws in words.items()
                for w in {w for w in ws if ws.count(w) > 1}
            ]
        for place, parents in self.site_within.items():
            problems += [
                f"site_within: {p!r} (a place {place!r} lies within) is not in sites"
                for p in (place, *parents)
                if p not in self.sites
            ]
        problems += [
            f"private_sites: {p!r} is not in sites"
            for p in sorted(self.private_sites)
            if p not in self.sites
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def fact_words(self) -> dict[str, tuple[str, ...]]:
        """Fact -> the words that state it; the sun words first in ``sunny`` and ``clear``."""
        sun = self.sun_words
        return {
            fact: (*sun, *words) if fact in ("sunny", "clear") else words
            for fact, words in self.facts.items()
        }


@lru_cache(maxsize=1)
def load_facts_file() -> FactsFile:
    """``data/facts.yaml``, checked (:class:`FactsFile`); a broken file fails with its section
    and entry named."""
    text = resources.files("emotion_director.knowledge").joinpath("data", "facts.yaml")
    try:
        return FactsFile.model_validate(load_shipped_yaml(text.read_text("utf-8")))
    except yaml.YAMLError as exc:
        raise ValueError(f"knowledge/data/facts.yaml is not valid YAML: {exc}") from None
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(f"knowledge/data/facts.yaml: {where}") from None
