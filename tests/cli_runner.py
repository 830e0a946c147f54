"""``emotion-director ARGS`` in the test's own process, answered as a finished process is.

A fresh interpreter costs ~3 s of CPU before a command does anything (langchain-core, langsmith
and LangGraph's imports, MiniLM and the knowledge files); a test that checks what a command
prints for one hostile input pays that for nothing. :func:`run_cli` runs the console script's
own :func:`~emotion_director.cli.root.main` (the log level, log redaction, the notes on
misspelt variables, the OSError handling around the app) with ``sys.argv``, the standard
streams, the environment and the working folder of that process, and gives back a
:class:`subprocess.CompletedProcess`; an exception that would end the process prints its
traceback on stderr, with exit code 1, as the interpreter would.

What needs a real process stays in one: two processes on one thread, SIGKILL, a closed or
full stdout, warnings that print once per process, the README's commands run verbatim.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from subprocess import CompletedProcess

from typer.testing import CliRunner

from emotion_director.cli.root import main


@contextlib.contextmanager
def _process_state(cwd: str | Path | None) -> Iterator[None]:
    """What a process owns and a command may change, given back afterwards: the environment,
    the working folder, the root logger and the warning filters."""
    environ = dict(os.environ)
    folder = os.getcwd()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers = []  # a fresh process: basicConfig (EMOTION_DIRECTOR_LOG_LEVEL) applies
    try:
        with warnings.catch_warnings():
            if cwd is not None:
                os.chdir(cwd)
            yield
    finally:
        os.chdir(folder)
        for handler in root.handlers:
            handler.close()
        root.handlers, root.level = handlers, level
        os.environ.clear()
        os.environ.update(environ)


def run_cli(
    *args: object,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    cwd: str | Path | None = None,
) -> CompletedProcess[str]:
    """``emotion-director *args`` with only ``env``'s ``EMOTION_DIRECTOR_*`` variables set (the
    test's own are cleared, as a fresh process given ``env`` would see them), ``input`` on
    stdin (None or "": a closed, empty stdin), in ``cwd``."""
    argv = [str(a) for a in args]
    overrides: dict[str, str | None] = {
        k: None for k in os.environ if k.startswith("EMOTION_DIRECTOR_")
    }
    overrides.update({"COLUMNS": "300", **(env or {})})
    runner = CliRunner()
    with (
        _process_state(cwd),
        runner.isolation(input=input, env=overrides) as (out, err, _),
    ):
        saved_argv = sys.argv
        sys.argv = ["emotion-director", *argv]
        try:
            main()
            code = 0
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:  # SystemExit("message"): printed, exit 1
                print(exc.code, file=sys.stderr)
                code = 1
        except Exception:  # what would end the process: its traceback, exit 1
            traceback.print_exc(file=sys.stderr)
            code = 1
        finally:
            sys.argv = saved_argv
            sys.stdout.flush()
            sys.stderr.flush()
        stdout = out.getvalue().decode("utf-8", "replace")
        stderr = err.getvalue().decode("utf-8", "replace")
    return CompletedProcess(["emotion-director", *argv], code, stdout, stderr)
