import json

import numpy as np
import pytest
import torch

from emotion_director.diffusion.attention import (
    VisualPromptAttnProcessor,
    cross_attention_layers,
)
from emotion_director.diffusion.generator import (
    ImageGenerator,
    OutputDirError,
    make_generate_image_tool,
)
from emotion_director.diffusion.pipeline import MCDiffusionPipeline

from .conftest import run


def test_processors_installed_on_every_cross_attention_layer(base_pipeline, bank):
    layers = cross_attention_layers(base_pipeline.unet)
    assert layers and len(layers) == sum(
        1 for n in base_pipeline.unet.attn_processors if "attn2" in n
    )
    pipe = MCDiffusionPipeline(base_pipeline, bank=bank)
    procs = base_pipeline.unet.attn_processors
    assert all(isinstance(procs[n], VisualPromptAttnProcessor) for n in layers)
    assert not any(
        isinstance(p, VisualPromptAttnProcessor) for n, p in procs.items() if n not in layers
    )
    pipe.unload_visual_prompt()
    assert not any(
        isinstance(p, VisualPromptAttnProcessor)
        for p in base_pipeline.unet.attn_processors.values()
    )


def test_scale_zero_equals_the_base_pipeline_bit_for_bit(base_pipeline, bank):
    reference = run(base_pipeline, "a dog in a park")
    pipe = MCDiffusionPipeline(base_pipeline, bank=bank)
    off = run(pipe, "a dog in a park", "awe", visual_prompt_scale=0.0)
    assert np.array_equal(off, reference)
    on = run(pipe, "a dog in a park", "awe", visual_prompt_scale=1.0)
    assert np.abs(on - reference).max() > 1e-3
    other = run(pipe, "a dog in a park", "fear", visual_prompt_scale=1.0)
    assert np.abs(on - other).max() > 1e-4  # emotions differ under the same semantics
    pipe.unload_visual_prompt()
    assert np.array_equal(run(base_pipeline, "a dog in a park"), reference)


def test_the_base_pipeline_still_runs_text_only_while_a_visual_prompt_is_loaded(
    base_pipeline, bank
):
    reference = run(base_pipeline, "a dog in a park")
    MCDiffusionPipeline(base_pipeline, bank=bank)
    assert np.array_equal(run(base_pipeline, "a dog in a park"), reference)


def test_negative_visual_prompt_guides_the_unconditional_branch(base_pipeline, bank):
    pipe = MCDiffusionPipeline(base_pipeline, bank=bank)
    none = run(pipe, "a dog", "contentment")
    anger = run(pipe, "a dog", "contentment", negative_emotion="anger")
    assert np.abs(none - anger).max() > 1e-4
    no_cfg = run(pipe, "a dog", "contentment", negative_emotion="anger", guidance_scale=1.0)
    assert no_cfg.shape == none.shape  # batch without CFG rows works too


def test_visual_tokens_travel_through_the_unet_call_not_a_global(base_pipeline, bank):
    pipe = MCDiffusionPipeline(base_pipeline, bank=bank)
    seen = []
    proj = base_pipeline.unet.encoder_hid_proj
    proj.register_forward_hook(lambda module, args, out: seen.append(args[0][0].shape))
    run(pipe, "a dog", "awe")  # 2 steps x CFG: the packed prompt arrives with every UNet call
    assert len(seen) == 2 and seen[0][0] == 2 and seen[0][-1] == bank.dim + 2
    assert not any(hasattr(p, "context") for p in pipe.visual_prompt_adapter.layers.values())


def test_per_block_scales_follow_set_ip_adapter_scale(base_pipeline, bank):
    pipe = MCDiffusionPipeline(base_pipeline, bank=bank)
    names = [n for n, _ in pipe._visual_prompt_processors()]
    pipe.set_visual_prompt_scale({"up": 0.5})
    scales = {n: p.scale for n, p in pipe._visual_prompt_processors()}
    assert all(scales[n] == (0.5 if n.startswith("up_blocks") else 0.0) for n in names)
    pipe.set_visual_prompt_scale(0.0)
    off = run(pipe, "a dog", "awe")
    pipe.unload_visual_prompt()
    assert np.array_equal(off, run(base_pipeline, "a dog"))


def test_batched_prompts_match_single_calls(base_pipeline, bank):
    pipe = MCDiffusionPipeline(base_pipeline, bank=bank)
    gens = [torch.Generator().manual_seed(s) for s in (0, 1)]
    batch = pipe(
        ["a dog", "a storm"],
        ["awe", "fear"],
        generator=gens,
        num_inference_steps=2,
        height=32,
        width=32,
        output_type="np",
    ).images
    one = run(pipe, "a dog", "awe", seed=0)
    two = run(pipe, "a storm", "fear", seed=1)
    assert np.allclose(batch[0], one[0], atol=1e-4) and np.allclose(batch[1], two[0], atol=1e-4)


