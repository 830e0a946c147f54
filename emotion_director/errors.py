"""Errors a user can act on: one tree, every message says what is wrong and how to fix it.

Every error that ends a run with an actionable message derives from :class:`EmotionDirectorError`;
the CLI prints the message as one line and exits with code 2, the MCP server and the eval runner
record it. Under the base there are four kinds, chosen by *who can fix it*::

    EmotionDirectorError
    ├── UserInputError (ValueError)       what the user passed, set or installed
    │   ├── InvalidRequestError           the rewrite request (prompt, emotion, personas)
    │   │   └── UnknownEmotionError
    │   ├── SettingsError                 a setting, flag or EMOTION_DIRECTOR_* variable
    │   ├── ConfigError                   a training config file
    │   ├── PersonaFileError              a persona YAML file
    │   └── MissingExtraError (ImportError)  an optional dependency is not installed
    ├── DataFileError (ValueError)        a file or folder the run reads or writes
    │   ├── BankError                     a visual prompt bank
    │   ├── AdapterError                  visual prompt adapter or LoRA weights
    │   ├── DatasetError                  training data (preferences, emotion records)
    │   ├── EvalDatasetError              an eval dataset
    │   ├── CheckpointError               the durable-run store or a training checkpoint
    │   │   └── ThreadBusyError
    │   ├── EvalCacheError                the LLM cache file
    │   ├── RunFolderError                an eval run folder (results, ratings, images)
    │   │   └── RunBusyError                  another process is writing it
    │   └── OutputDirError                an output folder that cannot be written
    └── BackendError                      the language-model server or runtime
        ├── ResponseTooLargeError, ServerReplyShapeError   transport: the reply is unusable
        └── ModelOutputError              the model answered, but never in the schema

Compatibility. User-input and data-file errors stay ``ValueError`` subclasses, as they always were:
code that wraps a call in ``except ValueError`` to report bad input keeps working. Backend errors
are deliberately *not* ``ValueError`` any more: a server that is down, slow or refusing is not a
bad argument, the same call may succeed a minute later, and an ``except ValueError`` meant for
input mistakes must not swallow an outage (the LLM seam used to exclude ``BackendError`` from its
``ValueError`` handling by hand for exactly that reason). Catch :class:`BackendError` (or
:class:`EmotionDirectorError` for everything) instead. The old class names stay importable from
the modules that defined them (``emotion_director.diffusion.bank.BankError``, ...), as the same
classes.

Example:
    >>> from emotion_director.errors import BankError, BackendError, DataFileError
    >>> issubclass(BankError, DataFileError) and issubclass(BankError, ValueError)
    True
    >>> issubclass(BackendError, ValueError)
    False
"""

from __future__ import annotations

from typing import Any

from emotion_director.redaction import redact


class EmotionDirectorError(Exception):
    """Base class of every error that ends a run with an actionable message.

    The message is redacted when the error is made (passwords in URLs, tokens, API keys), so it
    is clean wherever it goes next: the CLI's error line, an MCP tool error, an eval record, or
    the error text LangGraph stores in a checkpoint.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


# ------------------------------------------------------------------------------- user input


class UserInputError(EmotionDirectorError, ValueError):
    """Something the user passed, set or installed is wrong: change it and run again."""


class InvalidRequestError(UserInputError):
    """The rewrite request (prompt, emotion, valence/arousal, persona selection) is invalid."""


class UnknownEmotionError(InvalidRequestError):
    """The emotion name is not one of the 8 Mikels categories nor a known synonym."""


class SettingsError(UserInputError):
    """A setting (backend, URL, model path...) is invalid."""


class ConfigError(UserInputError):
    """The training config is invalid; the message names the field."""


class PersonaFileError(UserInputError):
    """A persona file cannot be read or does not match the persona schema.

    ``problems`` lists every problem found in the file, one line each (the message names the
    first and counts the rest); ``emotion-director personas validate`` prints them all.
    """

    problems: list[str]

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.problems = [str(args[0])] if args else []


class MissingExtraError(UserInputError, ImportError):
    """An optional dependency is not installed; the message says what to install."""


# -------------------------------------------------------------------------------- data files


class DataFileError(EmotionDirectorError, ValueError):
    """A file or folder the run reads or writes is missing, malformed, or does not fit."""


class BankError(DataFileError):
    """A bank file is missing, malformed, or does not fit the pipeline."""


class AdapterError(DataFileError):
    """Visual prompt adapter or LoRA weights are missing, malformed, or do not fit the model."""


class DatasetError(DataFileError):
    """A training data file or row is invalid; the message names the file and line."""


class EvalDatasetError(DataFileError):
    """An eval dataset is missing or has an invalid line."""


class CheckpointError(DataFileError):
    """The durable-run store (SQLite file or PostgreSQL), a thread in it, or a training
    checkpoint cannot be used."""


class ThreadBusyError(CheckpointError):
    """Another process is running the same ``--thread`` right now."""


class TrainingOutputExistsError(CheckpointError):
    """``train.output_dir`` already holds a run and ``--resume`` was not given."""


class EvalCacheError(DataFileError):
    """The LLM cache file cannot be opened, read or written."""


class RunFolderError(DataFileError):
    """An eval run folder cannot be used: missing, malformed, or made by another run."""


class RunBusyError(RunFolderError):
    """Another process is writing the same run folder right now."""


class EvalReportError(RunFolderError):
    """A run folder's results cannot be reported (missing, malformed, or not comparable)."""


class RatingError(RunFolderError):
    """The run folder has nothing to rate, or a rating request is invalid."""


class ImageEvalError(RunFolderError):
    """An image-eval input (checkpoint, probe file, run folder) is missing or invalid."""


class RunMismatchError(RunFolderError):
    """A run folder was made with other settings or another dataset than the current run."""


class OutputDirError(DataFileError):
    """The output directory cannot be created or written."""


# ---------------------------------------------------------------------- backend / model output


class BackendError(EmotionDirectorError):
    """The language-model backend cannot be reached, is not installed, or keeps failing."""


class ResponseTooLargeError(BackendError):
    """The server's response body exceeded ``max_response_bytes``."""


class ServerReplyShapeError(BackendError):
    """The server answered HTTP 200 with something that is not a chat completion."""


class ModelOutputError(BackendError):
    """The language model returned output that does not match the schema after all retries."""

    def __init__(self, message: str, *, node: str, backend: str) -> None:
        super().__init__(message)
        self.node = node
        self.backend = backend
