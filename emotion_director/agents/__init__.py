"""Everything that talks to a language model: the chat-model seam and the agents' prompts.

The schemas (:mod:`emotion_director.agents.schemas`, pydantic only) are imported at once; the
chat models and the structured-call helpers on first use, so that a module that needs only the
text helpers (agents/text.py; the eval report) does not import langchain-core's chat models.
"""

from typing import TYPE_CHECKING, Any

from emotion_director.agents import schemas
from emotion_director.agents.schemas import *  # noqa: F403 (the schemas' own __all__)
from emotion_director.lazy import lazy_exports

if TYPE_CHECKING:
    from emotion_director.agents.embedded import EmbeddedChatModel
    from emotion_director.agents.structured import ainvoke_structured, invoke_structured

_LAZY = {
    "EmbeddedChatModel": "emotion_director.agents.embedded",
    "ainvoke_structured": "emotion_director.agents.structured",
    "invoke_structured": "emotion_director.agents.structured",
}

__all__ = ["EmbeddedChatModel", "ainvoke_structured", "invoke_structured"]
__all__ += schemas.__all__


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