def test_adapter_weights_round_trip(tmp_path, base_pipeline, bank):
    pipe = MCDiffusionPipeline(base_pipeline, bank=bank)
    with torch.no_grad():
        for p in pipe.visual_prompt_adapter.parameters():
            p.add_(0.01)
    path = tmp_path / "adapter.safetensors"
    pipe.visual_prompt_adapter.save(str(path))
    expected = run(pipe, "a dog", "awe")
    pipe.load_visual_prompt(bank, adapter_weights=str(path))
    assert np.array_equal(run(pipe, "a dog", "awe"), expected)


def test_generator_writes_png_and_sidecar_and_works_as_a_tool(tmp_path, bank):
    from emotion_director.diffusion.tiny import build_tiny_pipeline

    base = build_tiny_pipeline("sd15")
    base.set_progress_bar_config(disable=True)
    gen = ImageGenerator(
        model="tiny-sd15",
        pipeline=MCDiffusionPipeline(base, bank=bank),
        out_dir=str(tmp_path),
        steps=2,
        height=32,
        width=32,
    )
    paths = gen.generate("a dog, asleep", emotion="contentment", negative_emotion="anger", seed=3)
    assert len(paths) == 1 and paths[0].endswith(".png")
    sidecar = json.loads(open(paths[0][:-4] + ".json").read())
    assert sidecar["emotion"] == "contentment" and sidecar["negative_emotion"] == "anger"
    assert sidecar["seed"] == 3 and sidecar["model"] == "tiny-sd15"
    assert sidecar["visual_prompt_scale"] == 1.0 and len(sidecar["retrieval_weights"]) == 4
    tool = make_generate_image_tool(gen)
    out = tool.invoke({"prompt": "a dog", "emotion": "awe", "seed": 1})
    assert len(out) == 1 and out[0].endswith(".png")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutputDirError, match="cannot write"):
        gen.generate("a dog", emotion="awe", out_dir=str(blocker / "sub"))


def test_projection_and_visual_kv_run_once_per_generation_but_every_training_step(
    base_pipeline, bank
):
    pipe = MCDiffusionPipeline(base_pipeline, bank=bank)
    calls = []
    for proc in pipe.visual_prompt_adapter.layers.values():
        proc.to_k_vp.register_forward_hook(lambda *a: calls.append("kv"))
    pipe.visual_prompt_adapter.projector.register_forward_hook(lambda *a: calls.append("proj"))
    run(pipe, "a dog", "awe")  # 2 denoising steps: the same packed prompt both times
    layers = len(pipe.visual_prompt_adapter.layers)
    assert calls.count("proj") == 1 and calls.count("kv") == layers
    calls.clear()
    run(pipe, "a dog", "fear")  # a new generation computes afresh
    assert calls.count("proj") == 1
    calls.clear()
    from emotion_director.diffusion.attention import pack_visual_prompt

    packed = pack_visual_prompt(bank.tokens[:2])
    unet, cfg = base_pipeline.unet, base_pipeline.unet.config
    x = torch.randn(2, 4, cfg.sample_size, cfg.sample_size)
    extra = {}
    if cfg.addition_embed_type == "text_time":
        extra = {"text_embeds": torch.randn(2, 32), "time_ids": torch.randn(2, 6)}
    text = torch.randn(2, 77, cfg.cross_attention_dim)
    for _ in range(2):  # with autograd on, nothing is reused
        unet(
            x, 10, encoder_hidden_states=text, added_cond_kwargs={**extra, "image_embeds": [packed]}
        )
    assert calls.count("proj") == 2


def test_half_precision_pipelines_stay_in_their_dtype(tmp_path, bank):
    from emotion_director.diffusion.tiny import build_tiny_pipeline

    base = build_tiny_pipeline("sd15").to(dtype=torch.bfloat16)
    base.set_progress_bar_config(disable=True)
    pipe = MCDiffusionPipeline(base, bank=bank)
    pipe.visual_prompt_adapter.to(dtype=torch.bfloat16)
    pipe("a dog", "awe", num_inference_steps=1, height=32, width=32, output_type="latent")
    assert (
        base.unet.conv_in.weight.dtype == torch.bfloat16
    )  # no float32 cast behind the user's back
    assert base.vae.dtype == torch.bfloat16 and base.text_encoder.dtype == torch.bfloat16
