"""What every command group shares: the two consoles, the one-line error, the call into the
library that maps its errors to exit codes, progress bars, notes, and the live lines of a rewrite.

Every error a user can fix is printed as one red line on stderr with exit code 2; anything else
is one line with exit code 1 (``EMOTION_DIRECTOR_DEBUG=1`` shows the traceback); Ctrl-C is 130.
"""

from __future__ import annotations

import importlib
import math
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from emotion_director.errors import EmotionDirectorError, InvalidRequestError
from emotion_director.redaction import redact
from emotion_director.untrusted import clean_model_text

out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` as one red error line on stderr; raise the returned exit."""
    text = clean_model_text(redact(message))  # (a path or a server's words may hold escapes)
    err.print(f"[bold red]error:[/] {escape(text)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the library; user errors become one line, anything else one line plus a hint."""
    try:
        return fn(*args, **kwargs)
    except EmotionDirectorError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted", 130) from None
    except typer.Exit:
        raise
    except ModuleNotFoundError as exc:
        if os.environ.get("EMOTION_DIRECTOR_DEBUG"):
            raise
        if not exc.name or exc.name.split(".")[0] == "emotion_director":  # a bug of this package
            raise fail(_unexpected(exc), 1) from None
        raise fail(missing_package_message(exc.name)) from None
    except Exception as exc:
        if os.environ.get("EMOTION_DIRECTOR_DEBUG"):
            raise
        stdout = output_failure(exc)
        if stdout is not None:
            raise stdout from None
        raise fail(_unexpected(exc), 1) from None


def output_failure(exc: BaseException) -> typer.Exit | None:
    """The exit for an error raised while writing this command's output to stdout (a full disk,
    a device that refuses it, a reader that went away), after its one line; ``None`` for any
    other error. A closed pipe (``| head``) is no error to report: it exits 1 quietly, as
    Python's own advice for SIGPIPE has it, with stdout pointed at /dev/null so that the
    interpreter's last flush does not fail again."""
    if isinstance(exc, UnicodeEncodeError) and _writing_stdout(exc):
        # an environment that cannot show the output, not a bug to report (hostile round 5:
        # PYTHONIOENCODING=ascii and "un café près du lac")
        return fail(
            f"stdout's encoding ({exc.encoding}) cannot show the output's "
            f"{exc.object[exc.start : exc.end]!a}: set PYTHONIOENCODING=utf-8 (or a UTF-8 "
            "locale, LANG=C.UTF-8)",
            1,
        )
    if not isinstance(exc, OSError) or not _writing_stdout(exc):
        return None
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
    if isinstance(exc, BrokenPipeError):
        return typer.Exit(1)
    return fail(
        f"cannot write the output to stdout ({exc.strerror or exc}): free space where it goes, "
        "or send it elsewhere (> FILE)",
        1,
    )


def _writing_stdout(exc: BaseException) -> bool:
    """Whether ``exc`` was raised inside a write to stdout: a frame of its traceback writes to
    the stdout stream (click's ``echo`` to ``file``, a rich console whose ``file`` it is)."""
    streams = {id(s) for s in (sys.stdout, sys.__stdout__) if s is not None}
    streams |= {id(getattr(s, "buffer", None)) for s in (sys.stdout, sys.__stdout__)} - {id(None)}
    tb = exc.__traceback__
    while tb is not None:
        names = tb.tb_frame.f_locals
        for value in (names.get("file"), names.get("stream"), names.get("self")):
            for candidate in (value, getattr(value, "file", None), getattr(value, "buffer", None)):
                if candidate is not None and id(candidate) in streams:
                    return True
        tb = tb.tb_next
    return False


def _unexpected(exc: BaseException) -> str:
    return (
        f"unexpected {type(exc).__name__}: {str(exc)[:300]} "
        "(set EMOTION_DIRECTOR_DEBUG=1 for a traceback and report it)"
    )


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


#: Import names that are not their distribution's name (the others are, as PEP 503 compares).
_DISTRIBUTIONS = {
    "PIL": "pillow",
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
    "llama_cpp": "llama-cpp-python",
}


def missing_package_message(module: str) -> str:
    """One line for a module a command imports that is not installed, with the fix: the extra
    of this package that installs it (read from the installed package's own metadata, so it
    stays true to pyproject.toml); a reinstall where a core requirement is missing; an upgrade
    where an installed package lacks the module; else the extras there are."""
    from importlib.metadata import PackageNotFoundError, requires
    from importlib.util import find_spec

    try:
        wanted = requires("emotion-director") or []
    except PackageNotFoundError:  # run from a source tree that was never installed
        wanted = []
    parts = module.split(".")
    # "langgraph.checkpoint.postgres" is a distribution of its own; "diffusers.loaders" is not
    names = {_normal(".".join(parts[: n + 1])) for n in range(len(parts))}
    names |= {_normal(_DISTRIBUTIONS[p]) for p in parts[:1] if p in _DISTRIBUTIONS}
    extras: list[str] = []
    every: list[str] = []
    core = False
    for requirement in wanted:
        found = re.match(
            r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:.*?\bextra\s*==\s*[\"']([^\"']+))?", requirement
        )
        if not found:
            continue
        dist, extra = _normal(found.group(1)), found.group(2)
        if extra and extra not in every and extra not in {"dev", "all"}:
            every.append(extra)
        if dist in names and (dist == _normal(module) or not _importable(parts[0], find_spec)):
            if extra is None:
                core = True
            elif extra not in extras and extra != "dev":
                extras.append(extra)
    missing = f"this command needs {module}, which is not installed"
    if extras:
        return f"{missing}: " + " or ".join(f'pip install "emotion-director[{e}]"' for e in extras)
    if core:
        return (
            f"{missing}, though emotion-director requires it: "
            "pip install --force-reinstall emotion-director"
        )
    if len(parts) > 1 and _importable(parts[0], find_spec):
        return (
            f"this command needs {module}, which the installed {parts[0]} does not have: "
            f"pip install --upgrade {_DISTRIBUTIONS.get(parts[0], parts[0])}"
        )
    hint = f" (or one of this package's extras: {', '.join(every)})" if every else ""
    return f"{missing}: pip install {_DISTRIBUTIONS.get(parts[0], parts[0])}{hint}"


def _importable(top: str, find_spec: Callable[[str], object]) -> bool:
    try:
        return find_spec(top) is not None
    except (ImportError, ValueError):
        return False


#: The most bytes of stdin read as one prompt: far above any prompt the graph accepts (its
#: ``max_prompt_chars``), so that what is cut is refused by its length, yet bounded: an endless
#: stdin (``< /dev/zero``, ``< /dev/full``, ``yes |``) is not read into memory.
MAX_STDIN_PROMPT_BYTES = 1 << 20


def read_prompt(prompt: str) -> str:
    """``prompt``, or stdin's text (UTF-8, a leading BOM dropped) when it is ``-``."""
    if prompt != "-":
        return prompt
    try:
        data = sys.stdin.buffer.read(MAX_STDIN_PROMPT_BYTES + 1)
    except (AttributeError, OSError, ValueError):  # no stdin at all (closed descriptor)
        raise InvalidRequestError(
            "stdin is closed: pipe the prompt (echo 'a dog' | emotion-director rewrite - ...) or "
            "pass it as an argument."
        ) from None
    if len(data) > MAX_STDIN_PROMPT_BYTES:
        raise InvalidRequestError(
            f"stdin holds over {MAX_STDIN_PROMPT_BYTES >> 20} MiB, far more than one prompt "
            "(is it a device or an endless stream?): pipe the prompt's text alone, e.g. "
            "echo 'a dog in a park' | emotion-director rewrite - ..."
        )
    try:
        return data.decode("utf-8-sig")  # a leading BOM is an encoding mark, not text
    except UnicodeDecodeError as exc:
        raise InvalidRequestError(
            f"stdin is not valid UTF-8 (byte {exc.start}): pipe UTF-8 text."
        ) from None


def require_diffusion() -> None:
    """Fail in one line, with the install hint, unless the ``[diffusion]`` extra imports."""
    from emotion_director.diffusion.dependencies import require_diffusion as require

    require()


def echo_written(
    module: str, write: Callable[[ModuleType], Path], *, diffusion: bool = False
) -> None:
    """The shell of a command that writes one file or folder: import ``module`` when the command
    runs (the ``[diffusion]`` extra checked first when ``diffusion``), ``write(module)`` through
    :func:`call`, then the path it wrote on stdout."""

    def run() -> Path:
        if diffusion:
            require_diffusion()
        return write(importlib.import_module(module))

    typer.echo(str(call(run)))


def finite_float(
    min: float | None = None, max: float | None = None, above: float | None = None
) -> Callable[[Any], float]:
    """The parser of a float option (``typer.Option(parser=...)``) that names NaN and infinities
    as such ("must be a finite number, got nan"), where click's range check said a NaN "should be
    greater than or equal to 0"; ``min`` / ``max`` are inclusive bounds, ``above`` exclusive."""

    def parse(value: Any) -> float:
        if isinstance(value, float):  # the default, already a number
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise typer.BadParameter(f"{value!r} is not a number.") from None
        if not math.isfinite(number):
            raise typer.BadParameter(f"must be a finite number, got {value}.")
        if min is not None and number < min:
            raise typer.BadParameter(f"must be at least {min:g}, got {number:g}.")
        if max is not None and number > max:
            raise typer.BadParameter(f"must be at most {max:g}, got {number:g}.")
        if above is not None and number <= above:
            raise typer.BadParameter(f"must be > {above:g}, got {number:g}.")
        return number

    return parse


#: ``--overwrite`` of a command that writes one ``--out`` file.
OverwriteFile = Annotated[bool, typer.Option("--overwrite", help="replace an existing --out file")]
#: ``--overwrite`` of a command that writes a whole folder (see :func:`refuse_filled_folder`).
OverwriteFolder = Annotated[
    bool, typer.Option("--overwrite", help="replace what a folder that is not empty holds")
]


def refuse_filled_folder(folder: Path, overwrite: bool) -> None:
    """Exit 2 where ``folder`` is a file, or a folder already holding files, unless ``overwrite``:
    a command that writes a whole folder (a tiny pipeline, a toy data set) never replaces what a
    user keeps there without being told to."""
    if folder.exists() and not folder.is_dir():
        raise fail(f"{folder} is a file, not a folder: give a new or empty folder.")
    if overwrite or not folder.is_dir():
        return
    try:
        held = sorted(p.name for p in folder.iterdir())
    except OSError as exc:
        raise fail(f"cannot read {folder}: {exc.strerror or exc}.") from None
    if held:
        shown = ", ".join(held[:3]) + (f" and {len(held) - 3} more" if len(held) > 3 else "")
        raise fail(
            f"{folder} already holds files ({shown}): pass --overwrite to replace them, or give "
            "a new or empty folder."
        )


def note(text: str, *, soft_wrap: bool = False) -> None:
    """A yellow ``note:`` line on stderr."""
    err.print(
        f"[yellow]note:[/] {escape(clean_model_text(text))}", highlight=False, soft_wrap=soft_wrap
    )


def print_notices(notices: list[str]) -> None:
    for line in notices:
        note(line, soft_wrap=True)


def check_persona_dirs(directories: Sequence[Path]) -> None:
    """Load the persona set of ``directories`` (fails before any work on a bad file) and say
    which user file overrides which persona."""
    from emotion_director.personas import load_personas

    notices: list[str] = []
    load_personas(directories, notices=notices)
    print_notices(notices)


@contextmanager
def progress_bar(label: str, total: int | None = None) -> Iterator[Callable[[int, int], None]]:
    """A transient bar on stderr (none when stderr is no terminal); yields ``update(done,
    total)`` for the library's ``progress=``. A ``total`` given here stays; without one, the
    bar follows the total of each update."""
    from rich.progress import Progress

    with Progress(console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task(label, total=total)

        def update(done: int, new_total: int | None = None) -> None:
            if total is None:
                progress.update(task, completed=done, total=new_total)
            else:
                progress.update(task, completed=done)

        yield update


def show_graph_update(chunk: dict[str, Any]) -> None:
    """The live lines of a rewrite: the parsed request, then each persona's reading."""
    if "persona_reading" in chunk:
        for reading in chunk["persona_reading"]["readings"]:
            out.print(
                f"[cyan]{escape(reading.persona):>17}[/] [dim]{reading.intensity:.2f}[/]  "
                + escape("; ".join(reading.cues)),
                highlight=False,
            )
    elif "parse_request" in chunk:
        update = chunk["parse_request"]
        out.print(
            f"[bold]{escape(update['subject'])}[/] -> [bold magenta]{update['emotion']}[/]  "
            f"[dim]({len(update['personas'])} personas)[/]",
            highlight=False,
        )
