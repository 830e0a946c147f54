"""emotion-director: emotion-oriented image generation without the semantic and expressive shortcuts.

Example:
    >>> from emotion_director import build_graph, Settings
    >>> from emotion_director.testing import TestChatModel
    >>> graph = build_graph(Settings(), chat_model=TestChatModel())
    >>> graph.invoke({"prompt": "an angry dog", "emotion": "contentment"})["final_prompt"][:5]
    'a dog'
"""

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
from emotion_director.graph import RewriteInput, RewriteOutput, RewriteResult, build_graph
from emotion_director.personas import Persona, load_personas
from emotion_director.settings import Settings, load_settings

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
