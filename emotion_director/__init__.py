"""emotion-director: emotion-oriented image generation without the semantic and expressive
shortcuts.

Example:
    >>> from emotion_director import build_graph, Settings
    >>> from emotion_director.testing import TestChatModel
    >>> graph = build_graph(Settings(), chat_model=TestChatModel())
    >>> graph.invoke({"prompt": "an angry dog", "emotion": "contentment"})["final_prompt"][:5]
    'a dog'
"""

from typing import TYPE_CHECKING

from emotion_director.emotions import EMOTIONS, Emotion, resolve_emotion
from emotion_director.errors import (
    BackendError,
    CheckpointError,
    DataFileError,
    EmotionDirectorError,
    InvalidRequestError,
    ModelOutputError,
    PersonaFileError,
    SettingsError,
    UnknownEmotionError,
    UserInputError,
)
from emotion_director.lazy import lazy_exports

if TYPE_CHECKING:
    from emotion_director.graph import RewriteInput, RewriteOutput, RewriteResult, build_graph
    from emotion_director.personas import Persona, load_personas
    from emotion_director.settings import Settings, load_settings

# The graph (LangGraph, langchain-core) and the settings load on first use, so that a command
# that needs neither (`emotion-director personas list`, `bank`, `scene check`) starts at once.
_LAZY = {
    "RewriteInput": "emotion_director.graph",
    "RewriteOutput": "emotion_director.graph",
    "RewriteResult": "emotion_director.graph",
    "build_graph": "emotion_director.graph",
    "Persona": "emotion_director.personas",
    "load_personas": "emotion_director.personas",
    "Settings": "emotion_director.settings",
    "load_settings": "emotion_director.settings",
}


__getattr__ = lazy_exports(globals(), _LAZY)


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__version__ = "0.1.0"

__all__ = [
    "EMOTIONS",
    "BackendError",
    "CheckpointError",
    "DataFileError",
    "Emotion",
    "EmotionDirectorError",
    "InvalidRequestError",
    "ModelOutputError",
    "Persona",
    "PersonaFileError",
    "RewriteInput",
    "RewriteOutput",
    "RewriteResult",
    "Settings",
    "SettingsError",
    "UnknownEmotionError",
    "UserInputError",
    "build_graph",
    "load_personas",
    "load_settings",
    "resolve_emotion",
]
