"""``MCDiffusionPipeline``: Stable Diffusion (1.5 or XL) guided by text *and* a visual prompt.

It wraps a diffusers ``StableDiffusionPipeline`` / ``StableDiffusionXLPipeline`` and feels like
one: ``from_pretrained``, ``.to()``, ``enable_model_cpu_offload()``, batched prompts,
``load_visual_prompt`` / ``set_visual_prompt_scale`` / ``unload_visual_prompt`` (the IP-Adapter
API's shape). The visual prompt of each call travels through the base pipeline's
``ip_adapter_image_embeds`` argument into the UNet call, so calls from several threads are safe.

Example (a tiny random SD 1.5 in the real folder layout stands in for a download):
    >>> import tempfile
    >>> from pathlib import Path
    >>> from emotion_director.diffusion import MCDiffusionPipeline, VisualPromptBank
    >>> from emotion_director.diffusion.tiny import write_tiny_pipeline
    >>> workdir = tempfile.TemporaryDirectory()
    >>> sd15 = write_tiny_pipeline(Path(workdir.name) / "sd15")
    >>> bank = VisualPromptBank.random(4, 16, 32).save(Path(workdir.name) / "bank.safetensors")
    >>> pipe = MCDiffusionPipeline.from_pretrained(sd15, bank=bank)
    >>> image = pipe("a dog, curled up asleep", emotion="contentment", negative_emotion="anger",
    ...              num_inference_steps=2, height=32, width=32).images[0]
    >>> image.size
    (32, 32)
    >>> workdir.cleanup()
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, cast

from emotion_director.diffusion.dependencies import require_diffusion

require_diffusion()

import torch  # noqa: E402

from emotion_director.diffusion.attention import (  # noqa: E402
    VisualPromptAttnProcessor,
    VisualPromptMixin,
    layer_scales_tensor,
    pack_visual_prompt,
)
from emotion_director.diffusion.bank import VisualPromptBank  # noqa: E402
from emotion_director.diffusion.retrieval import (  # noqa: E402
    RetrievedVisualPrompt,
    check_temperature,
    embed_texts_for_retrieval,
    retrieve_visual_prompt,
)
from emotion_director.emotions import Emotion  # noqa: E402
from emotion_director.errors import (  # noqa: E402
    AdapterError,
    BankError,
    DataFileError,
    UserInputError,
)

DEFAULT_TEMPERATURE = 0.1
_UNSET: Any = object()


def model_source_problem(model: str) -> str | None:
    """What is wrong with ``model`` as a pipeline to load, where the path alone tells: a file
    (a single checkpoint), a folder that is no diffusers pipeline, or a local path that does not
    exist; ``None`` where it may load (a pipeline folder, or what may be a hub id)."""
    if not model.strip():
        return "no model given: pass a local diffusers folder (model_index.json) or a hub id."
    path = Path(model).expanduser()
    try:
        is_file, is_dir = path.is_file(), path.is_dir()
    except OSError as exc:  # a name too long for the file system, a path it cannot read
        return f"{model[:120]}: {exc.strerror or exc}. Pass a local diffusers folder."
    if is_file:
        return (
            f"{model} is a file, not a diffusers pipeline folder: pass the folder that holds "
            "model_index.json (a single checkpoint converts with diffusers' "
            "StableDiffusionPipeline.from_single_file(FILE).save_pretrained(FOLDER))."
        )
    if is_dir:
        if not (path / "model_index.json").is_file():
            return (
                f"{model} holds no model_index.json: pass a diffusers pipeline folder (the "
                "layout save_pretrained writes, with unet/, vae/, text_encoder/, tokenizer/)."
            )
        return None
    if not _HUB_ID.fullmatch(model) or Path(model.split("/")[0]).expanduser().is_dir():
        # no hub id ("~/models/sd", "C:\\sd15", "My Models/sd 15", "a/b/c"), or a relative
        # path whose first folder is here
        return f"{model}: no such folder. Pass a local diffusers folder (model_index.json)."
    return None


#: What a Hugging Face Hub id can be: NAME or OWNER/NAME, letters, digits, "-", "_", ".".
_HUB_ID = re.compile(r"(?:[A-Za-z0-9][\w.-]{0,95}/)?[A-Za-z0-9][\w.-]{0,95}")


def _why(exc: BaseException, model: str) -> str:
    """A loading failure in one line: the hub's offline and not-found cases said plainly."""
    text = " ".join(str(exc).split())
    if (
        "outgoing traffic has been disabled" in text
        or "not fully cached" in text
        or ("cached snapshot" in text)
    ):
        return (
            "it is not a local folder and not in the Hugging Face cache, and this machine "
            "cannot download it (offline or HF_HUB_OFFLINE=1): download it where there is a "
            f"network (huggingface-cli download {model}) or pass a local diffusers folder."
        )
    if "is not a valid model identifier" in text or "Repository Not Found" in text:
        return "no such model on the Hugging Face Hub: check the id, or pass a local folder."
    cut = text[:300].rsplit(" ", 1)[0] if len(text) > 300 else text
    return (
        f"{cut.rstrip('.')}. Pass a local diffusers folder (model_index.json) or a hub id "
        "available offline."
    )


