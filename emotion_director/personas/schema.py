"""The persona schema: who a persona agent is, what they like to look at, and how much they count.

Example:
    >>> from emotion_director.personas import Persona
    >>> p = Persona.model_validate({
    ...     "name": "ana", "bio": {"age": 30, "culture": "Portuguese", "occupation": "baker",
    ...     "life_experience": "grew up by the sea"}, "temperament": "warm",
    ...     "taste": {"palette": ["ochre"], "light": ["dawn light"], "media": ["film photo"],
    ...               "composition": ["close-up"]}})
    >>> p.weight, p.sensitivity_for("awe")
    (1.0, 1.0)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from emotion_director.emotions import Emotion, resolve_emotion
from emotion_director.knowledge.concept_graph import FACETS
from emotion_director.untrusted import control_character, hidden_text_problem, instruction_reason


def persona_text(value: Any, info: ValidationInfo) -> Any:  # a pydantic field validator
    """A persona's free text goes into every prompt its agent reads and onto the terminal: a
    persona file describes a person and must not give the model instructions (a shared file
    could carry an injection), nor hide text or drive the terminal (control characters and
    escape sequences, bidirectional overrides), as a prompt may not either. Only a clear
    instruction is refused; "a hacker who ignores the rules" is a biography."""
    for text in value if isinstance(value, list) else [value]:
        if not isinstance(text, str):
            continue
        control = control_character(text)
        if control is not None:
            raise ValueError(f"contains control character U+{ord(control):04X}: remove it")
        hidden = hidden_text_problem(text, "the text")
        if hidden:
            raise ValueError(hidden.removeprefix("the text ").rstrip("."))
        reason = instruction_reason(text, clear_only=True)
        if reason:
            raise ValueError(
                f"{text[:60]!r} {reason}; a persona file describes a person: remove the instruction"
            )
    return value


class Bio(BaseModel):
    """A short biography: what shaped how this person reads a scene."""

    model_config = ConfigDict(extra="forbid")

    age: int = Field(ge=3, le=120, description="age in years")
    culture: str = Field(min_length=1, description="cultural background, e.g. 'rural Kenyan'")
    occupation: str = Field(min_length=1)
    life_experience: str = Field(min_length=1, description="one or two sentences")

    _free_text = field_validator("culture", "occupation", "life_experience")(persona_text)


class Taste(BaseModel):
    """Aesthetic taste; every entry is a short phrase matched against visual concepts."""

    model_config = ConfigDict(extra="forbid")

    palette: list[str] = Field(min_length=1, description="favoured colours")
    light: list[str] = Field(min_length=1, description="favoured light")
    media: list[str] = Field(min_length=1, description="favoured media/styles, e.g. 'film photo'")
    composition: list[str] = Field(min_length=1, description="favoured framing")
    motifs: list[str] = Field(default_factory=list, description="things they notice first")
    focus: list[str] = Field(
        default_factory=list,
        description=f"facets they attend to most, any of: {', '.join(FACETS)}",
    )

    _free_text = field_validator("palette", "light", "media", "composition", "motifs")(persona_text)

    @field_validator("focus")
    @classmethod
    def _known_facets(cls, value: list[str]) -> list[str]:
        unknown = [f for f in value if f not in FACETS]
        if unknown:
            raise ValueError(f"unknown facet(s) {unknown}; use any of: {', '.join(FACETS)}")
        return value


class Persona(BaseModel):
    """A configurable person whose subjective reading of a scene is simulated by one agent."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$",
        description="unique id: lower-case letters, digits, '-' or '_' (max 40)",
    )
    display_name: str | None = None
    bio: Bio
    temperament: str = Field(min_length=1)
    taste: Taste
    sensitivity: dict[str, float] = Field(
        default_factory=dict,
        description="per-emotion sensitivity multiplier in [0, 2]; missing emotions count 1.0",
    )
    temperature: float = Field(default=0.7, ge=0.0, le=2.0, description="sampling temperature")
    weight: float = Field(default=1.0, gt=0.0, le=10.0, description="weight in consensus")

    _free_text = field_validator("display_name", "temperament")(persona_text)

    @field_validator("sensitivity")
    @classmethod
    def _known_emotions(cls, value: dict[str, float]) -> dict[str, float]:
        out: dict[str, float] = {}
        keys: dict[str, str] = {}
        for key, factor in value.items():
            emotion = resolve_emotion(key).value  # raises with the list of valid names
            if emotion in keys:  # 'joy: 1.5' next to 'contentment: 1.3': which one is meant?
                raise ValueError(
                    f"sensitivity keys '{keys[emotion]}' and '{key}' both mean '{emotion}'; "
                    "keep one of them"
                )
            if not 0.0 <= float(factor) <= 2.0:
                raise ValueError(f"sensitivity for '{key}' is {factor}; use a number in [0, 2]")
            out[emotion] = float(factor)
            keys[emotion] = key
        return out

    @property
    def label(self) -> str:
        return self.display_name or self.name

    def sensitivity_for(self, emotion: Emotion | str) -> float:
        return self.sensitivity.get(resolve_emotion(emotion).value, 1.0)

    def describe(self) -> str:
        """One paragraph for a prompt: who this person is and what they look for."""
        b, t = self.bio, self.taste
        return (
            f"{self.label}, {b.age}, {b.occupation} ({b.culture}). {b.life_experience} "
            f"Temperament: {self.temperament}. Likes {', '.join(t.palette)} colours, "
            f"{', '.join(t.light)}, {', '.join(t.media)}, {', '.join(t.composition)}"
            + (f"; notices {', '.join(t.motifs)} first." if t.motifs else ".")
        )

    def brief(self) -> str:
        """A one-line description for small models' prompts."""
        b, t = self.bio, self.taste
        return (
            f"{self.label}, {b.age}, {b.occupation} ({b.culture}), {self.temperament}; "
            f"loves {t.palette[0]}, {t.light[0]}"
            + (f"; notices {', '.join(t.motifs[:4])}." if t.motifs else ".")
        )

    def taste_words(self) -> frozenset[str]:
        """Content words of the persona's taste and motifs, for matching against concepts."""
        from emotion_director.knowledge.concept_graph import content_words

        t = self.taste
        text = " ".join([*t.palette, *t.light, *t.media, *t.composition, *t.motifs])
        return content_words(text)
