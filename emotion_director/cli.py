"""The ``emotion-director`` command line: thin, it parses, calls the library and renders.

Every error a user can fix is printed as one red line on stderr with exit code 2.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
import uuid
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from emotion_director.emotions import EMOTIONS
from emotion_director.errors import EmotionDirectorError, InvalidRequestError, PersonaFileError
from emotion_director.redaction import install_log_redaction, redact

app = typer.Typer(
    name="emotion-director",
    help="Emotion-oriented prompt rewriting (MC-Agent) and image generation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
personas_app = typer.Typer(help="List, show and validate persona files.", no_args_is_help=True)
app.add_typer(personas_app, name="personas")
bank_app = typer.Typer(help="Build visual prompt banks for MC-Diffusion.", no_args_is_help=True)
app.add_typer(bank_app, name="bank")
eval_app = typer.Typer(
    help="Evals: run, judge, report, compare; images, train-probe, rate.", no_args_is_help=True
)
app.add_typer(eval_app, name="eval")
train_app = typer.Typer(
    help="Train MC-Diffusion's visual prompt with Diffusion-DPO.", no_args_is_help=True
)
app.add_typer(train_app, name="train")

out = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(redact(message))}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call the library; user errors become one line, anything else one line plus a hint."""
    try:
        return fn(*args, **kwargs)
    except EmotionDirectorError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail("interrupted", 130) from None
    except typer.Exit:
        raise
    except Exception as exc:
        if os.environ.get("EMOTION_DIRECTOR_DEBUG"):
            raise
        raise _fail(
            f"unexpected {type(exc).__name__}: {str(exc)[:300]} "
            "(set EMOTION_DIRECTOR_DEBUG=1 for a traceback and report it)",
            1,
        ) from None


def _read_prompt(prompt: str) -> str:
    if prompt != "-":
        return prompt
    try:
        data = sys.stdin.buffer.read()
    except (AttributeError, OSError, ValueError):  # no stdin at all (closed descriptor)
        raise InvalidRequestError(
            "stdin is closed: pipe the prompt (echo 'a dog' | emotion-director rewrite - ...) or "
            "pass it as an argument."
        ) from None
    try:
        return data.decode("utf-8-sig")  # a leading BOM is an encoding mark, not text
    except UnicodeDecodeError as exc:
        raise InvalidRequestError(
            f"stdin is not valid UTF-8 (byte {exc.start}): pipe UTF-8 text."
        ) from None


@app.command()
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
            from emotion_director.personas import load_personas

            notices: list[str] = []
            load_personas(settings.persona_dirs, notices=notices)
            _print_notices(notices)
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
        given = {"prompt": None if prompt is None else _read_prompt(prompt), **fields}
        given = {key: value for key, value in given.items() if value is not None}
        request: dict[str, Any] | None = None
        if not resume:
            if prompt is None:
                raise InvalidRequestError(
                    'missing PROMPT: e.g. emotion-director rewrite "a dog in a park" --emotion awe'
                )
            request = given
        if thread is None and not review:
            return asyncio.run(_stream(build_graph(settings), request, live=not as_json))
        run_id = thread if thread is not None else f"review-{uuid.uuid4().hex[:8]}"
        # with --resume, a prompt or emotion given must be the run's: checked, never ignored
        return asyncio.run(
            _durable(settings, run_id, request, live=not as_json, given=given if resume else None)
        )

    result = _run(run)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        _render(result)


