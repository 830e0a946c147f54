"""Pydantic models at the graph's boundaries: what persona agents, the refiner and consensus return.

These are the records a user sees in the output (``readings``, ``concepts``, ``trace``) and what
``--json`` prints.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from emotion_director.emotions import Emotion

__all__ = [
    "ConceptChain",
    "ConceptLink",
    "DroppedCue",
    "PersonaReading",
    "TraceEntry",
    "VisualPromptRequest",
]


class PersonaReading(BaseModel):
    """One persona's subjective reading of how the scene could evoke the target emotion."""

    model_config = ConfigDict(frozen=True)

    persona: str = Field(description="persona name")
    intensity: float = Field(ge=0.0, le=1.0, description="how strongly they would feel it")
    evocation: str = Field(description="what in this scene would evoke the emotion for them")
    cues: list[str] = Field(min_length=1, max_length=6, description="concrete visual cues")
    rationale: str
    appraisal: str | None = Field(default=None, description="concept-graph appraisal id, if any")
    weight: float = Field(default=1.0, description="the persona's weight in consensus")


class DroppedCue(BaseModel):
    """A cue the chain-of-concept step removed, and why."""

    text: str
    persona: str | None = None
    reason: str


class ConceptLink(BaseModel):
    """A concrete visual concept, the appraisal it depicts, and who supports it."""

    text: str
    facet: str
    appraisal: str | None = None
    supported_by: list[str] = Field(default_factory=list)
    support: float = Field(default=0.0, description="sum of weight x intensity of supporters")
    origin: str = Field(
        default="persona",
        description="'persona' (chosen by personas), 'refined' (made concrete from an abstract "
        "cue) or 'graph' (added from the concept graph to complete the picture)",
    )
    refined_from: str | None = None
    fit: float = Field(
        default=0.0,
        description="how much the concept is about this scene: written for the subject's kind or "
        "body, and depicting its stated place, time or weather (0: would fit any scene)",
    )


class ConceptChain(BaseModel):
    """The chain-of-concept result: emotion -> appraisals -> concrete visual concepts."""

    emotion: Emotion
    appraisals: list[str] = Field(description="appraisal texts, most supported first")
    concepts: list[ConceptLink]
    dropped: list[DroppedCue] = Field(default_factory=list)


class VisualPromptRequest(BaseModel):
    """What MC-Diffusion needs to retrieve a visual prompt from its bank."""

    emotion: Emotion
    query: str = Field(description="text whose embedding weights the emotion's visual tokens")
    negative_emotion: Emotion | None = Field(
        default=None, description="emotion whose tokens guide the unconditional branch"
    )


class TraceEntry(BaseModel):
    """Which persona contributed what to the final prompt, through which appraisal, and where
    they agreed with or dissented from the others."""

    persona: str
    weight: float
    contributed: list[str] = Field(default_factory=list)
    role: str = Field(
        default="supporter",
        description=(
            "'majority', 'minority', 'fill' (a cue that filled a facet the others left open, or"
            " took the place of one given up) or 'unused'"
        ),
    )
    links: list[str] = Field(
        default_factory=list,
        description="appraisal -> concept links this persona's contributions follow",
    )
    agreed_with: list[str] = Field(
        default_factory=list, description="personas who chose at least one of the same concepts"
    )
    dissent: list[str] = Field(
        default_factory=list,
        description="this persona's cues that did not make the prompt (outvoted or dropped)",
    )
