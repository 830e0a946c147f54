"""Typed state of the MC-Agent graph, with separate input and output schemas.

``readings`` has an ``operator.add`` reducer: the persona agents run in parallel (fan-out with
``Send``) and each appends its reading (fan-in).

Example:
    >>> from emotion_director import build_graph, Settings
    >>> from emotion_director.testing import TestChatModel
    >>> graph = build_graph(Settings(), chat_model=TestChatModel())
    >>> out = graph.invoke({"prompt": "a dog in a park", "emotion": "awe"})
    >>> "dog" in out["final_prompt"]
    True
"""

from __future__ import annotations

import operator
from typing import Annotated, Any

from pydantic import BaseModel, Field, WithJsonSchema, field_serializer
from typing_extensions import NotRequired, Required, TypedDict

from emotion_director.agents.schemas import (
    ConceptChain,
    PersonaReading,
    TraceEntry,
    VisualPromptRequest,
)
from emotion_director.emotions import Emotion
from emotion_director.knowledge.scene import SceneAdjustment, SceneModel
from emotion_director.personas.schema import Persona

_CATEGORIES = [e.value for e in Emotion]
#: ``emotion`` in JSON Schema: the 8 categories as an enum (forms and Studio offer them), and any
#: string besides, because synonyms ("happy", "scared") are accepted and resolved at run time.
EMOTION_JSON_SCHEMA = {
    "title": "Emotion",
    "description": "target emotion: one of the 8 Mikels categories, or a common synonym "
    "('happy', 'scared', 'furious', ...); omit it and give valence + arousal instead",
    "anyOf": [
        {"type": "string", "enum": _CATEGORIES, "title": "category"},
        {"type": "string", "title": "synonym", "examples": ["happy", "scared", "furious"]},
    ],
}


class RewriteInput(TypedDict, total=False):
    """What a caller passes: a prompt and a target emotion.

    ``emotion`` may be omitted when ``valence`` and ``arousal`` are both given (the nearest
    category is used). ``personas`` selects persona names; ``seed`` makes the run repeatable.
    """

    prompt: Required[
        Annotated[
            str,
            Field(
                description="the scene to depict, e.g. 'a dog in a park' (at most 1000 characters "
                "by default)"
            ),
        ]
    ]
    emotion: Annotated[str, WithJsonSchema(EMOTION_JSON_SCHEMA)]
    valence: Annotated[
        float,
        Field(
            ge=-1.0,
            le=1.0,
            description="target valence in [-1, 1] (with arousal, instead of "
            "emotion: the nearest category is used)",
        ),
    ]
    arousal: Annotated[
        float, Field(ge=0.0, le=1.0, description="target arousal in [0, 1] (with valence)")
    ]
    personas: Annotated[
        list[str],
        Field(
            description="persona names to use (default: all); see `emotion-director personas list`"
        ),
    ]
    seed: Annotated[int, Field(description="sampling seed: the same seed gives the same result")]


class RewriteOutput(TypedDict):
    """What the graph returns."""

    prompt: str
    subject: str
    emotion: str
    final_prompt: str
    negative_prompt: str
    visual_prompt: VisualPromptRequest
    readings: list[PersonaReading]
    concepts: ConceptChain
    trace: list[TraceEntry]
    scene: NotRequired[SceneModel]
    adjustments: NotRequired[list[SceneAdjustment]]
    ignored_instructions: NotRequired[list[str]]
    critic_failed: NotRequired[str | None]
    images: NotRequired[list[str]]


class RewriteState(TypedDict, total=False):
    """The full working state shared by the nodes."""

    prompt: str
    emotion: str
    valence: float | None
    arousal: float | None
    personas: list[str]
    seed: int
    subject: str
    head_nouns: list[str]
    subject_tags: list[str]
    prompt_emotion_words: list[str]
    scene: SceneModel
    adjustments: list[SceneAdjustment]
    subject_negatives: list[str]
    ignored_instructions: list[str]
    dropped_personas: list[str]
    llm_calls: Annotated[int, operator.add]
    readings: Annotated[list[PersonaReading], operator.add]
    concepts: ConceptChain
    final_prompt: str
    negative_prompt: str
    visual_prompt: VisualPromptRequest
    trace: list[TraceEntry]
    critic_failed: str | None
    images: list[str]


