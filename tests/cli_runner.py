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

#: Loggers a command adds filters to (``cli.root._quiet_model_libraries``).
_FILTERED_LOGGERS = ("transformers.utils.import_utils",)


def _print_warning(message: warnings.WarningMessage) -> None:
    """A warning as the interpreter prints it: on (the run's) stderr."""
    sys.stderr.write(warnings.formatwarning(*_fields(message)))


def _fields(message: warnings.WarningMessage) -> tuple:
    return (message.message, message.category, message.filename, message.lineno, message.line)


@contextlib.contextmanager
def _process_state(cwd: str | Path | None) -> Iterator[None]:
    """What a process owns and a command may change, given back afterwards: the environment,
    the working folder, the root logger, the filters the command adds to library loggers, the
    warning filters and where warnings go (a fresh interpreter's: pytest records warnings, and
    a warning recorded never reaches the run's stderr), and the secrets the redaction layer
    has been told (a fresh process knows none: one remembered by an earlier test would be
    masked here and printed there)."""
    from emotion_director import redaction

    environ = dict(os.environ)
    folder = os.getcwd()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    filters = {name: logging.getLogger(name).filters[:] for name in _FILTERED_LOGGERS}
    root.handlers = []  # a fresh process: basicConfig (EMOTION_DIRECTOR_LOG_LEVEL) applies
    with redaction._KNOWN_LOCK:
        secrets = set(redaction._KNOWN)
        redaction._KNOWN.clear()
    try:
        with warnings.catch_warnings():
            # CPython's own filters (PEP 565), printed on stderr
            warnings.resetwarnings()
            warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
            for category in (
                DeprecationWarning,
                PendingDeprecationWarning,
                ImportWarning,
                ResourceWarning,
            ):
                warnings.filterwarnings("ignore", category=category, append=True)
            warnings.showwarning = warnings._showwarning_orig  # type: ignore[attr-defined]
            warnings._showwarnmsg_impl = _print_warning  # type: ignore[attr-defined]
            if cwd is not None:
                os.chdir(cwd)
            yield
    finally:
        os.chdir(folder)
        for handler in root.handlers:
            handler.close()
        root.handlers, root.level = handlers, level
        for name, kept in filters.items():
            logging.getLogger(name).filters = kept
        with redaction._KNOWN_LOCK:
            redaction._KNOWN.clear()
            redaction._KNOWN.update(secrets)
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
