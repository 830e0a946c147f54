"""The emotion model: the 8 Mikels categories used by EmoSet, with synonyms and valence/arousal.

Valence is on ``[-1, 1]`` and arousal on ``[0, 1]``. The typical values are approximate
circumplex placements of each category (Russell's circumplex model; Mikels et al. 2005 for the
categories; EmoSet, Yang et al. 2023, for their use in affective image data). They are used to
check a request that gives both an emotion and valence/arousal, and to pick the nearest category
when only valence/arousal are given.

Example:
    >>> from emotion_director.emotions import resolve_emotion, Emotion
    >>> resolve_emotion("Scared") is Emotion.FEAR
    True
    >>> EMOTIONS[Emotion.AWE].polarity
    'positive'
"""

from __future__ import annotations

import difflib
import math
import numbers
import re
import unicodedata
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from emotion_director.errors import InvalidRequestError, UnknownEmotionError


class Emotion(str, Enum):
    """The 8 Mikels emotion categories, in EmoSet's order."""

    AMUSEMENT = "amusement"
    AWE = "awe"
    CONTENTMENT = "contentment"
    EXCITEMENT = "excitement"
    ANGER = "anger"
    DISGUST = "disgust"
    FEAR = "fear"
    SADNESS = "sadness"

    def __str__(self) -> str:
        return self.value


Polarity = Literal["positive", "negative"]


@dataclass(frozen=True)
class EmotionProfile:
    """What the project knows about one emotion category."""

    emotion: Emotion
    definition: str
    polarity: Polarity
    valence: float
    arousal: float
    synonyms: tuple[str, ...] = field(default_factory=tuple)

    @property
    def words(self) -> tuple[str, ...]:
        """The category name and every synonym: words a depictable prompt must not rely on."""
        return (self.emotion.value, *self.synonyms)


EMOTIONS: dict[Emotion, EmotionProfile] = {
    Emotion.AMUSEMENT: EmotionProfile(
        Emotion.AMUSEMENT,
        "light-hearted delight at something funny, playful or absurd",
        "positive",
        0.7,
        0.6,
        (
            "amused",
            "amusing",
            "funny",
            "fun",
            "playful",
            "humor",
            "humour",
            "humorous",
            "hilarious",
            "comic",
            "comical",
            "silly",
            "laughter",
            "whimsical",
            "goofy",
            "cheerful",
        ),
    ),
    Emotion.AWE: EmotionProfile(
        Emotion.AWE,
        "wonder before something vast or extraordinary that exceeds one's frame of reference",
        "positive",
        0.6,
        0.55,
        (
            "awed",
            "awestruck",
            "awe-inspiring",
            "wonder",
            "amazed",
            "amazement",
            "astonished",
            "majestic",
            "sublime",
            "reverence",
            "marvel",
            "breathtaking",
            "awesome",
        ),
    ),
    Emotion.CONTENTMENT: EmotionProfile(
        Emotion.CONTENTMENT,
        "calm satisfaction and ease, a sense that nothing more is needed",
        "positive",
        0.7,
        0.25,
        (
            "content",
            "contented",
            "calm",
            "peaceful",
            "peace",
            "serene",
            "serenity",
            "relaxed",
            "tranquil",
            "tranquility",
            "cozy",
            "cosy",
            "satisfied",
            "happy",
            "happiness",
            "at ease",
            "comfortable",
            "soothing",
            "gentle",
            "joy",
            "joyful",
        ),
    ),
    Emotion.EXCITEMENT: EmotionProfile(
        Emotion.EXCITEMENT,
        "eager, energetic anticipation or thrill",
        "positive",
        0.8,
        0.85,
        (
            "excited",
            "exciting",
            "thrilled",
            "thrilling",
            "thrill",
            "exhilarated",
            "exhilarating",
            "enthusiastic",
            "eager",
            "energetic",
            "ecstatic",
            "elated",
            "euphoric",
            "hyped",
        ),
    ),
    Emotion.ANGER: EmotionProfile(
        Emotion.ANGER,
        "hostile arousal at an obstacle, offence or injustice",
        "negative",
        -0.6,
        0.8,
        (
            "angry",
            "anger",
            "mad",
            "furious",
            "fury",
            "rage",
            "raging",
            "enraged",
            "irate",
            "irritated",
            "annoyed",
            "hostile",
            "outraged",
            "wrathful",
            "aggressive",
            "livid",
        ),
    ),
    Emotion.DISGUST: EmotionProfile(
        Emotion.DISGUST,
        "revulsion at something contaminating, rotten or morally repugnant",
        "negative",
        -0.7,
        0.55,
        (
            "disgusted",
            "disgusting",
            "gross",
            "revolting",
            "repulsive",
            "revulsion",
            "nauseating",
            "nauseous",
            "sickening",
            "repugnant",
            "vile",
            "loathsome",
            "icky",
        ),
    ),
    Emotion.FEAR: EmotionProfile(
        Emotion.FEAR,
        "alarm at a threat that may harm oneself or others",
        "negative",
        -0.75,
        0.85,
        (
            "afraid",
            "scared",
            "scary",
            "fearful",
            "frightened",
            "frightening",
            "terrified",
            "terrifying",
            "terror",
            "horror",
            "horrified",
            "anxious",
            "anxiety",
            "dread",
            "creepy",
            "spooky",
            "panic",
            "panicked",
            "nervous",
            "eerie",
        ),
    ),
    Emotion.SADNESS: EmotionProfile(
        Emotion.SADNESS,
        "sorrow at loss, absence or helplessness",
        "negative",
        -0.7,
        0.25,
        (
            "sad",
            "sadness",
            "unhappy",
            "sorrow",
            "sorrowful",
            "grief",
            "grieving",
            "melancholy",
            "melancholic",
            "depressed",
            "depressing",
            "gloomy",
            "mournful",
            "lonely",
            "loneliness",
            "heartbroken",
            "despair",
            "miserable",
            "somber",
            "sombre",
            "tearful",
            "upset",
        ),
    ),
}

