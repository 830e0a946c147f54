"""What a scene's words say of its setting, read by meaning (MiniLM), for nouns no table lists.

:class:`SettingReader` reads a scene with :class:`~emotion_director.scenefit.SceneFit`'s windowed
prototype reading, against the setting prototypes of ``data/settings.yaml``, and returns the
setting tags it states ("a laundromat at 3 a.m." -> ``{"night"}``, "a snowplough clearing a
mountain pass before dawn" -> ``{"twilight", "cold", "mountain"}``). The graph adds them to the
tags the scene parser found (:mod:`emotion_director.knowledge.setting`), so that a concept set in
a place or at a time the scene states can join it.

Example:
    >>> reader = SettingReader.load()  # doctest: +SKIP
    >>> sorted(reader.read("a toll booth in a blizzard"))  # doctest: +SKIP
    ['cold', 'storm']
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from emotion_director.files import load_shipped_yaml
from emotion_director.scenefit.model import DimensionsFile, SceneFit, TextEncoder

#: A value is stated when the scene's strongest window reads it at least this strongly (0-1). Tuned
#: on the blind-labelled end-to-end runs of benchmarks/scene_fit/e2e_runs (sets 6-8): concepts the
#: reader alone let in clashed 15 times in 33 labelled phrases read at 0.4-0.6 ("wood stove" read as
#: a forest at 0.44, "racing" as sports at 0.53), and 0 times in 26 read at 0.6 or more.
THRESHOLD = 0.6


@lru_cache(maxsize=1)
def load_setting_prototypes() -> DimensionsFile:
    text = resources.files("emotion_director.scenefit").joinpath("data/settings.yaml").read_text()
    return DimensionsFile.model_validate(load_shipped_yaml(text))


class SettingReader:
    """Scene text -> the setting tags its words state (see the module docstring)."""

    def __init__(self, encoder: TextEncoder | None = None, threshold: float = THRESHOLD) -> None:
        weights = {"tau": 0.5, "delta": 0.08, "distractors": True}
        self._fit = SceneFit(encoder, dimensions=load_setting_prototypes(), weights=weights)
        self.threshold = threshold

    @classmethod
    def load(cls) -> SettingReader:
        return _shared()

    def strengths(self, scene: str) -> dict[str, float]:
        """Every setting tag with how strongly ``scene`` states it (0-1)."""
        reading, _ = self._fit._read(scene)
        return {key.split(":", 1)[1]: value for key, value in reading.strength.items()}

    def read(self, scene: str) -> frozenset[str]:
        """The setting tags ``scene`` states: the tags read at least as strongly as the
        threshold, but indoors where the scene reads underwater more strongly ("a goblin shark
        ... at a diver's torch inside a flooded blue hole" reads underwater at 0.66 and, by its
        "inside", indoors at 0.62, and a door joined it, set 114; a carp inside a sunken
        pillbox or a conger inside a sunken jitney is in the water, not in a room)."""
        strengths = self.strengths(scene)
        found = {t for t, v in strengths.items() if v >= self.threshold}
        if {"indoor", "underwater"} <= found and strengths["underwater"] > strengths["indoor"]:
            found.discard("indoor")
        return frozenset(found)


@lru_cache(maxsize=1)
def _shared() -> SettingReader:
    return SettingReader()