class MCDiffusionPipeline(VisualPromptMixin):
    """Wraps a ``StableDiffusionPipeline`` or ``StableDiffusionXLPipeline`` and adds the visual
    prompt.

    Args:
        pipeline: the base diffusers pipeline (its own ``__call__`` does the denoising).
        bank (`VisualPromptBank`, `str`, *optional*): per-emotion visual tokens (or a bank file /
            ``train dpo`` output folder); load later with :meth:`load_visual_prompt`.
        adapter_weights (`str`, *optional*): trained projector + visual K/V (safetensors).
        visual_prompt_scale (`float` or `dict`, *optional*, defaults to 1.0): weight of the
            visual branch (per block as in ``set_ip_adapter_scale``).
        retrieval_temperature (`float`, *optional*): softmax temperature of semantics-adaptive
            retrieval; defaults to the temperature the bank was trained with (its metadata), else
            0.1. ``None`` turns retrieval off (every prompt gets the emotion's tokens with uniform
            weights), which also allows a bank built with another text encoder.
        retrieval_top_k (`int`, *optional*): see :func:`retrieve_visual_prompt`.
        preset (`str`, *optional*): a preset's name (``"paper"``, ``"default"``): its projector
            is loaded, and a bank or adapter built with another one is refused. Omitted: the
            projector the adapter / bank files record (see
            :mod:`~emotion_director.diffusion.presets`).
    """

    def __init__(
        self,
        pipeline: Any,
        bank: VisualPromptBank | str | Path | None = None,
        adapter_weights: str | None = None,
        visual_prompt_scale: float | dict = 1.0,
        retrieval_temperature: float | None = _UNSET,
        retrieval_top_k: int | None = None,
        preset: str | None = None,
    ) -> None:
        kind = type(pipeline).__name__
        if not hasattr(pipeline, "unet") or not hasattr(pipeline, "text_encoder"):
            raise UserInputError(
                f"{kind} is not a Stable Diffusion pipeline: MC-Diffusion needs a UNet and a CLIP "
                "text encoder (SD 1.5 or SDXL)."
            )
        if retrieval_temperature is not _UNSET:
            check_temperature(retrieval_temperature)
        self.pipeline = pipeline
        keep_vae_in_float32(pipeline)
        self._temperature = retrieval_temperature
        self.retrieval_top_k = retrieval_top_k
        if bank is not None:
            self.load_visual_prompt(
                bank, adapter_weights=adapter_weights, scale=visual_prompt_scale, preset=preset
            )

    # ----- diffusers look and feel -------------------------------------------------------
    @property
    def unet(self) -> Any:
        return self.pipeline.unet

    @property
    def device(self) -> torch.device:
        return self.pipeline.device

    @property
    def is_sdxl(self) -> bool:
        return hasattr(self.pipeline, "text_encoder_2")

    def to(self, *args: Any, **kwargs: Any) -> MCDiffusionPipeline:
        """Move the base pipeline (the visual-prompt modules live inside its UNet); a cast to
        float16 leaves the VAE in float32 (see :func:`keep_vae_in_float32`)."""
        self.pipeline.to(*args, **kwargs)
        keep_vae_in_float32(self.pipeline)
        return self

    def enable_model_cpu_offload(self, *args: Any, **kwargs: Any) -> None:
        self.pipeline.enable_model_cpu_offload(*args, **kwargs)

    def set_progress_bar_config(self, **kwargs: Any) -> None:
        self.pipeline.set_progress_bar_config(**kwargs)

    def load_lora_weights(self, *args: Any, **kwargs: Any) -> None:
        """diffusers' ``load_lora_weights`` (reads the ``lora.safetensors`` written by
        ``train dpo``)."""
        self.pipeline.load_lora_weights(*args, **kwargs)

    @property
    def retrieval_temperature(self) -> float | None:
        if self._temperature is not _UNSET:
            return self._temperature
        bank = getattr(self, "visual_prompt_bank", None)
        trained = bank.metadata.get("retrieval_temperature", _UNSET) if bank is not None else _UNSET
        return DEFAULT_TEMPERATURE if trained is _UNSET else trained

    @retrieval_temperature.setter
    def retrieval_temperature(self, value: float | None) -> None:
        check_temperature(value)
        self._temperature = value

    def load_visual_prompt(self, bank: Any, *args: Any, **kwargs: Any) -> Any:
        """As :meth:`VisualPromptMixin.load_visual_prompt`, checking the bank fits this pipeline."""
        adapter = super().load_visual_prompt(bank, *args, **kwargs)
        loaded = self.visual_prompt_bank
        if self.retrieval_temperature is not None and loaded.text_dim != self._text_dim():
            self.unload_visual_prompt()
            raise BankError(
                f"the bank's text keys are {loaded.text_dim}-d but this pipeline's text encoder "
                f"gives {self._text_dim()}-d embeddings: build the bank with the pipeline's text "
                "encoder (bank init --text-encoder <model folder>), or pass "
                "retrieval_temperature=None to turn retrieval off."
            )
        if self.retrieval_temperature is not None:
            try:
                self._check_bank_text_encoder(loaded)
            except BankError:
                self.unload_visual_prompt()
                raise
        return adapter

    def _check_bank_text_encoder(self, bank: VisualPromptBank) -> None:
        """Refuse text keys built by another text encoder than the one this pipeline queries
        with (its first, ``text_encoder``): SDXL's ``text_encoder_2`` gives keys in another
        space, even where the widths agree. ``bank init`` records the encoder in the metadata;
        older banks are judged by the folder name they were built from."""
        meta = bank.metadata
        name = str(meta.get("text_encoder") or "")
        subfolder = meta.get("text_encoder_subfolder")
        if subfolder is None:  # a bank from before the provenance was recorded
            last = Path(name).name
            subfolder = last if last.startswith("text_encoder") else ""
        built = meta.get("text_encoder_class")
        mine = type(self.pipeline.text_encoder).__name__
        if (built and built != mine) or (subfolder and subfolder != "text_encoder"):
            source = f"{subfolder} ({built or 'class not recorded'})" if subfolder else built
            raise BankError(
                f"the bank's text keys were built with {source}"
                f"{f' of {name}' if name else ''}, but this pipeline retrieves with its "
                f"text_encoder ({mine}): the keys are in another space. Rebuild the bank with "
                "bank init --text-encoder <this model's folder> (it uses text_encoder/), or pass "
                "retrieval_temperature=None to turn retrieval off."
            )

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
        """Load a diffusers SD 1.5 / SDXL pipeline (local folder or hub id), a bank (file or
        ``train dpo`` output folder) and, optionally, the UNet LoRA written by ``train dpo``
        (``lora.safetensors``, diffusers' LoRA format, read with ``load_lora_weights``)."""
        from diffusers import DiffusionPipeline
        from diffusers.utils import logging as diffusers_logging
        from transformers.utils import logging as transformers_logging

        diffusers_logging.disable_progress_bar()  # one clean line per result on the CLI
        transformers_logging.disable_progress_bar()
        problem = model_source_problem(str(model))
        if problem:
            raise DataFileError(f"cannot load diffusion model: {problem}")
        try:
            local = Path(str(model)).expanduser()  # a shell leaves "--model=~/sd15" as it is
            source = str(local) if local.is_dir() else str(model)
            base = DiffusionPipeline.from_pretrained(source, torch_dtype=torch_dtype)
        except (OSError, ValueError, EnvironmentError) as exc:
            raise DataFileError(
                f"cannot load diffusion model '{model}': {_why(exc, str(model))}"
            ) from None
        base.set_progress_bar_config(disable=True)
        if lora_weights:
            load_unet_lora(base, lora_weights)
        base = base.to(device)
        return cls(base, bank=bank, adapter_weights=adapter_weights, **kwargs)

    # ----- retrieval ----------------------------------------------------------------------
    def embed_text_for_retrieval(self, prompt: str | list[str]) -> torch.Tensor:
        """Pooled CLIP text embedding(s) of the prompt(s): the space of the bank's text keys."""
        texts = [prompt] if isinstance(prompt, str) else list(prompt)
        out = embed_texts_for_retrieval(self.pipeline.tokenizer, self.pipeline.text_encoder, texts)
        return out[0] if isinstance(prompt, str) else out

    def retrieve(
        self, prompts: list[str], emotions: list[Any], text_embeddings: torch.Tensor | None
    ) -> list[RetrievedVisualPrompt]:
        """One emotion's retrieved visual prompt per prompt (same order)."""
        bank = self._bank()
        temperature = self.retrieval_temperature
        if text_embeddings is None or temperature is None:  # retrieval off: uniform weights
            return [retrieve_visual_prompt(bank, e, None) for e in emotions]
        return [
            retrieve_visual_prompt(
                bank,
                emotion,
                text_embeddings[i],
                temperature=temperature,
                top_k=self.retrieval_top_k,
            )
            for i, emotion in enumerate(emotions)
        ]

    def visual_prompt_embeds(
        self,
        prompts: list[str],
        emotions: list[Any],
        negative_emotions: list[Any] | None,
        *,
        scale: float = 1.0,
        guidance: bool = True,
    ) -> tuple[torch.Tensor, list[RetrievedVisualPrompt]]:
        """The packed visual prompt for ``ip_adapter_image_embeds``: ``[2, B, L, d + 2]``, negative
        then positive, one slot per image (see :mod:`~emotion_director.diffusion.attention`); the
        negative half carries the negative emotion's tokens, or scale 0 without one. Without
        guidance ``[1, B, L, d + 2]``."""
        text = (
            self.embed_text_for_retrieval(prompts)
            if self.retrieval_temperature is not None
            else None
        )
        cond = self.retrieve(prompts, emotions, text)
        packed = self._pack(cond, scale)[:, 0]
        if not guidance:
            return packed[None], cond
        if negative_emotions is None or all(n is None for n in negative_emotions):
            uncond = pack_visual_prompt(*self._stack(cond), row_scale=0.0)
        else:
            negs = [n if n is not None else e for n, e in zip(negative_emotions, emotions)]
            rows = torch.tensor([scale if n is not None else 0.0 for n in negative_emotions])
            retrieved = self.retrieve(prompts, negs, text)
            uncond = pack_visual_prompt(*self._stack(retrieved), row_scale=rows)
        return torch.stack([uncond[:, 0], packed]), cond

    def _stack(self, retrieved: list[RetrievedVisualPrompt]) -> tuple[torch.Tensor, torch.Tensor]:
        n = max(r.tokens.shape[0] for r in retrieved)
        tokens = torch.zeros(len(retrieved), n, retrieved[0].tokens.shape[-1])
        weights = torch.zeros(len(retrieved), n)  # padding (top-k rows) gets weight 0
        for i, r in enumerate(retrieved):
            tokens[i, : r.tokens.shape[0]] = r.tokens.float()
            weights[i, : r.weights.shape[0]] = r.weights.float()
        return tokens, weights

    def _pack(self, retrieved: list[RetrievedVisualPrompt], scale: float) -> torch.Tensor:
        return pack_visual_prompt(*self._stack(retrieved), row_scale=scale)

    # ----- generation ---------------------------------------------------------------------
    def __call__(
        self,
        prompt: str | list[str],
        emotion: Emotion | str | list[Emotion | str],
        negative_emotion: Emotion | str | list[Emotion | str | None] | None = None,
        visual_prompt_scale: float | None = None,
        num_images_per_prompt: int = 1,
        **kwargs: Any,
    ) -> Any:
        """Generate with the text prompt(s) and the emotion's visual prompt.

        Args:
            prompt (`str` or `list[str]`): the text prompt(s) (e.g. MC-Agent's ``final_prompt``).
            emotion (`Emotion`, `str` or a list, one per prompt): whose visual tokens guide the
                conditional branch.
            negative_emotion (`Emotion`, `str` or a list, *optional*): whose tokens guide the
                unconditional branch of classifier-free guidance, pushing the image away from
                that emotion; ``None`` leaves that branch without a visual prompt.
            visual_prompt_scale (`float`, *optional*): multiplies the loaded (per-block) scale for
                this call only (it travels with the call: other threads are unaffected).
            **kwargs: passed to the base pipeline (``negative_prompt``, ``num_inference_steps``,
                ``guidance_scale``, ``generator``, ``height``, ``width``, ...).

        Returns:
            The base pipeline's output, with ``visual_prompt_retrieval``: the retrieved visual
            prompt of each image.
        """
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        if not prompts or not all(isinstance(p, str) for p in prompts):
            raise UserInputError("prompt must be a string or a non-empty list of strings.")
        emotions = _per_prompt(emotion, len(prompts), "emotion")
        negatives = (
            None
            if negative_emotion is None
            else _per_prompt(negative_emotion, len(prompts), "negative_emotion")
        )
        self._bank()
        n = num_images_per_prompt
        # expand per image here: diffusers repeats IP-Adapter embeds batch-wise, prompts row-wise
        prompts = [p for p in prompts for _ in range(n)]
        emotions = [e for e in emotions for _ in range(n)]
        negatives = None if negatives is None else [e for e in negatives for _ in range(n)]
        negative_prompt = kwargs.pop("negative_prompt", None)
        if isinstance(negative_prompt, list):
            kwargs["negative_prompt"] = [p for p in negative_prompt for _ in range(n)]
        elif negative_prompt is not None:
            kwargs["negative_prompt"] = [negative_prompt] * len(prompts)
        guidance_default = 5.0 if self.is_sdxl else 7.5
        guidance = (
            kwargs.get("guidance_scale", guidance_default) > 1
            and self.unet.config.time_cond_proj_dim is None
        )
        packed, retrieved = self.visual_prompt_embeds(
            prompts,
            emotions,
            negatives,
            scale=1.0 if visual_prompt_scale is None else float(visual_prompt_scale),
            guidance=guidance,
        )
        adapter = self.visual_prompt_adapter
        assert adapter is not None  # visual_prompt_embeds raised BankError otherwise
        param = next(adapter.projector.parameters())
        # the layers' scales as of now, for every step of this call (another thread's
        # set_visual_prompt_scale applies from its next call on)
        layer_scales = self.visual_prompt_scales()
        call = self._call_pipeline()
        output = call(
            prompt=prompts,
            num_images_per_prompt=1,
            ip_adapter_image_embeds=[
                packed.to(self.device, param.dtype),
                layer_scales_tensor(layer_scales, packed.shape[0]).to(self.device),
            ],
            **kwargs,
        )
        output.visual_prompt_retrieval = retrieved
        output.visual_prompt_scale = layer_scales[0]
        return output

    def _call_pipeline(self) -> Any:
        """A shallow view of the base pipeline with its own scheduler: schedulers and pipelines
        keep per-call state (timesteps, step index, guidance scale), so concurrent calls must not
        share them. Its tokenizers hold a lock per call: a shared tokenizer is not thread-safe
        (see :data:`~emotion_director.diffusion.retrieval.TOKENIZER_LOCK`). (Not diffusers'
        ``from_pipe``: it casts every shared module to float32.)"""
        import copy

        from emotion_director.diffusion.retrieval import locked_tokenizer

        base = self.pipeline
        view = copy.copy(base)
        view.scheduler = base.scheduler.from_config(base.scheduler.config)
        for name in ("tokenizer", "tokenizer_2"):
            if getattr(base, name, None) is not None:
                view.__dict__[name] = locked_tokenizer(getattr(base, name))
        return view

    def _bank(self) -> VisualPromptBank:
        bank = getattr(self, "visual_prompt_bank", None)
        if bank is None or getattr(self, "visual_prompt_adapter", None) is None:
            raise BankError(
                "no visual prompt bank loaded: pass bank=... or call load_visual_prompt()."
            )
        return bank

    def _scale(self) -> float:
        adapter = self.visual_prompt_adapter
        assert adapter is not None  # asked after a generation, which needs the adapter
        # the adapter's layers are the processors it was built from
        first = cast(VisualPromptAttnProcessor, next(iter(adapter.layers.values())))
        return first.scale

    def _text_dim(self) -> int:
        encoder = self.pipeline.text_encoder
        config = encoder.config
        return config.projection_dim if hasattr(encoder, "text_projection") else config.hidden_size


