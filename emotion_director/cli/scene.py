"""``scene check``: does a phrase clash with a scene (the graph's scene-fit filter)?"""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from emotion_director.cli.common import call, fail
from emotion_director.cli.jsonl import answer_jsonl, checked_text

scene_app = typer.Typer(
    help="Check phrases against a scene (the graph's scene-fit filter).", no_args_is_help=True
)


@scene_app.command("check")
def scene_check(
    scene: Annotated[Optional[str], typer.Argument(help="the scene (a user's prompt)")] = None,
    phrase: Annotated[Optional[str], typer.Argument(help="a phrase to check against it")] = None,
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
            raise fail("use --jsonl - alone, with the pairs on stdin")

        def load() -> Any:
            fit = SceneFit.load()
            return lambda s, p: (
                fit.check(s, p).model_dump(exclude={"scene", "phrase"}) | {"scene": s, "phrase": p}
            )

        answer_jsonl(("scene", "phrase"), load)
        return
    if scene is None or phrase is None:
        raise fail(
            'give a scene and a phrase: scene check "a welder at midnight" '
            '"blazing noon sun" (or --jsonl - with pairs on stdin)'
        )
    pair = call(lambda: (checked_text(scene, "scene"), checked_text(phrase, "phrase")))
    verdict = call(lambda: SceneFit.load().check(*pair))
    if as_json:
        typer.echo(verdict.model_dump_json())
    else:
        colour = "red" if verdict.clash else "green"
        word = "clash" if verdict.clash else "fits"
        Console(highlight=False).print(
            f"[bold {colour}]{word}[/] {verdict.score:.2f}  {escape(verdict.reason)}"
        )
