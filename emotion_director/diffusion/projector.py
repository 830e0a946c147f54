"""Projectors: bank tokens -> the UNet's cross-attention width (trainable).

Two layouts, named in the files they are saved in (see :mod:`~emotion_director.diffusion.presets`):

* ``mlp-attn-norm`` (:class:`VisualPromptProjector`, the default): an MLP, one pre-norm
  self-attention block with a residual (``x + Attn(LN(x))``), so tokens can exchange information
  before they are attended to, and a final LayerNorm (as IP-Adapter's image projection does);
* ``mlp-norm-attn`` (:class:`PaperVisualPromptProjector`, the paper preset): an MLP, a LayerNorm,
  then self-attention over the normalised tokens with a residual (``x + Attn(x)``, ``x =
  LN(MLP(tokens))``), the order of Emotion-Director's description; no final norm.

Both take the retrieval weights as a log bias on the self-attention keys, so a token of weight 0
cannot leak into the others.

Example:
    >>> import torch
    >>> proj = make_projector("mlp-norm-attn", in_dim=56, cross_attention_dim=32)
    >>> tuple(proj(torch.randn(2, 4, 56)).shape), proj.kind
    ((2, 4, 32), 'mlp-norm-attn')
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def _heads(width: int, num_heads: int) -> int:
    """``num_heads`` reduced to a divisor of ``width``."""
    while width % num_heads:
        num_heads -= 1
    return num_heads


def _attention_mask(log_weights: torch.Tensor | None, heads: int, dtype: Any) -> Any:
    """``[B, L]`` log retrieval weights -> the ``[B * heads, L, L]`` key bias of
    ``nn.MultiheadAttention``."""
    if log_weights is None:
        return None
    b, n = log_weights.shape
    mask = log_weights.to(dtype)[:, None, :].expand(b, n, n)
    return mask.repeat_interleave(heads, dim=0)


class _TokenProjector(nn.Module):
    """What both layouts share: the MLP to the UNet's width, one self-attention block over the
    tokens, and the retrieval weights as a log bias on its keys. Subclasses add their norms,
    before the attention and after it (the MLP is built first and the attention second in both,
    so a seeded init draws the same weights, and the parameters are registered in the order they
    run)."""

    kind = ""

    def __init__(
        self,
        in_dim: int,
        cross_attention_dim: int,
        hidden_dim: int | None = None,
        num_heads: int = 8,
    ) -> None:
        super().__init__()
        hidden_dim = hidden_dim or max(in_dim, cross_attention_dim)
        self.in_dim = in_dim
        self.cross_attention_dim = cross_attention_dim
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, cross_attention_dim)
        )
        self._add_norms(cross_attention_dim)  # the norms applied before the attention
        self.attn = nn.MultiheadAttention(
            cross_attention_dim, _heads(cross_attention_dim, num_heads), batch_first=True
        )
        self._add_output_norms(cross_attention_dim)

    def _add_norms(self, width: int) -> None:
        raise NotImplementedError

    def _add_output_norms(self, width: int) -> None:
        """The norms applied after the attention (none unless a layout has them)."""

    def _attend(self, x: torch.Tensor, log_weights: torch.Tensor | None) -> torch.Tensor:
        """Self-attention of ``x`` over itself, keys biased by ``log_weights``."""
        mask = _attention_mask(log_weights, self.attn.num_heads, x.dtype)
        return self.attn(x, x, x, attn_mask=mask, need_weights=False)[0]


class VisualPromptProjector(_TokenProjector):
    """Map ``[B, L, in_dim]`` bank tokens to ``[B, L, cross_attention_dim]`` (``mlp-attn-norm``).

    Args:
        in_dim (`int`): bank token size ``d``.
        cross_attention_dim (`int`): the UNet's ``cross_attention_dim`` (768 for SD 1.5, 2048 for
            SDXL).
        hidden_dim (`int`, *optional*): MLP width; defaults to ``max(in_dim, cross_attention_dim)``.
        num_heads (`int`, *optional*, defaults to 8): heads of the self-attention block (reduced to
            a divisor of ``cross_attention_dim`` when needed).
    """

    kind = "mlp-attn-norm"

    def _add_norms(self, width: int) -> None:
        self.norm_attn = nn.LayerNorm(width)

    def _add_output_norms(self, width: int) -> None:
        self.norm_out = nn.LayerNorm(width)  # after the attention, as it runs

    def forward(
        self, tokens: torch.Tensor, log_weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Project ``[B, L, in_dim]`` tokens; ``log_weights`` ``[B, L]`` (log retrieval weights)
        bias the self-attention keys, so a token with weight ~0 cannot leak into the others."""
        x = self.mlp(tokens)
        x = x + self._attend(self.norm_attn(x), log_weights)
        return self.norm_out(x)


class PaperVisualPromptProjector(_TokenProjector):
    """The paper preset's projector (``mlp-norm-attn``): MLP, LayerNorm, self-attention.

    ``x = LN(MLP(tokens))``, then ``x + Attn(x, x, x)``. Same arguments and call as
    :class:`VisualPromptProjector`; its parameters have other names (``norm``, not
    ``norm_attn`` / ``norm_out``), so weights of one never load silently into the other.
    """

    kind = "mlp-norm-attn"

    def _add_norms(self, width: int) -> None:
        self.norm = nn.LayerNorm(width)

    def forward(
        self, tokens: torch.Tensor, log_weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Project ``[B, L, in_dim]`` tokens; ``log_weights`` as in
        :meth:`VisualPromptProjector.forward`."""
        x = self.norm(self.mlp(tokens))
        return x + self._attend(x, log_weights)


PROJECTORS: dict[str, type[nn.Module]] = {
    "mlp-attn-norm": VisualPromptProjector,
    "mlp-norm-attn": PaperVisualPromptProjector,
}


def make_projector(kind: str, in_dim: int, cross_attention_dim: int) -> nn.Module:
    """A new projector of layout ``kind`` (a key of :data:`PROJECTORS`)."""
    from emotion_director.errors import SettingsError

    if kind not in PROJECTORS:
        raise SettingsError(f"unknown projector {kind!r}: use one of {', '.join(PROJECTORS)}.")
    return PROJECTORS[kind](in_dim, cross_attention_dim)


def projector_kind_of_state(state: Any) -> str | None:
    """The layout an adapter state dict was saved from, read from its parameter names (``None``
    when it holds no projector weights)."""
    names = {k.split(".")[1] for k in state if k.startswith("projector.") and k.count(".") > 1}
    if "norm_out" in names:
        return "mlp-attn-norm"
    if "norm" in names:
        return "mlp-norm-attn"
    return None