async def _durable(
    settings: Any,
    thread: str,
    request: dict[str, Any] | None,
    *,
    live: bool,
    given: dict[str, Any] | None = None,
) -> Any:
    from emotion_director.graph import build_graph
    from emotion_director.graph.checkpoints import open_checkpointer
    from emotion_director.graph.durable import (
        check_resume,
        check_thread_id,
        config_with_identity,
        hold_thread,
        recorded_identity,
        run_identity,
        saved_run,
    )

    thread = check_thread_id(thread)
    where = redact(settings.checkpoint_url) if settings.checkpoint_url else settings.checkpoint_db
    async with open_checkpointer(settings) as saver, hold_thread(settings, saver, thread):
        graph = build_graph(settings, checkpointer=saver)
        config = {"configurable": {"thread_id": thread}}
        saved = await saved_run(graph, config)
        if request is not None and saved.status != "none":
            hint = "print it with" if saved.status == "finished" else "continue it with"
            raise InvalidRequestError(
                f"--thread {thread} already holds a {saved.status} run ({saved.describe()}): "
                f"{hint} --thread {thread} --resume"
                f"{' --review' if saved.status == 'paused' else ''}"
                ", or start this request under another --thread id."
            )
        current = run_identity(settings, request)
        if request is None and saved.status != "none":
            # a resume continues the run as it was started, or not at all; a run saved before
            # runs recorded their settings (no identity) resumes as it always did
            recorded = await recorded_identity(saver, config)
            check_resume(thread, recorded, current, saved.values, given)
            config = config_with_identity(config, recorded)
        else:
            config = config_with_identity(config, current)
        if request is None and not settings.review and saved.status == "finished":
            # a graph without the review node sees a run paused for review as finished
            probe = build_graph(settings.model_copy(update={"review": True}), checkpointer=saver)
            if (await saved_run(probe, config)).status == "paused":
                raise InvalidRequestError(
                    f"the run of --thread {thread} waits for a review: answer it with --thread "
                    f"{thread} --resume --review."
                )
        if request is None:
            if saved.status == "none":
                raise InvalidRequestError(f"no run saved under --thread {thread} in {where}.")
            if saved.status == "finished":
                return _finished(saved.values, thread)
            if live:
                done = [r.persona for r in saved.values.get("readings", [])]
                out.print(
                    f"[dim]resuming thread {escape(thread)}"
                    + (f" (saved readings: {escape(', '.join(done))})" if done else "")
                    + "[/]",
                    highlight=False,
                )
        if saved.status != "paused":  # a paused run goes straight to its question
            await _stream(graph, request, live=live, config=config, complete=False)
        while True:  # --review: answer each interrupt from the terminal
            saved = await saved_run(graph, config)
            if saved.status != "paused":
                if saved.status != "finished":
                    raise InvalidRequestError(
                        f"the run of --thread {thread} stopped before it finished: continue it "
                        f"with --thread {thread} --resume."
                    )
                return _finished(saved.values, thread)
            payload = saved.interrupts[0].value
            if not settings.review:
                raise InvalidRequestError(
                    f"the run of --thread {thread} waits for a review: answer it with --thread "
                    f"{thread} --resume --review."
                )
            decision = _ask_review(payload, saved.values, settings.max_prompt_chars, thread)
            from langgraph.types import Command

            await _stream(graph, Command(resume=decision), live=live, config=config, complete=False)


def _finished(values: dict[str, Any], thread: str) -> Any:
    from emotion_director.graph import RewriteResult

    if "final_prompt" not in values:
        raise InvalidRequestError(
            f"the run of --thread {thread} has no result yet: continue it with --thread {thread} "
            "--resume."
        )
    return RewriteResult.from_state(values)


_APPROVE = frozenset({"", "a", "approve", "y", "yes", "ok"})
_EDIT = frozenset({"e", "edit"})
_DROP = frozenset({"d", "drop"})


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
            choice = (
                typer.prompt(
                    "approve [a] / edit prompt [e] / drop readings [d]", default="a", err=True
                )
                .strip()
                .lower()
            )
            if choice in _EDIT:
                decision = {"action": "edit", "final_prompt": typer.prompt("new prompt", err=True)}
            elif choice in _DROP:
                names = typer.prompt("persona names to drop (comma-separated)", err=True)
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


