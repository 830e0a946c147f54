"""The ``train dpo`` progress bar: steps, ETA and the latest loss, as ``eval run`` shows its
cases."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class TrainingProgress:
    """A rich progress bar on stderr, updated from :meth:`DPOTrainer.train`'s ``on_step``.

    While it is open, diffusers' and transformers' own progress bars (model loading, validation
    denoising) are switched off so only this bar moves.
    """

    def __init__(self, console: Console, total: int) -> None:
        self.total = total
        self.progress = Progress(
            TextColumn("[bold]train dpo"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[metrics]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task: Any = None

    def __enter__(self) -> TrainingProgress:
        from diffusers.utils import logging as diffusers_logging
        from transformers.utils import logging as transformers_logging

        diffusers_logging.disable_progress_bar()
        transformers_logging.disable_progress_bar()
        self.progress.__enter__()
        self.task = self.progress.add_task("train", total=self.total, metrics="loss -")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def start_at(self, step: int) -> None:
        """A resumed run starts the bar at its checkpoint's step."""
        self.progress.reset(self.task, total=self.total, completed=step, metrics="loss -")

    def update(self, step: int, metrics: dict[str, float]) -> None:
        text = (
            f"loss {metrics['loss']:.4f} acc {metrics['accuracy']:.2f} "
            f"nvp_acc {metrics['nvp_accuracy']:.2f}"
        )
        self.progress.update(self.task, completed=step, metrics=text)
