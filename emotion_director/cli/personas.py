"""``personas``: list, show, validate and compare persona files; print their schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from emotion_director.cli.common import call, err, out, print_notices
from emotion_director.errors import InvalidRequestError

personas_app = typer.Typer(help="List, show and validate persona files.", no_args_is_help=True)


def _persona_dirs(given: list[Path] | None) -> list[Path]:
    """The folders a rewrite would read: ``--personas``, else EMOTION_DIRECTOR_PERSONA_DIRS (or
    its line in .env)."""
    from emotion_director.settings import load_settings

    return call(load_settings, persona_dirs=given or None).persona_dirs


@personas_app.command("list")
def personas_list(
    personas: Annotated[
        Optional[list[Path]], typer.Option("--personas", help="extra folder(s)")
    ] = None,
) -> None:
    """List the personas (defaults plus any --personas folders, or EMOTION_DIRECTOR_PERSONA_DIRS's:
    the set a rewrite uses)."""
    from emotion_director.personas import load_personas

    notices: list[str] = []
    loaded = call(load_personas, _persona_dirs(personas), notices=notices)
    print_notices(notices)
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

    (persona,) = call(load_personas, _persona_dirs(personas), names=[name])
    typer.echo(yaml.safe_dump(persona.model_dump(mode="json"), sort_keys=False, allow_unicode=True))


@personas_app.command("validate")
def personas_validate(
    paths: Annotated[list[Path], typer.Argument(help="persona YAML files or folders")],
) -> None:
    """Validate persona files; exit 2 if any is invalid or two share a name."""
    from emotion_director.personas.loader import check_persona_paths

    checks = call(check_persona_paths, paths)
    for check in checks:
        for problem in check.problems:
            err.print(f"[bold red]invalid:[/] {escape(problem)}", highlight=False, soft_wrap=True)
        if not check.problems:
            note = " [yellow]overrides the default persona[/]" if check.overrides_default else ""
            out.print(
                f"[green]ok:[/] {escape(str(check.path))} ({check.name}){note}", highlight=False
            )
    if any(check.problems for check in checks):
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

    rows = call(
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
