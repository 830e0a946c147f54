"""Shortcut-proof text for alignment metrics: emotion words masked, and the text a rewrite added.

A text encoder asked "which emotion does this prompt evoke?" answers "fear" for
``"a dog, fear mood"`` because the word is there, although a diffusion model draws a plain dog.
Scoring alignment on the rewrite with every emotion word masked (the category names, their
synonyms and the mood words in :data:`~emotion_director.emotions.EMOTION_WORDS`, in any
inflection: ``fears``, ``feared``, ``fearfully``, ``angrily``, ``sadder``, ``terrifies``...)
leaves only what can be drawn. Scoring the *added* text (the rewrite without the original
prompt's words) separates what the rewrite contributed from what the subject already carried.

Example:
    >>> mask_emotion_words("a dog, fear mood, evoking fear")
    'a dog, evoking'
    >>> mask_emotion_words("a fearfully barking dog in an eerie, dark alley")
    'a barking dog in an, dark alley'
    >>> added_text("a dog", "a dog under a blazing fireworks sky")
    'under blazing fireworks sky'
"""

from __future__ import annotations

import re
from functools import lru_cache

from emotion_director.emotions import EMOTION_WORDS

#: Roots of emotion words whose inflections are not built from a listed word by a suffix
#: ("terrified" is listed, but "terrifies" and "terrify" come from the verb).
EXTRA_ROOTS: frozenset[str] = frozenset(
    {
        "abhor",
        "agony",
        "amaze",
        "amuse",
        "anguish",
        "annoy",
        "astonish",
        "awful",
        "bliss",
        "cheer",
        "contempt",
        "delight",
        "depress",
        "depression",
        "despise",
        "disgust",
        "distress",
        "dread",
        "ecstasy",
        "elation",
        "enjoy",
        "enrage",
        "euphoria",
        "excite",
        "exhilarate",
        "exuberant",
        "fear",
        "fright",
        "frighten",
        "frustrate",
        "glad",
        "glee",
        "gloom",
        "grieve",
        "happy",
        "hate",
        "hatred",
        "hilarity",
        "horrible",
        "horrific",
        "horrify",
        "irritate",
        "jolly",
        "joy",
        "jubilant",
        "jubilation",
        "lament",
        "majesty",
        "merry",
        "mirth",
        "misery",
        "mourn",
        "nausea",
        "nauseate",
        "outrage",
        "pity",
        "please",
        "rapture",
        "rejoice",
        "relax",
        "repulse",
        "revolt",
        "sadden",
        "scare",
        "sicken",
        "soothe",
        "sorrow",
        "sorry",
        "terrible",
        "terrify",
        "thrill",
        "woe",
        "worry",
        "wrath",
    }
)
# Deliberately not masked: expressions a painter can draw (crying, tears, a smile, a scream,
# trembling): they are scene content, not the label of an emotion.

# inflectional and derivational suffixes, longest first; each maps to the endings its base may
# have had (``happily`` -> ``happy``, ``sadder`` -> ``sad``, ``amusing`` -> ``amuse``)
_SUFFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ically", ("ic", "ical")),
    ("fully", ("ful", "")),
    ("ingly", ("ing", "", "e")),
    ("edly", ("ed", "", "e")),
    ("iness", ("y",)),
    ("ness", ("",)),
    ("iest", ("y",)),
    ("ier", ("y",)),
    ("ily", ("y",)),
    ("ies", ("y",)),
    ("ied", ("y",)),
    ("ment", ("", "e")),
    ("less", ("",)),
    ("ful", ("", "e")),
    ("ing", ("", "e")),
    ("est", ("", "e")),
    ("ously", ("ous", "", "e")),
    ("ous", ("", "e")),
    ("ed", ("", "e")),
    ("er", ("", "e")),
    ("ly", ("", "le", "e")),
    ("ish", ("", "e")),
    ("es", ("", "e")),
    ("s", ("",)),
    ("y", ("", "e")),
)

_WORD = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*")


def _roots() -> frozenset[str]:
    return frozenset(w for w in EMOTION_WORDS if " " not in w) | EXTRA_ROOTS


def _candidates(word: str) -> set[str]:
    """``word`` and the bases it may be an inflection of (two suffixes deep)."""
    found = {word}
    frontier = {word}
    for _ in range(2):
        nxt: set[str] = set()
        for w in frontier:
            for suffix, endings in _SUFFIXES:
                if w.endswith(suffix) and len(w) - len(suffix) >= 2:
                    stem = w[: -len(suffix)]
                    for ending in endings:
                        nxt.add(stem + ending)
                    if len(stem) >= 3 and stem[-1] == stem[-2]:  # sadder -> sad
                        nxt.add(stem[:-1])
        nxt -= found
        found |= nxt
        frontier = nxt
    return found


@lru_cache(maxsize=65536)
def is_emotion_word(word: str) -> bool:
    """True when ``word`` is an emotion/mood word or an inflection of one (case-insensitive)."""
    lowered = word.lower().replace("’", "'")
    if lowered in EMOTION_WORDS:
        return True
    roots = _ROOTS
    parts = re.split(r"[-']", lowered)
    # "awe-inspiring", "fear-struck": a compound with an emotion part is an emotion word
    return any(bool(_candidates(p) & roots) for p in parts if p)


_ROOTS = _roots()
_PHRASES = sorted((w for w in EMOTION_WORDS if " " in w), key=len, reverse=True)


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"([,.;:!?])(?:\s*[,.;:!?])+", r"\1", text)  # "dog, , evoking" -> "dog, evoking"
    return text.strip(" ,;:")


def mask_emotion_words(text: str) -> str:
    """``text`` with every emotion word, synonym and inflection removed.

    Removed rather than replaced by a placeholder: a ``[MASK]`` token is itself text the encoder
    reads, and it would make every masked rewrite look alike.
    """
    for phrase in _PHRASES:
        text = re.sub(rf"\b{re.escape(phrase)}\b", " ", text, flags=re.IGNORECASE)
    text = _WORD.sub(lambda m: " " if is_emotion_word(m.group(0)) else m.group(0), text)
    return _tidy(text)


def added_text(prompt: str, rewrite: str) -> str:
    """The words of ``rewrite`` that are not words of ``prompt`` (order kept, case-insensitive).

    Example:
        >>> added_text("an angry dog", "an angry dog asleep on a sunlit porch")
        'asleep on a sunlit porch'
    """
    prompt_words = {w.lower() for w in _WORD.findall(prompt)}
    kept = [w for w in _WORD.findall(rewrite) if w.lower() not in prompt_words]
    return " ".join(kept)
