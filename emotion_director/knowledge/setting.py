"""Scene-anchored concepts: a concept may bring a setting into the picture only if the scene has it.

Every concept of the graph carries the setting it presupposes (``data/concept_settings.tsv``):
"moonlight on the water" needs ``night`` and ``water``; "a stack of presents" needs ``party``;
"rim light around the silhouette" needs nothing and fits any scene. A scene *states* setting tags:
those its parsed facts give (``data/setting.yaml``: ``from_facts``), those a meaning-based reader
finds in its words when one is installed (:class:`~emotion_director.scenefit.SettingReader`, for
nouns no table lists: "a laundromat at 3 a.m." -> ``night``), and what they imply (a forest is
outdoors). A concept whose setting is not all stated is not offered for that scene.

This inverts the old default, under which a concept fitted unless a table could prove a clash:
a scene whose nouns no table knows ("a welder in a dry dock") got every concept, museum halls and
meadows included. Now the unknown adds nothing; only what the scene states is built upon.

Example:
    >>> from emotion_director.knowledge.setting import stated_tags
    >>> sorted(stated_tags(frozenset({"night", "site:kitchen"})))
    ['built', 'home', 'indoor', 'night', 'table']
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from emotion_director.files import load_shipped_yaml


class WordRule(BaseModel):
    """One rule of ``setting.yaml``'s ``from_words``: a tag a concept's own words give it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    tag: str
    words: re.Pattern[str]
    unless: re.Pattern[str] | None = None
    #: tags of the concept's line that cancel the rule; ``free``: those that rule the rule's own
    #: tag out (``free`` in setting.yaml: a clear sky, under fog, rain, a storm, snow, overcast)
    unless_tags: frozenset[str] | Literal["free"] = frozenset()
    unless_given: str | None = None
    subject_only: bool = False

    @field_validator("words", "unless", mode="before")
    @classmethod
    def _compile(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return re.compile(value, re.IGNORECASE)
            except re.error as exc:
                raise ValueError(f"not a regular expression ({exc}): {value!r}") from None
        return value


class SettingFile(BaseModel):
    """The schema of ``data/setting.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    tags: dict[str, list[str]]
    from_facts: dict[str, list[str]]
    free: dict[str, list[str]] = {}
    implies: dict[str, list[str]]
    overrides: dict[str, list[str]] = {}
    exclusive: list[str] = []  # dimensions a scene has one value of
    from_words: list[WordRule] = []

    @property
    def vocabulary(self) -> frozenset[str]:
        return frozenset(t for values in self.tags.values() for t in values)

    @model_validator(mode="after")
    def _known(self) -> SettingFile:
        known = self.vocabulary
        named = [t for ts in self.from_facts.values() for t in ts]
        for table in (self.free, self.implies, self.overrides):
            named += list(table) + [t for ts in table.values() for t in ts]
        for index, rule in enumerate(self.from_words):
            if rule.unless_tags == "free":
                if rule.tag not in self.free:
                    raise ValueError(
                        f"setting.yaml: `unless_tags: free` for {rule.tag!r}, which `free` "
                        "does not list"
                    )
                named.append(rule.tag)
            else:
                named += [rule.tag, *rule.unless_tags]
            earlier = {r.tag for r in self.from_words[:index]}
            if rule.unless_given and rule.unless_given not in earlier:
                raise ValueError(
                    f"setting.yaml: `unless_given: {rule.unless_given}` names no earlier rule"
                )
        unknown = sorted(set(named) - known)
        if unknown:
            raise ValueError(f"setting.yaml names tags outside `tags`: {unknown}")
        if set(self.exclusive) - set(self.tags):
            raise ValueError(f"setting.yaml: `exclusive` names no dimension: {self.exclusive}")
        return self


def _data(name: str) -> str:
    return resources.files("emotion_director.knowledge").joinpath("data", name).read_text("utf-8")


@lru_cache(maxsize=1)
def load_setting_file() -> SettingFile:
    return SettingFile.model_validate(load_shipped_yaml(_data("setting.yaml")))


@lru_cache(maxsize=None)
def dimension_tags(dimension: str) -> frozenset[str]:
    """The tags of one of ``setting.yaml``'s dimensions ("place": home, city, sea, ...; "state",
    "weather"); none for a dimension it does not have."""
    return frozenset(load_setting_file().tags.get(dimension, ()))


@lru_cache(maxsize=1)
def concept_settings() -> dict[str, frozenset[str]]:
    """Concept text -> the setting tags it presupposes (``data/concept_settings.tsv``)."""
    known = load_setting_file().vocabulary
    table: dict[str, frozenset[str]] = {}
    for number, line in enumerate(_data("concept_settings.tsv").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise ValueError(f"concept_settings.tsv line {number}: expected FACET, TEXT, TAGS")
        tags = frozenset() if fields[2].strip() == "-" else frozenset(fields[2].split(","))
        if tags - known:
            raise ValueError(
                f"concept_settings.tsv line {number}: unknown tag(s) {sorted(tags - known)}"
            )
        table[fields[1]] = tags | word_tags(fields[1], tags)
    return table


#: Pseudo-observations at the pooled clash rate that every concept's own count is shrunk toward:
#: a concept seen clashing once is not yet a concept that clashes.
RISK_PRIOR_WEIGHT = 4.0


@lru_cache(maxsize=1)
def concept_risk() -> Mapping[str, float]:
    """Concept text -> how much likelier than the average concept blind readers found it to clash
    with its scene, in log-odds (``data/concept_risk.tsv``); absent for concepts they found no
    worse than average and for those they never read.

    Each concept's clash count is shrunk toward the pooled rate by ``RISK_PRIOR_WEIGHT``
    pseudo-observations, so a concept read once moves little and one refused in eight scenes of
    eight moves a lot.
    """
    counts = _risk_counts()
    total = sum(n for n, _ in counts.values())
    base = sum(k for _, k in counts.values()) / total if total else 0.0
    if not 0 < base < 1:  # no labels, or all one way: nothing to rank by
        return MappingProxyType({})

    def logit(p: float) -> float:
        return math.log(p / (1 - p))

    out: dict[str, float] = {}
    for text, (labelled, clashed) in counts.items():
        rate = (clashed + RISK_PRIOR_WEIGHT * base) / (labelled + RISK_PRIOR_WEIGHT)
        excess = logit(rate) - logit(base)
        if excess > 0:
            out[text] = excess
    return MappingProxyType(out)


#: A concept blind readers saw in at least this many scenes ...
REFUSE_MIN_LABELLED = 5
#: ... and called a clash in at least this share of them (Laplace-smoothed: (clashed + 1) /
#: (labelled + 2)) is not offered to a scene at all. Over the labels of sets 1-38, 24 concepts
#: qualify; they took 123 of 561 clashes in 171 readings (a ball frozen at the top of its arc,
#: 6 of 6; a bicycle leaning against a fence, 7 of 13; kicked-up gravel and dust, 7 of 9).
REFUSE_SHARE = 0.5


@lru_cache(maxsize=1)
def refused_by_readers() -> frozenset[str]:
    """Concept texts that blind readers called a clash with their scene more often than not
    (``data/concept_risk.tsv``; :data:`REFUSE_MIN_LABELLED`, :data:`REFUSE_SHARE`): the graph
    does not offer them, whatever the scene, since their ranking cost alone still let them in."""
    return frozenset(
        text
        for text, (labelled, clashed) in _risk_counts().items()
        if labelled >= REFUSE_MIN_LABELLED and (clashed + 1) / (labelled + 2) >= REFUSE_SHARE
    )


def _risk_counts() -> dict[str, tuple[int, int]]:
    """``data/concept_risk.tsv``: concept text -> (scenes labelled, scenes it clashed in)."""
    counts: dict[str, tuple[int, int]] = {}
    for number, line in enumerate(_data("concept_risk.tsv").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        where = f"concept_risk.tsv line {number}"
        fields = line.split("\t")
        if len(fields) != 3:
            raise ValueError(f"{where}: expected TEXT, LABELLED, CLASHED ({len(fields)} columns)")
        try:
            text, labelled, clashed = fields[0], int(fields[1]), int(fields[2])
        except ValueError:
            raise ValueError(f"{where}: LABELLED and CLASHED must be whole numbers") from None
        if not 0 <= clashed <= labelled:
            raise ValueError(f"{where}: expected 0 <= CLASHED <= LABELLED")
        if text in counts:
            raise ValueError(f"{where}: {text!r} is listed twice")
        counts[text] = (labelled, clashed)
    return counts


def word_tags(text: str, tags: frozenset[str] = frozenset()) -> frozenset[str]:
    """The tags a concept's own words give it (``from_words`` in ``data/setting.yaml``), beside
    ``tags``, those of its line in the table: "{poss} jaw clenched" shows a quiet subject,
    "soft golden hour glow" a clear sky (unless its line names the weather hiding the sun)."""
    given: set[str] = set()
    setting = load_setting_file()
    free = setting.free
    for rule in setting.from_words:
        if not rule.words.search(text):
            continue
        if (
            (rule.unless is not None and rule.unless.search(text))
            or set(free[rule.tag] if rule.unless_tags == "free" else rule.unless_tags) & tags
            or (rule.unless_given is not None and rule.unless_given in given)
            or (rule.subject_only and "{the}" not in text)
        ):
            continue
        given.add(rule.tag)
    return frozenset(given)


def close(tags: frozenset[str] | set[str]) -> frozenset[str]:
    """``tags`` with everything they imply (``implies`` in ``data/setting.yaml``), except on a
    dimension that ``tags`` already gives a value of: what is stated wins over what is implied."""
    setting = load_setting_file()
    dimension = {t: d for d, values in setting.tags.items() for t in values}
    stated_dims = {dimension[t] for t in tags if t in dimension}
    out, todo = set(tags), list(tags)
    while todo:
        for implied in setting.implies.get(todo.pop(), ()):
            if implied not in out and dimension[implied] not in stated_dims:
                out.add(implied)
                todo.append(implied)
    return frozenset(out)


def stated_tags(
    facts: frozenset[str] | set[str], read: frozenset[str] = frozenset()
) -> frozenset[str]:
    """The setting tags a scene states: from its parsed ``facts``, plus ``read`` (tags a
    meaning-based reader found in its words), closed under ``implies``. A reading of the
    weather or the time never takes away what the words state (``overrides``): "a tanker
    between walls of snow on a bright June morning" reads as snowfall to MiniLM, which would take
    the sun off the scene its words light, so that reading is dropped; a full moon with snow
    swirling keeps its snow, which takes nothing stated away."""
    return _stated(frozenset(facts), frozenset(read))


@lru_cache(maxsize=4096)
def _stated(facts: frozenset[str], read: frozenset[str]) -> frozenset[str]:
    setting = load_setting_file()
    tags = {t for fact in facts for t in setting.from_facts.get(fact, ())}
    parsed = close(tags)
    passing = dimension_tags("weather") | dimension_tags("time")
    read = frozenset(
        r for r in read if not (r in passing and set(setting.overrides.get(r, ())) & parsed)
    )
    closed = close(tags | read)
    return closed - {t for tag in closed for t in setting.overrides.get(tag, ())}


def unanchored(needs: frozenset[str], stated: frozenset[str]) -> str | None:
    """Why a concept presupposing ``needs`` cannot join a scene that states ``stated``: a need
    the scene does not state, or a ``free`` need ruled out by what the scene states."""
    free = load_setting_file().free
    missing = sorted(t for t in needs - stated if t not in free)
    if missing:
        return f"it brings in {', '.join(missing)}, which the scene does not state"
    return ruled_out(needs, stated)


def ruled_out(needs: frozenset[str], stated: frozenset[str]) -> str | None:
    """Why a concept presupposing ``needs`` contradicts a scene that states ``stated``: a
    ``free`` need whose opposite the scene states (``awake`` where the subject sleeps). Unlike
    :func:`unanchored`, what the scene does not state is no reason."""
    setting = load_setting_file()
    free = setting.free
    for tag in sorted((needs & free.keys()) - stated):
        against = sorted(set(free[tag]) & stated)
        if against:
            return f"it shows {tag}, the scene states {against[0]}"
    # a dimension a scene has one value of: a need of another value than the one it states
    # ("a lantern glowing through tent canvas", outdoors, for a space station in orbit)
    for dimension in setting.exclusive:
        values = set(setting.tags[dimension])
        mine, theirs = sorted(needs & values - stated), sorted(stated & values)
        if mine and theirs:
            return f"it needs {mine[0]}, the scene states {theirs[0]}"
    return None