#: Bare emotion and mood words: the semantic shortcut. They are dropped from visual cues
#: because a diffusion model cannot draw them (it draws "a sad dog" as a generic dog).
EMOTION_WORDS: frozenset[str] = frozenset(
    w for profile in EMOTIONS.values() for w in profile.words
) | frozenset(
    {
        "emotion",
        "emotional",
        "emotions",
        "feeling",
        "feelings",
        "mood",
        "moody",
        "vibe",
        "vibes",
        "atmosphere",
        "atmospheric",
        "evocative",
        "poignant",
        "hopeful",
        "hope",
        "nostalgic",
        "nostalgia",
        "love",
        "loving",
        "lovely",
        "beautiful",
        "beauty",
        "delight",
        "delightful",
        "pleasant",
        "unpleasant",
        "emotive",
        "mysterious",
        "mystery",
        "ominous",
        "dramatic",
        "inspiring",
        "uplifting",
    }
)

_SYNONYMS: dict[str, Emotion] = {
    word: profile.emotion for profile in EMOTIONS.values() for word in profile.words
}


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def resolve_emotion(name: str | Emotion) -> Emotion:
    """Map an emotion name or a common synonym to its Mikels category.

    Args:
        name (`str` or `Emotion`): e.g. ``"awe"``, ``"Scared"``, ``"furious"``.

    Returns:
        The matching :class:`Emotion`.

    Raises:
        UnknownEmotionError: the name is unknown; the message lists the valid categories and the
            closest known word.

    Example:
        >>> resolve_emotion("furious").value
        'anger'
    """
    if isinstance(name, Emotion):
        return name
    if not isinstance(name, str):
        raise UnknownEmotionError(
            f"emotion must be a name, got {type(name).__name__}: pass one of "
            + ", ".join(e.value for e in Emotion)
        )
    if not name.strip():
        raise UnknownEmotionError(
            "emotion is empty: pass one of " + ", ".join(e.value for e in Emotion)
        )
    name = name.strip()  # (a value read with its newline)
    odd = next(
        (c for c in name if ord(c) < 32 or 127 <= ord(c) < 160 or unicodedata.category(c) == "Cf"),
        None,
    )
    if odd is not None:  # (shown as text it would read "unknown emotion 'awe'")
        raise UnknownEmotionError(
            f"emotion contains the invisible or control character U+{ord(odd):04X}: remove it and "
            "pass one of " + ", ".join(e.value for e in Emotion)
        )
    key = _normalise(name)
    if key in _SYNONYMS:
        return _SYNONYMS[key]
    close = difflib.get_close_matches(key, list(_SYNONYMS), n=1, cutoff=0.6)
    hint = f" Did you mean '{close[0]}' ({_SYNONYMS[close[0]].value})?" if close else ""
    raise UnknownEmotionError(
        f"unknown emotion '{name.strip()[:40]}'.{hint} Valid emotions: "
        + ", ".join(e.value for e in Emotion)
        + " (common synonyms such as 'happy', 'scared' or 'furious' also work)."
    )


