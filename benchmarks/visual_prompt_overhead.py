"""Visual-prompt overhead, measured fairly: per UNet step and per whole generation, with controls.

A is the base model (its own attention processors, no visual prompt); B is the same model with
the visual prompt loaded (16 tokens, scale 1, negative visual prompt on the CFG rows). A and B
are interleaved in one process and the order alternates (A B, B A, ...) so drift and caches hit
both alike; each ratio is the median of per-pair ratios and is printed beside a same-vs-same
control (A against A in the same scheme), which shows the noise floor: a ratio is only meaningful
where it stands clear of its control.

* ``step``: one UNet call on ``2 x batch`` rows (classifier-free guidance).
* ``generation``: a whole ``pipe(...)`` call (retrieval text pass, projector and visual K/V on
  every step included; latents out, so the VAE decode, identical in both, does not dilute it).

``--sd15-size`` / ``--sdxl-size`` build the real dimensions: the SD 1.5 / SDXL UNet, 768-d /
2048-d text states, 64x64 / 128x128 latents (512 / 1024 pixels), text encoders of the real widths.

    python benchmarks/visual_prompt_overhead.py                        # tiny, CPU
    python benchmarks/visual_prompt_overhead.py --sd15-size --batch 4  # on a GPU (bf16)
    python benchmarks/visual_prompt_overhead.py --sdxl-size
"""

from __future__ import annotations

import argparse
import statistics
import time
from types import SimpleNamespace

import torch

from emotion_director.diffusion.attention import pack_visual_prompt
from emotion_director.diffusion.bank import VisualPromptBank
from emotion_director.diffusion.pipeline import MCDiffusionPipeline
from emotion_director.diffusion.tiny import build_tiny_pipeline


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def interleaved(a, b, pairs: int, device: str) -> list[float]:
    """Per-pair time ratios b/a, order alternating between pairs."""
    ratios = []
    for i in range(pairs):
        times = {}
        for name, fn in (("a", a), ("b", b)) if i % 2 == 0 else (("b", b), ("a", a)):
            sync(device)
            start = time.perf_counter()
            fn()
            sync(device)
            times[name] = time.perf_counter() - start
        ratios.append(times["b"] / times["a"])
    return ratios


