"""The GPU check of MC-Diffusion in one process, one JSON line per result as it finishes.

Order (the most wanted figure first, so a run cut short still has it):

1. ``dpo`` at SD 1.5 size: a DPO step / a plain training step on the same images (winners +
   losers, encodes cached; :func:`dpo_step.build_trainer`), interleaved, bf16, gradient
   checkpointing: time ratio and each step's peak memory.
2. At SD 1.5 size (batch 4, CFG: 8 rows), then SDXL size (batch 1, 2 rows), interleaved rounds of
   one UNet step each (:func:`visual_prompt_overhead.build_unet_bench`), the order rotating
   between rounds: ``base`` (the UNet's own processors, no visual prompt), ``control`` (base
   again: the noise floor), ``cached`` (visual prompt, projection and visual K/V from the
   per-tensor cache, as on every step after a generation's first), ``cached_mask`` (the same with
   the retrieval weights passed as an attention mask, ``VisualPromptAttnProcessor.kernel =
   "mask"``, the reference; the default on CUDA is ``"key"``), ``uncached`` (a fresh packed
   visual prompt: projection and K/V recomputed, as on a generation's first step and in training)
   and ``ip_adapter`` (diffusers' ``IPAdapterAttnProcessor2_0`` on the same UNet, random weights
   of IP-Adapter's shapes: 4 tokens from a 1024-d / 1280-d image embedding).
   Then the same steps (less ``uncached``) captured as CUDA graphs and replayed, ``graph_*``:
   the GPU's time without the host's kernel launches (skipped on the CPU).
3. ``attention``: one cross-attention layer's visual branch at SDXL size, by kernel
   (:func:`attention_check`), beside the layer's text attention.

Each ratio is the median (with p25 / p75 / min / max) of per-round ratios to that round's
``base`` step; ``base`` itself reports milliseconds. Times come from CUDA events on a GPU,
``time.perf_counter`` on the CPU; ``peak_mb`` is ``torch.cuda.max_memory_allocated`` over the
measurement's calls (reset before each call; ``null`` on the CPU). A measurement that would run
past ``--budget-s`` is skipped with a ``{"skipped": ..., "why": ...}`` line. Nothing is kept
between runs (the toy DPO records live in a temporary folder); ``--out`` is appended to.

    python benchmarks/gpu_check.py --out gpu_check.jsonl     # on a CUDA machine (<= 6 min)
    python benchmarks/gpu_check.py --dry --out dry.jsonl     # the same sequence, tiny, CPU
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # the sibling benchmarks, this checkout's package
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from dpo_step import build_trainer  # noqa: E402
from visual_prompt_overhead import build_unet_bench  # noqa: E402

from emotion_director.diffusion.attention import (  # noqa: E402
    VisualPromptAttnProcessor,
    cross_attention_layers,
)

UNET_MEASUREMENTS = ("base", "control", "cached", "cached_mask", "uncached", "ip_adapter")
GRAPHED = ("graph_base", "graph_control", "graph_cached", "graph_cached_mask", "graph_ip_adapter")
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class Report:
    """JSON lines to stdout and, appended and flushed line by line, to ``--out``."""

    def __init__(self, out: Path | None, budget_s: float) -> None:
        self.out = out
        self.start = time.perf_counter()
        self.budget_s = budget_s
        self.failed = False

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        return self.budget_s - self.elapsed()

    def emit(self, line: dict[str, Any]) -> None:
        text = json.dumps({**line, "elapsed_s": round(self.elapsed(), 2)})
        print(text, flush=True)
        if self.out is not None:
            with self.out.open("a") as f:
                f.write(text + "\n")
                f.flush()

    def skip(self, names: tuple[str, ...], common: dict[str, Any], why: str) -> None:
        for name in names:
            self.emit({"skipped": name, "measurement": name, **common, "why": why})


def spread(values: list[float]) -> dict[str, float]:
    """Median, quartiles and extremes of ``values``."""
    q = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
    return {
        "median": statistics.median(values),
        "p25": q[0],
        "p75": q[2],
        "min": min(values),
        "max": max(values),
    }


def rounded(d: dict[str, float], digits: int = 4) -> dict[str, float]:
    return {k: round(v, digits) for k, v in d.items()}


def timed_round(
    calls: list[tuple[str, Callable[[], Callable[[], Any]], Callable[[], None] | None]],
    cuda: bool,
    peaks: dict[str, float],
    host: dict[str, list[float]] | None = None,
) -> dict[str, float]:
    """One round: for each ``(name, prepare, after)``, ``prepare()`` (untimed) returns the call to
    time; ``after()`` (untimed) follows it. Seconds per name; each call's peak memory is folded
    into ``peaks``, and on a GPU the seconds the host took to queue it are appended to
    ``host[name]`` (close to the GPU's time: the step is bound by launches, not by the GPU)."""
    if cuda:
        torch.cuda.synchronize()
    marks: dict[str, Any] = {}
    for name, prepare, after in calls:
        fn = prepare()
        if cuda:
            torch.cuda.reset_peak_memory_stats()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            t0 = time.perf_counter()
            fn()
            if host is not None:
                host.setdefault(name, []).append(time.perf_counter() - t0)
            end.record()
            peaks[name] = max(peaks.get(name, 0.0), torch.cuda.max_memory_allocated() / 2**20)
            marks[name] = (start, end)
        else:
            t0 = time.perf_counter()
            fn()
            marks[name] = time.perf_counter() - t0
        del fn
        if after is not None:
            after()
    if cuda:
        torch.cuda.synchronize()
        return {n: s.elapsed_time(e) / 1000 for n, (s, e) in marks.items()}
    return marks


def run_rounds(
    calls: list,
    rounds: int,
    cuda: bool,
    report: Report,
    host: dict[str, list[float]] | None = None,
) -> tuple[list[dict[str, float]], dict[str, float], bool]:
    """Warm-up round, a budget check on its time, then ``rounds`` rounds, the order rotating.
    Returns the per-round times, the peaks and whether the rounds were cut at the budget
    (``host``: as :func:`timed_round`'s)."""
    t0 = time.perf_counter()
    timed_round(calls, cuda, {})  # warm-up (kernels chosen, caches filled): an upper bound
    per_round = time.perf_counter() - t0
    if per_round * rounds > report.left():
        raise BudgetExceeded(
            f"{rounds} rounds x {per_round:.2f} s would exceed the budget "
            f"({report.left():.0f} s left of {report.budget_s:.0f})"
        )
    times, peaks, cut = [], {}, False
    for i in range(rounds):
        shift = i % len(calls)
        times.append(timed_round(calls[shift:] + calls[:shift], cuda, peaks, host))
        if report.left() < 0 and i + 1 < rounds:
            cut = True
            break
    return times, peaks, cut


class BudgetExceeded(Exception):
    pass


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def dpo_check(args: argparse.Namespace, report: Report, common: dict[str, Any]) -> None:
    """DPO step / plain step at SD 1.5 size (tiny with ``--dry``), interleaved in one trainer."""
    cuda = args.device == "cuda"
    common = {**common, "size": "sd15", "dtype": args.dpo_dtype, "pairs": args.pairs}
    trainer_args = argparse.Namespace(
        sd15_size=not args.dry,
        sdxl_size=False,
        pairs=args.pairs,
        dtype=args.dpo_dtype,
        gradient_checkpointing=True,
    )
    with tempfile.TemporaryDirectory(prefix="gpu-check-dpo-") as tmp:
        _, train_step = build_trainer(trainer_args, Path(tmp))
        counter = iter(range(10**9))

        def call(mode: str):
            return (mode, lambda: lambda: train_step(mode, next(counter)), None)

        times, peaks, cut = run_rounds([call("plain"), call("dpo")], args.dpo_rounds, cuda, report)
    ratios = [t["dpo"] / t["plain"] for t in times]
    plain_peak, dpo_peak = peaks.get("plain"), peaks.get("dpo")
    report.emit(
        {
            "measurement": "dpo",
            **common,
            "rounds": len(times),
            "cut_at_budget": cut,
            "unit": "time ratio to a plain training step",
            **rounded(spread(ratios)),
            "ms": round(statistics.median(t["dpo"] for t in times) * 1000, 2),
            "plain_ms": round(statistics.median(t["plain"] for t in times) * 1000, 2),
            "peak_mb": round(dpo_peak, 1) if cuda else None,
            "plain_peak_mb": round(plain_peak, 1) if cuda else None,
            "memory_ratio": round(dpo_peak / plain_peak, 4) if cuda else None,
            "gradient_checkpointing": True,
        }
    )


def ip_adapter_state(unet: Any, base_processors: dict[str, Any], image_dim: int, tokens: int):
    """diffusers' own IP-Adapter on ``unet``: ``IPAdapterAttnProcessor2_0`` on every
    cross-attention layer (the others keep ``base_processors``) and its ``ImageProjection``,
    random weights; a state for ``build_unet_bench(...).use``."""
    from diffusers.models.attention_processor import IPAdapterAttnProcessor2_0
    from diffusers.models.embeddings import ImageProjection, MultiIPAdapterImageProjection

    param = next(unet.parameters())
    cross = unet.config.cross_attention_dim
    processors = dict(base_processors)
    for name, attn in cross_attention_layers(unet).items():
        processors[name] = IPAdapterAttnProcessor2_0(
            attn.to_q.out_features, cross, num_tokens=(tokens,), scale=1.0
        ).to(param.device, param.dtype)
    projection = MultiIPAdapterImageProjection([ImageProjection(image_dim, cross, tokens)])
    return processors, projection.to(param.device, param.dtype), "ip_image_proj"


def unet_check(kind: str, args: argparse.Namespace, report: Report, common: dict) -> None:
    """Interleaved rounds of the five UNet steps at one size; one line per measurement."""
    cuda = args.device == "cuda"
    batch = args.batch if kind == "sd15" else args.sdxl_batch
    b = build_unet_bench(kind, not args.dry, args.device, DTYPES[args.dtype], batch, args.tokens)
    image_dim = (1024 if kind == "sd15" else 1280) if not args.dry else 32
    ip_state = ip_adapter_state(b.unet, b.base_state[0], image_dim, args.ip_tokens)
    ip_embeds = [torch.randn(b.rows, 1, image_dim, device=args.device, dtype=DTYPES[args.dtype])]
    caches = [b.vp_state[1]._cache] + [
        p._kv_cache for p in b.vp_state[0].values() if isinstance(p, VisualPromptAttnProcessor)
    ]
    fresh: list[torch.Tensor] = []
    mask_packed = b.packed.clone()  # its own cache entries: the kernels' K/V differ
    # the steps timed both eagerly and as CUDA graphs: (name, processors, image embeds, kernel)
    specs = [
        ("base", b.base_state, None, "auto"),
        ("control", b.base_state, None, "auto"),
        ("cached", b.vp_state, [b.packed], "auto"),
        ("cached_mask", b.vp_state, [mask_packed], "mask"),
        ("ip_adapter", ip_state, ip_embeds, "auto"),
    ]

    def step(packed_or_ip: Any = None) -> None:
        added = dict(b.added)
        if packed_or_ip is not None:
            added["image_embeds"] = packed_or_ip
        with torch.no_grad():
            b.unet(b.latents, 500, encoder_hidden_states=b.text, added_cond_kwargs=added or None)

    def prepare(state: Any, embeds: Callable[[], Any], kernel: str = "auto"):
        def go() -> Callable[[], None]:
            b.use(state)
            VisualPromptAttnProcessor.kernel = kernel
            e = embeds()
            return lambda: step(e)

        return go

    def new_packed() -> list[torch.Tensor]:
        fresh.append(b.packed.clone())  # a new tensor: the caches miss
        return [fresh[-1]]

    def drop_fresh() -> None:
        # the fresh prompt's cache entries would push the cached prompt's out (8 per cache)
        fresh.clear()
        for cache in caches:
            for key, entry in list(cache.entries.items()):
                if entry[0]() is None:
                    cache.entries.pop(key, None)

    calls = [
        (name, prepare(state, lambda embeds=embeds: embeds, kernel), None)
        for name, state, embeds, kernel in specs
    ]
    calls.insert(4, ("uncached", prepare(b.vp_state, new_packed), drop_fresh))
    host: dict[str, list[float]] = {}
    times, peaks, cut = run_rounds(calls, args.rounds, cuda, report, host)
    VisualPromptAttnProcessor.kernel = "auto"
    common = {**common, "size": kind, "dtype": args.dtype, "rows": b.rows, "latent": b.side}
    extras = {name: {"tokens": args.tokens} for name in ("cached", "cached_mask", "uncached")}
    extras["ip_adapter"] = {"tokens": args.ip_tokens, "image_embed_dim": image_dim}
    unit = ("ms per UNet step", "time ratio to base step")
    emit_steps(report, times, cut, common, unit, extras, peaks if cuda else None, host)
    graph_specs = [("graph_" + name, *rest) for name, *rest in specs]
    names = tuple(name for name, *_ in graph_specs)
    if not cuda:
        report.skip(names, common, "CUDA graphs need a GPU")
        return
    try:
        graph_check(b, graph_specs, args, report, common)
    except BudgetExceeded as e:
        report.skip(names, common, str(e))
    except Exception as e:  # noqa: BLE001 - reported; the eager lines above stand
        report.failed = True
        report.skip(names, common, f"error: {type(e).__name__}: {e}"[:500])


def emit_steps(
    report: Report,
    times: list[dict[str, float]],
    cut: bool,
    common: dict[str, Any],
    unit: tuple[str, str],
    extras: dict[str, dict[str, Any]] | None = None,
    peaks: dict[str, float] | None = None,
    host: dict[str, list[float]] | None = None,
) -> None:
    """One line per timed step, in the rounds' order: the first step in milliseconds
    (``unit[0]``), each other as the median of its per-round ratios to the first
    (``unit[1]``); with the peak memory and the host's queueing time where measured."""
    names = list(times[0])
    base = names[0]
    for name in names:
        ms = [t[name] * 1000 for t in times]
        if name == base:
            stats = spread(ms)
        else:
            stats = spread([t[name] / t[base] for t in times])
        report.emit(
            {
                "measurement": name,
                **common,
                "rounds": len(times),
                "cut_at_budget": cut,
                "unit": unit[0] if name == base else unit[1],
                **rounded(stats),
                "ms": round(statistics.median(ms), 3),
                "host_ms": round(statistics.median(host[name]) * 1000, 3) if host else None,
                "peak_mb": round(peaks[name], 1) if peaks else None,
                **(extras or {}).get(name, {}),
            }
        )


def graph_check(b: Any, graph_calls: list, args: argparse.Namespace, report: Report, common: dict):
    """The same steps captured as CUDA graphs and replayed: the GPU's time alone, without the
    host's kernel launches (what ``torch.compile(mode="reduce-overhead")`` or a fast host gets).
    The visual prompt's projection and K/V are cached before capture, as on a generation's later
    steps. One line per step, as :func:`unet_check`'s, named ``graph_*``."""
    timestep = torch.tensor(500, device=args.device)  # on the device: no host copy in a graph
    graphs = {}
    for name, state, embeds, kernel in graph_calls:
        b.use(state)
        VisualPromptAttnProcessor.kernel = kernel
        added = dict(b.added)
        if embeds is not None:
            added["image_embeds"] = embeds

        def step(added: dict = added) -> None:
            with torch.no_grad():
                b.unet(
                    b.latents,
                    timestep,
                    encoder_hidden_states=b.text,
                    added_cond_kwargs=added or None,
                )

        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            step()
        graphs[name] = graph
        VisualPromptAttnProcessor.kernel = "auto"

    def call(name: str):
        return (name, lambda: graphs[name].replay, None)

    times, _, cut = run_rounds([call(n) for n in graphs], args.rounds, True, report)
    unit = ("ms per replayed UNet step", "time ratio to the replayed base step")
    emit_steps(report, times, cut, common, unit)
    graphs.clear()


ATTENTION_VARIANTS = ("text", "visual_key", "visual_mask", "visual_plain")


def attention_check(args: argparse.Namespace, report: Report, common: dict) -> None:
    """One cross-attention layer's visual branch at SDXL's 64x64 level (B = 2 rows, 10 heads of
    64, 4096 queries; 77 text and 16 visual tokens; queries, keys and values are head views of
    ``[B, N, h * d]`` projections, as the processors get them), beside its text attention:
    ``visual_key`` (the CUDA kernel: queries padded with constant channels, weights in the keys,
    the output sliced and added), ``visual_mask`` (the weights as an attention mask, then added) and
    ``visual_plain`` (no weights at all: the floor, IP-Adapter's form). Ratios to ``text``."""
    import torch.nn.functional as F

    from emotion_director.diffusion.attention import BIAS_CHANNELS

    cuda = args.device == "cuda"
    dtype = DTYPES[args.dtype]
    rows, heads, d, n, t, L = (2, 10, 64, 4096, 77, 16) if not args.dry else (2, 2, 8, 64, 8, 4)
    g = torch.Generator(device=args.device).manual_seed(0)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, device=args.device, dtype=dtype)

    def heads_view(
        tokens: int,
    ) -> torch.Tensor:  # [B, h, N, d] views of [B, N, h * d], as in a UNet
        return randn(rows, tokens, heads, d).transpose(1, 2)

    q, k, v = heads_view(n), heads_view(t), heads_view(t)
    vk, vv = randn(rows, heads, L, d), randn(rows, heads, L, d)
    log_w = torch.log_softmax(randn(rows, L).float(), -1)
    bias = log_w.to(dtype)[:, None, None, :]
    extra = (log_w * d**0.5 / BIAS_CHANNELS).to(dtype)[:, None, :, None]
    vk_key = torch.cat([vk, extra.expand(-1, heads, -1, BIAS_CHANNELS)], -1)
    vv_key = F.pad(vv, (0, BIAS_CHANNELS))
    text = F.scaled_dot_product_attention(q, k, v)
    sdpa = F.scaled_dot_product_attention
    variants = {
        "text": lambda: sdpa(q, k, v),
        "visual_key": lambda: (
            text
            + sdpa(F.pad(q, (0, BIAS_CHANNELS), value=1.0), vk_key, vv_key, scale=d**-0.5)[..., :d]
        ),
        "visual_mask": lambda: text + sdpa(q, vk, vv, attn_mask=bias),
        "visual_plain": lambda: text + sdpa(q, vk, vv),
    }
    gap = (variants["visual_key"]() - variants["visual_mask"]()).abs().max().item()
    reps = 20

    def call(name: str):
        fn = variants[name]

        def many() -> None:
            for _ in range(reps):
                fn()

        return (name, lambda: many, None)

    with torch.no_grad():
        times, peaks, cut = run_rounds(
            [call(x) for x in ATTENTION_VARIANTS], args.rounds, cuda, report
        )
    shape = {"rows": rows, "heads": heads, "head_dim": d, "queries": n, "text": t, "visual": L}
    for name in ATTENTION_VARIANTS:
        us = [tm[name] / reps * 1e6 for tm in times]
        if name == "text":
            stats, unit = spread(us), "us per text attention"
        else:
            stats, unit = spread([tm[name] / tm["text"] for tm in times]), "time ratio to text"
        report.emit(
            {
                "measurement": name,
                **common,
                "size": "attention",
                "dtype": args.dtype,
                **shape,
                "rounds": len(times),
                "cut_at_budget": cut,
                "unit": unit,
                **rounded(stats),
                "us": round(statistics.median(us), 2),
                "peak_mb": round(peaks[name], 1) if cuda else None,
                "key_vs_mask_max_abs": gap,
            }
        )