async def _stream(
    graph: Any,
    request: dict[str, Any] | None,
    *,
    live: bool,
    config: dict[str, Any] | None = None,
    complete: bool = True,
) -> Any:
    from emotion_director.graph import RewriteResult

    final: dict[str, Any] = {}
    async for mode, chunk in graph.astream(request, config, stream_mode=["updates", "values"]):
        if mode == "updates" and "__interrupt__" in chunk:
            continue
        if mode == "values":
            final = chunk
        elif live and "persona_reading" in chunk:
            for reading in chunk["persona_reading"]["readings"]:
                out.print(
                    f"[cyan]{escape(reading.persona):>17}[/] [dim]{reading.intensity:.2f}[/]  "
                    + escape("; ".join(reading.cues)),
                    highlight=False,
                )
        elif live and "parse_request" in chunk:
            update = chunk["parse_request"]
            out.print(
                f"[bold]{escape(update['subject'])}[/] -> [bold magenta]{update['emotion']}[/]  "
                f"[dim]({len(update['personas'])} personas)[/]",
                highlight=False,
            )
    return RewriteResult.from_state(final) if complete else final


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
        out.print(
            f"[dim]{change.action}:[/] {escape(change.text)}{into} "
            f"[dim]({escape(change.reason)})[/]",
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
        out.print(f"[dim]dropped:[/] {escape(dropped.text)} [dim]({escape(dropped.reason)})[/]")
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


@app.command()
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


@personas_app.command("list")
def personas_list(
    personas: Annotated[
        Optional[list[Path]], typer.Option("--personas", help="extra folder(s)")
    ] = None,
) -> None:
    """List the personas (defaults plus any --personas folders)."""
    from emotion_director.personas import load_personas

    notices: list[str] = []
    loaded = _run(load_personas, personas or None, notices=notices)
    _print_notices(notices)
    table = Table("name", "who", "temperament", "weight", "temperature")
    for p in loaded:
        table.add_row(
            p.name,
            f"{p.label}, {p.bio.age}, {p.bio.occupation} ({p.bio.culture})",
            p.temperament,
            f"{p.weight:g}",
            f"{p.temperature:g}",
        )
    out.print(table)


@personas_app.command("show")
def personas_show(
    name: Annotated[str, typer.Argument(help="persona name")],
    personas: Annotated[
        Optional[list[Path]], typer.Option("--personas", help="extra folder(s)")
    ] = None,
) -> None:
    """Show one persona as YAML."""
    import yaml

    from emotion_director.personas import load_personas

    (persona,) = _run(load_personas, personas or None, names=[name])
    typer.echo(yaml.safe_dump(persona.model_dump(mode="json"), sort_keys=False, allow_unicode=True))


@personas_app.command("validate")
def personas_validate(
    paths: Annotated[list[Path], typer.Argument(help="persona YAML files or folders")],
) -> None:
    """Validate persona files; exit 2 if any is invalid or two share a name."""
    from emotion_director.personas import default_personas, load_persona_file
    from emotion_director.personas.loader import duplicate_name_message, persona_files

    failed = 0
    files = [f for p in paths for f in (persona_files(p) if p.is_dir() else [p])]
    if not files:
        raise _fail("no persona files found in the given paths.")
    defaults = {p.name for p in default_personas()}
    shipped = Path(str(resources.files("emotion_director.personas").joinpath("defaults")))
    seen: dict[str, Path] = {}
    for file in files:
        try:
            persona = load_persona_file(file)
            if persona.name in seen:  # as list and rewrite would refuse the set
                raise PersonaFileError(
                    duplicate_name_message(file, persona.name, seen[persona.name])
                )
        except EmotionDirectorError as exc:
            failed += 1
            for problem in getattr(exc, "problems", None) or [str(exc)]:  # every one, not the first
                err.print(
                    f"[bold red]invalid:[/] {escape(problem)}", highlight=False, soft_wrap=True
                )
        else:
            seen[persona.name] = file
            own = file.resolve().parent == shipped.resolve()  # a shipped file is the default
            note = (
                " [yellow]overrides the default persona[/]"
                if persona.name in defaults and not own
                else ""
            )
            out.print(f"[green]ok:[/] {escape(str(file))} ({persona.name}){note}", highlight=False)
    if failed:
        raise typer.Exit(2)


@personas_app.command("schema")
def personas_schema() -> None:
    """Print the JSON Schema of a persona file (for editors and validators)."""
    import json

    from emotion_director.personas import Persona

    typer.echo(json.dumps(Persona.model_json_schema(), indent=2))


@personas_app.command("diff")
def personas_diff(
    set_a: Annotated[str, typer.Argument(help="persona folder, or 'defaults'")],
    set_b: Annotated[str, typer.Argument(help="persona folder, or 'defaults'")],
    scene: Annotated[
        Optional[list[str]],
        typer.Option(help="'PROMPT:EMOTION' (repeatable); default: 3 built-in scenes"),
    ] = None,
    backend: Annotated[Optional[str], typer.Option(help="embedded | openai")] = None,
    base_url: Annotated[Optional[str], typer.Option(help="OpenAI-compatible server URL")] = None,
    model: Annotated[Optional[str], typer.Option(help="model name on the server")] = None,
    seed: Annotated[int, typer.Option(help="the same seed for both sets")] = 0,
    persona: Annotated[
        Optional[list[str]],
        typer.Option("--persona", "-p", help="only these persona names (repeatable)"),
    ] = None,
    changed_only: Annotated[
        bool, typer.Option("--changed-only", help="only rows that differ")
    ] = False,
) -> None:
    """Rewrite a few scenes with two persona sets and show how readings and prompts change."""
    from emotion_director.evals.persona_diff import DEFAULT_SCENES, diff_persona_sets
    from emotion_director.settings import load_settings

    def folder(value: str) -> Path | None:
        return None if value == "defaults" else Path(value)

    def scenes() -> list[tuple[str, str]]:
        if not scene:
            return list(DEFAULT_SCENES)
        pairs = [s.rpartition(":")[::2] for s in scene]
        bad = [s for s, (p, e) in zip(scene, pairs) if not p.strip() or not e.strip()]
        if bad:
            raise InvalidRequestError(
                f"--scene {bad[0]!r}: write PROMPT:EMOTION, e.g. 'a dog in a park:awe'."
            )
        return [(p.strip(), e.strip()) for p, e in pairs]

    rows = _run(
        lambda: diff_persona_sets(
            folder(set_a),
            folder(set_b),
            load_settings(backend=backend, base_url=base_url, model=model),
            scenes=scenes(),
            seed=seed,
            names=persona,
        )
    )
    table = Table("scene", "persona", f"A: {set_a}", f"B: {set_b}", show_lines=True)
    for row in rows:
        if changed_only and not row.changed:
            continue
        mark = "[yellow]*[/] " if row.changed else ""
        table.add_row(
            escape(f"{row.scene} -> {row.emotion}"),
            mark + escape(row.persona),
            escape(row.a),
            escape(row.b),
        )
    out.print(table)
    changed = sum(r.changed for r in rows)
    err.print(f"{changed} of {len(rows)} rows differ", highlight=False)


def _print_notices(notices: list[str]) -> None:
    for line in notices:
        err.print(f"[yellow]note:[/] {escape(line)}", highlight=False, soft_wrap=True)


@app.command()
def generate(
    prompt: Annotated[
        Optional[str], typer.Argument(help="the image prompt; '-' reads stdin")
    ] = None,
    emotion: Annotated[
        Optional[str], typer.Option("--emotion", "-e", help="target emotion")
    ] = None,
    prompts: Annotated[
        Optional[Path],
        typer.Option(
            help="JSONL of {prompt, emotion?, seed?, negative_emotion?} or one prompt per line; "
            "split across processes under accelerate launch"
        ),
    ] = None,
    model: Annotated[
        Optional[str], typer.Option(help="SD 1.5/SDXL diffusers folder or hub id")
    ] = None,
    bank: Annotated[Optional[Path], typer.Option(help="visual prompt bank (.safetensors)")] = None,
    out: Annotated[Path, typer.Option(help="output folder for PNGs and JSON sidecars")] = Path(
        "outputs"
    ),
    adapter: Annotated[
        Optional[Path], typer.Option(help="trained adapter weights (.safetensors)")
    ] = None,
    lora: Annotated[
        Optional[Path], typer.Option(help="UNet LoRA from train dpo (lora.safetensors)")
    ] = None,
    negative_emotion: Annotated[
        Optional[str], typer.Option(help="emotion to steer away from")
    ] = None,
    negative_prompt: Annotated[Optional[str], typer.Option(help="negative text prompt")] = None,
    rewrite: Annotated[
        bool, typer.Option("--rewrite", help="run MC-Agent on the prompt first")
    ] = False,
    steps: Annotated[int, typer.Option(min=1, help="denoising steps")] = 30,
    seed: Annotated[int, typer.Option(help="seed")] = 0,
    scale: Annotated[
        float, typer.Option(min=0.0, help="visual prompt scale (0 = text only)")
    ] = 1.0,
    device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    size: Annotated[Optional[int], typer.Option(help="image height and width in pixels")] = None,
    retrieval_temperature: Annotated[
        Optional[float],
        typer.Option(help="retrieval softmax temperature (> 0); default: the bank's trained one"),
    ] = None,
    backend: Annotated[Optional[str], typer.Option(help="MC-Agent backend for --rewrite")] = None,
    base_url: Annotated[Optional[str], typer.Option(help="server URL for --backend openai")] = None,
    preset: Annotated[
        Optional[str],
        typer.Option(help="default or paper; unset: the projector the bank/adapter record"),
    ] = None,
) -> None:
    """Generate an image guided by the text prompt and the emotion's visual prompt."""

    def run() -> list[str]:
        if preset is not None:
            from emotion_director.diffusion.presets import get_preset

            get_preset(preset)  # an unknown name: one line listing the presets
        if (prompt is None) == (prompts is None):
            raise InvalidRequestError("give a PROMPT argument or --prompts FILE (one of the two).")
        if prompt is not None and not emotion:
            raise InvalidRequestError("missing --emotion/-e: the target emotion (e.g. awe).")
        if size is not None and (size <= 0 or size % 8):
            raise InvalidRequestError(
                f"--size {size}: image size must be a positive multiple of 8 (e.g. 512 for SD 1.5, "
                "1024 for SDXL)."
            )
        if retrieval_temperature is not None and not retrieval_temperature > 0:
            raise InvalidRequestError(
                f"--retrieval-temperature {retrieval_temperature}: must be > 0."
            )
        if not model:
            raise InvalidRequestError(
                "no diffusion model: pass --model PATH_OR_HUB_ID (SD 1.5 or SDXL)."
            )
        if bank is None:
            raise InvalidRequestError(
                "no visual prompt bank: pass --bank BANK.safetensors "
                "(build one with `emotion-director bank init`)."
            )
        if device not in {"cpu", "cuda"} and not device.startswith("cuda:"):
            raise InvalidRequestError(f"unknown device '{device}': use cpu or cuda.")
        from emotion_director.diffusion.dependencies import require_diffusion

        require_diffusion()
        from emotion_director.diffusion.bank import VisualPromptBank
        from emotion_director.diffusion.generator import ImageGenerator, writable_dir
        from emotion_director.emotions import resolve_emotion

        VisualPromptBank.load(bank)  # fail fast on a bad bank, before loading the model
        for name, file in (("--adapter", adapter), ("--lora", lora)):
            if file is not None and not file.is_file():
                raise InvalidRequestError(f"{name} {file}: file not found.")
            if file is not None and file.suffix != ".safetensors":
                raise InvalidRequestError(f"{name} {file}: must be a .safetensors file.")
        writable_dir(out)
        notes = lambda note: err.print(f"[yellow]note:[/] {escape(note)}", highlight=False)  # noqa: E731
        # built when needed: a --rewrite runs the agent before any diffusion weights load
        make_generator = functools.partial(
            ImageGenerator,
            model=model,
            bank=str(bank),
            adapter=str(adapter) if adapter else None,
            lora=str(lora) if lora else None,
            out_dir=str(out),
            device=device,
            steps=steps,
            scale=scale,
            height=size,
            width=size,
            retrieval_temperature=retrieval_temperature,
            preset=preset,
            on_note=notes,
        )
        if prompts is not None:
            from emotion_director.diffusion.batch import generate_prompt_file

            return generate_prompt_file(
                make_generator(),
                prompts,
                default_emotion=emotion,
                seed=seed,
                negative_emotion=negative_emotion,
                negative_prompt=negative_prompt,
            )
        text = _read_prompt(prompt)
        target = resolve_emotion(emotion).value
        neg_prompt, neg_emotion, extra = negative_prompt, negative_emotion, {}
        if rewrite:
            from emotion_director.graph import build_graph
            from emotion_director.settings import load_settings

            settings = load_settings(backend=backend, base_url=base_url)
            result = asyncio.run(
                _stream(
                    build_graph(settings),
                    {"prompt": text, "emotion": target, "seed": seed},
                    live=True,
                )
            )
            extra = {"source_prompt": text}
            text = result.final_prompt
            neg_prompt = neg_prompt or result.negative_prompt
            request = result.visual_prompt
            neg_emotion = neg_emotion or (
                request.negative_emotion.value if request.negative_emotion else None
            )
        return make_generator().generate(
            text,
            emotion=target,
            negative_prompt=neg_prompt,
            negative_emotion=neg_emotion,
            seed=seed,
            extra=extra,
        )

    for path in _run(run):
        typer.echo(path)


@bank_app.command("init")
def bank_init(
    dataset: Annotated[
        Path, typer.Argument(help="JSONL manifest or image folder (EmoSet layout works)")
    ],
    out_path: Annotated[Path, typer.Option("--out", help="bank file to write (.safetensors)")],
    text_encoder: Annotated[
        str,
        typer.Option(
            help="the diffusion model folder (its text_encoder/ + tokenizer/ are used, as at "
            "generation time), its text_encoder/ subfolder, or a CLIP text model id"
        ),
    ],
    image_encoder: Annotated[str, typer.Option(help="CLIP vision or DINOv2/v3: id or folder")],
    preset: Annotated[
        str, typer.Option(help="default ([image; text] K-means) or paper (DINO + CLIP images)")
    ] = "default",
    dino_encoder: Annotated[
        Optional[str], typer.Option(help="with --preset paper: the DINO model (id or folder)")
    ] = None,
    tokens: Annotated[int, typer.Option(min=1, help="visual tokens per emotion (L)")] = 16,
    batch_size: Annotated[int, typer.Option(min=1)] = 32,
    cache: Annotated[Optional[Path], typer.Option(help="feature cache folder (resumable)")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    device: Annotated[str, typer.Option()] = "cpu",
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="replace an existing --out file")
    ] = False,
) -> None:
    """Encode a dataset and build a bank with K-means per emotion.

    Data-parallel: `accelerate launch --num_processes N -m emotion_director.cli bank init ...`.
    """
    from rich.progress import Progress

    def run() -> Path | None:
        from emotion_director.diffusion.dependencies import require_diffusion

        require_diffusion()
        from emotion_director.diffusion.bank_init import (
            HFTextEncoder,
            check_image_encoder_args,
            image_encoder_for,
            init_bank,
            load_dataset,
        )
        from emotion_director.diffusion.presets import get_preset
        from emotion_director.files import check_output_path

        chosen = get_preset(preset)
        check_image_encoder_args(chosen.bank_features, dino_encoder)
        if out_path.suffix != ".safetensors":
            raise InvalidRequestError("--out must end in .safetensors")
        check_output_path(
            out_path, what="bank", overwrite=overwrite, error=InvalidRequestError
        )  # before hours of encoding, not after
        items = load_dataset(dataset)
        text = HFTextEncoder.from_pretrained(text_encoder, device=device)
        image = image_encoder_for(chosen.bank_features, image_encoder, dino_encoder, device=device)
        with Progress(console=err, transient=True, disable=not err.is_terminal) as progress:
            task = progress.add_task("encoding", total=len(items))
            bank = init_bank(
                items,
                image,
                text,
                num_tokens=tokens,
                batch_size=batch_size,
                cache_dir=cache or out_path.with_suffix(".cache"),
                seed=seed,
                progress=lambda done, total: progress.update(task, completed=done),
                cluster_on=chosen.cluster_on,
            )
        if bank is None:  # not the main process of a data-parallel run
            return None
        bank.metadata.update(dataset=str(dataset), **chosen.bank_record())
        return bank.save(out_path, overwrite=overwrite)

    path = _run(run)
    if path is not None:
        typer.echo(str(path))


