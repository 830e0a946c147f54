"""Projector: bank tokens -> the UNet's cross-attention width (trainable).

An MLP followed by one pre-norm self-attention block, so tokens can exchange information before
they are attended to, and a final LayerNorm (as IP-Adapter's image projection does).
"""

from __future__ import annotations

import torch
from torch import nn


class VisualPromptProjector(nn.Module):
    """Map ``[B, L, in_dim]`` bank tokens to ``[B, L, cross_attention_dim]``.

    Args:
        in_dim (`int`): bank token size ``d``.
        cross_attention_dim (`int`): the UNet's ``cross_attention_dim`` (768 for SD 1.5, 2048 for
            SDXL).
        hidden_dim (`int`, *optional*): MLP width; defaults to ``max(in_dim, cross_attention_dim)``.
        num_heads (`int`, *optional*, defaults to 8): heads of the self-attention block (reduced to
            a divisor of ``cross_attention_dim`` when needed).
    """

    def __init__(
        self,
        in_dim: int,
        cross_attention_dim: int,
        hidden_dim: int | None = None,
        num_heads: int = 8,
    ) -> None:
        super().__init__()
        hidden_dim = hidden_dim or max(in_dim, cross_attention_dim)
        while cross_attention_dim % num_heads:
            num_heads -= 1
        self.in_dim = in_dim
        self.cross_attention_dim = cross_attention_dim
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, cross_attention_dim)
        )
        self.norm_attn = nn.LayerNorm(cross_attention_dim)
        self.attn = nn.MultiheadAttention(cross_attention_dim, num_heads, batch_first=True)
        self.norm_out = nn.LayerNorm(cross_attention_dim)

    def forward(
        self, tokens: torch.Tensor, log_weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Project ``[B, L, in_dim]`` tokens; ``log_weights`` ``[B, L]`` (log retrieval weights)
        bias the self-attention keys, so a token with weight ~0 cannot leak into the others."""
        x = self.mlp(tokens)
        h = self.norm_attn(x)
        mask = None
        if log_weights is not None:
            b, n = log_weights.shape
            mask = log_weights.to(h.dtype)[:, None, :].expand(b, n, n)
            mask = mask.repeat_interleave(self.attn.num_heads, dim=0)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return self.norm_out(x)
