"""``torch.compile`` of a UNet with the visual prompt loaded: one graph with no breaks (nothing
read back to the host while tracing), the same output as eager, and a new visual-prompt scale is
new data for the same graph, not a recompile."""

import pytest
import torch

from emotion_director.diffusion.attention import layer_scales_tensor, pack_visual_prompt
from emotion_director.diffusion.pipeline import MCDiffusionPipeline

from .conftest import run, unet_inputs

dynamo = pytest.importorskip("torch._dynamo")
from torch._dynamo.utils import counters  # noqa: E402


@pytest.fixture
def fresh_dynamo():
    dynamo.reset()
    counters.clear()
    yield
    dynamo.reset()


def _inputs(unet, pipe, bank, scale):
    packed = pack_visual_prompt(bank.tokens[:1], torch.tensor([[0.4, 0.3, 0.3, 0.0]]))
    layers = len(pipe.visual_prompt_scales())
    return unet_inputs(unet, [packed, layer_scales_tensor((scale,) * layers, 1)])


def test_a_compiled_unet_is_one_graph_and_a_new_scale_reuses_it(base_pipeline, bank, fresh_dynamo):
    pipe = MCDiffusionPipeline(base_pipeline, bank=bank)
    unet = base_pipeline.unet
    compiled = torch.compile(unet, backend="eager", fullgraph=True)  # a break raises
    outputs = {}
    with torch.no_grad():
        for scale in (1.0, 0.5, 0.0, 0.5):
            x, text, added = _inputs(unet, pipe, bank, scale)
            got = compiled(x, 10, encoder_hidden_states=text, added_cond_kwargs=added).sample
            want = unet(x, 10, encoder_hidden_states=text, added_cond_kwargs=added).sample
            assert torch.allclose(got, want, atol=1e-5), (scale, (got - want).abs().max())
            outputs[scale] = got
    assert counters["stats"]["unique_graphs"] == 1  # four scales, one graph
    assert not torch.allclose(outputs[1.0], outputs[0.5], atol=1e-4)


def test_a_pipeline_with_a_compiled_unet_generates_as_eager(base_pipeline, bank, fresh_dynamo):
    pipe = MCDiffusionPipeline(base_pipeline, bank=bank)
    eager = run(pipe, "a dog", "awe")
    base_pipeline.unet = torch.compile(base_pipeline.unet, backend="eager", fullgraph=True)
    compiled = run(pipe, "a dog", "awe")
    assert abs(compiled - eager).max() < 1e-4
    pipe.set_visual_prompt_scale(0.3)
    run(pipe, "a dog", "awe")
    assert counters["stats"]["unique_graphs"] == 1