@bank_app.command("random")
def bank_random(
    out_path: Annotated[Path, typer.Option("--out", help="bank file to write (.safetensors)")],
    tokens: Annotated[int, typer.Option(min=1)] = 16,
    dim: Annotated[int, typer.Option(min=1, help="token size (image encoder width)")] = 768,
    text_dim: Annotated[int, typer.Option(min=1, help="text key size (text encoder width)")] = 768,
    seed: Annotated[int, typer.Option()] = 0,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="replace an existing --out file")
    ] = False,
) -> None:
    """Write a randomly initialised bank (to train from scratch, or for smoke tests)."""

    def run() -> Path:
        from emotion_director.diffusion.dependencies import require_diffusion

        require_diffusion()
        from emotion_director.diffusion.bank import VisualPromptBank

        return VisualPromptBank.random(tokens, dim, text_dim, seed=seed).save(
            out_path, overwrite=overwrite
        )

    typer.echo(str(_run(run)))


@bank_app.command("tiny-pipeline")
def tiny_pipeline(
    out_dir: Annotated[Path, typer.Argument(help="folder to write a tiny random SD pipeline to")],
    kind: Annotated[str, typer.Option(help="sd15 or sdxl")] = "sd15",
) -> None:
    """Write a tiny random SD 1.5/SDXL pipeline in the real diffusers layout (smoke tests)."""

    def run() -> Path:
        if kind not in {"sd15", "sdxl"}:
            raise InvalidRequestError(f"unknown kind '{kind}': use sd15 or sdxl.")
        from emotion_director.diffusion.dependencies import require_diffusion

        require_diffusion()
        from emotion_director.diffusion.tiny import write_tiny_pipeline

        return write_tiny_pipeline(out_dir, kind)  # type: ignore[arg-type]

    typer.echo(str(_run(run)))