def guarded(
    names: tuple[str, ...],
    common: dict[str, Any],
    reserve_s: float,
    report: Report,
    fn: Callable[[], None],
) -> None:
    """Run one measurement group unless its set-up alone would pass the budget; a group that
    raises is reported as skipped with the error."""
    if report.left() < reserve_s:
        report.skip(names, common, f"{report.left():.0f} s left, set-up needs ~{reserve_s:.0f} s")
        return
    try:
        fn()
    except BudgetExceeded as e:
        report.skip(names, common, str(e))
    except Exception as e:  # noqa: BLE001 - reported, the rest of the check still runs
        report.failed = True
        report.skip(names, common, f"error: {type(e).__name__}: {e}"[:500])
    finally:
        VisualPromptAttnProcessor.kernel = "auto"  # a group that failed leaves no kernel set
        free_memory()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry", action="store_true", help="tiny components on the CPU, 3 rounds")
    parser.add_argument("--out", type=Path, help="append the JSON lines to this file")
    parser.add_argument("--rounds", type=int, help="UNet rounds (default 30; 3 with --dry)")
    parser.add_argument("--dpo-rounds", type=int, help="DPO rounds (default 8; 2 with --dry)")
    parser.add_argument("--budget-s", type=float, help="whole run (default 330; 120 with --dry)")
    parser.add_argument("--batch", type=int, default=4, help="SD 1.5 images per step (x2 CFG)")
    parser.add_argument("--sdxl-batch", type=int, default=1, help="SDXL images per step (x2 CFG)")
    parser.add_argument("--tokens", type=int, default=16, help="visual prompt tokens")
    parser.add_argument("--ip-tokens", type=int, default=4, help="IP-Adapter tokens")
    parser.add_argument("--pairs", type=int, help="DPO pairs per step (default 4; 1 with --dry)")
    parser.add_argument("--dtype", choices=sorted(DTYPES), help="default bf16; fp32 with --dry")
    args = parser.parse_args()
    dry = args.dry
    if not dry and not torch.cuda.is_available():
        sys.exit("gpu_check: no CUDA device; --dry runs the same sequence on the CPU")
    args.device = "cpu" if dry else "cuda"
    args.rounds = args.rounds or (3 if dry else 30)
    args.dpo_rounds = args.dpo_rounds or (2 if dry else 8)
    args.budget_s = args.budget_s or (120.0 if dry else 330.0)
    args.pairs = args.pairs or (1 if dry else 4)
    args.dtype = args.dtype or ("fp32" if dry else "bf16")
    args.dpo_dtype = args.dtype
    reserve = (
        {"dpo": 5.0, "sd15": 5.0, "sdxl": 5.0, "attention": 2.0}
        if dry
        else {"dpo": 45, "sd15": 30, "sdxl": 45, "attention": 5}
    )

    report = Report(args.out, args.budget_s)
    device_name = torch.cuda.get_device_name() if not dry else "cpu"
    common = {"scale": "tiny" if dry else "full", "device": device_name}
    import diffusers

    report.emit(
        {
            "measurement": "run",
            **common,
            "torch": torch.__version__,
            "diffusers": diffusers.__version__,
            "budget_s": args.budget_s,
            "rounds": args.rounds,
            "dpo_rounds": args.dpo_rounds,
        }
    )
    dpo_common = {**common, "size": "sd15", "dtype": args.dpo_dtype}
    guarded(("dpo",), dpo_common, reserve["dpo"], report, lambda: dpo_check(args, report, common))
    for kind in ("sd15", "sdxl"):
        unet_common = {**common, "size": kind, "dtype": args.dtype}
        guarded(
            UNET_MEASUREMENTS + GRAPHED,
            unet_common,
            reserve[kind],
            report,
            lambda kind=kind: unet_check(kind, args, report, common),
        )
    attention_common = {**common, "size": "attention", "dtype": args.dtype}
    guarded(
        ATTENTION_VARIANTS,
        attention_common,
        reserve["attention"],
        report,
        lambda: attention_check(args, report, common),
    )
    sys.exit(1 if report.failed else 0)


if __name__ == "__main__":
    main()
