r"""Semantics-adaptive retrieval of an emotion's visual prompt.

For emotion :math:`e` with tokens :math:`v_1..v_L` and text keys :math:`k_1..k_L`, and the prompt's
text embedding :math:`t`:

.. math::

    a_i = \frac{\cos(t, k_i)}{\tau}, \qquad
    w = \operatorname{softmax}(a) \;(\text{over the top-}k\text{ tokens if } k \text{ is set}), \qquad
    \tilde v_i = |S| \, w_i \, v_i \quad (i \in S)

where :math:`S` is the set of kept tokens (all L, or the top-k by affinity). Uniform weights give
back the bank's tokens exactly (:math:`|S| w_i = 1`), so the temperature :math:`\tau` moves
smoothly from "same visual prompt for every prompt" (large :math:`\tau`) to "only the tokens
that match this scene" (small :math:`\tau`). "a storm at sea" and "a newborn" under awe
therefore get different visual prompts.

Example:
    >>> import torch
    >>> from emotion_director.diffusion.bank import VisualPromptBank
    >>> bank = VisualPromptBank.random(num_tokens=4, dim=8, text_dim=6)
    >>> out = retrieve_visual_prompt(bank, "awe", torch.randn(6), temperature=0.1, top_k=2)
    >>> out.tokens.shape, out.weights.shape
    (torch.Size([2, 8]), torch.Size([2]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from emotion_director.diffusion.bank import BankError, VisualPromptBank
from emotion_director.emotions import Emotion


@dataclass
class RetrievedVisualPrompt:
    tokens: torch.Tensor  # [|S|, d]
    weights: torch.Tensor  # [|S|]
    indices: torch.Tensor  # [|S|] positions in the bank
    emotion: str


def pooled_text_embedding(output: object) -> torch.Tensor:
    """A CLIP text model's sentence embedding: projected ``text_embeds`` when the model has a
    projection, else ``pooler_output`` (the bank's text keys live in the same space)."""
    projected = getattr(output, "text_embeds", None)
    return projected if projected is not None else output.pooler_output  # type: ignore[attr-defined]


def adaptive_weights(keys: torch.Tensor, text: torch.Tensor, temperature: float) -> torch.Tensor:
    """``softmax(cos(t, k_i) / tau)`` over the last-but-one dim; batched: keys ``[..., L, d_t]``,
    text ``[..., d_t]`` -> ``[..., L]``."""
    return (F.cosine_similarity(keys, text.unsqueeze(-2), dim=-1) / temperature).softmax(dim=-1)


def retrieve_visual_prompt(
    bank: VisualPromptBank,
    emotion: Emotion | str,
    text_embedding: torch.Tensor | None,
    *,
    temperature: float = 0.1,
    top_k: int | None = None,
) -> RetrievedVisualPrompt:
    """Weight an emotion's tokens by their affinity to the prompt (formula in the module doc).

    Args:
        bank (`VisualPromptBank`): the bank.
        emotion (`Emotion` or `str`): target emotion.
        text_embedding (`torch.Tensor` of shape `[d_t]`, *optional*): the prompt's embedding in the
            bank's text space; ``None`` returns the emotion's tokens unweighted.
        temperature (`float`, *optional*, defaults to 0.1): softmax temperature (> 0).
        top_k (`int`, *optional*): keep only the k most affine tokens.
    """
    if temperature <= 0:
        raise BankError(f"retrieval temperature must be > 0, got {temperature}.")
    tokens, keys = bank.for_emotion(emotion)
    name = bank.emotions[bank.index(emotion)]
    if text_embedding is None:
        n = tokens.shape[0]
        return RetrievedVisualPrompt(tokens, torch.full((n,), 1.0 / n), torch.arange(n), name)
    text = text_embedding.reshape(-1).to(keys.dtype)
    if text.shape[0] != keys.shape[-1]:
        raise BankError(
            f"prompt embedding has size {text.shape[0]} but the bank's text keys have "
            f"{keys.shape[-1]}: embed the prompt with the encoder the bank was built with."
        )
    affinity = F.cosine_similarity(keys, text.unsqueeze(0), dim=-1) / temperature
    indices = torch.arange(tokens.shape[0])
    if top_k is not None:
        if not 1 <= top_k <= tokens.shape[0]:
            raise BankError(f"top_k must be in [1, {tokens.shape[0]}], got {top_k}.")
        affinity, indices = affinity.topk(top_k)
        indices, order = indices.sort()
        affinity = affinity[order]
    weights = affinity.softmax(dim=0)
    weighted = tokens[indices] * (weights * len(indices)).unsqueeze(-1).to(tokens.dtype)
    return RetrievedVisualPrompt(weighted, weights, indices, name)
