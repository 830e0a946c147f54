"""The graph's ``generate_image`` tool: MC-Diffusion behind a small, lazily loaded generator.

It is also a LangChain tool (:func:`make_generate_image_tool`) that other agents can call.
Every image is written as a PNG with a JSON sidecar (prompt, negative prompt, emotion, seed,
scale, model id, retrieval weights), so a result can always be reproduced.

Example (a tiny random SD 1.5 in the real folder layout stands in for a download):
    >>> import tempfile
    >>> from pathlib import Path
    >>> from emotion_director.diffusion import VisualPromptBank
    >>> from emotion_director.diffusion.tiny import write_tiny_pipeline
    >>> workdir = tempfile.TemporaryDirectory()
    >>> model = write_tiny_pipeline(Path(workdir.name) / "sd15")
    >>> bank = VisualPromptBank.random(4, 16, 32).save(Path(workdir.name) / "bank.safetensors")
    >>> gen = ImageGenerator(model=str(model), bank=str(bank), out_dir=f"{workdir.name}/outputs",
    ...                      steps=2, height=32, width=32)
    >>> [png] = gen.generate("a dog, asleep", emotion="contentment", seed=0)
    >>> Path(png).name.startswith("contentment-0-"), Path(png).with_suffix(".json").is_file()
    (True, True)
    >>> workdir.cleanup()
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emotion_director.emotions import resolve_emotion
from emotion_director.errors import InvalidRequestError, OutputDirError, UserInputError
from emotion_director.files import write_text_atomic

#: The longest image prompt accepted: far beyond the ~77 tokens a text encoder reads (which
#: cuts the rest), a cap only against a file's worth of text in one prompt.
MAX_PROMPT_CHARS = 100_000


def check_seed(seed: Any) -> None:
    """Refuse a seed torch's generator cannot take (a whole number from -2**63 to 2**64 - 1)."""
    if not isinstance(seed, int) or isinstance(seed, bool) or not -(2**63) <= seed < 2**64:
        raise InvalidRequestError(
            f"seed {seed!r} is out of range: pass a whole number from -2**63 to 2**64 - 1."
        )


#: The largest --size: 4096 px a side (SDXL's native 1024, four times over); a larger one asks the
#: allocator for tens of GB before the first step.
MAX_SIZE = 4096


def check_image_size(size: int | None) -> None:
    """Refuses an image size no pipeline takes, or one the allocator cannot hold, before any
    weights load (``generate --size``, ``eval images --size``)."""
    if size is not None and (size <= 0 or size % 8 or size > MAX_SIZE):
        raise InvalidRequestError(
            f"--size {size}: image size must be a positive multiple of 8 up to {MAX_SIZE} (e.g. "
            "512 for SD 1.5, 1024 for SDXL)."
        )


