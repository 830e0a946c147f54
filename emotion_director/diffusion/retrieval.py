r"""Semantics-adaptive retrieval of an emotion's visual prompt.

For emotion :math:`e` with tokens :math:`v_1..v_L` and text keys :math:`k_1..k_L`, and the prompt's
text embedding :math:`t`:

.. math::

    a_i = \frac{\cos(t, k_i)}{\tau}, \qquad
    w = \operatorname{softmax}(a) \;(\text{over the top-}k\text{ tokens if } k \text{ is set})

where :math:`S` is the set of kept tokens (all L, or the top-k by affinity). The weights act where
they change attention: every visual-attention softmax becomes
:math:`\operatorname{softmax}(q k_i^\top/\sqrt{d} + \log w_i)` (and the projector's self-attention
gets the same key bias), so a token with :math:`w_i \approx 0` has no influence on the image, and
uniform weights give back plain attention over the bank's tokens. The temperature :math:`\tau`
moves smoothly from "same visual prompt for every prompt" (large :math:`\tau`) to "only the tokens
that match this scene" (small :math:`\tau`). "a storm at sea" and "a newborn" under awe therefore
get different visual prompts.

Example:
    >>> import torch
    >>> from emotion_director.diffusion.bank import VisualPromptBank
    >>> bank = VisualPromptBank.random(num_tokens=4, dim=8, text_dim=6)
    >>> out = retrieve_visual_prompt(bank, "awe", torch.randn(6), temperature=0.1, top_k=2)
    >>> out.tokens.shape, out.weights.shape
    (torch.Size([2, 8]), torch.Size([2]))
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from emotion_director.diffusion.bank import BankError, VisualPromptBank
from emotion_director.emotions import Emotion


@dataclass
class RetrievedVisualPrompt:
    tokens: torch.Tensor  # [|S|, d], as stored in the bank (weights act in attention)
    weights: torch.Tensor  # [|S|]
    indices: torch.Tensor  # [|S|] positions in the bank
    emotion: str


# A transformers tokenizer sets padding and truncation on its shared Rust backend before each
# encode, so two threads asking for different padding (diffusers' ``encode_prompt`` pads to
# ``max_length`` and also tokenizes with ``padding="longest"`` to detect truncation) can get each
# other's: a prompt encoded to 5 tokens instead of 77 changes the image. Every tokenizer call made
# for a generation holds this lock (tokenizing takes microseconds; denoising stays concurrent).
TOKENIZER_LOCK = threading.RLock()


class LockedTokenizer:
    """A tokenizer whose calls hold :data:`TOKENIZER_LOCK`; attributes pass through."""

    def __init__(self, tokenizer: Any) -> None:
        object.__setattr__(self, "_tokenizer", tokenizer)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with TOKENIZER_LOCK:
            return self._tokenizer(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._tokenizer, name)
        if not callable(value):
            return value

        def locked(*args: Any, **kwargs: Any) -> Any:
            with TOKENIZER_LOCK:
                return value(*args, **kwargs)

        return locked

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._tokenizer, name, value)

    def __repr__(self) -> str:
        return f"LockedTokenizer({self._tokenizer!r})"


def locked_tokenizer(tokenizer: Any) -> Any:
    """``tokenizer`` wrapped in :class:`LockedTokenizer` (``None`` and wrapped ones unchanged)."""
    if tokenizer is None or isinstance(tokenizer, LockedTokenizer):
        return tokenizer
    return LockedTokenizer(tokenizer)


def pooled_text_embedding(output: object) -> torch.Tensor:
    """A CLIP text model's sentence embedding: projected ``text_embeds`` when the model has a
    projection, else ``pooler_output`` (the bank's text keys live in the same space)."""
    projected = getattr(output, "text_embeds", None)
    return projected if projected is not None else output.pooler_output  # type: ignore[attr-defined]


def embed_texts_for_retrieval(tokenizer: Any, text_encoder: Any, texts: list[str]) -> torch.Tensor:
    """The retrieval query of each text, ``[N, d_t]`` (float32, CPU).

    The one function behind both the bank's text keys (``bank init``) and the pipeline's query at
    generation time: the pipeline's own first tokenizer and text encoder, padded to
    ``model_max_length`` as the pipeline pads, pooled by :func:`pooled_text_embedding`.
    """
    with TOKENIZER_LOCK:
        ids = tokenizer(
            list(texts),
            padding="max_length",
            truncation=True,
            max_length=tokenizer.model_max_length,
            return_tensors="pt",
        ).input_ids
    device = next(text_encoder.parameters()).device
    with torch.no_grad():
        return pooled_text_embedding(text_encoder(ids.to(device))).float().cpu()


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
        temperature (`float`, *optional*, defaults to 0.1): softmax temperature (> 0; a
            temperature of 0 is refused rather than silently replaced).
        top_k (`int`, *optional*): keep only the k most affine tokens.
    """
    check_temperature(temperature)
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
    return RetrievedVisualPrompt(tokens[indices], weights, indices, name)


def check_temperature(temperature: float | None) -> None:
    """``None`` (retrieval off) or a positive number; anything else is a user error."""
    if temperature is not None and not temperature > 0:
        raise BankError(
            f"retrieval temperature must be > 0 (or None to turn retrieval off), got {temperature}."
        )
