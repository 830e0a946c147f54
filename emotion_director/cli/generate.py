"""``generate``: images guided by a text prompt and the emotion's visual prompt (MC-Diffusion),
one prompt or a file of them, optionally rewritten by MC-Agent first."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Optional

import typer

from emotion_director.cli.common import call, finite_float, note, read_prompt, show_graph_update
from emotion_director.errors import InvalidRequestError


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
        float,
        typer.Option(
            parser=finite_float(min=0.0),
            metavar="FLOAT",
            help="visual prompt scale (0 = text only)",
        ),
    ] = 1.0,
    device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    size: Annotated[Optional[int], typer.Option(help="image height and width in pixels")] = None,
    retrieval_temperature: Annotated[
        Optional[float],
        typer.Option(
            parser=finite_float(above=0.0),
            metavar="FLOAT",
            help="retrieval softmax temperature (> 0); default: the bank's trained one",
        ),
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
        if (prompt is None) == (prompts is None):
            raise InvalidRequestError("give a PROMPT argument or --prompts FILE (one of the two).")
        if prompt is not None and not emotion:
            raise InvalidRequestError("missing --emotion/-e: the target emotion (e.g. awe).")
        from emotion_director.diffusion.generator import checked_generator

        # the pipeline loads on first use: a --rewrite runs the agent before any weights load
        generator = checked_generator(
            model=model,
            bank=bank,
            adapter=adapter,
            lora=lora,
            out_dir=out,
            device=device,
            steps=steps,
            scale=scale,
            size=size,
            retrieval_temperature=retrieval_temperature,
            preset=preset,
            on_note=note,
        )
        if prompts is not None:
            from emotion_director.diffusion.batch import generate_prompt_file

            return generate_prompt_file(
                generator,
                prompts,
                default_emotion=emotion,
                seed=seed,
                negative_emotion=negative_emotion,
                negative_prompt=negative_prompt,
            )
        from emotion_director.emotions import resolve_emotion

        text = read_prompt(prompt)
        target = resolve_emotion(emotion).value
        neg_prompt, neg_emotion, extra = negative_prompt, negative_emotion, {}
        if rewrite:
            from emotion_director.graph import RewriteResult, build_graph
            from emotion_director.graph.runs import stream_run
            from emotion_director.settings import load_settings

            settings = load_settings(backend=backend, base_url=base_url)
            request = {"prompt": text, "emotion": target, "seed": seed}
            result = RewriteResult.from_state(
                asyncio.run(stream_run(build_graph(settings), request, on_update=show_graph_update))
            )
            extra = {"source_prompt": text}
            if result.ignored_instructions:  # never silently: the user wrote it
                extra["ignored_instructions"] = list(result.ignored_instructions)
                for cut in result.ignored_instructions:
                    note(
                        f"left out: {cut} (an instruction to the model, not part of the scene: "
                        "to keep it, say what the picture shows)"
                    )
            text = result.final_prompt
            neg_prompt = neg_prompt or result.negative_prompt
            visual = result.visual_prompt
            neg_emotion = neg_emotion or (
                visual.negative_emotion.value if visual.negative_emotion else None
            )
        return generator.generate(
            text,
            emotion=target,
            negative_prompt=neg_prompt,
            negative_emotion=neg_emotion,
            seed=seed,
            extra=extra,
        )

    for path in call(run):
        typer.echo(path)
