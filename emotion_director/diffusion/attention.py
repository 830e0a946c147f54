"""Decoupled cross-attention for the visual prompt (IP-Adapter style) and the mixin that installs it.

Every cross-attention layer of the UNet gets a :class:`VisualPromptAttnProcessor`: the text branch
is the layer's own attention, and a second branch attends from the same queries to the visual
tokens with its own ``to_k``/``to_v``; its output is added with a ``scale``::

    out = Attn(Q, K_text, V_text) + scale * Attn(Q, K_visual, V_visual)

With ``scale == 0`` (or no visual prompt set) the processor calls the layer's original processor,
so the output is bit-identical to the base pipeline's. The visual prompt does not depend on the
timestep, so at inference each layer computes its visual K/V once per generation and reuses them
at every denoising step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from emotion_director.errors import EmotionDirectorError


class VisualPromptContext:
    """The visual tokens of the current generation, shared by every processor of one UNet.

    ``cond`` is ``[n, L, D]`` for the conditional rows; ``uncond`` is the negative visual prompt
    for the unconditional rows of classifier-free guidance, or ``None`` for no visual prompt there.
    """

    def __init__(self) -> None:
        self.cond: torch.Tensor | None = None
        self.uncond: torch.Tensor | None = None
        self.version = 0

    @property
    def active(self) -> bool:
        return self.cond is not None

    def set(self, cond: torch.Tensor, uncond: torch.Tensor | None = None) -> None:
        if uncond is not None and uncond.shape != cond.shape:
            raise EmotionDirectorError(
                f"negative visual prompt shape {tuple(uncond.shape)} differs from the visual "
                f"prompt's {tuple(cond.shape)}."
            )
        self.cond, self.uncond = cond, uncond
        self.version += 1

    def clear(self) -> None:
        self.cond = self.uncond = None
        self.version += 1

    def tokens_for(self, batch: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Tokens for a UNet batch of ``batch`` rows and a per-row scale (``None`` = all ones).

        diffusers pipelines stack ``[uncond, cond]`` for classifier-free guidance, so a batch of
        twice the conditional size gets ``[negative, positive]``; without a negative visual
        prompt the unconditional rows get a zero scale (no visual branch at all).
        """
        assert self.cond is not None
        n = self.cond.shape[0]
        if batch == n:
            return self.cond, None
        if batch == 2 * n:
            if self.uncond is not None:
                return torch.cat([self.uncond, self.cond]), None
            rows = torch.cat([torch.zeros(n), torch.ones(n)]).to(self.cond.device, self.cond.dtype)
            return torch.cat([self.cond, self.cond]), rows
        raise EmotionDirectorError(
            f"UNet batch of {batch} rows does not fit a visual prompt for {n} images."
        )


class VisualPromptAttnProcessor(nn.Module):
    """Attention processor with a decoupled visual-prompt branch.

    Args:
        hidden_size (`int`): the attention layer's inner width (``attn.to_q.out_features``).
        cross_attention_dim (`int`): width of the projected visual tokens.
        context (`VisualPromptContext`): where the current visual tokens are read from.
        base_processor (`Callable`): the layer's original processor (used for the text branch
            when the visual branch is off, which makes scale 0 bit-identical to the base model).
        scale (`float`, *optional*, defaults to 1.0): weight of the visual branch.
    """

    def __init__(
        self,
        hidden_size: int,
        cross_attention_dim: int,
        context: VisualPromptContext,
        base_processor: Any,
        scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.to_k_vp = nn.Linear(cross_attention_dim, hidden_size, bias=False)
        self.to_v_vp = nn.Linear(cross_attention_dim, hidden_size, bias=False)
        self.scale = scale
        # Plain attributes (not submodules): the context is shared, the base processor is restored.
        object.__setattr__(self, "context", context)
        object.__setattr__(self, "base_processor", base_processor)
        self._cache: tuple[Any, ...] | None = None

    def _visual_kv(
        self, batch: int, heads: int, head_dim: int, like: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        key = (self.context.version, batch, like.dtype, like.device)
        cacheable = not torch.is_grad_enabled()
        if cacheable and self._cache is not None and self._cache[0] == key:
            return self._cache[1], self._cache[2], self._cache[3]
        tokens, rows = self.context.tokens_for(batch)
        tokens = tokens.to(device=like.device, dtype=self.to_k_vp.weight.dtype)
        k = self.to_k_vp(tokens).to(like.dtype).view(batch, -1, heads, head_dim).transpose(1, 2)
        v = self.to_v_vp(tokens).to(like.dtype).view(batch, -1, heads, head_dim).transpose(1, 2)
        if rows is not None:
            rows = rows.to(like.device, like.dtype)
        if cacheable:  # the visual prompt is the same at every denoising step
            self._cache = (key, k, v, rows)
        return k, v, rows

    def __call__(  # type: ignore[override]
        self,
        attn: Any,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> torch.Tensor:
        if self.scale == 0 or not self.context.active or encoder_hidden_states is None:
            return self.base_processor(
                attn, hidden_states, encoder_hidden_states, attention_mask, temb, *args, **kwargs
            )
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch_size, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch_size, channel, height * width).transpose(1, 2)
        batch_size, sequence_length, _ = encoder_hidden_states.shape
        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, sequence_length, batch_size)
            attention_mask = attention_mask.view(batch_size, attn.heads, -1, attention_mask.shape[-1])
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

        query = attn.to_q(hidden_states)
        if attn.norm_cross:
            encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)
        key = attn.to_k(encoder_hidden_states)
        value = attn.to_v(encoder_hidden_states)
        inner_dim = key.shape[-1]
        head_dim = inner_dim // attn.heads
        query = query.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        key = key.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        value = value.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)

        text = F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask)
        vp_key, vp_value, rows = self._visual_kv(batch_size, attn.heads, head_dim, query)
        visual = F.scaled_dot_product_attention(query, vp_key, vp_value)
        if rows is not None:
            visual = visual * rows.view(-1, 1, 1, 1)
        hidden_states = text + self.scale * visual
        hidden_states = hidden_states.transpose(1, 2).reshape(batch_size, -1, attn.heads * head_dim)
        hidden_states = hidden_states.to(query.dtype)

        hidden_states = attn.to_out[0](hidden_states)
        hidden_states = attn.to_out[1](hidden_states)
        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(batch_size, channel, height, width)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor


