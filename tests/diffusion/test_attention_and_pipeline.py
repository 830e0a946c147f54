import json

import numpy as np
import pytest
import torch

from emotion_director.diffusion.attention import (
    VisualPromptAttnProcessor,
    cross_attention_layers,
)
from emotion_director.diffusion.pipeline import MCDiffusionPipeline
from emotion_director.diffusion.tool import ImageGenerator, OutputDirError, make_generate_image_tool

from .conftest import run


def test_processors_installed_on_every_cross_attention_layer(base_pipeline, bank):
    layers = cross_attention_layers(base_pipeline.unet)
    assert layers and len(layers) == sum(
        1 for n in base_pipeline.unet.attn_processors if "attn2" in n)
    pipe = MCDiffusionPipeline(base_pipeline, bank=bank)
    procs = base_pipeline.unet.attn_processors
    assert all(isinstance(procs[n], VisualPromptAttnProcessor) for n in layers)
    assert not any(isinstance(p, VisualPromptAttnProcessor)
                   for n, p in procs.items() if n not in layers)
    pipe.unload_visual_prompt()
    assert not any(isinstance(p, VisualPromptAttnProcessor)
                   for p in base_pipeline.unet.attn_processors.values())


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
    batch = pipe(["a dog", "a storm"], ["awe", "fear"], generator=gens, num_inference_steps=2,
                 height=32, width=32, output_type="np").images
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
    gen = ImageGenerator(model="tiny-sd15", pipeline=MCDiffusionPipeline(base, bank=bank),
                         out_dir=str(tmp_path), steps=2, height=32, width=32)
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
