"""``MCDiffusionPipeline``: Stable Diffusion (1.5 or XL) guided by text *and* a visual prompt.

Example:
    >>> from emotion_director.diffusion import MCDiffusionPipeline, VisualPromptBank
    >>> pipe = MCDiffusionPipeline.from_pretrained("path/to/sd15", bank="bank.safetensors")  # doctest: +SKIP
    >>> image = pipe("a dog, curled up asleep", emotion="contentment",
    ...              negative_emotion="anger").images[0]  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emotion_director.diffusion.dependencies import require_diffusion

require_diffusion()

import torch  # noqa: E402

from emotion_director.diffusion.attention import VisualPromptMixin  # noqa: E402
from emotion_director.diffusion.bank import BankError, VisualPromptBank  # noqa: E402
from emotion_director.diffusion.retrieval import (  # noqa: E402
    RetrievedVisualPrompt,
    pooled_text_embedding,
    retrieve_visual_prompt,
)
from emotion_director.emotions import Emotion  # noqa: E402
from emotion_director.errors import EmotionDirectorError  # noqa: E402


class MCDiffusionPipeline(VisualPromptMixin):
    """Wraps a ``StableDiffusionPipeline`` or ``StableDiffusionXLPipeline`` and adds the visual prompt.

    Args:
        pipeline: the base diffusers pipeline (its own ``__call__`` does the denoising).
        bank (`VisualPromptBank`, *optional*): per-emotion visual tokens; load later with
            :meth:`load_visual_prompt`.
        adapter_weights (`str`, *optional*): trained projector + visual K/V (safetensors).
        visual_prompt_scale (`float`, *optional*, defaults to 1.0): weight of the visual branch.
        retrieval_temperature (`float`, *optional*, defaults to 0.1) and retrieval_top_k
            (`int`, *optional*): see :func:`retrieve_visual_prompt`. ``retrieval_temperature=None``
            turns semantics-adaptive retrieval off (every prompt gets the emotion's tokens as
            they are), which also allows a bank built with another text encoder.
    """

    def __init__(
        self,
        pipeline: Any,
        bank: VisualPromptBank | None = None,
        adapter_weights: str | None = None,
        visual_prompt_scale: float = 1.0,
        retrieval_temperature: float | None = 0.1,
        retrieval_top_k: int | None = None,
    ) -> None:
        kind = type(pipeline).__name__
        if not hasattr(pipeline, "unet") or not hasattr(pipeline, "text_encoder"):
            raise EmotionDirectorError(
                f"{kind} is not a Stable Diffusion pipeline: MC-Diffusion needs a UNet and a CLIP "
                "text encoder (SD 1.5 or SDXL)."
            )
        self.pipeline = pipeline
        self.retrieval_temperature = retrieval_temperature
        self.retrieval_top_k = retrieval_top_k
        self.last_retrieval: dict[str, RetrievedVisualPrompt] = {}
        if bank is not None:
            self.load_visual_prompt(bank, adapter_weights=adapter_weights,
                                    scale=visual_prompt_scale)

    def load_visual_prompt(self, bank: Any, *args: Any, **kwargs: Any) -> Any:
        """As :meth:`VisualPromptMixin.load_visual_prompt`, checking the bank fits this pipeline."""
        if self.retrieval_temperature is not None and bank.text_dim != self._text_dim():
            raise BankError(
                f"the bank's text keys are {bank.text_dim}-d but this pipeline's text encoder "
                f"gives {self._text_dim()}-d embeddings: build the bank with the pipeline's text "
                "encoder (bank init --text-encoder <model folder>/text_encoder), or pass "
                "retrieval_temperature=None to turn retrieval off."
            )
        return super().load_visual_prompt(bank, *args, **kwargs)

    @property
    def unet(self) -> Any:
        return self.pipeline.unet

    @property
    def is_sdxl(self) -> bool:
        return hasattr(self.pipeline, "text_encoder_2")

    @classmethod
    def from_pretrained(
        cls,
        model: str | Path,
        *,
        bank: str | Path | VisualPromptBank | None = None,
        adapter_weights: str | None = None,
        lora_weights: str | None = None,
        device: str = "cpu",
        torch_dtype: torch.dtype | None = None,
        **kwargs: Any,
    ) -> MCDiffusionPipeline:
        """Load a diffusers SD 1.5 / SDXL pipeline (local folder or hub id), a bank file and,
        optionally, UNet LoRA weights written by ``train dpo`` (``lora.safetensors``)."""
        from diffusers import DiffusionPipeline
        from diffusers.utils import logging as diffusers_logging
        from transformers.utils import logging as transformers_logging

        diffusers_logging.disable_progress_bar()  # one clean line per result on the CLI
        transformers_logging.disable_progress_bar()
        try:
            base = DiffusionPipeline.from_pretrained(str(model), torch_dtype=torch_dtype)
        except (OSError, ValueError, EnvironmentError) as exc:
            raise EmotionDirectorError(
                f"cannot load diffusion model '{model}': {str(exc).splitlines()[0][:200]}. Pass a "
                "local diffusers folder (model_index.json) or a hub id available offline."
            ) from None
        base.set_progress_bar_config(disable=True)
        if lora_weights:
            load_unet_lora(base.unet, lora_weights)
        base = base.to(device)
        if isinstance(bank, (str, Path)):
            bank = VisualPromptBank.load(bank)
        return cls(base, bank=bank, adapter_weights=adapter_weights, **kwargs)

    def embed_text_for_retrieval(self, prompt: str) -> torch.Tensor:
        """The prompt's pooled CLIP text embedding (the space the bank's text keys live in)."""
        tokenizer, encoder = self.pipeline.tokenizer, self.pipeline.text_encoder
        ids = tokenizer(prompt, padding="max_length", truncation=True,
                        max_length=tokenizer.model_max_length, return_tensors="pt").input_ids
        with torch.no_grad():
            return pooled_text_embedding(encoder(ids.to(encoder.device)))[0].float().cpu()

    def visual_tokens(
        self, prompt: str, emotion: Emotion | str, text_embedding: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Retrieve and project one emotion's visual prompt for ``prompt``: ``[1, |S|, D]``."""
        bank = self._bank()
        if self.retrieval_temperature is None:
            text_embedding = None
        elif text_embedding is None:
            text_embedding = self.embed_text_for_retrieval(prompt)
        retrieved = retrieve_visual_prompt(
            bank, emotion, text_embedding, temperature=self.retrieval_temperature or 1.0,
            top_k=self.retrieval_top_k,
        )
        self.last_retrieval[retrieved.emotion] = retrieved
        projector = self.visual_prompt_adapter.projector
        param = next(projector.parameters())
        with torch.no_grad():
            return projector(retrieved.tokens.unsqueeze(0).to(param.device, param.dtype))

    def __call__(
        self,
        prompt: str,
        emotion: Emotion | str,
        negative_emotion: Emotion | str | None = None,
        visual_prompt_scale: float | None = None,
        num_images_per_prompt: int = 1,
        **kwargs: Any,
    ) -> Any:
        """Generate with the text prompt and the emotion's visual prompt.

        Args:
            prompt (`str`): the text prompt (e.g. MC-Agent's ``final_prompt``).
            emotion (`Emotion` or `str`): whose visual tokens guide the conditional branch.
            negative_emotion (`Emotion` or `str`, *optional*): whose tokens guide the
                unconditional branch of classifier-free guidance, pushing the image away from
                that emotion; ``None`` leaves that branch without a visual prompt.
            visual_prompt_scale (`float`, *optional*): overrides the loaded scale for this call.
            **kwargs: passed to the base pipeline (``negative_prompt``, ``num_inference_steps``,
                ``guidance_scale``, ``generator``, ``height``, ``width``, ...).
        """
        if not isinstance(prompt, str):
            raise EmotionDirectorError("MCDiffusionPipeline takes one prompt string per call.")
        self._bank()
        previous = self._scale()
        if visual_prompt_scale is not None:
            self.set_visual_prompt_scale(visual_prompt_scale)
        text_embedding = (
            self.embed_text_for_retrieval(prompt) if self.retrieval_temperature is not None
            else None
        )
        cond = self.visual_tokens(prompt, emotion, text_embedding)
        uncond = (
            self.visual_tokens(prompt, negative_emotion, text_embedding)
            if negative_emotion is not None else None
        )
        n = num_images_per_prompt
        self.visual_prompt_context.set(
            cond.expand(n, -1, -1), None if uncond is None else uncond.expand(n, -1, -1)
        )
        try:
            return self.pipeline(prompt=prompt, num_images_per_prompt=n, **kwargs)
        finally:
            self.visual_prompt_context.clear()
            self.set_visual_prompt_scale(previous)

    def _bank(self) -> VisualPromptBank:
        bank = getattr(self, "visual_prompt_bank", None)
        if bank is None or getattr(self, "visual_prompt_adapter", None) is None:
            raise BankError("no visual prompt bank loaded: pass bank=... or call load_visual_prompt().")
        return bank

    def _scale(self) -> float:
        return next(iter(self.visual_prompt_adapter.layers.values())).scale

    def _text_dim(self) -> int:
        config = self.pipeline.text_encoder.config
        return getattr(config, "projection_dim", None) if hasattr(
            self.pipeline.text_encoder, "text_projection") else config.hidden_size


def load_unet_lora(unet: Any, path: str) -> None:
    """Add and load the UNet LoRA written by ``train dpo`` (needs peft)."""
    import json as _json

    from safetensors import safe_open
    from safetensors.torch import load_file

    try:
        from peft import LoraConfig
        from peft.utils import set_peft_model_state_dict
    except ImportError:
        raise EmotionDirectorError("LoRA weights need peft: pip install peft") from None
    try:
        with safe_open(path, framework="pt") as handle:
            meta = handle.metadata() or {}
        state = load_file(path)
    except Exception as exc:
        raise BankError(f"{path}: not a readable LoRA file ({str(exc)[:120]}).") from None
    if meta.get("format") != "emotion-director-unet-lora":
        raise BankError(f"{path}: not a LoRA file written by `emotion-director train dpo`.")
    unet.add_adapter(LoraConfig(r=int(meta["rank"]), lora_alpha=float(meta["alpha"]),
                                target_modules=_json.loads(meta["targets"])))
    result = set_peft_model_state_dict(unet, state)
    if getattr(result, "unexpected_keys", None):
        raise BankError(f"{path}: LoRA does not fit this UNet ({result.unexpected_keys[:2]}).")