def build_unet_bench(
    kind: str, full: bool, device: str, dtype: torch.dtype, batch: int = 1, tokens: int = 16
) -> SimpleNamespace:
    """The base pipeline and its UNet with the visual prompt loaded, in two switchable states,
    and the inputs of one CFG step on ``2 x batch`` rows: ``use(base_state)`` /
    ``use(vp_state)`` switch the same UNet between its own processors and the visual prompt
    (``use`` also takes ``(processors, encoder_hid_proj, encoder_hid_dim_type)`` of another
    adapter). ``packed`` is one packed visual prompt per row, ``added`` the SDXL extras."""
    with torch.device(device):
        base = build_tiny_pipeline(kind, size="full" if full else "tiny")
    base = base.to(device, dtype)
    base.set_progress_bar_config(disable=True)
    unet, cfg = base.unet, base.unet.config
    text_dim = base.text_encoder.config.hidden_size
    bank = VisualPromptBank.random(num_tokens=tokens, dim=1024, text_dim=text_dim)
    pipe = MCDiffusionPipeline(base, bank=bank, retrieval_temperature=0.1)
    pipe.visual_prompt_adapter.to(device, dtype)

    # the two states of the same UNet, switched outside the timed region
    vp_state = (dict(unet.attn_processors), unet.encoder_hid_proj, "ip_image_proj")
    base_state = (pipe._vp_original, None, None)

    def use(state) -> None:
        unet.set_attn_processor(dict(state[0]))
        unet.encoder_hid_proj = state[1]
        unet.config.encoder_hid_dim_type = state[2]

    rows = 2 * batch
    side = cfg.sample_size
    latents = torch.randn(rows, cfg.in_channels, side, side, device=device, dtype=dtype)
    text = torch.randn(rows, 77, cfg.cross_attention_dim, device=device, dtype=dtype)
    added = {}
    if cfg.addition_embed_type == "text_time":
        pooled = cfg.projection_class_embeddings_input_dim - 6 * cfg.addition_time_embed_dim
        added = {
            "text_embeds": torch.randn(rows, pooled, device=device, dtype=dtype),
            "time_ids": torch.randn(rows, 6, device=device, dtype=dtype),
        }
    packed = pack_visual_prompt(bank.tokens[1:2].expand(rows, -1, -1).contiguous()).to(
        device, dtype
    )
    return SimpleNamespace(
        base=base,
        pipe=pipe,
        bank=bank,
        unet=unet,
        use=use,
        base_state=base_state,
        vp_state=vp_state,
        rows=rows,
        side=side,
        latents=latents,
        text=text,
        added=added,
        packed=packed,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--sd15-size", action="store_true")
    size.add_argument("--sdxl-size", action="store_true")
    parser.add_argument("--batch", type=int, default=1, help="images per step (CFG doubles it)")
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--pairs", type=int, default=20, help="A/B pairs per ratio")
    parser.add_argument("--gen-pairs", type=int, default=4, help="A/B pairs of whole generations")
    parser.add_argument("--gen-steps", type=int, default=10, help="denoising steps per generation")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=["fp32", "fp16", "bf16"], default=None)
    args = parser.parse_args()

    kind = "sdxl" if args.sdxl_size else "sd15"
    full = args.sd15_size or args.sdxl_size
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[
        args.dtype or ("bf16" if args.device.startswith("cuda") else "fp32")
    ]
    b = build_unet_bench(kind, full, args.device, dtype, args.batch, args.tokens)
    base, pipe, unet, use = b.base, b.pipe, b.unet, b.use
    base_state, vp_state, side = b.base_state, b.vp_state, b.side
    latents, text, added, packed = b.latents, b.text, b.added, b.packed

    def step_base() -> None:
        use(base_state)
        with torch.no_grad():
            unet(latents, 500, encoder_hidden_states=text, added_cond_kwargs=added or None)

    def step_vp() -> None:
        use(vp_state)
        with torch.no_grad():
            unet(
                latents,
                500,
                encoder_hidden_states=text,
                added_cond_kwargs={**added, "image_embeds": [packed]},
            )

    prompts = ["a dog in a park at golden hour"] * args.batch
    gen = dict(
        num_inference_steps=args.gen_steps,
        output_type="latent",
        height=side * base.vae_scale_factor,
        width=side * base.vae_scale_factor,
    )

    def generate_base() -> None:
        use(base_state)
        base(prompt=prompts, generator=torch.Generator().manual_seed(0), **gen)

    def generate_vp() -> None:
        use(vp_state)
        pipe(
            prompts,
            "awe",
            negative_emotion="anger",
            generator=torch.Generator().manual_seed(0),
            **gen,
        )

    for fn in (step_base, step_vp, step_base, step_vp, generate_base, generate_vp):  # warm-up
        fn()
    step_ratio = statistics.median(interleaved(step_base, step_vp, args.pairs, args.device))
    step_control = statistics.median(interleaved(step_base, step_base, args.pairs, args.device))
    gen_ratio = statistics.median(
        interleaved(generate_base, generate_vp, args.gen_pairs, args.device)
    )
    gen_control = statistics.median(
        interleaved(generate_base, generate_base, args.gen_pairs, args.device)
    )
    start = time.perf_counter()
    for _ in range(5):
        step_base()
    sync(args.device)
    base_ms = (time.perf_counter() - start) / 5 * 1000
    shape = f"{kind}-{'full' if full else 'tiny'}"
    print(
        f"unet: {shape} latents {side}x{side} text {tuple(text.shape[1:])} batch {args.batch} "
        f"(x2 CFG) {args.tokens} tokens {args.device} {dtype}"
        + (f" [{torch.cuda.get_device_name()}]" if args.device.startswith("cuda") else "")
    )
    print(f"base_step_ms: {base_ms:.1f}")
    print(f"same_vs_same_step_ratio: {step_control:.3f}")
    print(f"same_vs_same_generation_ratio: {gen_control:.3f}")
    print(
        f"visual_prompt_generation_ratio: {gen_ratio:.3f}  ({args.gen_steps} steps, "
        "retrieval + projector + K/V included)"
    )
    print(f"visual_prompt_step_ratio: {step_ratio:.3f}")


if __name__ == "__main__":
    main()
