"""Moved to :mod:`emotion_director.evals.persona_diff`: comparing persona sets runs the graph,
which sits above personas. Importing from here still works, with a ``DeprecationWarning``."""

from __future__ import annotations

import importlib
import warnings
from typing import Any


def __getattr__(name: str) -> Any:
    module = importlib.import_module("emotion_director.evals.persona_diff")
    if not hasattr(module, name):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"emotion_director.personas.diff.{name} moved: import it from "
        "emotion_director.evals.persona_diff",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(module, name)
