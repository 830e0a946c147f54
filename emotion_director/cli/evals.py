"""``eval``: the text evals (run, judge, report, compare), the image evals (images,
train-probe and their tiny fixtures), human ratings (rate) and the scene checker (scene-fit)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from emotion_director.cli.common import (
    OverwriteFile,
    OverwriteFolder,
    call,
    check_persona_dirs,
    echo_written,
    err,
    fail,
    finite_float,
    out,
    progress_bar,
    refuse_filled_folder,
    require_diffusion,
)
from emotion_director.cli.jsonl import answer_jsonl
from emotion_director.errors import InvalidRequestError
from emotion_director.files import check_output_path

eval_app = typer.Typer(
    help="Evals: run, judge, report, compare; images, train-probe, rate.", no_args_is_help=True
)


def _system_names(systems: str) -> list[str]:
    names = [s.strip() for s in systems.split(",") if s.strip()]
    if not names:
        raise InvalidRequestError(
            f"--systems {systems!r} names no system: pass e.g. "
            "--systems identity,template,mc_agent."
        )
    return names


def _some_systems(systems: str | None) -> list[str] | None:
    """``--systems`` of the image and rating commands: ``None`` (all in the run) when empty."""
    return [s.strip() for s in systems.split(",") if s.strip()] if systems else None


def _fail_on_failures(failed: int, attempted: int, path: Path) -> None:
    """Exit 1 when items failed: their records (with ``error``) are kept and the same command
    redoes only them. A run whose every item failed is never reported as success."""
    if not failed:
        return
    from emotion_director.evals.runner import last_recorded_error

    what = "every item" if failed >= attempted else f"{failed} of {attempted} item(s)"
    err.print(
        f"[bold red]error:[/] {what} failed (last error: {escape(last_recorded_error(path))}); "
        f"the rest is kept in {escape(str(path))}: run the same command again to redo only the "
        "failed ones.",
        highlight=False,
    )
    raise typer.Exit(1)


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

    def run() -> Any:
        from emotion_director.evals.datasets import load_eval_dataset
        from emotion_director.evals.runner import run_eval
        from emotion_director.settings import load_settings

        names = _system_names(systems)
        settings = load_settings(
            backend=backend, base_url=base_url, model=model, persona_dirs=personas or None
        )
        if personas:  # fail before any work on a bad file, and say what overrides what
            check_persona_dirs(settings.persona_dirs)
        cases = load_eval_dataset(dataset)[:limit]
        try:
            with progress_bar("rewriting", total=len(names) * len(cases)) as progress:
                return asyncio.run(
                    run_eval(
                        names,
                        cases,
                        out_dir,
                        settings=settings,
                        concurrency=concurrency,
                        cache_path=cache,
                        progress=progress,
                        dataset=dataset,
                    )
                )
        except KeyboardInterrupt:
            raise fail(
                f"interrupted; the finished cases are kept in {out_dir / 'results.jsonl'}: run "
                "the same command again to do the rest",
                130,
            ) from None

    summary = call(run)
    err.print(
        f"{summary.done} new, {summary.skipped} already done, {summary.failed} failed; "
        f"LLM cache {summary.cache_hits} hits / {summary.cache_misses} misses; "
        f"{summary.seconds:.1f} s",
        highlight=False,
    )
    typer.echo(str(summary.out_dir / "results.jsonl"))
    _fail_on_failures(summary.failed, summary.done, summary.out_dir / "results.jsonl")


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

    def run() -> Any:
        from emotion_director.evals.judge import judge_run, read_judgments, summarise_judgments
        from emotion_director.settings import load_settings

        settings = load_settings(backend=backend, base_url=base_url, model=model)
        names = _system_names(systems) if systems is not None else None
        try:
            with progress_bar("judging") as progress:
                done = asyncio.run(
                    judge_run(
                        run_dir,
                        names,
                        settings=settings,
                        concurrency=concurrency,
                        limit=limit,
                        cache_path=cache,
                        progress=progress,
                    )
                )
        except KeyboardInterrupt:
            raise fail(
                f"interrupted; the finished judgments are kept in {run_dir / 'judgments.jsonl'}: "
                "run the same command again to do the rest",
                130,
            ) from None
        return done, summarise_judgments(read_judgments(run_dir))

    done, summary = call(run)
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

    md, page = call(write_report, run_dir)
    typer.echo(f"{md}\n{page}")


@eval_app.command("compare")
def eval_compare(
    run_a: Annotated[Path, typer.Argument()],
    run_b: Annotated[Path, typer.Argument()],
) -> None:
    """Paired comparison of two runs (e.g. two persona configs), per system and metric."""
    from emotion_director.evals.report import compare_runs

    typer.echo(call(compare_runs, run_a, run_b), nl=False)


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
    guidance_scale: Annotated[
        float, typer.Option(parser=finite_float(min=0.0), metavar="FLOAT")
    ] = 7.5,
    size: Annotated[Optional[int], typer.Option(min=8, help="image height and width")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="images per pipeline call")] = 4,
    seed: Annotated[int, typer.Option()] = 0,
    device: Annotated[str, typer.Option(help="auto (GPU when present), cpu or cuda")] = "auto",
    reference: Annotated[
        Optional[Path],
        typer.Option(
            help="folder of real images (e.g. EmoSet's image/): each system's Fréchet distance "
            "to them on CLIP features (fd_clip)"
        ),
    ] = None,
) -> None:
    """Generate N images per (system, case) and score them (probe, CLIPScore, diversity).

    Under `accelerate launch` the cases are split across processes and GPUs.
    """

    def run() -> Any:
        from emotion_director.diffusion.generator import check_image_size

        check_image_size(size)  # before any weights load
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
            reference=str(reference) if reference else None,
            batch_size=batch_size,
            systems=_some_systems(systems),
            limit=limit,
            device=device,
        )
        with progress_bar("images") as progress:
            return run_image_eval(run_dir, settings, progress=progress)

    summary = call(run)
    err.print(
        f"process {summary.rank + 1}/{summary.world_size} on {summary.device}: "
        f"{summary.generated} generated, {summary.reused_png} PNGs reused, "
        f"{summary.skipped} already scored; {summary.seconds:.1f} s "
        f"({summary.images_per_second:.2f} images/s)" + "".join(f"; {n}" for n in summary.notes),
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
        float,
        typer.Option(
            parser=finite_float(min=0.0, max=0.9),
            metavar="FLOAT",
            help="held-out share per emotion",
        ),
    ] = 0.2,
    batch_size: Annotated[int, typer.Option(min=1)] = 32,
    seed: Annotated[int, typer.Option()] = 0,
    device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    overwrite: OverwriteFile = False,
) -> None:
    """Train the emotion linear probe on frozen image features; print its accuracies."""

    def run() -> Any:
        require_diffusion()
        if out_path.suffix != ".safetensors":
            raise InvalidRequestError("--out must end in .safetensors")
        # before the encoding, not after it: no work is done for a file that cannot be written
        check_output_path(out_path, what="probe", overwrite=overwrite, error=InvalidRequestError)
        from emotion_director.evals.probe import train_probe

        with progress_bar("encoding") as progress:
            probe = train_probe(
                dataset,
                encoder,
                val_fraction=val_fraction,
                batch_size=batch_size,
                seed=seed,
                device=device,
                progress=progress,
            )
        probe.save(out_path, overwrite=overwrite)
        return probe

    probe = call(run)
    meta = probe.metadata
    val = meta["val_accuracy"]
    err.print(
        f"{meta['images']} images; train accuracy {meta['train_accuracy']:.3f}, "
        f"validation accuracy {'n/a' if val is None else f'{val:.3f}'} on "
        f"{meta['val_images']} (chance {meta['chance']:.3f})",
        highlight=False,
    )
    typer.echo(str(out_path))


#: Where the tiny checkpoints and toy datasets of the smoke tests are made.
_TINY = "emotion_director.evals.tiny_checkpoints"


@eval_app.command("tiny-clip")
def eval_tiny_clip(
    out_dir: Annotated[Path, typer.Argument(help="folder to write a tiny random CLIP to")],
    overwrite: OverwriteFolder = False,
) -> None:
    """Write a tiny random CLIP in the layout of openai/clip-vit-base-patch32 (smoke tests)."""
    refuse_filled_folder(out_dir, overwrite)
    echo_written(_TINY, lambda tiny: tiny.save_tiny_clip(out_dir), diffusion=True)


@eval_app.command("toy-emoset")
def eval_toy_emoset(
    out_dir: Annotated[Path, typer.Argument(help="folder for image/<emotion>/*.jpg + annotation/")],
    per_emotion: Annotated[int, typer.Option(min=1)] = 6,
    size: Annotated[int, typer.Option(min=8)] = 32,
    overwrite: OverwriteFolder = False,
) -> None:
    """Write a toy EmoSet-layout folder (one colour per emotion) to try train-probe."""
    refuse_filled_folder(out_dir, overwrite)
    echo_written(
        _TINY, lambda tiny: tiny.make_toy_emoset(out_dir, per_emotion=per_emotion, size=size)
    )


@eval_app.command("rate")
def eval_rate(
    run_dir: Annotated[Path, typer.Argument(help="a run folder from `eval run`")],
    port: Annotated[int, typer.Option(min=0, max=65535, help="port on 127.0.0.1")] = 8765,
    systems: Annotated[
        Optional[str], typer.Option(help="comma-separated systems to compare")
    ] = None,
) -> None:
    """Serve a blind A/B rating page on 127.0.0.1; choices go to RUN/ratings.jsonl."""

    def run() -> Any:
        from emotion_director.evals.rating import serve_ratings

        return serve_ratings(run_dir, port=port, systems=_some_systems(systems))

    server = call(run)
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


@eval_app.command("scene-fit")
def eval_scene_fit(
    jsonl: Annotated[
        Optional[str], typer.Option(help='\'-\': read {"scene", "prompt"} lines on stdin')
    ] = None,
    measure: Annotated[
        bool,
        typer.Option(
            "--measure",
            help="grade the shipped prompts that blind readers labelled; print precision/recall",
        ),
    ] = False,
    limit: Annotated[
        Optional[int], typer.Option(min=1, help="with --measure: only the first N prompts")
    ] = None,
    backend: Annotated[
        Optional[str],
        typer.Option(help="openai: grade with a model behind a server (default: SmolLM2 PMI)"),
    ] = None,
    base_url: Annotated[Optional[str], typer.Option(help="OpenAI-compatible server URL")] = None,
    model: Annotated[Optional[str], typer.Option(help="judge model name on the server")] = None,
) -> None:
    """The eval's independent scene checker: which phrases of a prompt clash with its scene.

    By default SmolLM2's pointwise mutual information (offline, weak); with --backend openai a
    model behind any OpenAI-compatible server grades each prompt. --measure prints the checker's
    precision and recall on prompts that two blind readers labelled.
    """
    if (jsonl is None) == (not measure):
        raise fail('use --jsonl - with {"scene", "prompt"} lines on stdin, or --measure')
    if jsonl is not None and jsonl != "-":
        raise fail('use --jsonl - with {"scene", "prompt"} lines on stdin')
    if limit is not None and not measure:
        raise fail("--limit goes with --measure")
    if backend is None and (base_url is not None or model is not None):
        raise fail("--base-url and --model go with --backend openai")
    if backend is not None and backend != "openai":
        raise fail(
            f"--backend {backend!r}: the eval's model checker needs a server "
            "(--backend openai --base-url URL); leave --backend out for the offline one"
        )

    def load() -> Any:
        from emotion_director.evals.scene_checker import LLMSceneChecker, PMISceneChecker
        from emotion_director.settings import load_settings

        if backend is None:
            checker: Any = PMISceneChecker.load()
        else:
            settings = load_settings(backend=backend, base_url=base_url, model=model)
            checker = LLMSceneChecker.from_settings(settings)
        return lambda s, p: {"scene": s, **checker.check_prompt(s, p)}

    if measure:
        from emotion_director.evals.scene_checker import measure_checker

        check = call(load)
        with progress_bar("grading") as progress:
            result = call(measure_checker, check, limit=limit, progress=progress)
        typer.echo(json.dumps(result))
        return
    answer_jsonl(("scene", "prompt"), load)