@bank_app.command("tiny-image-encoder")
def tiny_image_encoder(
    out_dir: Annotated[Path, typer.Argument(help="folder to write a tiny random image encoder to")],
    kind: Annotated[str, typer.Option(help="clip (CLIP vision) or dinov2")] = "clip",
) -> None:
    """Write a tiny random CLIP-vision or DINOv2 image encoder in the real layout (smoke tests)."""

    def run() -> Path:
        if kind not in {"clip", "dinov2"}:
            raise InvalidRequestError(f"unknown kind '{kind}': use clip or dinov2.")
        from emotion_director.diffusion.dependencies import require_diffusion

        require_diffusion()
        from emotion_director.diffusion.tiny import write_tiny_image_encoder

        return write_tiny_image_encoder(out_dir, kind)  # type: ignore[arg-type]

    typer.echo(str(_run(run)))


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
        from emotion_director.diffusion.dependencies import require_diffusion

        require_diffusion()
        from emotion_director.diffusion.presets import get_preset
        from emotion_director.diffusion.training import DPOConfig, DPOTrainer, default_config_yaml

        if preset is not None:
            get_preset(preset)  # an unknown name: one line listing the presets
        if print_config:
            typer.echo(default_config_yaml(), nl=False)
            return None
        if config is None:
            raise InvalidRequestError("pass --config FILE (see --print-config for every field).")
        cfg = DPOConfig.from_yaml(config, preset=preset)
        if max_steps:
            cfg.train.max_steps = max_steps
        from emotion_director.diffusion.training.progress import TrainingProgress

        trainer = DPOTrainer(cfg)  # bad data or model: one line, before any bar is drawn
        if not resume:
            trainer.check_output_dir()
        else:
            trainer.check_resume_config(overwrite=overwrite)
        with TrainingProgress(err, total=cfg.train.max_steps) as progress:

            def say_notes() -> None:
                for note in trainer.notes:
                    err.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
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

    folder = _run(run)
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
) -> None:
    """Write a small generated preference set (coloured images) for smoke runs."""

    def run() -> Path:
        from emotion_director.diffusion.training.data import make_toy_emoset, make_toy_preferences

        if emoset:
            return make_toy_emoset(out_dir, per_emotion=per_emotion, size=size)
        return make_toy_preferences(out_dir, per_emotion=per_emotion, size=size)

    typer.echo(str(_run(run)))


