"""The ``emotion-director`` command line: thin, it parses, calls the library and renders.

Every error a user can fix is printed as one red line on stderr with exit code 2.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from emotion_director.emotions import EMOTIONS
from emotion_director.errors import EmotionDirectorError, InvalidRequestError

app = typer.Typer(
    name="emotion-director",
    help="Emotion-oriented prompt rewriting (MC-Agent) and image generation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
personas_app = typer.Typer(help="List, show and validate persona files.", no_args_is_help=True)
app.add_typer(personas_app, name="personas")

out = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
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
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequestError(
            f"stdin is not valid UTF-8 (byte {exc.start}): pipe UTF-8 text."
        ) from None


@app.command()
def rewrite(
    prompt: Annotated[str, typer.Argument(help="the scene to rewrite; '-' reads stdin")],
    emotion: Annotated[Optional[str], typer.Option("--emotion", "-e", help="target emotion, e.g. awe")] = None,
    valence: Annotated[Optional[float], typer.Option(help="target valence in [-1, 1]")] = None,
    arousal: Annotated[Optional[float], typer.Option(help="target arousal in [0, 1]")] = None,
    personas: Annotated[Optional[list[Path]], typer.Option("--personas", help="folder of persona YAML files (repeatable)")] = None,
    persona: Annotated[Optional[list[str]], typer.Option("--persona", "-p", help="use only these persona names (repeatable)")] = None,
    backend: Annotated[Optional[str], typer.Option(help="embedded | openai")] = None,
    base_url: Annotated[Optional[str], typer.Option(help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")] = None,
    model: Annotated[Optional[str], typer.Option(help="model name on the server")] = None,
    model_path: Annotated[Optional[Path], typer.Option(help="GGUF file for the embedded backend")] = None,
    seed: Annotated[Optional[int], typer.Option(help="seed; the same seed gives the same result")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the full output as JSON")] = False,
) -> None:
    """Rewrite PROMPT so that an image of it evokes the target emotion."""
    from emotion_director.graph import RewriteResult, build_graph
    from emotion_director.settings import load_settings

    def run() -> RewriteResult:
        settings = load_settings(
            backend=backend, base_url=base_url, model=model, model_path=model_path,
            persona_dirs=personas or None,
        )
        text = _read_prompt(prompt)
        graph = build_graph(settings)
        request: dict[str, Any] = {"prompt": text}
        for key, value in {"emotion": emotion, "valence": valence, "arousal": arousal,
                           "personas": persona, "seed": seed}.items():
            if value is not None:
                request[key] = value
        return asyncio.run(_stream(graph, request, live=not as_json))

    result = _run(run)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        _render(result)


async def _stream(graph: Any, request: dict[str, Any], *, live: bool) -> Any:
    from emotion_director.graph import RewriteResult

    final: dict[str, Any] = {}
    async for mode, chunk in graph.astream(request, stream_mode=["updates", "values"]):
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
    return RewriteResult.from_state(final)


def _render(result: Any) -> None:
    chain = result.concepts
    out.print(f"\n[bold]appraisals:[/] {escape(' > '.join(chain.appraisals))}", highlight=False)
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("concept", "facet", "support", "from"):
        table.add_column(column)
    for link in chain.concepts:
        table.add_row(escape(link.text), link.facet, f"{link.support:.2f}",
                      escape(", ".join(link.supported_by) or link.origin))
    out.print(table)
    for dropped in chain.dropped:
        out.print(f"[dim]dropped:[/] {escape(dropped.text)} [dim]({escape(dropped.reason)})[/]")
    out.print(f"\n[bold green]prompt:[/] {escape(result.final_prompt)}", highlight=False)
    out.print(f"[bold red]negative:[/] {escape(result.negative_prompt)}", highlight=False)


@app.command()
def emotions() -> None:
    """List the 8 emotion categories with polarity, valence/arousal and synonyms."""
    table = Table("emotion", "polarity", "valence", "arousal", "definition", "synonyms")
    for profile in EMOTIONS.values():
        table.add_row(profile.emotion.value, profile.polarity, f"{profile.valence:+.2f}",
                      f"{profile.arousal:.2f}", profile.definition,
                      ", ".join(profile.synonyms[:5]))
    out.print(table)


@personas_app.command("list")
def personas_list(
    personas: Annotated[Optional[list[Path]], typer.Option("--personas", help="extra folder(s)")] = None,
) -> None:
    """List the personas (defaults plus any --personas folders)."""
    from emotion_director.personas import load_personas

    loaded = _run(load_personas, personas or None)
    table = Table("name", "who", "temperament", "weight", "temperature")
    for p in loaded:
        table.add_row(p.name, f"{p.label}, {p.bio.age}, {p.bio.occupation} ({p.bio.culture})",
                      p.temperament, f"{p.weight:g}", f"{p.temperature:g}")
    out.print(table)


@personas_app.command("show")
def personas_show(
    name: Annotated[str, typer.Argument(help="persona name")],
    personas: Annotated[Optional[list[Path]], typer.Option("--personas", help="extra folder(s)")] = None,
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
    """Validate persona files; exit 2 if any is invalid."""
    from emotion_director.personas import load_persona_file

    failed = 0
    files = [f for p in paths for f in (sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
                                        if p.is_dir() else [p])]
    if not files:
        raise _fail("no persona files found in the given paths.")
    for file in files:
        try:
            persona = load_persona_file(file)
        except EmotionDirectorError as exc:
            failed += 1
            err.print(f"[bold red]invalid:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        else:
            out.print(f"[green]ok:[/] {escape(str(file))} ({persona.name})", highlight=False)
    if failed:
        raise typer.Exit(2)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
