"""Small text measures shared by the refiner and consensus: depictability and CLIP length."""

from __future__ import annotations

import re

from emotion_director.clip_bpe import estimate_clip_tokens  # noqa: F401 (its old home)
from emotion_director.emotions import EMOTIONS, emotion_words_in
from emotion_director.untrusted import hidden_text_problem, instruction_reason, scene_copy

#: Abstract nouns a diffusion model cannot draw on their own.
ABSTRACT_WORDS = frozenset(
    "sense essence spirit idea concept memory memories meaning freedom harmony nostalgia "
    "energy presence soul sensation aura emptiness nothingness infinity eternity innocence "
    "purity tension vibe vibes feeling feelings emotion emotions mood atmosphere dream dreams "
    "vision visions".split()
)

_FACET_HINTS: dict[str, tuple[str, ...]] = {
    "light": ("light", "sun", "glow", "shadow", "lamp", "beam", "shine", "backlit", "lit "),
    "colour": (
        "colour",
        "color",
        "palette",
        "hue",
        "tone",
        "red",
        "blue",
        "green",
        "gold",
        "yellow",
        "grey",
        "gray",
        "pink",
        "orange",
        "purple",
    ),
    "weather": ("rain", "fog", "mist", "snow", "storm", "cloud", "wind", "haze", "thunder"),
    "composition": (
        "shot",
        "angle",
        "frame",
        "framing",
        "close-up",
        "wide",
        "depth of field",
        "bokeh",
        "composition",
        "perspective",
        "view",
        "lens",
    ),
    "texture": ("texture", "grain", "rough", "smooth", "glossy", "cracked", "weathered"),
    "body_language": (
        "eyes",
        "ears",
        "tail",
        "posture",
        "shoulders",
        "head",
        "grin",
        "smile",
        "brow",
        "fists",
        "teeth",
        "lip",
    ),
    "action": (
        "running",
        "leaping",
        "jumping",
        "sprinting",
        "walking",
        "waiting",
        "playing",
        "splashing",
        "lunging",
        "resting",
        "sleeping",
        "sniffing",
        "chasing",
    ),
    "space": ("horizon", "corridor", "room", "meadow", "alley", "path", "field", "space"),
}


def undrawable_reason(cue: str) -> str | None:
    """Why a cue cannot be drawn as it stands, or ``None`` if it is depictable.

    A cue is undrawable when it gives the model an instruction (model output is checked as
    strictly as the user's prompt), when it repeats an emotion's definition (which the model's
    prompt holds), when it relies on a bare emotion word ("a sad dog" is the semantic shortcut)
    or when what is left after removing such words is only abstraction.
    """
    # model output is data too: a cue is checked as strictly as the user's prompt
    instruction = instruction_reason(cue)
    if instruction:
        return f"not a visual cue: {instruction}"
    if hidden_text_problem(cue, "cue"):
        return "not a visual cue: hidden characters"
    # the emotion's definition is in the model's prompt: a cue that repeats it draws nothing
    # ("alarm at a threat that may harm oneself or others" over llama.cpp's server)
    if any(scene_copy(cue, profile.definition) for profile in EMOTIONS.values()):
        return "not a visual cue: it repeats an emotion's definition"
    emotion_words = emotion_words_in(cue)
    # words are tokens of letters: a run of letters inside a code ("#875C4F6E-D12B", a small
    # model's noise) is no word ("1920s" and "x-ray" leave their neighbours words)
    words = [
        w
        for token in cue.lower().split()
        if not re.search(r"\d", token) or re.fullmatch(r"\d+(?:s|st|nd|rd|th|m|km)?\W*", token)
        for w in re.findall(r"[a-z]+", token)
    ]
    if re.search(r"[_{}<>\[\]|\\/=]|\.[a-z]{2,4}\b|https?:", cue):
        return "not a visual phrase (code, markup or a file name)"
    if len(words) > 16:
        return "a sentence, not a visual cue"
    concrete = [
        w
        for w in words
        if w not in ABSTRACT_WORDS
        and w not in emotion_words
        and len(w) > 2
        and w not in {"the", "and", "with", "that", "this", "sense", "full", "feel"}
    ]
    if emotion_words:
        return f"bare emotion word '{emotion_words[0]}'"
    abstract = [w for w in words if w in ABSTRACT_WORDS]
    if abstract and len(concrete) <= len(abstract):
        return f"abstract ('{abstract[0]}') with nothing visible to draw"
    if not concrete:
        return "nothing visible to draw"
    return None


def unknown_words_reason(cue: str, allowed: frozenset[str] = frozenset()) -> str | None:
    """Why a cue of an English scene is no English phrase, or ``None``: most of its content
    words (two at least) are words English does not have and ``allowed`` (the scene's own words,
    which may be names) does not hold. A small model's noise makes words up
    ("flamencos-dezampres-dolores" over llama.cpp's server); a name or a rare word may stand
    among English words ("Chefchaouen blue walls at dusk", "a tuk-tuk in Bangkok traffic")."""
    from emotion_director.knowledge.scene import known_english

    words = {w for w in re.findall(r"[a-z]+", cue.lower()) if len(w) > 2}
    unknown = sorted(w for w in words - allowed if not known_english(w))
    if len(unknown) >= 2 and 2 * len(unknown) >= len(words):
        return f"not English words ('{unknown[0]}', '{unknown[1]}')"
    # a chain of three words or more with a made-up one ("flamencos-dezampres-dolores"); English
    # chains are of English words ("larger-than-life", "happy-go-lucky")
    for chain in re.findall(r"[a-z]+(?:-[a-z]+){2,}", cue.lower()):
        made_up = [w for w in chain.split("-") if w not in allowed and not known_english(w)]
        if made_up and not known_english(chain):
            return f"not an English word ('{chain}')"
    return None


def guess_facet(cue: str) -> str:
    """The visual facet a free-text cue most likely describes (``object`` when unsure)."""
    lowered = f" {cue.lower()} "
    for facet, hints in _FACET_HINTS.items():
        if any(h in lowered for h in hints):
            return facet
    return "object"