@app.command()
def mcp() -> None:
    """Serve rewrite_for_emotion (and generate_emotion_image) over MCP on stdio."""
    import anyio

    from emotion_director.mcp_server import _serve_stdio, build_server

    server = _run(build_server)
    anyio.run(_serve_stdio, server)


@eval_app.command("run")
def eval_run(
    out_dir: Annotated[Path, typer.Option("--out", help="run folder (resumable)")],
    systems: Annotated[
        str, typer.Option(help="comma-separated systems")
    ] = "identity,template,single_llm,mc_agent",
    dataset: Annotated[
        str, typer.Option(help="builtin:all|shortcut|neutral or a JSONL file")
    ] = "builtin:shortcut",
    limit: Annotated[Optional[int], typer.Option(min=1, help="only the first N cases")] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="items in flight (server backends)")] = 4,
    backend: Annotated[Optional[str], typer.Option(help="embedded | openai")] = None,
    base_url: Annotated[Optional[str], typer.Option(help="OpenAI-compatible server URL")] = None,
    model: Annotated[Optional[str], typer.Option(help="model name on the server")] = None,
    cache: Annotated[Optional[Path], typer.Option(help="shared LLM cache (SQLite file)")] = None,
    personas: Annotated[
        Optional[list[Path]],
        typer.Option(
            "--personas",
            help="persona folder(s) added to the defaults (tune personas through evals)",
        ),
    ] = None,
) -> None:
    """Rewrite every case with every system, score, and append to OUT/results.jsonl."""
    from rich.progress import Progress

    def run() -> Any:
        from emotion_director.evals.datasets import load_eval_dataset
        from emotion_director.evals.runner import run_eval
        from emotion_director.settings import load_settings

        names = _system_names(systems)
        settings = load_settings(
            backend=backend, base_url=base_url, model=model, persona_dirs=personas or None
        )
        if personas:  # fail before any work on a bad file, and say what overrides what
            from emotion_director.personas import load_personas

            notices: list[str] = []
            load_personas(settings.persona_dirs, notices=notices)
            _print_notices(notices)
        cases = load_eval_dataset(dataset)[:limit]
        with Progress(console=err, transient=True, disable=not err.is_terminal) as progress:
            task = progress.add_task("rewriting", total=len(names) * len(cases))
            return asyncio.run(
                run_eval(
                    names,
                    cases,
                    out_dir,
                    settings=settings,
                    concurrency=concurrency,
                    cache_path=cache,
                    progress=lambda d, t: progress.update(task, completed=d),
                    dataset=dataset,
                )
            )

    summary = _run(run)
    err.print(
        f"{summary.done} new, {summary.skipped} already done, {summary.failed} failed; "
        f"LLM cache {summary.cache_hits} hits / {summary.cache_misses} misses; "
        f"{summary.seconds:.1f} s",
        highlight=False,
    )
    typer.echo(str(summary.out_dir / "results.jsonl"))
    _fail_on_failures(summary.failed, summary.done, summary.out_dir / "results.jsonl")


