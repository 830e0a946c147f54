"""Shared by the eval tests: a finished text eval run on the test backend."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from emotion_director.evals.runner import run_eval
from emotion_director.testing import TestChatModel


def run_test_eval(systems: list[str], cases: list[Any], folder: Path, metrics: Any) -> Path:
    """``run_eval`` of ``systems`` on ``cases`` into ``folder`` with the test backend and
    ``metrics``, from synchronous code (module fixtures); returns ``folder``."""
    asyncio.run(
        run_eval(
            systems,
            cases,
            folder,
            chat_model=TestChatModel(),
            metrics=metrics,
        )
    )
    return folder
