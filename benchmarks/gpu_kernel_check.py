"""The visual branch's two kernels on a GPU, with tokens of retrieval weight 0: one JSON line per
dtype. What the CPU tests check, on the fused kernels a GPU picks (an SD 1.5-size UNet, 16 visual
tokens, 4 of them weight 0 and 4 rows):

* ``max_abs_key_vs_mask``: the key kernel's output against the mask kernel's (rounding only);
* ``dropped_exact``: changing the weight-0 tokens a lot leaves the key kernel's output bit-equal;
* ``grads_finite``: a backward pass through the key kernel (training: no caches) gives finite
  gradients on the adapter and the UNet's input.

    python benchmarks/gpu_kernel_check.py            # on a CUDA machine (~1 min)
    python benchmarks/gpu_kernel_check.py --dry      # tiny, on the CPU
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import torch  # noqa: E402
from visual_prompt_overhead import build_unet_bench  # noqa: E402

from emotion_director.diffusion.attention import VisualPromptAttnProcessor  # noqa: E402


def check(dtype: torch.dtype, device: str, full: bool) -> dict:
    b = build_unet_bench("sd15", full, device, dtype, batch=2, tokens=16)
    b.use(b.vp_state)
    packed = b.packed.clone()
    packed[:, :, 12:, -2] = float("-inf")  # the last 4 tokens: weight 0

    def step(p: torch.Tensor, kernel: str, grad: bool = False) -> torch.Tensor:
        VisualPromptAttnProcessor.kernel = kernel
        with torch.set_grad_enabled(grad):
            out = b.unet(
                b.latents,
                500,
                encoder_hidden_states=b.text,
                added_cond_kwargs={"image_embeds": [p]},
            ).sample
        return out

    try:
        key = step(packed.clone(), "key")
        mask = step(packed.clone(), "mask")
        changed = packed.clone()
        changed[:, :, 12:, :-2] += 1e3 * torch.randn_like(changed[:, :, 12:, :-2])
        key_changed = step(changed, "key")
        latents = b.latents.detach().clone().requires_grad_(True)
        b.latents = latents
        loss = step(packed.clone(), "key", grad=True).float().pow(2).mean()
        loss.backward()
        params = [p for p in b.pipe.visual_prompt_adapter.parameters() if p.grad is not None]
        finite = all(torch.isfinite(p.grad).all() for p in params)
        finite = finite and bool(torch.isfinite(latents.grad).all())
    finally:
        VisualPromptAttnProcessor.kernel = "auto"
    return {
        "dtype": str(dtype).removeprefix("torch."),
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "finite_forward": bool(torch.isfinite(key).all() and torch.isfinite(mask).all()),
        "max_abs_key_vs_mask": float((key.float() - mask.float()).abs().max()),
        "output_scale": float(mask.float().abs().mean()),
        "dropped_exact": bool(torch.equal(key, key_changed)),
        "grads_finite": bool(finite),
        "adapter_params_with_grad": len(params),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry", action="store_true", help="tiny components on the CPU")
    args = parser.parse_args()
    if not args.dry and not torch.cuda.is_available():
        sys.exit("gpu_kernel_check: no CUDA device; --dry runs it tiny on the CPU")
    device = "cpu" if args.dry else "cuda"
    dtypes = (torch.float32,) if args.dry else (torch.bfloat16, torch.float16)
    failed = False
    for dtype in dtypes:
        line = check(dtype, device, full=not args.dry)
        ok = line["finite_forward"] and line["dropped_exact"] and line["grads_finite"]
        failed = failed or not ok
        print(json.dumps({**line, "ok": ok}), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
