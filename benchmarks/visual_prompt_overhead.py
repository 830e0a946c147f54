"""Visual-prompt overhead: UNet step time with visual tokens / without, same inputs, one run.

A (base) is the UNet with its own attention processors; B is the same UNet with the
visual-prompt processors installed (16 tokens, scale 1, K/V cached across steps as in a real
generation). Steps alternate A, B, A, B... so machine noise hits both alike; the ratio is the
median of per-pair ratios. Also prints the cost of one retrieval call.

    python benchmarks/visual_prompt_overhead.py                  # tiny UNet on CPU
    python benchmarks/visual_prompt_overhead.py --sd15-size      # SD 1.5-shaped UNet (use a GPU)
    python benchmarks/visual_prompt_overhead.py --sdxl-size --batch 4 --dtype bf16
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from emotion_director.diffusion.attention import VisualPromptMixin
from emotion_director.diffusion.bank import VisualPromptBank
from emotion_director.diffusion.retrieval import retrieve_visual_prompt
from emotion_director.diffusion.tiny import build_unet


class UNetHolder(VisualPromptMixin):
    def __init__(self, unet):
        self.unet = unet


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--sd15-size", action="store_true")
    size.add_argument("--sdxl-size", action="store_true")
    parser.add_argument("--batch", type=int, default=1, help="images per step (CFG doubles it)")
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=["fp32", "fp16", "bf16"], default=None)
    args = parser.parse_args()

    kind = "sdxl" if args.sdxl_size else "sd15"
    full = args.sd15_size or args.sdxl_size
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[
        args.dtype or ("bf16" if args.device.startswith("cuda") else "fp32")]
    unet = build_unet(kind, "full" if full else "tiny").to(args.device, dtype)
    cfg = unet.config
    rows = 2 * args.batch  # classifier-free guidance
    side = cfg.sample_size
    latents = torch.randn(rows, cfg.in_channels, side, side, device=args.device, dtype=dtype)
    text = torch.randn(rows, 77, cfg.cross_attention_dim, device=args.device, dtype=dtype)
    extra = {}
    if cfg.addition_embed_type == "text_time":
        pooled = cfg.projection_class_embeddings_input_dim - 6 * cfg.addition_time_embed_dim
        extra["added_cond_kwargs"] = {
            "text_embeds": torch.randn(rows, pooled, device=args.device, dtype=dtype),
            "time_ids": torch.randn(rows, 6, device=args.device, dtype=dtype),
        }
    holder = UNetHolder(unet)
    bank = VisualPromptBank.random(num_tokens=args.tokens, dim=1024, text_dim=768)
    original = dict(unet.attn_processors)
    holder.load_visual_prompt(bank)
    with_vp = dict(unet.attn_processors)
    projector = holder.visual_prompt_adapter.projector.to(args.device, dtype)

    start = time.perf_counter()
    for _ in range(100):
        retrieved = retrieve_visual_prompt(bank, "awe", torch.randn(768), temperature=0.1)
    retrieval_ms = (time.perf_counter() - start) * 10
    with torch.no_grad():
        tokens = projector(retrieved.tokens[None].to(args.device, dtype)).expand(args.batch, -1, -1)
    holder.visual_prompt_context.set(tokens, tokens)

    def step(processors: dict, t: int) -> float:
        unet.set_attn_processor(dict(processors))
        sync(args.device)
        begin = time.perf_counter()
        with torch.no_grad():
            unet(latents, t, encoder_hidden_states=text, **extra)
        sync(args.device)
        return time.perf_counter() - begin

    for t in (999, 998):  # warm-up both paths
        step(original, t)
        step(with_vp, t)
    ratios, base_times = [], []
    for i in range(args.steps):
        t = 999 - i * 50 % 1000
        a = step(original, t)
        b = step(with_vp, t)
        ratios.append(b / a)
        base_times.append(a)
    shape = f"{kind}-{'full' if full else 'tiny'}"
    print(f"unet: {shape} batch {args.batch} (x2 CFG) {args.tokens} tokens {args.device} {dtype}")
    print(f"base_step_ms: {statistics.median(base_times) * 1000:.1f}")
    print(f"retrieval_ms_per_call: {retrieval_ms:.3f}")
    print(f"visual_prompt_step_ratio: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
