"""JSONL in, JSONL out, for the commands that answer a stream of pairs (``scene check --jsonl
-``, ``eval scene-fit --jsonl -``).

A bad line gets an error object in its place and the stream goes on; the command exits 2 at the
end, so nothing reports failure as success.
"""

from __future__ import annotations

import io
import json
import os
import sys
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

import typer

from emotion_director import untrusted
from emotion_director.cli.common import call
from emotion_director.errors import InvalidRequestError
from emotion_director.files import skip_rest_of_line

#: One JSONL line may hold a scene and a phrase or prompt of up to 1000 characters each.
MAX_LINE_BYTES = 16_384
MAX_TEXT_CHARS = 1000
#: How much of an over-long line is read past, looking for its end, before the input is given up.
MAX_SKIPPED_BYTES = 64 * 2**20
_NO_END = (
    "line is over {limit} bytes and has no line break in its first {mib} MiB: stopped reading "
    "the input"
)


def checked_text(value: Any, field: str) -> str:
    """``value`` as one clean line of visible text, or an error that names ``field``."""
    if not isinstance(value, str):
        got = "null" if value is None else type(value).__name__
        raise InvalidRequestError(f"'{field}' must be a string, got {got}")
    odd = [c for c in value if unicodedata.category(c) in {"Cc", "Cs"} and c not in "\t\n\r"]
    if odd:
        raise InvalidRequestError(f"'{field}' contains control character U+{ord(odd[0]):04X}")
    hidden = untrusted.hidden_text_problem(value, field)
    if hidden:
        raise InvalidRequestError(hidden)
    text = " ".join(untrusted.remove_invisible(value).split())
    if not text:
        raise InvalidRequestError(f"'{field}' is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidRequestError(f"'{field}' is {len(text)} characters, over {MAX_TEXT_CHARS}")
    return text


def _jsonl(stream, fields: tuple[str, str]) -> Iterator[tuple[int, dict[str, str] | None, str]]:
    """(line number, the two fields or None, error) for each non-empty line of ``stream``."""
    for n, raw in enumerate(iter(lambda: stream.readline(MAX_LINE_BYTES + 1), b""), 1):
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            left = MAX_SKIPPED_BYTES - len(raw)
            if not skip_rest_of_line(stream, chunk=MAX_LINE_BYTES, cap=left):
                mib = MAX_SKIPPED_BYTES // 2**20  # an endless stream (/dev/zero): stop here
                yield n, None, _NO_END.format(limit=MAX_LINE_BYTES, mib=mib)
                return
            yield n, None, f"line is over {MAX_LINE_BYTES} bytes"
            continue
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.decode("utf-8-sig"))
        except UnicodeDecodeError:
            yield n, None, "line is not UTF-8"
            continue
        except (ValueError, RecursionError):
            yield n, None, "line is not valid JSON"
            continue
        if not isinstance(obj, dict):
            yield n, None, f"expected an object with {fields[0]!r} and {fields[1]!r}"
            continue
        missing = [f for f in fields if f not in obj]
        if missing:
            other = {"phrase": "prompt", "prompt": "phrase"}.get(missing[0], "")
            hint = (
                f" (this line has {other!r}: a line for the other command?)"
                if other and other in obj
                else ""
            )
            yield n, None, f"missing {missing[0]!r}: give {fields[0]!r} and {fields[1]!r}{hint}"
            continue
        try:
            yield n, {f: checked_text(obj.get(f), f) for f in fields}, ""
        except InvalidRequestError as exc:
            yield n, None, str(exc)


def open_stdin() -> Any:
    """stdin's binary stream, or an error when it is closed or opened write-only."""
    stream = getattr(sys.stdin, "buffer", None)
    try:
        if stream is None or not stream.readable():
            raise OSError
        try:
            import fcntl

            flags = fcntl.fcntl(stream.fileno(), fcntl.F_GETFL)
        except (ImportError, io.UnsupportedOperation):  # no fcntl, or no descriptor (a test)
            flags = os.O_RDONLY
        if flags & os.O_ACCMODE == os.O_WRONLY:
            raise OSError
    except (OSError, ValueError):  # closed, or opened write-only
        raise InvalidRequestError(
            "stdin is closed or not readable: pipe JSONL lines, e.g. "
            "emotion-director scene check --jsonl - < pairs.jsonl"
        ) from None
    return stream


def open_stdout() -> Any:
    """stdout's binary stream, or an error when it is closed (``>&-``)."""
    stream = getattr(sys.stdout, "buffer", None)
    if stream is None:
        raise InvalidRequestError(
            "stdout is closed: send the answers somewhere, e.g. end the command with "
            "> answers.jsonl"
        )
    return stream


def answer_lines(
    fields: tuple[str, str], answer: Callable[[str, str], dict[str, Any]], stdin: Any
) -> int:
    """Answer every line on stdout; the number of lines that failed. A line that fails (bad
    input, or an error while answering it) gets an error object in its place and the stream
    goes on. Output is UTF-8 whatever the locale."""
    out = open_stdout()
    bad = 0
    try:
        for n, pair, error in _jsonl(stdin, fields):
            if pair is not None:
                try:
                    record = {"line": n, **answer(pair[fields[0]], pair[fields[1]])}
                except Exception as exc:  # noqa: BLE001 - one line's failure is that line's answer
                    error = f"could not check this line ({type(exc).__name__}: {exc})"[:300]
                    pair = None
            if pair is None:
                bad += 1
                record = {"line": n, "error": error}
            out.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
            out.flush()
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):  # the reader went away (| head): stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's own advice
            return bad
        raise InvalidRequestError(
            f"cannot read stdin or write stdout ({exc.strerror or exc})."
        ) from None
    return bad


def answer_jsonl(
    fields: tuple[str, str], load: Callable[[], Callable[[str, str], dict[str, Any]]]
) -> None:
    """The whole ``--jsonl -`` command: check stdin, ``load()`` the answering function (a
    model, once), answer every line; exit 2 at the end if any line failed."""
    stdin = call(open_stdin)
    call(open_stdout)  # before the model loads
    answer = call(load)
    if call(answer_lines, fields, answer, stdin):
        raise typer.Exit(2)