def _fail_on_failures(failed: int, attempted: int, path: Path) -> None:
    """Exit 1 when items failed: their records (with ``error``) are kept and the same command
    redoes only them. A run whose every item failed is never reported as success."""
    if not failed:
        return
    first = ""
    try:
        for line in reversed(path.read_text(encoding="utf-8").splitlines()):
            if '"error"' in line:
                first = str(json.loads(line).get("error", ""))[:300]
                break
    except (OSError, ValueError):
        pass
    what = "every item" if failed >= attempted else f"{failed} of {attempted} item(s)"
    err.print(
        f"[bold red]error:[/] {what} failed (last error: {escape(first)}); the rest is "
        f"kept in {escape(str(path))}: run the same command again to redo only the failed "
        "ones.",
        highlight=False,
    )
    raise typer.Exit(1)


def _system_names(systems: str) -> list[str]:
    names = [s.strip() for s in systems.split(",") if s.strip()]
    if not names:
        raise InvalidRequestError(
            f"--systems {systems!r} names no system: pass e.g. "
            "--systems identity,template,mc_agent."
        )
    return names


@eval_app.command("judge")
def eval_judge(
    run_dir: Annotated[Path, typer.Argument(help="a run folder made by `eval run`")],
    systems: Annotated[
        Optional[str], typer.Option(help="comma-separated systems (default: all in the run)")
    ] = None,
    limit: Annotated[Optional[int], typer.Option(min=1, help="only the first N cases")] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="judge calls in flight")] = 4,
    backend: Annotated[Optional[str], typer.Option(help="embedded | openai")] = None,
    base_url: Annotated[Optional[str], typer.Option(help="OpenAI-compatible server URL")] = None,
    model: Annotated[Optional[str], typer.Option(help="judge model name on the server")] = None,
    cache: Annotated[Optional[Path], typer.Option(help="judge LLM cache (SQLite file)")] = None,
) -> None:
    """Pairwise LLM judge (A/B, order swapped on every pair); writes RUN/judgments.jsonl."""
    from rich.progress import Progress

    def run() -> Any:
        from emotion_director.evals.judge import judge_run, read_judgments, summarise_judgments
        from emotion_director.settings import load_settings

        settings = load_settings(backend=backend, base_url=base_url, model=model)
        names = _system_names(systems) if systems is not None else None
        with Progress(console=err, transient=True, disable=not err.is_terminal) as progress:
            task = progress.add_task("judging", total=None)
            done = asyncio.run(
                judge_run(
                    run_dir,
                    names,
                    settings=settings,
                    concurrency=concurrency,
                    limit=limit,
                    cache_path=cache,
                    progress=lambda d, t: progress.update(task, completed=d, total=t),
                )
            )
        return done, summarise_judgments(read_judgments(run_dir))

    done, summary = _run(run)
    from emotion_director.evals.judge import trust_warning

    table = Table("system", "win rate [95% CI]", "comparisons")
    for name, (rate, lo, hi, n) in summary["systems"].items():
        table.add_row(name, f"{rate:.3f} [{lo:.3f}, {hi:.3f}]", str(n))
    out.print(table)
    consistency = summary["consistency"]
    err.print(
        f"{done.done} new, {done.skipped} already judged, {done.failed} failed; "
        "position-consistency "
        + ("n/a" if consistency is None else f"{consistency:.3f}")
        + f"; LLM cache {done.cache_hits} hits / {done.cache_misses} misses; "
        f"{done.seconds:.1f} s",
        highlight=False,
    )
    warning = trust_warning(summary)
    if warning:
        err.print(f"[bold yellow]{escape(warning)}[/]", highlight=False)
    typer.echo(str(done.out_path))
    _fail_on_failures(done.failed, done.done, done.out_path)


