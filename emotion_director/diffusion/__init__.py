"""MC-Diffusion: a learned per-emotion visual prompt injected into a diffusers UNet.

Needs the ``[diffusion]`` extra (torch, diffusers, transformers, safetensors). Importing this
package is cheap; torch is imported when one of the names below is first used.

Example:
    >>> from emotion_director.diffusion import VisualPromptBank
    >>> bank = VisualPromptBank.random(num_tokens=4, dim=16, text_dim=32)
    >>> bank.emotions[0], tuple(bank.for_emotion("awe")[0].shape)
    ('amusement', (4, 16))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # what type checkers see; at run time ``__getattr__`` imports each name on first use
    from emotion_director.diffusion.attention import VisualPromptAttnProcessor, VisualPromptMixin
    from emotion_director.diffusion.bank import VisualPromptBank
    from emotion_director.diffusion.bank_init import init_bank, kmeans
    from emotion_director.diffusion.generator import ImageGenerator, make_generate_image_tool
    from emotion_director.diffusion.pipeline import MCDiffusionPipeline
    from emotion_director.diffusion.projector import VisualPromptProjector
    from emotion_director.diffusion.retrieval import retrieve_visual_prompt

_EXPORTS = {
    "VisualPromptBank": "emotion_director.diffusion.bank",
    "retrieve_visual_prompt": "emotion_director.diffusion.retrieval",
    "VisualPromptProjector": "emotion_director.diffusion.projector",
    "PaperVisualPromptProjector": "emotion_director.diffusion.projector",
    "get_preset": "emotion_director.diffusion.presets",
    "VisualPromptAttnProcessor": "emotion_director.diffusion.attention",
    "VisualPromptMixin": "emotion_director.diffusion.attention",
    "MCDiffusionPipeline": "emotion_director.diffusion.pipeline",
    "ImageGenerator": "emotion_director.diffusion.generator",
    "make_generate_image_tool": "emotion_director.diffusion.generator",
    "init_bank": "emotion_director.diffusion.bank_init",
    "kmeans": "emotion_director.diffusion.bank_init",
}

__all__ = [
    "ImageGenerator",
    "MCDiffusionPipeline",
    "VisualPromptAttnProcessor",
    "VisualPromptBank",
    "VisualPromptMixin",
    "VisualPromptProjector",
    "init_bank",
    "kmeans",
    "make_generate_image_tool",
    "retrieve_visual_prompt",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
