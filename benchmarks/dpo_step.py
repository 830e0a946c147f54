"""DPO step cost: time and peak memory of a DPO step / a plain denoising step on the same images.

Same model, same trainable parts (bank, projector, visual K/V), same records, same precision and
gradient checkpointing setting. Equal image counts: ``plain`` trains on the winners *and* losers
of ``--pairs`` pairs (2N images, one policy forward/backward); ``dpo`` adds the reference forward
(no grad) on the same 2N; ``dpo_nvp`` adds the negative-visual-prompt rows (N more). First-time
encodes are excluded: the VAE latents and text embeddings are cached during the warm-up steps.
Each mode runs in its own process (clean peak memory); ``plain_control`` is ``plain`` again in
another process, the noise floor of the ratios.

``--sd15-size`` / ``--sdxl-size``: the real UNet, 768/2048-d text states, 64x64 / 128x128 latents.

    python benchmarks/dpo_step.py                                   # tiny, CPU
    python benchmarks/dpo_step.py --sdxl-size --dtype bf16 --gradient-checkpointing   # GPU
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = ("plain", "plain_control", "dpo", "dpo_nvp")


def build_trainer(args: argparse.Namespace, out: Path, nvp_weight: float = 0.0):
    """A DPO trainer on toy records at the size ``args`` asks for, and ``train_step(mode, step)``:
    one whole optimiser step (autocast, backward, update) of ``plain`` (winners + losers, no
    reference) or ``dpo`` on the same records; it returns nothing and does not synchronise."""
    import torch

    from emotion_director.diffusion.tiny import build_tiny_pipeline
    from emotion_director.diffusion.training import DPOConfig, DPOTrainer, make_toy_preferences
    from emotion_director.diffusion.training.loss import denoising_error

    kind = "sdxl" if args.sdxl_size else "sd15"
    full = args.sd15_size or args.sdxl_size
    resolution = (1024 if kind == "sdxl" else 512) if full else 32
    device = "cuda" if torch.cuda.is_available() else "cpu"
    toy = make_toy_preferences(out / "toy", per_emotion=1, size=resolution)
    cfg = DPOConfig.parse(
        {
            "model": {
                "pretrained": f"tiny:{kind}",
                "bank": "random",
                "bank_tokens": 16,
                "bank_dim": 1024 if full else 32,
            },
            "data": {"preferences": str(toy), "resolution": resolution},
            "loss": {"nvp_weight": nvp_weight},
            "train": {
                "output_dir": str(out / "run"),
                "batch_size": args.pairs,
                "max_steps": 1,
                "validation_every": None,
                "checkpoint_every": 10_000,
                "mixed_precision": "no" if args.dtype == "fp32" else args.dtype,
                "gradient_checkpointing": args.gradient_checkpointing,
            },
        }
    )
    with torch.device(device):
        pipeline = build_tiny_pipeline(kind, size="full" if full else "tiny")
    trainer = DPOTrainer(cfg, pipeline=pipeline)
    trainer.unet.train(args.gradient_checkpointing)  # diffusers checkpoints in training mode only
    index = {e: i for i, e in enumerate(trainer.holder.visual_prompt_bank.emotions)}

    def plain_step(records, generator):
        """The same machinery on winners + losers, no reference: a plain fine-tuning step."""
        rng = random.Random(0)
        images = [r.image_w for r in records] + [r.image_l for r in records]
        lat = torch.stack([trainer._latent(p, rng) for p in images])
        texts = [trainer._text(r.prompt) for r in records] * 2
        emb = torch.stack([t[0] for t in texts])
        ret = torch.stack([t[1] for t in texts])
        pooled = [t[2] for t in texts[: len(records)]]
        noise = torch.randn(lat.shape, generator=generator).to(lat)
        t = torch.randint(0, 1000, (len(records),), generator=generator).to(lat.device).repeat(2)
        x = trainer.noise_scheduler.add_noise(lat, noise, t)
        emotions = torch.tensor([index[r.emotion] for r in records] * 2, device=lat.device)
        cond = {
            **trainer._added_cond(pooled, 2),
            "image_embeds": [trainer.trainable(emotions, ret)],
        }
        pred = trainer.unet(
            x.to(trainer.weight_dtype),
            t,
            encoder_hidden_states=emb.to(trainer.weight_dtype),
            added_cond_kwargs=cond,
        ).sample
        return denoising_error(pred, noise).mean()

    def train_step(mode: str, step: int) -> None:
        records = trainer.batch_for(0, 0)  # the same records: encodes are cached after warm-up
        generator = torch.Generator().manual_seed(step)
        with trainer.accelerator.autocast():
            loss = (
                plain_step(records, generator)
                if mode.startswith("plain")
                else trainer.compute_loss(records, generator).loss
            )
        loss.backward()
        trainer.optimizer.step()
        trainer.optimizer.zero_grad()

    return trainer, train_step


def measure(mode: str, args: argparse.Namespace, out: Path) -> dict:
    import resource

    import torch

    cuda = torch.cuda.is_available()
    _, train_step = build_trainer(args, out, nvp_weight=1.0 if mode == "dpo_nvp" else 0.0)
    times = []
    warmup = 2
    for step in range(args.steps + warmup):
        if step == warmup and cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss if step == warmup else None
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        train_step(mode, step)
        if cuda:
            torch.cuda.synchronize()
        if step >= warmup:
            times.append(time.perf_counter() - start)
        if base_rss is not None:
            rss_start = base_rss
    peak = (
        torch.cuda.max_memory_allocated() / 2**20
        if cuda
        else (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_start) / 1024
    )
    return {
        "mode": mode,
        "step_s": statistics.median(times),
        "peak_mb": peak,
        "device": torch.cuda.get_device_name() if cuda else "cpu",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--steps", type=int, default=6)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--sd15-size", action="store_true")
    size.add_argument("--sdxl-size", action="store_true")
    parser.add_argument("--dtype", choices=["fp32", "fp16", "bf16"], default="fp32")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.mode:
            print(json.dumps(measure(args.mode, args, Path(tmp))))
            return
        forwarded = [a for a in sys.argv[1:]]
        results = {}
        for mode in MODES:
            cmd = [sys.executable, __file__, "--mode", mode, *forwarded]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"{mode} failed:\n{done.stderr[-3000:]}")
            results[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    plain = results["plain"]
    print(
        f"setup: {'sdxl' if args.sdxl_size else 'sd15'}-"
        f"{'full' if (args.sd15_size or args.sdxl_size) else 'tiny'} "
        f"{args.pairs} pairs {args.dtype} gradient_checkpointing={args.gradient_checkpointing} "
        f"on {plain['device']}"
    )
    for mode, r in results.items():
        print(f"{mode}_step_s: {r['step_s']:.4f}  {mode}_peak_mb: {r['peak_mb']:.0f}")
    for mode in ("plain_control", "dpo_nvp", "dpo"):
        name = "same_vs_same" if mode == "plain_control" else mode
        print(f"{name}_memory_ratio: {results[mode]['peak_mb'] / max(plain['peak_mb'], 1e-9):.2f}")
        print(f"{name}_time_ratio: {results[mode]['step_s'] / plain['step_s']:.2f}")


if __name__ == "__main__":
    main()
