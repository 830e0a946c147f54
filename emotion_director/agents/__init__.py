"""Everything that talks to a language model: the chat-model seam and the agents' prompts."""

from typing import TYPE_CHECKING, Any

from emotion_director.lazy import lazy_exports

if TYPE_CHECKING:
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

# Loaded on first use: a module that needs only the text helpers (agents/text.py; the eval
# report) does not import langchain-core's chat models.
_LAZY = {
    "EmbeddedChatModel": "emotion_director.agents.embedded",
    **dict.fromkeys(
        (
            "ConceptChain",
            "ConceptLink",
            "DroppedCue",
            "PersonaReading",
            "TraceEntry",
            "VisualPromptRequest",
        ),
        "emotion_director.agents.schemas",
    ),
    "ainvoke_structured": "emotion_director.agents.structured",
    "invoke_structured": "emotion_director.agents.structured",
}

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


_lazy = lazy_exports(globals(), _LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return _lazy(name)
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
