"""``bank``: build visual prompt banks for MC-Diffusion; the tiny fixtures for smoke tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from emotion_director.cli.common import (
    OverwriteFile,
    OverwriteFolder,
    call,
    echo_written,
    fail,
    progress_bar,
    refuse_filled_folder,
    require_diffusion,
)

bank_app = typer.Typer(help="Build visual prompt banks for MC-Diffusion.", no_args_is_help=True)


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
    overwrite: OverwriteFile = False,
) -> None:
    """Encode a dataset and build a bank with K-means per emotion.

    Data-parallel: `accelerate launch --num_processes N -m emotion_director.cli bank init ...`.
    """

    def run() -> Path | None:
        require_diffusion()
        from emotion_director.diffusion.bank_init import init_bank_file

        with progress_bar("encoding") as progress:
            return init_bank_file(
                dataset,
                out_path,
                text_encoder=text_encoder,
                image_encoder=image_encoder,
                num_tokens=tokens,
                batch_size=batch_size,
                cache_dir=cache,
                seed=seed,
                device=device,
                overwrite=overwrite,
                preset=preset,
                dino_encoder=dino_encoder,
                progress=progress,
            )

    path = call(run)
    if path is not None:
        typer.echo(str(path))


@bank_app.command("random")
def bank_random(
    out_path: Annotated[Path, typer.Option("--out", help="bank file to write (.safetensors)")],
    tokens: Annotated[int, typer.Option(min=1)] = 16,
    dim: Annotated[int, typer.Option(min=1, help="token size (image encoder width)")] = 768,
    text_dim: Annotated[int, typer.Option(min=1, help="text key size (text encoder width)")] = 768,
    seed: Annotated[int, typer.Option()] = 0,
    overwrite: OverwriteFile = False,
) -> None:
    """Write a randomly initialised bank (to train from scratch, or for smoke tests)."""

    echo_written(
        "emotion_director.diffusion.bank",
        lambda bank: bank.VisualPromptBank.random(tokens, dim, text_dim, seed=seed).save(
            out_path, overwrite=overwrite
        ),
        diffusion=True,
    )


def _tiny_command(
    name: str,
    what: str,
    write: Callable[[Any, Path, str], Path],
    kinds: tuple[str, str],
    kind_help: str,
    doc: str,
) -> None:
    """Register ``bank NAME OUT_DIR [--kind K]``: write a tiny random ``what`` of kind ``K``
    (one of ``kinds``, the first by default) with ``write(diffusion.tiny, OUT_DIR, K)``."""

    def command(
        out_dir: Path = typer.Argument(..., help=f"folder to write a tiny random {what} to"),
        kind: str = typer.Option(kinds[0], help=kind_help),
        overwrite: OverwriteFolder = False,
    ) -> None:
        # the kind and the folder are checked before the diffusion extra is needed
        if kind not in kinds:
            raise fail(f"unknown kind '{kind}': use {kinds[0]} or {kinds[1]}.")
        refuse_filled_folder(out_dir, overwrite)
        echo_written(
            "emotion_director.diffusion.tiny",
            lambda tiny: write(tiny, out_dir, kind),
            diffusion=True,
        )

    command.__doc__ = doc
    bank_app.command(name)(command)


_tiny_command(
    "tiny-pipeline",
    "SD pipeline",
    lambda tiny, out_dir, kind: tiny.write_tiny_pipeline(out_dir, kind),
    ("sd15", "sdxl"),
    "sd15 or sdxl",
    "Write a tiny random SD 1.5/SDXL pipeline in the real diffusers layout (smoke tests).",
)
_tiny_command(
    "tiny-image-encoder",
    "image encoder",
    lambda tiny, out_dir, kind: tiny.write_tiny_image_encoder(out_dir, kind),
    ("clip", "dinov2"),
    "clip (CLIP vision) or dinov2",
    "Write a tiny random CLIP-vision or DINOv2 image encoder in the real layout (smoke tests).",
)
