"""Image evals: first run vs cached re-run, and generate+score throughput, on tiny checkpoints.

Writes a tiny random SD 1.5 pipeline, a tiny CLIP and a probe (trained on a toy EmoSet folder),
rewrites ``--cases`` built-in cases with ``template`` and ``identity``, then runs
``run_image_eval`` twice on the same folder: the first run generates and scores every image, the
re-run finds every image scored. Prints images/s of the first run (model loading included, as a
user sees it) and the re-run / first-run time ratio (target <= 0.05).

    python benchmarks/image_eval_cache.py [--cases 4] [--images 2] [--steps 2] [--size 32]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from emotion_director import Settings
from emotion_director.diffusion.bank import VisualPromptBank
from emotion_director.diffusion.tiny import build_tiny_pipeline
from emotion_director.evals import load_eval_dataset
from emotion_director.evals.images import ImageEvalSettings, run_image_eval
from emotion_director.evals.probe import train_probe
from emotion_director.evals.runner import run_eval
from emotion_director.evals.tiny_checkpoints import make_toy_emoset, save_tiny_clip


class NoTextMetrics:
    def score_rewrite(self, prompt: str, rewrite: str, emotion: str) -> dict[str, float]:
        return {}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=4)
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--size", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_tiny_pipeline("sd15").save_pretrained(str(root / "sd"))
        VisualPromptBank.random(4, 24, 32, seed=0).save(root / "bank.safetensors")
        save_tiny_clip(root / "clip")
        probe = train_probe(make_toy_emoset(root / "emoset"), str(root / "clip"))
        probe.save(root / "probe.safetensors")
        cases = load_eval_dataset("builtin:shortcut")[: args.cases]
        asyncio.run(
            run_eval(
                ["identity", "template"],
                cases,
                root / "run",
                settings=Settings(backend="test"),
                metrics=NoTextMetrics(),
                chat_model=object(),
            )
        )
        settings = ImageEvalSettings(
            model=str(root / "sd"),
            clip=str(root / "clip"),
            probe=str(root / "probe.safetensors"),
            bank=str(root / "bank.safetensors"),
            images_per_case=args.images,
            steps=args.steps,
            size=args.size,
            device="cpu",
        )
        start = time.perf_counter()
        first = run_image_eval(root / "run", settings)
        first_s = time.perf_counter() - start
        start = time.perf_counter()
        again = run_image_eval(root / "run", settings)
        again_s = time.perf_counter() - start
    assert again.generated == 0 and again.skipped == first.generated
    print(f"images: {first.generated} ({args.cases} cases x 2 systems x {args.images})")
    print(f"first run: {first_s:.2f} s")
    print(f"first run images/s (loading included): {first.generated / first_s:.3f}")
    print(f"cached re-run: {again_s:.3f} s")
    print(f"cached re-run / first run: {again_s / first_s:.4f}")


if __name__ == "__main__":
    main()
