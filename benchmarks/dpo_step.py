"""DPO step cost: time and peak memory of a DPO step / a plain denoising-loss step.

Same model (tiny UNet on CPU by default; ``--sd15-size`` builds an SD 1.5-shaped UNet with random
weights, for a GPU), same trainable parts (bank, projector, visual K/V), same batch of records.
Modes, each run in its own process so peak memory is clean:

* ``plain``: MSE denoising loss on the winners (one policy forward/backward, no reference);
* ``dpo``: the image-pair term (reference forward on winner+loser without grad, policy on both);
* ``dpo_nvp``: plus the negative-visual-prompt term (one more row: winner under another emotion).

Prints each mode's median step time and peak memory, then the ratios.

    python benchmarks/dpo_step.py [--pairs 4] [--steps 10] [--sd15-size]
"""

from __future__ import annotations

import argparse
import random
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(mode: str, pairs: int, steps: int, sd15: bool, out: Path) -> dict:
    import resource

    import torch

    from emotion_director.diffusion.training import DPOConfig, DPOTrainer, make_toy_preferences
    from emotion_director.diffusion.training.loss import denoising_error

    toy = make_toy_preferences(out / "toy", per_emotion=2, size=64 if sd15 else 32)
    cfg = DPOConfig.parse({
        "model": {"pretrained": "tiny:sd15", "bank": "random", "bank_tokens": 16,
                  "bank_dim": 768 if sd15 else 32},
        "data": {"preferences": str(toy), "resolution": 512 if sd15 else 32},
        "loss": {"nvp_weight": 1.0 if mode == "dpo_nvp" else 0.0},
        "train": {"output_dir": str(out / mode), "batch_size": pairs, "max_steps": steps,
                  "validation_every": None, "checkpoint_every": 10_000},
    })
    pipeline = None
    if sd15:
        from emotion_director.diffusion.tiny import build_tiny_pipeline, build_unet

        pipeline = build_tiny_pipeline("sd15")
        pipeline.unet = build_unet("sd15", "full")
    trainer = DPOTrainer(cfg, pipeline=pipeline)
    cuda = torch.cuda.is_available()
    params = [p for p in trainer.trainable.parameters() if p.requires_grad]

    def plain_step(records, generator):
        # the same machinery, winners only, no reference: a plain denoising fine-tuning step
        bank = trainer.holder.visual_prompt_bank
        index = {e: i for i, e in enumerate(bank.emotions)}
        rng = random.Random(0)
        lat = torch.stack([trainer._latent(r.image_w, rng) for r in records])
        emb = torch.stack([trainer._text(r.prompt)[0] for r in records])
        ret = torch.stack([trainer._text(r.prompt)[1] for r in records])
        noise = torch.randn(lat.shape, generator=generator).to(lat)
        t = torch.randint(0, 1000, (len(records),), generator=generator).to(lat.device)
        x = trainer.noise_scheduler.add_noise(lat, noise, t)
        trainer.holder.visual_prompt_context.set(
            trainer.trainable(torch.tensor([index[r.emotion] for r in records]), ret))
        pred = trainer.unet(x, t, encoder_hidden_states=emb).sample
        trainer.holder.visual_prompt_context.clear()
        return denoising_error(pred, noise).mean()

    times = []
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for step in range(steps + 2):
        records = trainer.batch_for(step, 0)
        generator = torch.Generator().manual_seed(step)
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        loss = plain_step(records, generator) if mode == "plain" else \
            trainer.compute_loss(records, generator).loss
        loss.backward()
        trainer.optimizer.step()
        trainer.optimizer.zero_grad()
        if cuda:
            torch.cuda.synchronize()
        if step >= 2:
            times.append(time.perf_counter() - start)
    del params
    peak = (torch.cuda.max_memory_allocated() / 2**20 if cuda else
            (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_rss) / 1024)
    return {"mode": mode, "step_s": statistics.median(times), "peak_mb": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--sd15-size", action="store_true")
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.mode:
            print(json.dumps(measure(args.mode, args.pairs, args.steps, args.sd15_size, Path(tmp))))
            return
        results = {}
        for mode in ("plain", "dpo", "dpo_nvp"):
            cmd = [sys.executable, __file__, "--mode", mode, "--pairs", str(args.pairs),
                   "--steps", str(args.steps)] + (["--sd15-size"] if args.sd15_size else [])
            line = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            results[mode] = json.loads(line.strip().splitlines()[-1])
    for mode, r in results.items():
        print(f"{mode}_step_s: {r['step_s']:.4f}  {mode}_peak_mb: {r['peak_mb']:.0f}")
    plain = results["plain"]
    for mode in ("dpo_nvp", "dpo"):
        print(f"{mode}_memory_ratio: {results[mode]['peak_mb'] / max(plain['peak_mb'], 1e-9):.2f}")
        print(f"{mode}_time_ratio: {results[mode]['step_s'] / plain['step_s']:.2f}")


if __name__ == "__main__":
    main()