def cross_attention_layers(unet: nn.Module) -> dict[str, nn.Module]:
    """Processor name -> attention module, for every cross-attention layer of a UNet."""
    layers = {}
    for name in unet.attn_processors:
        if name.endswith("attn2.processor"):
            layers[name] = unet.get_submodule(name.removesuffix(".processor"))
    return layers


class VisualPromptAdapter(nn.Module):
    """The trainable parts: the projector and the visual K/V of every cross-attention layer."""

    def __init__(self, projector: nn.Module, processors: Mapping[str, VisualPromptAttnProcessor]):
        super().__init__()
        self.projector = projector
        self.layers = nn.ModuleDict({_key(n): p for n, p in processors.items()})

    def save(self, path: str) -> None:
        from safetensors.torch import save_file

        save_file({k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}, path,
                  metadata={"format": "emotion-director-visual-prompt-adapter"})


def _key(name: str) -> str:
    return name.removesuffix(".processor").replace(".", "__")


class VisualPromptMixin:
    """``load_visual_prompt`` / ``set_visual_prompt_scale`` / ``unload_visual_prompt`` for a
    pipeline-like object with a ``unet`` attribute, in the manner of diffusers' IP-Adapter API.
    """

    unet: Any

    def load_visual_prompt(
        self,
        bank: Any,
        projector: nn.Module | None = None,
        adapter_weights: str | Mapping[str, torch.Tensor] | None = None,
        scale: float = 1.0,
    ) -> VisualPromptAdapter:
        """Install visual-prompt processors on every cross-attention layer.

        Args:
            bank (`VisualPromptBank`): the per-emotion tokens.
            projector (`nn.Module`, *optional*): maps bank tokens to the UNet's cross-attention
                width; a new :class:`VisualPromptProjector` when omitted.
            adapter_weights (`str` or state dict, *optional*): trained projector + K/V weights
                (a ``.safetensors`` file saved by :meth:`VisualPromptAdapter.save`). Without them the
                visual K/V start as copies of each layer's text ``to_k``/``to_v``.
            scale (`float`, *optional*, defaults to 1.0): weight of the visual branch.
        """
        from emotion_director.diffusion.projector import VisualPromptProjector

        if getattr(self, "_vp_original", None):
            self.unload_visual_prompt()
        cross_dim = self.unet.config.cross_attention_dim
        cross_dim = cross_dim[0] if isinstance(cross_dim, (list, tuple)) else cross_dim
        projector = projector or VisualPromptProjector(bank.dim, cross_dim)
        bank.check_compatible(dim=projector.in_dim)
        context = VisualPromptContext()
        original = dict(self.unet.attn_processors)
        layers = cross_attention_layers(self.unet)
        processors: dict[str, Any] = {}
        new: dict[str, Any] = dict(original)
        for name, attn in layers.items():
            proc = VisualPromptAttnProcessor(
                attn.to_q.out_features, attn.to_k.in_features, context, original[name], scale
            )
            if attn.to_k.in_features == cross_dim:
                with torch.no_grad():
                    proc.to_k_vp.weight.copy_(attn.to_k.weight)
                    proc.to_v_vp.weight.copy_(attn.to_v.weight)
            proc.to(device=attn.to_q.weight.device, dtype=attn.to_q.weight.dtype)
            processors[name] = new[name] = proc
        adapter = VisualPromptAdapter(projector, processors)
        if adapter_weights is not None:
            _load_adapter_weights(adapter, adapter_weights)
        adapter.projector.to(self.unet.device)
        self.unet.set_attn_processor(new)
        self._vp_original = original
        self.visual_prompt_context = context
        self.visual_prompt_adapter = adapter
        self.visual_prompt_bank = bank
        return adapter

    def set_visual_prompt_scale(self, scale: float) -> None:
        """Weight of the visual branch on every layer (0 turns it off exactly)."""
        for proc in self._visual_prompt_processors():
            proc.scale = float(scale)

    def unload_visual_prompt(self) -> None:
        """Restore the UNet's original processors."""
        original = getattr(self, "_vp_original", None)
        if original:
            self.unet.set_attn_processor(original)
        self._vp_original = None
        self.visual_prompt_adapter = None

    def _visual_prompt_processors(self) -> list[VisualPromptAttnProcessor]:
        adapter = getattr(self, "visual_prompt_adapter", None)
        if adapter is None:
            raise EmotionDirectorError("no visual prompt loaded: call load_visual_prompt(bank) first.")
        return list(adapter.layers.values())


def _load_adapter_weights(
    adapter: VisualPromptAdapter, weights: str | Mapping[str, torch.Tensor]
) -> None:
    from safetensors.torch import load_file

    from emotion_director.diffusion.bank import BankError

    state = load_file(weights) if isinstance(weights, str) else dict(weights)
    try:
        adapter.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise BankError(
            f"adapter weights do not fit this UNet/projector: {str(exc).splitlines()[0]} — use "
            "the weights trained for this base model and bank."
        ) from None