def _per_prompt(value: Any, n: int, name: str) -> list[Any]:
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise UserInputError(f"{name}: {len(value)} values for {n} prompts.")
        return list(value)
    return [value] * n


def keep_vae_in_float32(pipeline: Any) -> None:
    """Keep a float16 pipeline's VAE in float32, as diffusers' ``force_upcast`` intends.

    SD's and SDXL's VAEs overflow in float16 (inf/NaN images, NaN training latents). diffusers'
    SDXL pipeline upcasts the shared VAE in place around each decode, which two concurrent calls
    would race on, and its SD 1.5 pipeline does not upcast at all. Here the VAE stays float32
    for good (when its config has ``force_upcast``, the default; an fp16-safe VAE such as
    ``sdxl-vae-fp16-fix`` sets it false and keeps float16), and its entry modules cast their input
    to their own dtype, so float16 latents decode and float16 images encode. bfloat16, which does
    not overflow, is left as it is.
    """
    vae = getattr(pipeline, "vae", None)
    if vae is None or not isinstance(vae, torch.nn.Module):
        return
    if not getattr(vae, "_mc_input_cast", False):
        for name in ("encoder", "quant_conv", "post_quant_conv", "decoder"):
            module = getattr(vae, name, None)
            if isinstance(module, torch.nn.Module):
                module.register_forward_pre_hook(_cast_input_to_weights)
        # a plain flag (Module's typed __setattr__ takes tensors and modules)
        setattr(vae, "_mc_input_cast", True)
    if vae.dtype == torch.float16 and getattr(vae.config, "force_upcast", True):
        vae.to(dtype=torch.float32)


def _cast_input_to_weights(module: torch.nn.Module, args: tuple) -> tuple | None:
    param = next(module.parameters(), None)
    if param is None or not args or not torch.is_tensor(args[0]):
        return None
    if args[0].is_floating_point() and args[0].dtype != param.dtype:
        return (args[0].to(param.dtype), *args[1:])
    return None


def load_unet_lora(pipeline: Any, path: str | Path) -> None:
    """Load the UNet LoRA written by ``train dpo`` with diffusers' ``load_lora_weights``."""
    from emotion_director.diffusion.attention import read_safetensors

    path = Path(path)
    read_safetensors(path, what="LoRA weights")  # one clear line for a missing / bad file
    try:
        pipeline.load_lora_weights(str(path.parent), weight_name=path.name)
    except (ValueError, KeyError, RuntimeError) as exc:
        raise AdapterError(
            f"{path}: LoRA does not fit this model ({str(exc).splitlines()[0][:160]})."
        ) from None