def nearest_emotion(valence: float, arousal: float) -> Emotion:
    """The category whose typical valence/arousal is closest (Euclidean) to the given point."""
    _check_affect(valence, arousal)
    return min(
        EMOTIONS.values(),
        key=lambda p: (p.valence - valence) ** 2 + (p.arousal - arousal) ** 2,
    ).emotion


def _check_affect(valence: float | None, arousal: float | None) -> None:
    for name, value in (("valence", valence), ("arousal", arousal)):
        if value is None:
            continue
        try:  # any real number (numpy's too), not a bool, a string or NaN
            number = float(value) if isinstance(value, numbers.Real) else math.nan
        except (OverflowError, TypeError, ValueError):
            number = math.nan
        if isinstance(value, bool) or not math.isfinite(number):
            raise InvalidRequestError(
                f"{name} must be a finite number, got {type(value).__name__} "
                f"{str(value)[:20]!r}: pass e.g. valence=0.6, arousal=0.8."
            )
    if valence is not None and not -1.0 <= valence <= 1.0:
        raise InvalidRequestError(f"valence {valence} is out of range: use a number in [-1, 1].")
    if arousal is not None and not 0.0 <= arousal <= 1.0:
        raise InvalidRequestError(f"arousal {arousal} is out of range: use a number in [0, 1].")


def check_affect_consistency(
    emotion: Emotion, valence: float | None, arousal: float | None
) -> None:
    """Reject a valence/arousal pair that contradicts the requested emotion.

    A valence of the opposite sign (beyond ±0.2) or an arousal more than 0.5 away from the
    category's typical arousal is a conflict: the request cannot be honoured as stated.
    """
    _check_affect(valence, arousal)
    profile = EMOTIONS[emotion]
    if valence is not None and abs(valence) > 0.2:
        if (valence > 0) != (profile.polarity == "positive"):
            raise InvalidRequestError(
                f"valence {valence:+.2f} conflicts with '{emotion.value}', a {profile.polarity} "
                f"emotion (typical valence {profile.valence:+.2f}): drop --valence or pick a "
                f"{'negative' if valence < 0 else 'positive'} emotion."
            )
    if arousal is not None and abs(arousal - profile.arousal) > 0.5:
        raise InvalidRequestError(
            f"arousal {arousal:.2f} conflicts with '{emotion.value}' (typical arousal "
            f"{profile.arousal:.2f}): drop --arousal or pick another emotion."
        )


def emotion_words_in(text: str) -> list[str]:
    """The bare emotion/mood words found in ``text`` (lower-cased, in order of appearance)."""
    lowered = text.lower()
    found = [w for w in re.findall(r"[a-z]+(?:-[a-z]+)?", lowered) if w in EMOTION_WORDS]
    found += [w for w in EMOTION_WORDS if " " in w and w in lowered]
    return found
