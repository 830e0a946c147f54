"""Does a phrase clash with its scene? Judged by meaning, on every dimension a picture has.

:class:`SceneFit` reads the scene and the phrase in short windows (every run of one to three
words, and the whole text), embeds each window with MiniLM, and scores how strongly each states
a value of each dimension (time of day, season, weather, enclosure, kind of place, sound, the
subject's state, scale, body) by its similarity to that value's generic prototypes
(``data/dimensions.yaml``), and by its margin over the dimension's other values. Windows keep the
subject from drowning the cues: "at 3 a.m." is judged on its own, not as part of "a laundromat
at 3 a.m.". A logistic model trained on the dev split of labelled pairs (``data/weights.json``,
``python -m emotion_director.scenefit.train``) learns which value the scene states clashes with
which value the phrase states, how much a view ("through the window", "on the horizon") excuses
it, and how far to trust the explicit cue tables of :mod:`emotion_director.knowledge.scene`.

Nothing here names a word of any scene: a noun no list has ("snowplough", "welder") is placed
by what it means.

A phrase that states one of the concept graph's concepts (a rewrite is mostly made of them) is
also held to what that concept presupposes of the scene, as the graph's filter holds it
(:meth:`~emotion_director.knowledge.concept_graph.VisualConcept.clash`): "lips pulled back in a
snarl" needs a subject awake, so it clashes with "a cat asleep on a windowsill", which the
meaning model alone does not see. The check and the graph then agree on what contradicts a
concept (the graph also leaves out a concept whose setting the scene does not state).

Example:
    >>> fit = SceneFit.load()  # doctest: +SKIP
    >>> fit.check("a snowplough at midnight", "a hot bright summer day").clash  # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from emotion_director.files import load_shipped_yaml
from emotion_director.scenefit.encoder import one_blas_thread

if TYPE_CHECKING:
    from numpy.typing import NDArray

_WORD = re.compile(r"[a-z0-9]+(?:[.'\-][a-z0-9]+)*\.?")
#: Words that carry no cue on their own: a window made only of them is skipped.
_FUNCTION_WORDS = frozenset(
    "a an the of in on at by to from with and or its it is are was be this that these those "
    "his her their our your my as into onto over under for while his one two some".split()
)


class Dimension(BaseModel):
    """One dimension of a picture: its values with prototypes, and what excludes what."""

    model_config = ConfigDict(extra="forbid")
    values: dict[str, list[str]] = Field(min_length=2)
    requires: dict[str, list[str]] = {}

    @field_validator("values")
    @classmethod
    def _prototypes(cls, values: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, protos in values.items():
            if not protos:
                raise ValueError(f"value {name!r} has no prototype phrases")
        return values


class DimensionsFile(BaseModel):
    """The schema of ``data/dimensions.yaml``."""

    model_config = ConfigDict(extra="forbid")
    dimensions: dict[str, Dimension]
    view_markers: list[str]
    #: What a phrase says that is no value of any dimension (a colour, a kind of light, a
    #: framing). A window nearer to one of these than to a value does not state that value:
    #: "emerald green" is a colour, not spring.
    distractors: list[str] = []

    def model_post_init(self, _: Any) -> None:
        for name, dim in self.dimensions.items():
            named = list(dim.requires) + [v for vs in dim.requires.values() for v in vs]
            unknown = sorted(set(named) - set(dim.values))
            if unknown:
                raise ValueError(f"dimension {name!r} names unknown values {unknown}")


class SceneFitVerdict(BaseModel):
    """The answer for one (scene, phrase) pair."""

    scene: str
    phrase: str
    clash: bool
    score: float = Field(description="probability of a clash, 0-1")
    dimension: str | None = Field(default=None, description="the dimension that weighs most")
    reason: str
    concept: str | None = Field(
        default=None,
        description="the concept graph's text the phrase states, when the scene rules out what "
        "it presupposes (a snarl on a cat asleep): a clash whatever the score",
    )


@lru_cache(maxsize=1)
def load_dimensions() -> DimensionsFile:
    text = resources.files("emotion_director.scenefit").joinpath("data/dimensions.yaml").read_text()
    return DimensionsFile.model_validate(load_shipped_yaml(text))


@lru_cache(maxsize=1)
def load_weights() -> dict[str, Any]:
    text = resources.files("emotion_director.scenefit").joinpath("data/weights.json").read_text()
    return json.loads(text)


def windows(text: str) -> list[str]:
    """The whole text and every run of 1-3 words that is not all function words."""
    words = _WORD.findall(text.lower())
    out = [" ".join(words)] if words else []
    for n in (1, 2, 3):
        for i in range(len(words) - n + 1):
            run = words[i : i + n]
            if all(w.strip(".") in _FUNCTION_WORDS for w in run):
                continue
            out.append(" ".join(run))
    return list(dict.fromkeys(out))


class _Reading:
    """Per value: how strongly a text states it (0-1) and the window that says so."""

    def __init__(self, strength: dict[str, float], window: dict[str, str]) -> None:
        self.strength = strength
        self.window = window


class TextEncoder(Protocol):
    """What :class:`SceneFit` embeds text with (:class:`~.encoder.MiniLMEncoder` by default)."""

    def encode(self, texts: list[str]) -> NDArray[Any]:
        """One unit vector per text, shape ``(len(texts), width)``."""
        ...


class SceneFit:
    """Scene/phrase clash detector (see the module docstring).

    Args:
        encoder: anything with ``encode(list[str]) -> ndarray`` of unit vectors; defaults to
            the shared MiniLM encoder.
        dimensions (`DimensionsFile`, *optional*): defaults to the packaged dimensions.
        weights (`dict`, *optional*): the trained model; defaults to ``data/weights.json``.
        concepts (`bool`, defaults to `True`): a phrase that states a concept of the graph
            clashes where the graph's filter refuses that concept on this scene (what it
            presupposes of the subject or the setting is ruled out: "lips pulled back in a
            snarl" on a sleeping cat), so that the check and the graph agree on its concepts.
    """

    def __init__(
        self,
        encoder: TextEncoder | None = None,
        dimensions: DimensionsFile | None = None,
        weights: dict[str, Any] | None = None,
        concepts: bool = True,
    ) -> None:
        import numpy as np

        from emotion_director.scenefit.encoder import shared_encoder

        self._np = np
        self.concepts = concepts
        self.encoder = encoder if encoder is not None else shared_encoder()
        self.dimensions = dimensions or load_dimensions()
        self.weights = weights if weights is not None else load_weights()
        self._keys: list[str] = []  # "dim:value"
        rows, owner = [], []
        for dname, dim in self.dimensions.dimensions.items():
            for value, protos in dim.values.items():
                self._keys.append(f"{dname}:{value}")
                rows.extend(protos)
                owner.extend([len(self._keys) - 1] * len(protos))
        self._protos = self.encoder.encode(rows)
        # each value's prototypes are one run of rows: where each run starts (for a max per run)
        self._starts = np.flatnonzero(np.diff(owner, prepend=-1) != 0)
        if len(self._starts) != len(self._keys):
            raise ValueError("every value of a scene-fit dimension needs a prototype")
        # each dimension's values as one run of columns (a value is rivalled within its own)
        self._dim_spans = []
        for dname in self.dimensions.dimensions:
            cols = [i for i, k in enumerate(self._keys) if k.split(":")[0] == dname]
            self._dim_spans.append((cols[0], cols[-1] + 1))
        self._views = self.encoder.encode(self.dimensions.view_markers)
        distractors = self.dimensions.distractors if self.weights.get("distractors", True) else []
        self._distract = self.encoder.encode(distractors) if distractors else None

    @classmethod
    def load(cls) -> "SceneFit":
        return _shared()

    # -- reading ------------------------------------------------------------------------------
    def _read(self, text: str) -> tuple[_Reading, float]:
        with one_blas_thread():  # (small products: see one_blas_thread)
            return self._read_windows(text)

    def _read_windows(self, text: str) -> tuple[_Reading, float]:
        np = self._np
        wins = windows(text) or [text]
        vecs = self.encoder.encode(wins)
        sims = vecs @ self._protos.T  # windows x prototypes
        tau = float(self.weights.get("tau", 0.5))
        delta = float(self.weights.get("delta", 0.08))
        # per window and value: the best prototype
        best = np.maximum.reduceat(sims, self._starts, axis=1)
        # a window states a value when it is near it *and* nearer to it than to the other values
        # of its dimension ("at midnight" is near "noon" too: both are times): the best of the
        # others is the dimension's best, or for the best value itself the second best
        rival = np.full_like(best, -1.0)
        rows = np.arange(len(best))
        for lo, hi in self._dim_spans:
            block = best[:, lo:hi]
            if hi - lo < 2:
                continue  # (a value with no rival in its dimension)
            first = block.argmax(axis=1)
            two = np.partition(block, hi - lo - 2, axis=1)[:, -2:]
            rival[:, lo:hi] = two[:, 1:]
            rival[rows, lo + first] = two[:, 0]
        if self._distract is not None:
            rival = np.maximum(rival, (vecs @ self._distract.T).max(axis=1, keepdims=True))
        level = np.clip((best - tau) / (1.0 - tau), 0.0, 1.0)
        margin = np.clip((best - rival) / delta, 0.0, 1.0)
        score = level * margin
        top = score.argmax(axis=0)
        strength = {key: float(score[top[i], i]) for i, key in enumerate(self._keys)}
        where = {key: wins[top[i]] for i, key in enumerate(self._keys)}
        view = float(
            np.clip(((vecs[1:] if len(wins) > 1 else vecs) @ self._views.T).max() - tau, 0.0, 1.0)
            / (1.0 - tau)
        )
        return _Reading(strength, where), view

    def features(self, scene: str, phrase: str) -> tuple[dict[str, float], dict[str, str]]:
        """The model's inputs for one pair, and a reason for each.

        For every two values ``a != b`` of one dimension: how strongly the scene states ``a``
        and the phrase states ``b``, where the scene does not state ``b`` itself (which pairs
        clash is learned: dawn against a midday sun, a laundromat against a meadow); the same
        weighed by how much the phrase reads as a view; for every ``requires`` rule, what the
        phrase needs that neither it nor the scene has; and the explicit cue tables' verdict.
        """
        s, _ = self._read(scene)
        p, view = self._read(phrase)
        feats: dict[str, float] = {}
        reasons: dict[str, str] = {}
        for dname, dim in self.dimensions.dimensions.items():
            for a in dim.values:
                for b in dim.values:
                    if a == b:
                        continue
                    ks, kp = f"{dname}:{a}", f"{dname}:{b}"
                    v = s.strength[ks] * p.strength[kp] * (1.0 - s.strength[kp])
                    name = f"{dname}:{a}>{b}"
                    feats[name] = v
                    feats[name + "*view"] = v * view
                    reasons[name] = (
                        f"'{p.window[kp]}' says {b}, the scene says {a} ('{s.window[ks]}')"
                    )
            for need, providers in dim.requires.items():
                kp = f"{dname}:{need}"
                have = max(
                    max(s.strength[f"{dname}:{v}"], p.strength[f"{dname}:{v}"]) for v in providers
                )
                name = f"{dname}:needs:{need}"
                feats[name] = p.strength[kp] * (1.0 - have)
                reasons[name] = (
                    f"'{p.window[kp]}' needs {' or '.join(providers)}, the scene has none"
                )
        feats["view"] = view
        reasons["view"] = ""
        if self.weights.get("explicit", True):
            cue = _explicit_cue(scene, phrase)
            feats["explicit"] = 1.0 if cue else 0.0
            reasons["explicit"] = cue or ""
        return feats, reasons

    def _verdict(self, scene: str, phrase: str) -> SceneFitVerdict:
        np = self._np
        feats, reasons = self.features(scene, phrase)
        coef = self.weights["coef"]
        contrib = {k: coef.get(k, 0.0) * v for k, v in feats.items()}
        z = self.weights["intercept"] + sum(contrib.values())
        prob = float(1.0 / (1.0 + np.exp(-z)))
        clash = prob >= self.weights["threshold"]
        top = max(contrib, key=contrib.__getitem__) if contrib else None
        dimension = None
        if top is not None and contrib[top] > 0:
            dimension = "explicit" if top == "explicit" else top.split(":")[0]
        concept = _concept_clash(scene, phrase) if self.concepts else None
        if concept is not None:
            clash, dimension = True, "concept"
            reason = f"concept: '{concept[0]}': {concept[1]}"
        elif clash:
            why = reasons.get(top.removesuffix("*view"), "") if top else ""
            reason = f"{dimension}: {why}" if why else "clashes with the scene"
        else:
            reason, dimension = "fits the scene", None
        return SceneFitVerdict(
            scene=scene,
            phrase=phrase,
            clash=clash,
            score=round(prob, 4),
            dimension=dimension,
            reason=reason,
            concept=concept[0] if concept else None,
        )

    def check(self, scene: str, phrase: str) -> SceneFitVerdict:
        """Whether ``phrase`` clashes with ``scene``, with a reason and a score."""
        return self._verdict(scene, phrase)

    def check_many(self, scene: str, phrases: list[str]) -> list[SceneFitVerdict]:
        """:meth:`check` for many phrases of one scene; their windows are embedded in one batch."""
        self.encoder.encode([w for t in [scene, *phrases] for w in windows(t)])
        return [self._verdict(scene, p) for p in phrases]


def _explicit_cue(scene: str, phrase: str) -> str | None:
    """The explicit cue tables' reason (night vs day, a body part no subject has), if any."""
    from emotion_director.knowledge.scene import contradiction

    return contradiction(_scene_facts(scene), phrase)


def _concept_clash(scene: str, phrase: str) -> tuple[str, str] | None:
    """The first concept of the graph the phrase states that the graph's filter refuses on
    this scene (its text, why), or ``None``."""
    from emotion_director.knowledge.concept_graph import load_concept_graph
    from emotion_director.knowledge.scene import parse_scene

    model = parse_scene(scene)
    for concept in load_concept_graph().mentioned(phrase):
        reason = concept.clash(model)
        if reason:
            return concept.text, reason
    return None


@lru_cache(maxsize=512)
def _scene_facts(scene: str) -> frozenset[str]:
    from emotion_director.knowledge.scene import parse_scene

    return parse_scene(scene).facts


@lru_cache(maxsize=1)
def _shared() -> SceneFit:
    return SceneFit()
