"""``train``: Diffusion-DPO training of MC-Diffusion's visual prompt, and a toy data set for
smoke runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from emotion_director.cli.common import (
    OverwriteFolder,
    call,
    echo_written,
    err,
    note,
    refuse_filled_folder,
    require_diffusion,
)
from emotion_director.errors import InvalidRequestError

train_app = typer.Typer(
    help="Train MC-Diffusion's visual prompt with Diffusion-DPO.", no_args_is_help=True
)


@train_app.command("dpo")
def train_dpo(
    config: Annotated[
        Optional[Path], typer.Option("--config", help="training config (YAML)")
    ] = None,
    resume: Annotated[Optional[str], typer.Option(help="'latest' or a checkpoint folder")] = None,
    max_steps: Annotated[
        Optional[int], typer.Option(min=1, help="override train.max_steps")
    ] = None,
    print_config: Annotated[
        bool, typer.Option("--print-config", help="print defaults and exit")
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="with --resume: continue although --config differs from the run's config.json",
        ),
    ] = False,
    preset: Annotated[
        Optional[str],
        typer.Option(help="default or paper: fills the fields --config leaves unset"),
    ] = None,
) -> None:
    """Train the bank, projector and visual K/V with Diffusion-DPO + negative visual prompt.

    Multi-GPU: `accelerate launch -m emotion_director.cli train dpo --config FILE` (no code change).
    """

    def run() -> Path | None:
        require_diffusion()
        from emotion_director.diffusion.training import DPOTrainer, default_config_yaml

        if preset is not None:
            from emotion_director.diffusion.presets import get_preset

            get_preset(preset)  # an unknown name: one line listing the presets
        if print_config:
            typer.echo(default_config_yaml(), nl=False)
            return None
        if config is None:
            raise InvalidRequestError("pass --config FILE (see --print-config for every field).")
        from emotion_director.diffusion.training.progress import TrainingProgress

        # bad data, model or output folder: one line, before any bar is drawn
        trainer = DPOTrainer.for_run(
            config, max_steps=max_steps, resume=resume, overwrite=overwrite, preset=preset
        )
        with TrainingProgress(err, total=trainer.config.train.max_steps) as progress:

            def say_notes() -> None:
                for text in trainer.notes:
                    note(text)
                trainer.notes.clear()

            def resumed(step: int) -> None:
                say_notes()
                progress.start_at(step)

            try:
                return trainer.train(
                    resume=resume, on_step=progress.update, on_resume=resumed, overwrite=overwrite
                )
            finally:
                say_notes()

    folder = call(run)
    if folder is not None:
        typer.echo(f"{folder / 'bank.safetensors'}\n{folder / 'adapter.safetensors'}")


@train_app.command("toy-data")
def train_toy_data(
    out_dir: Annotated[Path, typer.Argument(help="folder for images and preferences.jsonl")],
    per_emotion: Annotated[int, typer.Option(min=1)] = 4,
    size: Annotated[int, typer.Option(min=8)] = 32,
    emoset: Annotated[
        bool,
        typer.Option(
            "--emoset",
            help="write EmoSet's layout instead (image/<emotion>/, annotation/<emotion>/)",
        ),
    ] = False,
    overwrite: OverwriteFolder = False,
) -> None:
    """Write a small generated preference set (coloured images) for smoke runs."""
    refuse_filled_folder(out_dir, overwrite)

    echo_written(
        "emotion_director.diffusion.training.data",
        lambda data: (data.make_toy_emoset if emoset else data.make_toy_preferences)(
            out_dir, per_emotion=per_emotion, size=size
        ),
    )
