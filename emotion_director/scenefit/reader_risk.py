"""How often blind readers found phrases like a concept clashing with scenes like this one.

Every end-to-end benchmark set of this project (``benchmarks/scene_fit/e2e_runs``) was read by
two blind readers who named each added phrase that clashes with its scene. ``data/reader_pairs.npz``
holds those labels as MiniLM vectors: for every (scene, phrase) pair both readers agreed on, the
scene's vector, the phrase's vector and whether it clashed. For a new scene and a concept,
:class:`ReaderRisk` takes the ``K`` labelled pairs nearest to (scene, concept), nearness being
``SCENE_WEIGHT`` x the scenes' cosine + the phrases' cosine, and weighs their labels by
``exp(TEMPERATURE x nearness)`` (:meth:`ReaderRisk.rates`). :meth:`ReaderRisk.risks` gives that
rate as log-odds over the pooled clash rate of all labelled pairs.

This judges by meaning, not by listing: a concept no reader ever saw inherits the labels of the
phrases that mean the same, and "a meadow" is risky in a laundromat because readers refused
countryside in other rooms, not because a rule names either. The graph ranks concepts with it
(``Settings.read_risk``); the eval checker (:mod:`emotion_director.evals.scene_checker`) uses
neither these labels nor MiniLM.

Measured (``benchmarks/scene_fit_phrases.py --knn``): trained on the labels of sets 1-12 and
read on sets 13-27 (4,872 labelled phrases of 640 scenes written later), the rate ranks the
phrases of one scene with AUC 0.84, and the ranking's cost (the log-odds cut at 0) with 0.72,
against 0.57 for the per-concept count table (``knowledge/data/concept_risk.tsv``) built from
the same sets. ``K``, ``SCENE_WEIGHT`` and ``TEMPERATURE`` were chosen by 4-fold
cross-validation over scenes within sets 1-12.

Example:
    >>> risk = ReaderRisk.load()  # doctest: +SKIP
    >>> risk.risks("a free diver beside a whale shark", ["towering cumulus clouds filling the sky",
    ...                                                  "rim light glowing around the silhouette"])
    ... # doctest: +SKIP
    [1.24, -1.5]
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from emotion_director.scenefit.encoder import one_blas_thread
from emotion_director.scenefit.model import TextEncoder

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: Labelled pairs each answer is drawn from.
K = 400
#: Weight of the scenes' similarity beside the phrases' (1: a pair is near when both are).
SCENE_WEIGHT = 1.0
#: How sharply nearer pairs count more: weight ``exp(TEMPERATURE x nearness)``.
TEMPERATURE = 5.0
PAIRS_FILE = "reader_pairs.npz"
_REBUILD = "rebuild it: python benchmarks/scene_fit_phrases.py --pairs FILE"


def generic_text(concept_text: str) -> str:
    """A concept template as the labels read it: ``{the}`` is "the subject", ``{poss}`` "its"."""
    return concept_text.replace("{the}", "the subject").replace("{poss}", "its")


class ReaderPairs:
    """The labelled pairs of ``data/reader_pairs.npz``, with a check of their shape."""

    def __init__(self, arrays: dict[str, Any]) -> None:
        import numpy as np

        missing = {"texts", "vecs", "pair_scene", "pair_phrase", "clash", "meta"} - set(arrays)
        if missing:
            raise ValueError(f"{PAIRS_FILE} lacks {sorted(missing)}: {_REBUILD}")
        self.texts: list[str] = [str(t) for t in arrays["texts"]]
        self.vecs = np.asarray(arrays["vecs"], dtype=np.float32)
        self.pair_scene = np.asarray(arrays["pair_scene"], dtype=np.int64)
        self.pair_phrase = np.asarray(arrays["pair_phrase"], dtype=np.int64)
        self.clash = np.asarray(arrays["clash"], dtype=np.float32)
        self.meta: dict[str, Any] = json.loads(str(arrays["meta"]))
        n = len(self.clash)
        if self.vecs.shape[0] != len(self.texts) or not (
            len(self.pair_scene) == len(self.pair_phrase) == n > 0
        ):
            raise ValueError(
                f"{PAIRS_FILE}: texts, vectors and pairs disagree in length: {_REBUILD}"
            )
        if (
            max(self.pair_scene.max(), self.pair_phrase.max()) >= len(self.texts)
            or min(self.pair_scene.min(), self.pair_phrase.min()) < 0
        ):
            raise ValueError(f"{PAIRS_FILE}: a pair points past the texts: {_REBUILD}")
        self.index = {t: i for i, t in enumerate(self.texts)}

    @classmethod
    def packaged(cls) -> ReaderPairs:
        import numpy as np

        path = resources.files("emotion_director.scenefit").joinpath("data", PAIRS_FILE)
        with path.open("rb") as f, np.load(f, allow_pickle=False) as data:
            return cls({k: data[k] for k in data.files})


class ReaderRisk:
    """Scene + concepts -> each concept's excess clash log-odds (see the module docstring).

    Args:
        encoder: anything with ``encode(list[str]) -> ndarray`` of unit vectors; defaults to the
            shared MiniLM encoder (the one the labels were embedded with).
        pairs (`ReaderPairs`, *optional*): defaults to the packaged labels.
    """

    def __init__(self, encoder: TextEncoder | None = None, pairs: ReaderPairs | None = None):
        import numpy as np

        from emotion_director.scenefit.encoder import shared_encoder

        self._np = np
        self.encoder = encoder if encoder is not None else shared_encoder()
        self.pairs = pairs if pairs is not None else ReaderPairs.packaged()
        # a pair's nearness is computed from its scene's and its phrase's texts: each distinct
        # text once (about an eighth of them scenes and a sixth phrases), spread to the pairs after
        scenes, self._pair_scene = np.unique(self.pairs.pair_scene, return_inverse=True)
        phrases, self._pair_phrase = np.unique(self.pairs.pair_phrase, return_inverse=True)
        self._scene_vecs = np.ascontiguousarray(self.pairs.vecs[scenes])
        self._phrase_vecs = np.ascontiguousarray(self.pairs.vecs[phrases])
        self.base = float(self.pairs.clash.mean())
        self._base_logit = _logit(self.base)
        # a pair whose scene or phrase has no vector (NaN) is never near: found once here
        dead_scene = np.asarray(np.isnan(self._scene_vecs).any(axis=1))
        dead_phrase = np.asarray(np.isnan(self._phrase_vecs).any(axis=1))
        self._dead_pairs = np.flatnonzero(
            dead_scene[self._pair_scene] | dead_phrase[self._pair_phrase]
        )
        # a scene asked again (another seed, another persona's reading) is not computed again
        self._cached_rates = lru_cache(maxsize=256)(self._rates)

    @classmethod
    def load(cls) -> ReaderRisk:
        return _shared()

    def _vectors(self, texts: Sequence[str]) -> NDArray[Any]:
        """Each text's vector: the labels' own where they hold it, else MiniLM's (one batch)."""
        np = self._np
        known = self.pairs.index
        out = np.zeros((len(texts), self.pairs.vecs.shape[1]), dtype=np.float32)
        todo = [i for i, t in enumerate(texts) if t not in known]
        if todo:
            out[todo] = self.encoder.encode([texts[i] for i in todo])
        for i, t in enumerate(texts):
            if t in known:
                out[i] = self.pairs.vecs[known[t]]
        return out

    def rates(self, scene: str, concepts: Sequence[str]) -> list[float]:
        """The readers' neighbour-weighted clash rate of each concept in ``scene`` (0-1)."""
        if not concepts:
            return []
        with one_blas_thread():  # (small products: see one_blas_thread)
            return list(self._cached_rates(scene, tuple(concepts)))

    def _rates(self, scene: str, concepts: tuple[str, ...]) -> tuple[float, ...]:
        np = self._np
        u = self._vectors([scene])[0]
        v = self._vectors([generic_text(c) for c in concepts])
        near = (v @ self._phrase_vecs.T)[:, self._pair_phrase]  # concepts x pairs
        near += SCENE_WEIGHT * (self._scene_vecs @ u)[self._pair_scene]
        if self._dead_pairs.size:
            near[:, self._dead_pairs] = -np.inf  # a pair of no vector is never near
        if not (np.isfinite(u).all() and np.isfinite(v).all()):
            np.nan_to_num(near, copy=False, nan=-np.inf)  # nor is a text of none
        # the K nearest pairs: those at least as near as the K-th nearest (a pair labelled twice
        # has two equal entries; a tie at the K-th counts every pair of it, not an arbitrary one)
        n = near.shape[1]
        kth = np.partition(near, n - min(K, n), axis=1)[:, n - min(K, n), None]
        weight = np.exp(TEMPERATURE * near)  # nearness <= 1 + SCENE_WEIGHT: no overflow
        weight[near < kth] = 0.0
        # one pseudo-pair at the pooled rate, of weight 1 (a pair of nearness 0)
        rate = (weight @ self.pairs.clash + self.base) / (weight.sum(axis=1) + 1)
        return tuple(float(r) for r in rate)

    def risks(self, scene: str, concepts: Sequence[str]) -> list[float]:
        """Each concept's clash log-odds in ``scene`` above the pooled rate of all labelled
        pairs (negative below it); the ranking counts what is above 0 as a cost."""
        return [round(_logit(r) - self._base_logit, 2) for r in self.rates(scene, concepts)]


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


@lru_cache(maxsize=1)
def _shared() -> ReaderRisk:
    return ReaderRisk()
