"""Errors a user can act on.

Every error caused by user input (a prompt, an emotion name, a persona file, a setting) is a
``ValueError`` subclass whose message says what is wrong and how to fix it. The CLI prints the
message as one line and exits with code 2; library users can ``except ValueError``.
"""

from __future__ import annotations

from typing import Any

from emotion_director.redaction import redact


class EmotionDirectorError(ValueError):
    """Base class of every error that ends a run with an actionable message.

    The message is redacted when the error is made (passwords in URLs, tokens, API keys), so it
    is clean wherever it goes next: the CLI's error line, an MCP tool error, an eval record, or
    the error text LangGraph stores in a checkpoint.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class InvalidRequestError(EmotionDirectorError):
    """The rewrite request (prompt, emotion, valence/arousal, persona selection) is invalid."""


class UnknownEmotionError(InvalidRequestError):
    """The emotion name is not one of the 8 Mikels categories nor a known synonym."""


class PersonaFileError(EmotionDirectorError):
    """A persona file cannot be read or does not match the persona schema."""


class SettingsError(EmotionDirectorError):
    """A setting (backend, URL, model path...) is invalid."""


class BackendError(EmotionDirectorError):
    """The language-model backend cannot be reached, is not installed, or keeps failing."""


class ModelOutputError(BackendError):
    """The language model returned output that does not match the schema after all retries."""

    def __init__(self, message: str, *, node: str, backend: str) -> None:
        super().__init__(message)
        self.node = node
        self.backend = backend


class CheckpointError(EmotionDirectorError):
    """The durable-run store (SQLite file or PostgreSQL) or a thread in it cannot be used."""


class ThreadBusyError(CheckpointError):
    """Another process is running the same ``--thread`` right now."""
