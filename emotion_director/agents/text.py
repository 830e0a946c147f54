"""Small text measures shared by the refiner and consensus: depictability and CLIP length."""

from __future__ import annotations

import re
from functools import lru_cache

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


#: The viewer's own things: a cue may show a gaze "straight at you" or "locked on yours", but
#: "your hair" is not in the picture (lower case: a sign reading "Mind Your Head" is).
_SPEAKS_TO_VIEWER = re.compile(r"\b(?:your|yourself|yourselves)\b")
#: The writer speaking of itself ("Might make me want to see how it works...", SmolLM2 over
#: llama.cpp's server): "I" only before a verb of its own ("World War I" is a name).
_SPEAKS_AS_WRITER = re.compile(
    r"(?i:\b(?:me|my|myself)\b)|\bI(?:'m|'ve|'d| am| have| want| think| feel| was| wonder)\b"
)
#: Modal verbs: before a verb's base form they state what could or will be, which no picture shows
#: ("can make", "will guide"); "may" is left out ("may blossom" is hawthorn).
_MODALS = frozenset("can could will would shall should might must".split())
#: What a modal's subject may be in a cue: a pronoun ("that will guide the boats home"). After a
#: noun, "can" is a thing: "a watering can spout", "a trash can fire".
_MODAL_SUBJECTS = frozenset("that which who it they he she we i".split())


#: Words about the prompt or the picture rather than in it ("The scene is described with vivid
#: details that include ...", SmolLM2 over llama.cpp's server in write mode).
_META = re.compile(
    r"\b(?:the|this|that)\s+(?:scene|image|picture|photo|photograph|prompt|description)\s+"
    r"(?:is|was|shows|depicts|features|includes|captures|has|contains)\b|\b(?:is|are)\s+described\b",
    re.IGNORECASE,
)


def speaks_of_picture(text: str) -> str | None:
    """The words with which ``text`` speaks of the picture or the prompt ("the scene is
    described", "this image shows"), or ``None``."""
    found = _META.search(text)
    return found.group(0) if found else None


def meta_reason(text: str) -> str | None:
    """Why ``text`` speaks about the picture or the prompt instead of showing something, or
    ``None``: "the scene is described with ...", "this image shows ...", a label in brackets
    ("this place (landmark)", "light (full-day)": a small model's annotations)."""
    found = speaks_of_picture(text)
    if found:
        return f"not a visual cue: it speaks of the picture ('{found}')"
    label = re.search(r"\([^()]*\)", text)
    if label:
        return f"not a visual cue: a label in brackets ('{label.group(0)}')"
    return None


def _modal_claim(cue: str) -> str | None:
    """A modal verb in lower case, opening the cue or after a pronoun, and the base-form verb
    after it ("can make", "that will guide"), if the cue has one."""
    from emotion_director.knowledge.scene import verbs

    words = re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)*", cue)
    for i, (modal, nxt) in enumerate(zip(words, words[1:])):
        base = nxt.lower()
        opens = i == 0 or words[i - 1].lower() in _MODAL_SUBJECTS
        if opens and modal in _MODALS and base in verbs() and not base.endswith(("ing", "ed", "s")):
            return f"{modal} {base}"
    return None


@lru_cache(maxsize=4096)
def undrawable_reason(cue: str) -> str | None:
    """Why a cue cannot be drawn as it stands, or ``None`` if it is depictable.

    A function of the cue alone (read once per cue: the concepts a rewrite offers recur).

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
    if re.search(r"[_{}<>\[\]|\\/=]|\.[a-z]{2,4}\b|https?:|&#?[a-z0-9]+;", cue):
        return "not a visual phrase (code, markup or a file name)"
    # a picture shows; it does not speak to its viewer or say what may happen ("&gt; can make
    # your hair grow longer." over llama.cpp's server)
    meta = meta_reason(cue)
    if meta:
        return meta
    speaks = _SPEAKS_TO_VIEWER.search(cue)
    if speaks:
        return f"not a visual cue: it speaks to the viewer ('{speaks.group(0)}')"
    claim = _modal_claim(cue)
    if claim:
        return f"not a visual cue: a statement of what could be ('{claim}')"
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


def speaks_as_writer(cue: str) -> str | None:
    """Why an English cue is the writer speaking of itself, not a thing to draw, or ``None``
    ("Might make me want to see how it works...": no cue of the 4,168 concept texts and
    hand-written phrases does; 6 of the 472 labelled server cues do, all undrawable)."""
    match = _SPEAKS_AS_WRITER.search(cue)
    return f"not a visual cue: the writer speaks of itself ('{match.group(0)}')" if match else None


def unknown_words_reason(cue: str, allowed: frozenset[str] = frozenset()) -> str | None:
    """Why a cue of an English scene is no English phrase, or ``None``: a chain of three words or
    more joined by hyphens or dashes with a made-up one ("flamencos-dezampres-dolores" over
    llama.cpp's server), or words English does not have, two at least and half of the cue's
    words at least ("Durante ogni sicurezza da essere a Roma", a sentence of another language
    that the same server wrote as a cue; "Munir Mahmooda", "diligacie en l'adolescer"). One word
    alone may be a dish, a craft or
    a place a capable model names ("steaming pho", "azulejo tiles", "celadon glaze"), and a name
    or a rare word may stand among English ones ("a tuk-tuk in Bangkok traffic"), and
    ``allowed`` (the scene's own words, which may be names) is never counted, in the singular or
    as written."""
    from emotion_director.knowledge.scene import known_english, singular

    def unknown(word: str) -> bool:
        if word in allowed or singular(word) in allowed:
            return False
        return not known_english(word)

    lowered = cue.lower()
    for chain in re.findall(r"[^\W\d_]+(?:[-\u2013][^\W\d_]+){2,}", lowered):
        parts = [w for w in re.split(r"[-\u2013]", chain) if len(w) > 2]
        if chain not in allowed and not known_english(chain) and any(map(unknown, parts)):
            return f"not an English word ('{chain}')"
    words = {w for w in re.findall(r"[^\W\d_]+", lowered) if len(w) > 2}
    strange = sorted(w for w in words if unknown(w))
    if len(strange) >= 2 and 2 * len(strange) >= len(words):
        return f"not English words ('{', '.join(strange[:2])}')"
    return None


def guess_facet(cue: str) -> str:
    """The visual facet a free-text cue most likely describes (``object`` when unsure)."""
    lowered = f" {cue.lower()} "
    for facet, hints in _FACET_HINTS.items():
        if any(h in lowered for h in hints):
            return facet
    return "object"