@eval_app.command("report")
def eval_report(run_dir: Annotated[Path, typer.Argument(help="a run folder")]) -> None:
    """Write report.md and a self-contained report.html (tables, CIs, plots, examples)."""
    from emotion_director.evals.report import write_report

    md, page = _run(write_report, run_dir)
    typer.echo(f"{md}\n{page}")


@eval_app.command("compare")
def eval_compare(
    run_a: Annotated[Path, typer.Argument()],
    run_b: Annotated[Path, typer.Argument()],
) -> None:
    """Paired comparison of two runs (e.g. two persona configs), per system and metric."""
    from emotion_director.evals.report import compare_runs

    typer.echo(_run(compare_runs, run_a, run_b), nl=False)


from emotion_director.cli_media import register as _register_media_commands  # noqa: E402

_register_media_commands(eval_app, _run, err)

from emotion_director.cli_scene import register as _register_scene_commands  # noqa: E402

_register_scene_commands(app, eval_app, _run, err)


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
    _quiet_model_libraries(verbose=bool(level) and level.strip().upper() in ("DEBUG", "INFO"))
    app()


class _DropBenignLibraryNotes:
    """Drops library notes that say nothing to a user of this command line: transformers'
    "requires torchvision (not installed); falling back to ...ImageProcessorPil" (the PIL
    processors are what this project uses; nothing is missing)."""

    def filter(self, record: Any) -> bool:
        return "requires torchvision (not installed)" not in str(record.msg)


def _quiet_model_libraries(verbose: bool = False) -> None:
    """No progress bars and no benign notes from transformers, diffusers and the hub on a
    command's output (EMOTION_DIRECTOR_LOG_LEVEL=INFO or DEBUG shows them)."""
    if verbose:
        return
    import logging

    # read by huggingface_hub, whose setting transformers' and diffusers' bars follow
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    logging.getLogger("transformers.utils.import_utils").addFilter(_DropBenignLibraryNotes())


if __name__ == "__main__":
    main()
