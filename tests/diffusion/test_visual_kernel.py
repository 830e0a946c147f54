"""The visual branch's two kernels: the log retrieval weights carried in extra key channels
(``"key"``, the default on CUDA: no attention mask, so a GPU runs the fused kernels) and as an
additive mask (``"mask"``, the default elsewhere). Both give the same UNet output."""

import pytest
import torch

from emotion_director.diffusion.attention import (
    VisualPromptAttnProcessor,
    pack_visual_prompt,
)
from emotion_director.diffusion.pipeline import MCDiffusionPipeline
from emotion_director.errors import UserInputError

from .conftest import unet_call


def _packed(bank):
    weights = torch.tensor([[0.6, 0.3, 0.1, 0.0], [0.25, 0.25, 0.25, 0.25]])
    return pack_visual_prompt(bank.tokens[:2], weights)


@pytest.fixture
def visual_calls(monkeypatch):
    """Every attention the visual branch runs (the UNet's queries to the 4 visual tokens; the
    text attention has 77 keys, the projector's self-attention 4 queries): (query channels,
    with a mask?)."""
    import emotion_director.diffusion.attention as attention

    calls = []
    real = torch.nn.functional.scaled_dot_product_attention

    def recording(query, key, value, *args, **kwargs):
        mask = args[0] if args else kwargs.get("attn_mask")
        if key.shape[-2] == 4 and query.shape[-2] > 4:
            calls.append((query.shape[-1], mask is not None))
        return real(query, key, value, *args, **kwargs)

    monkeypatch.setattr(attention.F, "scaled_dot_product_attention", recording)
    return calls


@pytest.mark.parametrize("dtype,atol", [(torch.float32, 1e-5), (torch.bfloat16, 0.05)])
def test_the_key_kernel_equals_the_mask_kernel(
    base_pipeline, bank, restore_kernel, visual_calls, dtype, atol
):
    from emotion_director.diffusion.attention import BIAS_CHANNELS

    pipe = MCDiffusionPipeline(base_pipeline, bank=bank)
    pipe.visual_prompt_adapter.to(dtype=dtype)
    unet = base_pipeline.unet.to(dtype)
    packed = _packed(bank)[:1].to(dtype)
    VisualPromptAttnProcessor.kernel = "key"
    by_key = unet_call(unet, packed.clone()).float()  # a tensor of its own: no shared cache
    by_key_calls = list(visual_calls)
    visual_calls.clear()
    VisualPromptAttnProcessor.kernel = "mask"
    by_mask = unet_call(unet, packed.clone()).float()
    # each path ran: no mask and queries padded by the key kernel, a mask and plain queries
    assert by_key_calls and visual_calls and len(by_key_calls) == len(visual_calls)
    for (key_dim, key_masked), (mask_dim, mask_masked) in zip(by_key_calls, visual_calls):
        assert not key_masked and mask_masked and key_dim == mask_dim + BIAS_CHANNELS
    assert torch.isfinite(by_key).all()
    assert torch.allclose(by_key, by_mask, atol=atol), (by_key - by_mask).abs().max()
    # and the weights matter in both: other weights, another output
    other = pack_visual_prompt(bank.tokens[:1], torch.tensor([[0.1, 0.1, 0.2, 0.6]])).to(dtype)
    VisualPromptAttnProcessor.kernel = "key"
    assert not torch.allclose(unet_call(unet, other).float(), by_key, atol=atol)


def test_auto_takes_the_mask_on_a_cpu(base_pipeline, bank, restore_kernel):
    MCDiffusionPipeline(base_pipeline, bank=bank)
    packed = _packed(bank)[:1]
    assert VisualPromptAttnProcessor.kernel == "auto"
    by_auto = unet_call(base_pipeline.unet, packed)
    VisualPromptAttnProcessor.kernel = "mask"
    assert torch.equal(by_auto, unet_call(base_pipeline.unet, packed))


def test_an_unknown_kernel_is_refused_naming_the_choices(base_pipeline, bank, restore_kernel):
    MCDiffusionPipeline(base_pipeline, bank=bank)
    VisualPromptAttnProcessor.kernel = "flash"
    with pytest.raises(UserInputError, match="'flash'.*auto, key, mask"):
        unet_call(base_pipeline.unet, _packed(bank)[:1])
