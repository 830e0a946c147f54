"""The ``emotion-director`` command: the Typer app that puts the command groups together, and
:func:`main`, the console script (log level, log redaction, quiet model libraries)."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import typer
from rich.markup import escape

from emotion_director.cli.bank import bank_app
from emotion_director.cli.common import err, note, output_failure
from emotion_director.cli.evals import eval_app
from emotion_director.cli.generate import generate
from emotion_director.cli.mcp import mcp
from emotion_director.cli.personas import personas_app
from emotion_director.cli.rewrite import emotions, rewrite
from emotion_director.cli.scene import scene_app
from emotion_director.cli.train import train_app
from emotion_director.redaction import install_log_redaction
from emotion_director.settings import unknown_variables

app = typer.Typer(
    name="emotion-director",
    help="Emotion-oriented prompt rewriting (MC-Agent) and image generation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# `--help` lists the commands, then the groups, in this order
for command in (rewrite, emotions, generate, mcp):
    app.command()(command)
app.add_typer(personas_app, name="personas")
app.add_typer(bank_app, name="bank")
app.add_typer(eval_app, name="eval")
app.add_typer(train_app, name="train")
app.add_typer(scene_app, name="scene")


def main() -> None:
    level = os.environ.get("EMOTION_DIRECTOR_LOG_LEVEL")
    if level:  # e.g. INFO: one stderr line per LLM call (never keys or headers)
        import logging

        names = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        if level.strip().upper() not in names:
            err.print(
                f"[bold red]error:[/] EMOTION_DIRECTOR_LOG_LEVEL={escape(level[:40])!s} is "
                f"no log level: use one of {', '.join(names)} (INFO: one line per model "
                "call), or unset it.",
                highlight=False,
            )
            raise SystemExit(2)
        logging.basicConfig(
            level=level.strip().upper(),
            stream=sys.stderr,
            format="%(levelname)s %(name)s: %(message)s",
        )
    install_log_redaction()  # httpx logs request URLs, which may carry a password
    for line in unknown_variables():  # a misspelt setting is not silently ignored
        note(line)
    _quiet_model_libraries(verbose=bool(level) and level.strip().upper() in ("DEBUG", "INFO"))
    try:
        app()
    except (OSError, UnicodeEncodeError) as exc:  # an output written after the library call
        # (--json, or text this terminal cannot encode): one line too
        stdout = output_failure(exc)
        if stdout is None:
            raise
        raise SystemExit(stdout.exit_code) from None


class _DropBenignLibraryNotes:
    """Drops library notes that say nothing to a user of this command line: transformers'
    "requires torchvision (not installed); falling back to ...ImageProcessorPil" (the PIL
    processors are what this project uses; nothing is missing), and diffusers' note that it
    could not reach the Hub."""

    def filter(self, record: Any) -> bool:
        text = str(record.msg)
        # diffusers' "Couldn't connect to the Hub ... Will try to load from local cache": where
        # the cache holds the model it loads; where it does not, the error says so
        return "requires torchvision (not installed)" not in text and (
            "Couldn't connect to the Hub" not in text
        )


def _quiet_model_libraries(verbose: bool = False) -> None:
    """No progress bars and no benign notes from transformers, diffusers and the hub on a
    command's output (EMOTION_DIRECTOR_LOG_LEVEL=INFO or DEBUG shows them)."""
    if verbose:
        return
    import logging

    # read by huggingface_hub, whose setting transformers' and diffusers' bars follow
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    logging.getLogger("transformers.utils.import_utils").addFilter(_DropBenignLibraryNotes())
    logging.getLogger("diffusers.pipelines.pipeline_utils").addFilter(_DropBenignLibraryNotes())
    # the openai client re-serialises a server's reply; a malformed field it kept (a NaN token
    # count) warns with pydantic's own source line, which says nothing to a user of the command
    warnings.filterwarnings("ignore", message="Pydantic serializer warnings", category=UserWarning)
