"""``rewrite`` (with its durable ``--thread`` runs and ``--review`` questions) and
``emotions``, the targets it takes."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from emotion_director.cli.common import (
    MAX_STDIN_PROMPT_BYTES,
    call,
    check_persona_dirs,
    err,
    fail,
    out,
    read_prompt,
    show_graph_update,
)
from emotion_director.emotions import EMOTIONS
from emotion_director.errors import InvalidRequestError


def rewrite(
    prompt: Annotated[
        Optional[str], typer.Argument(help="the scene to rewrite; '-' reads stdin")
    ] = None,
    emotion: Annotated[
        Optional[str], typer.Option("--emotion", "-e", help="target emotion, e.g. awe")
    ] = None,
    valence: Annotated[Optional[float], typer.Option(help="target valence in [-1, 1]")] = None,
    arousal: Annotated[Optional[float], typer.Option(help="target arousal in [0, 1]")] = None,
    personas: Annotated[
        Optional[list[Path]],
        typer.Option("--personas", help="folder of persona YAML files (repeatable)"),
    ] = None,
    persona: Annotated[
        Optional[list[str]],
        typer.Option("--persona", "-p", help="use only these persona names (repeatable)"),
    ] = None,
    backend: Annotated[Optional[str], typer.Option(help="embedded | openai")] = None,
    base_url: Annotated[
        Optional[str], typer.Option(help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    ] = None,
    model: Annotated[Optional[str], typer.Option(help="model name on the server")] = None,
    model_path: Annotated[
        Optional[Path], typer.Option(help="GGUF file for the embedded backend")
    ] = None,
    seed: Annotated[
        Optional[int], typer.Option(help="seed; the same seed gives the same result")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the full output as JSON")] = False,
    thread: Annotated[
        Optional[str], typer.Option(help="durable run id (SQLite checkpoints)")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue the run of --thread")] = False,
    review: Annotated[
        bool,
        typer.Option("--review", help="approve, edit or drop readings before the result is final"),
    ] = False,
) -> None:
    """Rewrite PROMPT so that an image of it evokes the target emotion.

    With --thread ID every step is checkpointed (SQLite); after a crash, rerun with
    --thread ID --resume: finished persona readings are not recomputed.
    """
    from emotion_director.graph import RewriteResult, build_graph
    from emotion_director.graph.runs import run_thread, stream_run
    from emotion_director.settings import load_settings

    def run() -> RewriteResult:
        settings = load_settings(
            backend=backend,
            base_url=base_url,
            model=model,
            model_path=model_path,
            persona_dirs=personas or None,
            review=review or None,
        )
        if personas:
            check_persona_dirs(settings.persona_dirs)
        if resume and thread is None:
            raise InvalidRequestError("--resume needs --thread ID (the run to continue).")
        if thread is not None:
            from emotion_director.graph.durable import check_thread_id

            check_thread_id(thread)
        fields = {
            "emotion": emotion,
            "valence": valence,
            "arousal": arousal,
            "personas": persona,
            "seed": seed,
        }
        given = {"prompt": None if prompt is None else read_prompt(prompt), **fields}
        given = {key: value for key, value in given.items() if value is not None}
        request: dict[str, Any] | None = None
        if not resume:
            if prompt is None:
                raise InvalidRequestError(
                    'missing PROMPT: e.g. emotion-director rewrite "a dog in a park" --emotion awe'
                )
            request = given
        live = not as_json
        on_update = show_graph_update if live else None
        if thread is None and not review:
            values = asyncio.run(stream_run(build_graph(settings), request, on_update=on_update))
            return RewriteResult.from_state(values)
        run_id = thread if thread is not None else f"review-{uuid.uuid4().hex[:8]}"
        # with --resume, a prompt or emotion given must be the run's: checked, never ignored
        try:
            return asyncio.run(
                run_thread(
                    settings,
                    run_id,
                    request,
                    ask_review=_ask_review,
                    given=given if resume else None,
                    on_update=on_update,
                    on_resume=(lambda done: _say_resuming(run_id, done)) if live else None,
                )
            )
        except KeyboardInterrupt:
            # (Ctrl-C) every finished step is checkpointed: say how to go on from them
            raise fail(
                f"interrupted; the finished steps are saved: resume with --thread {run_id} "
                f"--resume{' --review' if review else ''}",
                130,
            ) from None

    result = call(run)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        _render(result)


def _say_resuming(thread: str, done: list[str]) -> None:
    out.print(
        f"[dim]resuming thread {escape(thread)}"
        + (f" (saved readings: {escape(', '.join(done))})" if done else "")
        + "[/]",
        highlight=False,
    )


_APPROVE = frozenset({"a", "approve", "y", "yes", "ok"})  # (an empty line asks again)
_EDIT = frozenset({"e", "edit"})
_DROP = frozenset({"d", "drop"})


def _ask(question: str, default: str | None = None) -> str:
    """One line typed on stdin after ``question`` on stderr. (click's ``prompt(err=True)``
    hands the question's last character to ``input()``, which writes it to stdout: a space
    per question leaked into ``--json``.)"""
    shown = f"{question} [{default}]: " if default is not None else f"{question}: "
    err.print(escape(shown), end="", highlight=False)
    # (a closed stdin: None); one answer is at most a prompt's size: an endless stdin with no
    # line break (< /dev/zero) grew to gigabytes
    limit = MAX_STDIN_PROMPT_BYTES
    line = sys.stdin.readline(limit + 1) if sys.stdin is not None else ""
    if not line:
        raise EOFError
    if len(line) > limit:
        raise InvalidRequestError(
            f"the answer on stdin is over {limit >> 20} MiB with no line break: --review reads "
            "one short answer a line (a, e or d) typed on the terminal."
        )
    answer = line.rstrip("\r\n")
    return default if default is not None and not answer.strip() else answer


def _ask_review(
    payload: dict[str, Any], values: dict[str, Any], max_chars: int, thread: str
) -> dict[str, Any]:
    """Ask until the answer is one the run can use: a bad answer never becomes the stored
    resume value (it would be replayed on every resume). Only an explicit approval approves;
    the dialogue goes to stderr, so stdout (``--json``) holds the result alone."""
    from emotion_director.graph.review import review_answer_problem

    err.print(f"\n[bold yellow]review:[/] {escape(payload['final_prompt'])}", highlight=False)
    err.print(f"[dim]readings: {escape(', '.join(payload['readings']))}[/]", highlight=False)
    if payload.get("error"):
        err.print(f"[bold red]invalid answer:[/] {escape(payload['error'])}", highlight=False)
    personas = list(values.get("personas") or payload["readings"])
    dropped = list(values.get("dropped_personas") or [])
    for _ in range(20):
        try:
            choice = _ask("approve [a] / edit prompt [e] / drop readings [d]").strip().lower()
            if choice in _EDIT:
                decision = {"action": "edit", "final_prompt": _ask("new prompt")}
            elif choice in _DROP:
                names = _ask("persona names to drop (comma-separated)")
                decision = {
                    "action": "drop",
                    "personas": [n.strip() for n in names.split(",") if n.strip()],
                }
            elif choice in _APPROVE:
                decision = {"action": "approve"}
            else:
                err.print(
                    f"[bold red]unknown answer[/] {escape(repr(choice[:40]))}: type a to "
                    "approve, e to edit the prompt, d to drop readings (Ctrl-C stops; the "
                    "run is saved).",
                    highlight=False,
                )
                continue
        except (typer.Abort, EOFError, RuntimeError):  # EOF, or no stdin at all
            err.print()  # end the question's line: the error gets its own
            raise InvalidRequestError(
                "--review needs answers on the terminal (stdin closed); the run is saved: resume "
                f"it with --thread {thread} --resume --review."
            ) from None
        problem = review_answer_problem(decision, personas, dropped, max_chars=max_chars)
        if problem is None:
            return decision
        err.print(f"[bold red]invalid answer:[/] {escape(problem)} Try again.", highlight=False)
    raise InvalidRequestError(
        "no valid review answer after 20 tries; the run is saved: resume "
        f"it with --thread {thread} --resume --review."
    )


def _change_line(label: str, markup: str, reason: str, *, highlight: bool = True) -> None:
    """One change made to the prompt or the concepts: ``label: markup (reason)``, label and
    reason dim."""
    out.print(f"[dim]{label}:[/] {markup} [dim]({escape(reason)})[/]", highlight=highlight)


def _render(result: Any) -> None:
    chain = result.concepts
    scene = result.scene
    if scene is not None and not scene.english:
        out.print(
            f"[yellow]language:[/] {escape(scene.language_note or 'not English')}; the "
            "subject is kept as written",
            highlight=False,
        )
    for change in result.adjustments:
        into = f" -> {escape(change.replacement)}" if change.replacement else ""
        _change_line(change.action, f"{escape(change.text)}{into}", change.reason, highlight=False)
    for text in result.ignored_instructions:  # never silently: the user wrote it
        _change_line(
            "left out",
            escape(text),
            "an instruction to the model, not part of the scene: to keep it, say what the "
            "picture shows",
            highlight=False,
        )
    out.print(f"\n[bold]appraisals:[/] {escape(' > '.join(chain.appraisals))}", highlight=False)
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("concept", "facet", "support", "from"):
        table.add_column(column)
    for link in chain.concepts:
        table.add_row(
            escape(link.text),
            link.facet,
            f"{link.support:.2f}",
            escape(", ".join(link.supported_by) or link.origin),
        )
    out.print(table)
    for dropped in chain.dropped:
        _change_line("dropped", escape(dropped.text), dropped.reason)
    for entry in result.trace:
        if entry.links or entry.dissent:
            agreed = f" agreed with {', '.join(entry.agreed_with)};" if entry.agreed_with else ""
            out.print(
                f"[dim]{escape(entry.persona)} ({entry.role}):{escape(agreed)} "
                f"{escape('; '.join(entry.links) or 'no concept in the prompt')}[/]",
                highlight=False,
            )
    out.print(f"\n[bold green]prompt:[/] {escape(result.final_prompt)}", highlight=False)
    out.print(f"[bold red]negative:[/] {escape(result.negative_prompt)}", highlight=False)


def emotions() -> None:
    """List the 8 emotion categories with polarity, valence/arousal and synonyms."""
    table = Table("emotion", "polarity", "valence", "arousal", "definition", "synonyms")
    for profile in EMOTIONS.values():
        table.add_row(
            profile.emotion.value,
            profile.polarity,
            f"{profile.valence:+.2f}",
            f"{profile.arousal:.2f}",
            profile.definition,
            ", ".join(profile.synonyms[:5]),
        )
    out.print(table)