class PersonaTask(TypedDict):
    """The payload ``Send`` gives one persona agent."""

    persona: Persona
    subject: str
    subject_tags: list[str]
    scene: SceneModel
    emotion: str
    seed: int
    share: int


class RewriteResult(BaseModel):
    """The output schema as one pydantic object (what ``--json`` prints).

    Example:
        >>> from emotion_director import Settings, build_graph
        >>> from emotion_director.testing import TestChatModel
        >>> graph = build_graph(Settings(), chat_model=TestChatModel())
        >>> out = graph.invoke({"prompt": "a dog", "emotion": "awe"})
        >>> result = RewriteResult.from_state(out)
        >>> result.emotion, result.final_prompt.startswith("a dog, ")
        ('awe', True)
    """

    prompt: str
    subject: str
    emotion: str
    final_prompt: str
    negative_prompt: str
    visual_prompt: VisualPromptRequest
    readings: list[PersonaReading]
    concepts: ConceptChain
    trace: list[TraceEntry]
    scene: SceneModel | None = None
    adjustments: list[SceneAdjustment] = Field(default_factory=list)
    ignored_instructions: list[str] = Field(
        default_factory=list,
        description="what the prompt said to the model rather than of the scene, left out",
    )
    critic_failed: str | None = Field(
        default=None,
        description="why the scene critic could not judge the cues (every cue was kept), if so",
    )
    images: list[str] = Field(default_factory=list)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RewriteResult:
        return cls.model_validate({k: state[k] for k in cls.model_fields if k in state})

    # no return annotation: the printed JSON schema stays the scene's (one would replace it)
    @field_serializer("scene", mode="wrap")
    def _scene_without_risks(self, scene: Any, handler: Any):  # type: ignore[no-untyped-def]
        """The scene as printed: without ``read_risk``, one number per concept of the emotion
        that fits the scene (~30), which the graph's state keeps; each concept's ``fit``
        already counts its own."""
        dumped = handler(scene)
        if isinstance(dumped, dict):
            dumped.pop("read_risk", None)
        return dumped


#: The project's types that appear in checkpoints (for LangGraph's strict msgpack allowlist).
CHECKPOINT_TYPES: list[tuple[str, str]] = (
    [
        ("emotion_director.agents.schemas", name)
        for name in (
            "PersonaReading",
            "ConceptChain",
            "ConceptLink",
            "DroppedCue",
            "VisualPromptRequest",
            "TraceEntry",
        )
    ]
    + [("emotion_director.emotions", "Emotion")]
    # where the scene's types live, and where checkpoints written before the scene parser
    # became a package (``knowledge/scene.py``, 2026-12-06) recorded them
    + [
        ("emotion_director.knowledge.scene.model", name)
        for name in ("SceneModel", "SubjectEntity", "EmotionalAttribute")
    ]
    + [("emotion_director.knowledge.scene.subject", "SceneAdjustment")]
    + [
        ("emotion_director.knowledge.scene", name)
        for name in ("SceneModel", "SubjectEntity", "EmotionalAttribute", "SceneAdjustment")
    ]
    + [("emotion_director.personas.schema", name) for name in ("Persona", "Bio", "Taste")]
)


def checkpoint_serde() -> Any:
    """A LangGraph serializer that allows exactly this project's checkpointed types.

    Pass it to your checkpointer (``SqliteSaver(conn, serde=checkpoint_serde())``,
    ``PostgresSaver(conn, serde=checkpoint_serde())``) so no unregistered type is deserialized
    and no stored error text carries a secret.
    """
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    from emotion_director.redaction import redact

    class RedactingSerializer(JsonPlusSerializer):
        """Stores a failed task's error (LangGraph keeps its ``repr``) with secrets masked."""

        def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
            if isinstance(obj, BaseException):
                obj = redact(repr(obj))
            return super().dumps_typed(obj)

    return RedactingSerializer(allowed_msgpack_modules=CHECKPOINT_TYPES)