@dataclass
class ImageGenerator:
    """Generates images with :class:`MCDiffusionPipeline`, loading it on first use.

    Args:
        model (`str`): diffusers folder or hub id of an SD 1.5 / SDXL pipeline.
        bank (`str`): visual prompt bank (``.safetensors``).
        adapter (`str`, *optional*): trained projector + visual K/V weights.
        out_dir (`str`, *optional*, defaults to "outputs"): where PNGs and sidecars go.
        device (`str`, *optional*, defaults to "cpu"): "cpu" or "cuda".
        steps (`int`, *optional*, defaults to 30), guidance_scale (`float`, defaults to 7.5),
        scale (`float`, defaults to 1.0): denoising steps, CFG scale, visual-prompt scale.
        height, width (`int`, *optional*): image size; the model's default when unset.
        retrieval_temperature (`float`, *optional*): the bank's trained temperature when unset.
        preset (`str`, *optional*): a preset's name: its projector is loaded, and a bank or
            adapter built with another one is refused; unset, the files say which projector.
        pipeline (`MCDiffusionPipeline`, *optional*): use this pipeline instead of loading one.
        on_note (`Callable[[str], None]`, *optional*): told when an image is written alongside an
            existing file instead of replacing it.

    File names carry a digest of every setting that changes the image (prompt, emotions, seed,
    model, bank, adapter, LoRA, scale, steps, guidance, size, temperature); a file that already
    exists is never replaced: the new image gets the next free ``-vN`` suffix.
    """

    model: str
    bank: str | None = None
    adapter: str | None = None
    lora: str | None = None
    out_dir: str = "outputs"
    device: str = "cpu"
    steps: int = 30
    guidance_scale: float = 7.5
    scale: float = 1.0
    height: int | None = None
    width: int | None = None
    retrieval_temperature: float | None = None
    preset: str | None = None
    pipeline: Any = None
    on_note: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _pipe(self) -> Any:
        with self._lock:
            if self.pipeline is None:
                from emotion_director.diffusion.pipeline import MCDiffusionPipeline

                if not self.bank:
                    raise UserInputError(
                        "no visual prompt bank given: pass --bank BANK.safetensors "
                        "(build one with `emotion-director bank init`)."
                    )
                dtype = None
                if self.device.startswith("cuda"):
                    import torch

                    if not torch.cuda.is_available():
                        raise UserInputError(
                            "--device cuda but no CUDA GPU is visible: use --device cpu."
                        )
                    dtype = torch.float16
                extra = (
                    {"retrieval_temperature": self.retrieval_temperature}
                    if self.retrieval_temperature is not None
                    else {}
                )
                self.pipeline = MCDiffusionPipeline.from_pretrained(
                    self.model,
                    bank=self.bank,
                    adapter_weights=self.adapter,
                    lora_weights=self.lora,
                    device=self.device,
                    torch_dtype=dtype,
                    visual_prompt_scale=self.scale,
                    preset=self.preset,
                    **extra,
                )
                self._note_untrained_lora()
            return self.pipeline

    def _note_untrained_lora(self) -> None:
        """Say so when the adapter was trained with a UNet LoRA that is not loaded."""
        if not self.adapter or self.lora or not self.on_note:
            return
        from emotion_director.diffusion.attention import read_safetensors_metadata

        rank = read_safetensors_metadata(Path(self.adapter)).get("lora_rank", "0")
        if rank.isdigit() and int(rank) > 0:
            self.on_note(
                f"{self.adapter} was trained with a rank-{rank} UNet LoRA: pass --lora "
                f"{Path(self.adapter).with_name('lora.safetensors')} to generate as trained."
            )

    def generate(
        self,
        prompt: str,
        *,
        emotion: str,
        negative_prompt: str | None = None,
        negative_emotion: str | None = None,
        seed: int = 0,
        num_images: int = 1,
        out_dir: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> list[str]:
        """Generate ``num_images`` images; return their PNG paths (each has a ``.json`` sidecar)."""
        import torch

        from emotion_director.untrusted import clean_prompt

        # the same checks as a rewrite's: an empty prompt, a control character or a
        # bidirectional override is refused, not drawn (hostile round 5)
        prompt = clean_prompt(prompt, MAX_PROMPT_CHARS, setting=None)
        if negative_prompt:
            negative_prompt = clean_prompt(
                negative_prompt, MAX_PROMPT_CHARS, what="negative prompt", setting=None
            )
        check_seed(seed)
        target = resolve_emotion(emotion).value
        negative = resolve_emotion(negative_emotion).value if negative_emotion else None
        if negative == target:
            raise InvalidRequestError(
                f"the negative emotion is the target emotion ({target}): the image would be "
                "steered toward and away from the same visual prompt; give another "
                "--negative-emotion, or none."
            )
        folder = writable_dir(Path(out_dir or self.out_dir))
        pipe = self._pipe()
        timesteps = getattr(getattr(pipe, "scheduler", None), "config", {}).get(
            "num_train_timesteps"
        )
        if isinstance(timesteps, int) and self.steps > timesteps:
            raise InvalidRequestError(
                f"--steps {self.steps} is more than the scheduler's {timesteps} training "
                f"timesteps: pass at most {timesteps} (20-50 is usual)."
            )
        size = {k: v for k, v in {"height": self.height, "width": self.width}.items() if v}
        started = time.time()
        result = pipe(
            prompt,
            target,
            negative_emotion=negative,
            negative_prompt=negative_prompt or None,
            num_inference_steps=self.steps,
            guidance_scale=self.guidance_scale,
            num_images_per_prompt=num_images,
            generator=torch.Generator(device="cpu").manual_seed(seed),
            **size,
        )
        retrieved = getattr(result, "visual_prompt_retrieval", None) or [None]
        retrieval = retrieved[0]
        scale = getattr(result, "visual_prompt_scale", None)  # the one this call used
        scale = pipe._scale() if scale is None else scale
        settings = [
            prompt,
            target,
            negative,
            seed,
            negative_prompt,
            self.model,
            self.bank,
            self.adapter,
            self.lora,
            scale,
            self.steps,
            self.guidance_scale,
            self.height,
            self.width,
            pipe.retrieval_temperature,
        ]
        adapter = getattr(pipe, "visual_prompt_adapter", None)
        projector = getattr(getattr(adapter, "projector", None), "kind", None)
        if projector not in (None, "mlp-attn-norm"):  # the default keeps earlier names
            settings.append(projector)
        digest = hashlib.sha1(json.dumps(settings, default=str).encode()).hexdigest()[:8]
        paths = []
        for i, image in enumerate(result.images):
            path = _free_path(folder / f"{target}-{seed}-{digest}-{i}.png")
            if path.name != f"{target}-{seed}-{digest}-{i}.png" and self.on_note:
                self.on_note(
                    f"{folder / f'{target}-{seed}-{digest}-{i}.png'} exists; wrote "
                    f"{path.name} alongside it."
                )
            image.save(path)
            sidecar = {
                "prompt": prompt,
                "negative_prompt": negative_prompt,
                "emotion": target,
                "negative_emotion": negative,
                "seed": seed,
                "image_index": i,
                "visual_prompt_scale": scale,
                "model": str(self.model),
                "retrieval_temperature": pipe.retrieval_temperature,
                "bank": str(self.bank) if self.bank else None,
                "adapter": self.adapter,
                "lora": self.lora,
                "projector": projector,
                "steps": self.steps,
                "guidance_scale": self.guidance_scale,
                "retrieval_weights": retrieval.weights.tolist() if retrieval else None,
                "retrieval_tokens": retrieval.indices.tolist() if retrieval else None,
                "seconds": round(time.time() - started, 3),
                **(extra or {}),
            }
            write_text_atomic(  # (a symlink planted at the sidecar's name is refused)
                path.with_suffix(".json"),
                json.dumps(sidecar, indent=2),
                what="image sidecar",
                error=OutputDirError,
            )
            paths.append(str(path))
        return paths


def _free_path(path: Path) -> Path:
    """``path``, or ``stem-v2.png``, ``-v3`` ... when taken (never replaces an earlier image).

    The name is claimed by creating the file exclusively, so two generations racing for one
    name (threads, processes of a data-parallel run) get two files.
    """
    candidate, n = path, 1
    while True:
        sidecar = candidate.with_suffix(".json")
        if not (sidecar.exists() or sidecar.is_symlink()):  # (a dangling link is taken too)
            try:
                with open(candidate, "xb"):
                    return candidate
            except FileExistsError:
                pass
        n += 1
        candidate = path.with_name(f"{path.stem}-v{n}{path.suffix}")


def writable_dir(folder: Path) -> Path:
    """``folder``, created if missing, after checking that a file can be written in it.

    The check writes a uniquely named temporary file, so processes of a data-parallel run (or
    threads) checking one folder at once never remove each other's probe.
    """
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise OutputDirError(
            f"cannot write to output directory {folder} ({exc.strerror or exc}): pass --out with "
            "a writable folder."
        ) from None
    return folder


def checked_generator(
    *,
    model: str | None,
    bank: Path | None,
    adapter: Path | None = None,
    lora: Path | None = None,
    out_dir: Path = Path("outputs"),
    device: str = "cpu",
    steps: int = 30,
    scale: float = 1.0,
    size: int | None = None,
    retrieval_temperature: float | None = None,
    preset: str | None = None,
    on_note: Any = None,
) -> ImageGenerator:
    """An :class:`ImageGenerator` whose settings were all checked first: the size, the
    temperature, the device, the bank (loaded), the weight files and the output folder, so a bad
    one fails in a line before any model weights load (the pipeline loads on first use)."""
    check_image_size(size)
    if retrieval_temperature is not None and not retrieval_temperature > 0:
        raise InvalidRequestError(f"--retrieval-temperature {retrieval_temperature}: must be > 0.")
    if preset is not None:
        from emotion_director.diffusion.presets import get_preset

        get_preset(preset)  # an unknown name: one line listing the presets
    if not model:
        raise InvalidRequestError(
            "no diffusion model: pass --model PATH_OR_HUB_ID (SD 1.5 or SDXL)."
        )
    if bank is None:
        raise InvalidRequestError(
            "no visual prompt bank: pass --bank BANK.safetensors "
            "(build one with `emotion-director bank init`)."
        )
    if device not in {"cpu", "cuda"} and not device.startswith("cuda:"):
        raise InvalidRequestError(f"unknown device '{device}': use cpu or cuda.")
    from emotion_director.diffusion.dependencies import require_diffusion

    require_diffusion()
    from emotion_director.diffusion.bank import VisualPromptBank

    VisualPromptBank.load(bank)  # fail fast on a bad bank, before loading the model
    for name, file in (("--adapter", adapter), ("--lora", lora)):
        if file is not None and not file.is_file():
            raise InvalidRequestError(f"{name} {file}: file not found.")
        if file is not None and file.suffix != ".safetensors":
            raise InvalidRequestError(f"{name} {file}: must be a .safetensors file.")
    writable_dir(out_dir)
    return ImageGenerator(
        model=model,
        bank=str(bank),
        adapter=str(adapter) if adapter else None,
        lora=str(lora) if lora else None,
        out_dir=str(out_dir),
        device=device,
        steps=steps,
        scale=scale,
        height=size,
        width=size,
        retrieval_temperature=retrieval_temperature,
        preset=preset,
        on_note=on_note,
    )


def make_generate_image_tool(generator: ImageGenerator) -> Any:
    """``generator`` as a LangChain ``StructuredTool`` named ``generate_image``."""
    from langchain_core.tools import StructuredTool
    from pydantic import BaseModel, Field

    class GenerateImageArgs(BaseModel):
        prompt: str = Field(description="the image prompt (concrete visual phrases)")
        emotion: str = Field(description="target emotion, e.g. awe")
        negative_prompt: str | None = Field(default=None)
        negative_emotion: str | None = Field(
            default=None, description="emotion to steer away from (its visual prompt guides CFG)"
        )
        seed: int = 0

    def run(
        prompt: str,
        emotion: str,
        negative_prompt: str | None = None,
        negative_emotion: str | None = None,
        seed: int = 0,
    ) -> list[str]:
        return generator.generate(
            prompt,
            emotion=emotion,
            negative_prompt=negative_prompt,
            negative_emotion=negative_emotion,
            seed=seed,
        )

    return StructuredTool.from_function(
        run,
        name="generate_image",
        args_schema=GenerateImageArgs,
        description="Generate an emotion-guided image with MC-Diffusion; returns PNG paths.",
    )
