"""Everything that talks to a language model: the chat-model seam and the agents' prompts."""

from typing import Any

from emotion_director.agents.embedded import EmbeddedChatModel
from emotion_director.agents.schemas import (
    ConceptChain,
    ConceptLink,
    DroppedCue,
    PersonaReading,
    TraceEntry,
    VisualPromptRequest,
)
from emotion_director.agents.structured import ainvoke_structured, invoke_structured

__all__ = [
    "ConceptChain",
    "ConceptLink",
    "DroppedCue",
    "EmbeddedChatModel",
    "PersonaReading",
    "TraceEntry",
    "VisualPromptRequest",
    "ainvoke_structured",
    "invoke_structured",
]


def __getattr__(name: str) -> Any:
    if name == "TestChatModel":  # a test model, not a production one: it lives with the tests'
        import warnings

        from emotion_director.agents.deterministic_model import TestChatModel

        warnings.warn(
            "emotion_director.agents.TestChatModel moved: import it from emotion_director.testing",
            DeprecationWarning,
            stacklevel=2,
        )
        return TestChatModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
