"""Everything that talks to a language model: the chat-model seam and the agents' prompts."""

from emotion_director.agents.models import EmbeddedChatModel, TestChatModel
from emotion_director.agents.schemas import (
    ConceptChain,
    ConceptLink,
    DroppedCue,
    PersonaReading,
    TraceEntry,
    VisualPromptRequest,
)
from emotion_director.agents.structured import ainvoke_structured

__all__ = [
    "ConceptChain",
    "ConceptLink",
    "DroppedCue",
    "EmbeddedChatModel",
    "PersonaReading",
    "TestChatModel",
    "TraceEntry",
    "VisualPromptRequest",
    "ainvoke_structured",
]
