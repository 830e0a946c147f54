"""``scene check`` and ``eval scene-fit``: the scene-fit component and the eval's own checker.

Registered by :func:`register` (kept apart from ``cli.py``). Both read one pair or a JSONL
stream; a bad line gets an error object in its place and the command exits 2 at the end, so
nothing reports failure as success.
"""

from __future__ import annotations

import io
import json
import os
import sys
import unicodedata
from typing import Annotated, Any, Callable, Iterator, Optional

import typer

from emotion_director import untrusted
from emotion_director.errors import InvalidRequestError

#: One JSONL line may hold a scene and a phrase or prompt of up to 1000 characters each.
MAX_LINE_BYTES = 16_384
MAX_TEXT_CHARS = 1000


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidRequestError(f"'{field}' must be a string, got {type(value).__name__}")
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
            while raw and not raw.endswith(b"\n"):  # skip the rest of the over-long line
                raw = stream.readline(MAX_LINE_BYTES)
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
        try:
            yield n, {f: _text(obj.get(f), f) for f in fields}, ""
        except InvalidRequestError as exc:
            yield n, None, str(exc)


def _stdin() -> Any:
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


def _stream(
    fields: tuple[str, str], answer: Callable[[str, str], dict[str, Any]], stdin: Any
) -> int:
    """Answer every line; a line that fails (bad input, or an error while answering it) gets
    an error object in its place and the stream goes on. Output is UTF-8 whatever the locale."""
    out = sys.stdout.buffer
    bad = 0
    try:
        for n, pair, error in _jsonl(stdin, fields):
            if pair is not None:
                try:
                    record = answer(pair[fields[0]], pair[fields[1]])
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


def register(app: typer.Typer, eval_app: typer.Typer, run: Callable[..., Any], err: Any) -> None:
    scene_app = typer.Typer(
        help="Check phrases against a scene (the graph's scene-fit filter).", no_args_is_help=True
    )
    app.add_typer(scene_app, name="scene")

    @scene_app.command("check")
    def scene_check(
        scene: Annotated[Optional[str], typer.Argument(help="the scene (a user's prompt)")] = None,
        phrase: Annotated[
            Optional[str], typer.Argument(help="a phrase to check against it")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print the verdict object")] = False,
        jsonl: Annotated[
            Optional[str],
            typer.Option(
                help='\'-\': read {"scene", "phrase"} lines on stdin, answer one JSON line each'
            ),
        ] = None,
    ) -> None:
        """Does PHRASE clash with SCENE? One green or red line, or JSON."""
        from emotion_director.scenefit import SceneFit

        if jsonl is not None:
            if jsonl != "-" or scene is not None:
                raise run(_usage, "use --jsonl - alone, with the pairs on stdin")
            stdin = run(_stdin)
            fit = run(SceneFit.load)
            bad = run(
                _stream,
                ("scene", "phrase"),
                lambda s, p: (
                    fit.check(s, p).model_dump(exclude={"scene", "phrase"})
                    | {"scene": s, "phrase": p}
                ),
                stdin,
            )
            if bad:
                raise typer.Exit(2)
            return
        if scene is None or phrase is None:
            raise run(
                _usage,
                'give a scene and a phrase: scene check "a welder at midnight" '
                '"blazing noon sun" (or --jsonl - with pairs on stdin)',
            )
        pair = run(lambda: (_text(scene, "scene"), _text(phrase, "phrase")))
        verdict = run(lambda: SceneFit.load().check(*pair))
        if as_json:
            typer.echo(verdict.model_dump_json())
        else:
            colour = "red" if verdict.clash else "green"
            word = "clash" if verdict.clash else "fits"
            from rich.console import Console
            from rich.markup import escape

            Console(highlight=False).print(
                f"[bold {colour}]{word}[/] {verdict.score:.2f}  {escape(verdict.reason)}"
            )

    @eval_app.command("scene-fit")
    def eval_scene_fit(
        jsonl: Annotated[str, typer.Option(help='\'-\': read {"scene", "prompt"} lines on stdin')],
    ) -> None:
        """The eval's independent scene checker: which phrases of a prompt clash with its scene."""
        from emotion_director.evals.scene_checker import PMISceneChecker

        if jsonl != "-":
            raise run(_usage, 'use --jsonl - with {"scene", "prompt"} lines on stdin')
        stdin = run(_stdin)
        checker = run(PMISceneChecker.load)
        bad = run(
            _stream,
            ("scene", "prompt"),
            lambda s, p: {"scene": s, **checker.check_prompt(s, p)},
            stdin,
        )
        if bad:
            raise typer.Exit(2)


def _usage(message: str) -> None:
    raise InvalidRequestError(message)
