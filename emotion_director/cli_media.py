"""``eval images``, ``eval train-probe``, ``eval rate`` and the tiny fixtures behind them.

Registered on the ``eval`` sub-app by :func:`register` (kept apart from ``cli.py`` so the text
and image sides of the evals can change independently).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from emotion_director.errors import InvalidRequestError


def register(eval_app: typer.Typer, run: Callable[..., Any], err: Any) -> None:
    """Add the image-eval and rating commands to ``eval_app``; ``run`` maps errors to exit 2."""

    @eval_app.command("images")
    def eval_images(
        run_dir: Annotated[Path, typer.Argument(help="a run folder from `eval run`")],
        model: Annotated[str, typer.Option(help="SD 1.5/SDXL diffusers folder or hub id")],
        clip: Annotated[str, typer.Option(help="CLIP folder or id (CLIPScore, diversity)")],
        probe: Annotated[
            Optional[Path], typer.Option(help="emotion probe from `eval train-probe`")
        ] = None,
        bank: Annotated[
            Optional[Path],
            typer.Option(help="visual prompt bank: mc_agent* systems use MC-Diffusion"),
        ] = None,
        adapter: Annotated[Optional[Path], typer.Option(help="trained adapter weights")] = None,
        lora: Annotated[Optional[Path], typer.Option(help="UNet LoRA from train dpo")] = None,
        systems: Annotated[
            Optional[str], typer.Option(help="comma-separated systems (default: all in the run)")
        ] = None,
        limit: Annotated[Optional[int], typer.Option(min=1, help="only the first N cases")] = None,
        images_per_case: Annotated[int, typer.Option(min=1, help="images per (system, case)")] = 4,
        steps: Annotated[int, typer.Option(min=1, help="denoising steps")] = 30,
        guidance_scale: Annotated[float, typer.Option(min=0.0)] = 7.5,
        size: Annotated[Optional[int], typer.Option(min=8, help="image height and width")] = None,
        batch_size: Annotated[int, typer.Option(min=1, help="images per pipeline call")] = 4,
        seed: Annotated[int, typer.Option()] = 0,
        device: Annotated[str, typer.Option(help="auto (GPU when present), cpu or cuda")] = "auto",
    ) -> None:
        """Generate N images per (system, case) and score them (probe, CLIPScore, diversity).

        Under `accelerate launch` the cases are split across processes and GPUs.
        """
        from rich.progress import Progress

        def go() -> Any:
            from emotion_director.diffusion.dependencies import require_diffusion

            require_diffusion()
            from emotion_director.evals.images import ImageEvalSettings, run_image_eval

            settings = ImageEvalSettings(
                model=model,
                clip=clip,
                probe=str(probe) if probe else None,
                bank=str(bank) if bank else None,
                adapter=str(adapter) if adapter else None,
                lora=str(lora) if lora else None,
                images_per_case=images_per_case,
                steps=steps,
                guidance_scale=guidance_scale,
                size=size,
                seed=seed,
                batch_size=batch_size,
                systems=[s.strip() for s in systems.split(",") if s.strip()] if systems else None,
                limit=limit,
                device=device,
            )
            with Progress(console=err, transient=True, disable=not err.is_terminal) as progress:
                task = progress.add_task("images", total=None)
                return run_image_eval(
                    run_dir,
                    settings,
                    progress=lambda d, t: progress.update(task, completed=d, total=t),
                )

        summary = run(go)
        err.print(
            f"process {summary.rank + 1}/{summary.world_size} on {summary.device}: "
            f"{summary.generated} generated, {summary.reused_png} PNGs reused, "
            f"{summary.skipped} already scored; {summary.seconds:.1f} s "
            f"({summary.images_per_second:.2f} images/s)"
            + "".join(f"; {n}" for n in summary.notes),
            highlight=False,
        )
        if summary.rank == 0:
            typer.echo(str(summary.out_dir / "images"))

    @eval_app.command("train-probe")
    def eval_train_probe(
        dataset: Annotated[
            Path,
            typer.Argument(
                help="EmoSet folder (image/<emotion>/*), <emotion>/* folder or JSONL manifest"
            ),
        ],
        encoder: Annotated[str, typer.Option(help="CLIP (or DINOv2) image encoder: folder or id")],
        out_path: Annotated[Path, typer.Option("--out", help="probe file to write (.safetensors)")],
        val_fraction: Annotated[
            float, typer.Option(min=0.0, max=0.9, help="held-out share per emotion")
        ] = 0.2,
        batch_size: Annotated[int, typer.Option(min=1)] = 32,
        seed: Annotated[int, typer.Option()] = 0,
        device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    ) -> None:
        """Train the emotion linear probe on frozen image features; print its accuracies."""
        from rich.progress import Progress

        def go() -> Any:
            from emotion_director.diffusion.dependencies import require_diffusion

            require_diffusion()
            if out_path.suffix != ".safetensors":
                raise InvalidRequestError("--out must end in .safetensors")
            from emotion_director.evals.probe import train_probe

            with Progress(console=err, transient=True, disable=not err.is_terminal) as progress:
                task = progress.add_task("encoding", total=None)
                probe = train_probe(
                    dataset,
                    encoder,
                    val_fraction=val_fraction,
                    batch_size=batch_size,
                    seed=seed,
                    device=device,
                    progress=lambda d, t: progress.update(task, completed=d, total=t),
                )
            probe.save(out_path)
            return probe

        probe = run(go)
        meta = probe.metadata
        val = meta["val_accuracy"]
        err.print(
            f"{meta['images']} images; train accuracy {meta['train_accuracy']:.3f}, "
            f"validation accuracy {'n/a' if val is None else f'{val:.3f}'} on "
            f"{meta['val_images']} (chance {meta['chance']:.3f})",
            highlight=False,
        )
        typer.echo(str(out_path))

    @eval_app.command("tiny-clip")
    def eval_tiny_clip(
        out_dir: Annotated[Path, typer.Argument(help="folder to write a tiny random CLIP to")],
    ) -> None:
        """Write a tiny random CLIP in the layout of openai/clip-vit-base-patch32 (smoke tests)."""

        def go() -> Path:
            from emotion_director.diffusion.dependencies import require_diffusion

            require_diffusion()
            from emotion_director.evals.tiny_checkpoints import save_tiny_clip

            return save_tiny_clip(out_dir)

        typer.echo(str(run(go)))

    @eval_app.command("toy-emoset")
    def eval_toy_emoset(
        out_dir: Annotated[
            Path, typer.Argument(help="folder for image/<emotion>/*.jpg + annotation/")
        ],
        per_emotion: Annotated[int, typer.Option(min=1)] = 6,
        size: Annotated[int, typer.Option(min=8)] = 32,
    ) -> None:
        """Write a toy EmoSet-layout folder (one colour per emotion) to try train-probe."""

        def go() -> Path:
            from emotion_director.evals.tiny_checkpoints import make_toy_emoset

            return make_toy_emoset(out_dir, per_emotion=per_emotion, size=size)

        typer.echo(str(run(go)))

    @eval_app.command("rate")
    def eval_rate(
        run_dir: Annotated[Path, typer.Argument(help="a run folder from `eval run`")],
        port: Annotated[int, typer.Option(min=0, max=65535, help="port on 127.0.0.1")] = 8765,
        systems: Annotated[
            Optional[str], typer.Option(help="comma-separated systems to compare")
        ] = None,
    ) -> None:
        """Serve a blind A/B rating page on 127.0.0.1; choices go to RUN/ratings.jsonl."""

        def go() -> Any:
            from emotion_director.evals.rating import serve_ratings

            names = [s.strip() for s in systems.split(",") if s.strip()] if systems else None
            return serve_ratings(run_dir, port=port, systems=names)

        server = run(go)
        host, bound = server.server_address[:2]
        err.print(
            f"{len(server.session.pairs)} pairs; open http://{host}:{bound}/ "
            f"(Ctrl-C to stop); choices are appended to {run_dir / 'ratings.jsonl'}",
            highlight=False,
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
