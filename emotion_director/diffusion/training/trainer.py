"""The Diffusion-DPO training loop (accelerate): one GPU, many GPUs, or the CPU, same code.

The UNet, VAE and text encoders stay frozen. What trains is small: the bank's tokens, the
projector and the visual K/V of every cross-attention layer. The reference model is therefore
the *same* UNet with a frozen copy of the *initial* trainable parts swapped in for its forward
pass (:class:`ReferenceSwap`), so no second UNet is held in memory. The initial copy matters: a
reference with the visual prompt switched off could not tell emotions apart, and the
negative-visual-prompt term would lose its DPO meaning.

Resumption is exact: the data order is a seeded permutation per epoch and the noise/timesteps of
each step come from a generator seeded by ``(seed, step, micro-batch)``, so a run resumed from a
checkpoint sees exactly what an uninterrupted run would; optimizer state comes from the
checkpoint. Each process of a data-parallel run adds its rank to that seed
(:func:`step_generator`), so ranks draw different noise and timesteps.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import shutil
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from emotion_director.diffusion.attention import pack_visual_prompt
from emotion_director.diffusion.bank import VisualPromptBank
from emotion_director.diffusion.retrieval import adaptive_weights
from emotion_director.diffusion.training.config import DPOConfig
from emotion_director.diffusion.training.data import (
    TrainingRecord,
    load_image_tensor,
    load_records,
    sample_negative_emotion,
)
from emotion_director.diffusion.training.loss import denoising_error, dpo_objective
from emotion_director.errors import (
    CheckpointError,
    ConfigError,
    MissingExtraError,
    TrainingOutputExistsError,
)
from emotion_director.files import atomic_write

#: config fields a resumed run may change without --overwrite: they do not change what is
#: trained, only how long, how often it is saved/logged/validated, and where
RESUMABLE_CHANGES = frozenset(
    {
        "train.output_dir",
        "train.max_steps",
        "train.checkpoint_every",
        "train.keep_checkpoints",
        "train.log_every",
        "train.validation_every",
        "train.validation_prompts",
        "train.validation_emotions",
        "train.validation_steps",
        "train.tensorboard",
    }
)

#: config fields added after runs were first saved, with the value such a run trained with
ADDED_FIELDS = {"preset": None, "model.projector": None, "train.input_perturbation": 0.0}

METRICS = (
    "step",
    "loss",
    "image_loss",
    "nvp_loss",
    "accuracy",
    "nvp_accuracy",
    "margin",
    "lr",
    "seconds",
)


def step_generator(seed: int, step: int, micro: int, rank: int = 0) -> torch.Generator:
    """The generator of one micro-batch's noise, timesteps and negative sampling.

    Seeded by ``(seed, step, micro-batch, rank)``: a resumed run draws exactly what an
    uninterrupted one would, and every process of a data-parallel run draws its own noise and
    timesteps (one draw shared by all ranks would make N GPUs see one noise sample N times).
    """
    key = hashlib.blake2b(f"{seed}:{step}:{micro}:{rank}".encode(), digest_size=8).digest()
    return torch.Generator().manual_seed(int.from_bytes(key, "little") >> 1)


#: What a run writes into its output folder before its first checkpoint (the TensorBoard writer
#: makes its folder when the trainer is built; validation images; the run's config): a folder
#: holding only these is the run's own, not a folder of other files.
_OWN_START_FILES = frozenset({"config.json", "tensorboard", "validation"})


class TrainablePrompt(nn.Module):
    """The trainable parts: bank tokens (a parameter), the projector, the per-layer K/V and,
    optionally, the UNet's LoRA parameters (the same objects, listed here for the optimizer and
    the reference swap)."""

    def __init__(
        self,
        bank: VisualPromptBank,
        adapter: nn.Module,
        temperature: float | None,
        lora: list[nn.Parameter] | None = None,
    ):
        super().__init__()
        self.tokens = nn.Parameter(bank.tokens.detach().clone().float())
        self.register_buffer("text_keys", bank.text_keys.detach().clone().float())
        self.adapter = adapter
        self.temperature = temperature
        self.lora = nn.ParameterList(lora or [])

    def forward(self, emotion_index: torch.Tensor, text: torch.Tensor | None) -> torch.Tensor:
        """Packed visual prompts ``[B, 1, L, d + 2]`` (tokens + retrieval weights) for per-row
        emotions and retrieval texts; the UNet's ``encoder_hid_proj`` projects them."""
        tokens = self.tokens[emotion_index]
        weights = None
        if text is not None and self.temperature is not None:
            weights = adaptive_weights(self.text_keys[emotion_index], text, self.temperature)
        return pack_visual_prompt(tokens, weights)


class ReferenceSwap:
    """Swap a frozen copy of the initial trainable parameters in for a reference forward pass."""

    def __init__(self, module: nn.Module, unet: Any = None) -> None:
        # LoRA starts at zero: its reference is the UNet with the adapters disabled (peft), so
        # no copy of the LoRA weights is kept
        self.unet = (
            unet if unet is not None and getattr(unet, "_hf_peft_config_loaded", False) else None
        )
        self.initial = {
            name: p.detach().clone()
            for name, p in module.named_parameters()
            if p.requires_grad and not name.startswith("lora.")
        }

    @contextmanager
    def active(self, module: nn.Module) -> Iterator[None]:
        params = dict(module.named_parameters())
        stash = {}
        with torch.no_grad():
            for name, frozen in self.initial.items():
                stash[name] = params[name].data
                params[name].data = frozen.to(params[name].device, params[name].dtype)
        if self.unet is not None:
            self.unet.disable_adapters()
        try:
            yield
        finally:
            if self.unet is not None:
                self.unet.enable_adapters()
            for name, data in stash.items():
                params[name].data = data


class DPOTrainer:
    """Build everything from a :class:`DPOConfig` and train.

    Example (two steps on tiny random components and a generated toy preference set):
        >>> import tempfile
        >>> from pathlib import Path
        >>> from emotion_director.diffusion.training import make_toy_preferences
        >>> workdir = tempfile.TemporaryDirectory()
        >>> config = DPOConfig.parse({
        ...     "model": {"pretrained": "tiny:sd15", "bank": "random", "bank_tokens": 4,
        ...               "bank_dim": 16},
        ...     "data": {"preferences": str(make_toy_preferences(workdir.name, per_emotion=1)),
        ...              "resolution": 32},
        ...     "train": {"output_dir": f"{workdir.name}/run", "max_steps": 2, "batch_size": 2,
        ...               "validation_every": None}})
        >>> run = DPOTrainer(config).train()
        >>> sorted(p.name for p in Path(run).glob("*.safetensors"))
        ['adapter.safetensors', 'bank.safetensors']
        >>> DPOTrainer(config).train(resume="latest") == run  # a finished run resumes as done
        True
        >>> workdir.cleanup()
    """

    def __init__(self, config: DPOConfig, *, pipeline: Any = None) -> None:
        from accelerate import Accelerator

        self.config = config
        t = config.train
        # an explicit train.mixed_precision wins; unset, accelerate's / DeepSpeed's config decides
        self.accelerator = Accelerator(
            mixed_precision=t.mixed_precision,
            gradient_accumulation_steps=t.gradient_accumulation_steps,
            cpu=not torch.cuda.is_available(),
        )
        self.notes: list[str] = []  # things the user must hear (e.g. a checkpoint fallback)
        self.records = load_records(config.data.preferences, config.data.emotion_records)
        self.pipe = self._load_pipeline(pipeline)
        self.device = self.accelerator.device
        self.unet = self.pipe.unet
        # as diffusers' training scripts do: frozen modules in the weight dtype, trained ones fp32
        self.weight_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(
            self.accelerator.mixed_precision, torch.float32
        )
        for module in self._frozen_modules():
            module.requires_grad_(False)
            module.to(self.device, dtype=self.weight_dtype)
        if self.weight_dtype == torch.float16:
            # SD/SDXL VAEs overflow in float16 (NaN latents): float32, as diffusers' DPO script
            from emotion_director.diffusion.pipeline import keep_vae_in_float32

            keep_vae_in_float32(self.pipe)
        self.holder = self._install_visual_prompt()
        self.trainable = TrainablePrompt(
            self.holder.visual_prompt_bank,
            self.holder.visual_prompt_adapter,
            config.model.retrieval_temperature,
            lora=self._add_lora(),
        )
        self.trainable.to(dtype=torch.float32)
        self._select_trainable()
        self.reference = ReferenceSwap(self.trainable, self.unet)
        if t.gradient_checkpointing:
            self.unet.enable_gradient_checkpointing()
        self.optimizer = torch.optim.AdamW(
            [p for p in self.trainable.parameters() if p.requires_grad],
            lr=t.learning_rate,
            weight_decay=t.weight_decay,
        )
        self.trainable, self.optimizer = self.accelerator.prepare(self.trainable, self.optimizer)
        from diffusers import DDPMScheduler

        self.noise_scheduler = DDPMScheduler.from_config(self.pipe.scheduler.config)
        self._text_cache: dict[str, tuple[torch.Tensor, ...]] = {}
        self._latent_cache: dict[str, torch.Tensor] = {}
        self.output_dir = Path(t.output_dir)
        self.step = 0
        self._order: tuple[int, list[int]] = (-1, [])
        self._tensorboard = self._tensorboard_writer() if t.tensorboard else None

    # ----- setup -------------------------------------------------------------------------
    def _load_pipeline(self, pipeline: Any) -> Any:
        if pipeline is not None:
            return pipeline
        name = self.config.model.pretrained
        if name.startswith("tiny:"):
            from emotion_director.diffusion.tiny import build_tiny_pipeline

            kind = name.split(":", 1)[1]
            if kind not in {"sd15", "sdxl"}:
                raise ConfigError(f"model.pretrained '{name}': use tiny:sd15 or tiny:sdxl.")
            pipe = build_tiny_pipeline(kind)  # type: ignore[arg-type]
        else:
            from diffusers import DiffusionPipeline
            from diffusers.utils import logging as diffusers_logging
            from transformers.utils import logging as transformers_logging

            diffusers_logging.disable_progress_bar()  # the CLI shows one bar: training's
            transformers_logging.disable_progress_bar()
            try:
                pipe = DiffusionPipeline.from_pretrained(name)
            except (OSError, ValueError) as exc:
                raise ConfigError(
                    f"model.pretrained '{name}': cannot load ({str(exc).splitlines()[0][:160]})."
                ) from None
        pipe.set_progress_bar_config(disable=True)
        return pipe.to(self.accelerator.device)

    def _frozen_modules(self) -> list[nn.Module]:
        names = ("unet", "vae", "text_encoder", "text_encoder_2")
        return [getattr(self.pipe, n) for n in names if getattr(self.pipe, n, None) is not None]

    def _install_visual_prompt(self) -> Any:
        from emotion_director.diffusion.pipeline import MCDiffusionPipeline

        m = self.config.model
        holder = MCDiffusionPipeline(self.pipe, retrieval_temperature=m.retrieval_temperature)
        if m.bank == "random":
            bank = VisualPromptBank.random(
                m.bank_tokens, m.bank_dim, holder._text_dim(), seed=self.config.train.seed
            )
        else:
            bank = VisualPromptBank.load(m.bank)
        recorded = bank.metadata.get("preset")
        if self.config.preset and recorded and recorded != self.config.preset:
            self.notes.append(
                f"the bank was built under preset {recorded} and is trained here under preset "
                f"{self.config.preset}."
            )
        torch.manual_seed(self.config.train.seed)  # what else draws at setup (LoRA's init)
        # model.projector (set by a preset or the file) wins; unset, the adapter's / bank's record
        holder.load_visual_prompt(
            bank,
            projector=m.projector,
            adapter_weights=m.adapter,
            init_seed=self.config.train.seed,
        )
        holder.visual_prompt_adapter.to(self.accelerator.device, dtype=torch.float32)
        return holder

    def _add_lora(self) -> list[nn.Parameter]:
        """LoRA on the UNet (B starts at zero, so the initial model equals the base model)."""
        m = self.config.model
        if not m.lora_rank:
            return []
        try:
            from peft import LoraConfig
        except ImportError:
            raise MissingExtraError("model.lora_rank needs peft: pip install peft") from None
        self.unet.add_adapter(
            LoraConfig(
                r=m.lora_rank,
                lora_alpha=m.lora_alpha or m.lora_rank,
                init_lora_weights=True,
                target_modules=m.lora_targets,
            )
        )
        params = [p for n, p in self.unet.named_parameters() if "lora_" in n]
        for p in params:  # trained in fp32 under mixed precision (diffusers' cast_training_params)
            p.data = p.data.float()
        return params

    def _select_trainable(self) -> None:
        m = self.config.model
        self.trainable.tokens.requires_grad_(m.train_bank)
        self.trainable.adapter.projector.requires_grad_(m.train_projector)
        for layer in self.trainable.adapter.layers.values():
            layer.requires_grad_(m.train_kv)
        if not any(p.requires_grad for p in self.trainable.parameters()):
            raise ConfigError(
                "nothing to train: enable model.train_bank, train_projector, train_kv or set "
                "model.lora_rank."
            )

    # ----- data ---------------------------------------------------------------------------
    def batch_for(self, step: int, micro: int) -> list[TrainingRecord]:
        """The records of a (step, micro-batch): a seeded permutation per epoch, so resumable."""
        t = self.config.train
        per_step = t.batch_size * t.gradient_accumulation_steps * self.accelerator.num_processes
        start = (
            step * per_step
            + (micro * self.accelerator.num_processes + self.accelerator.process_index)
            * t.batch_size
        )
        batch = []
        for position in range(start, start + t.batch_size):
            epoch, offset = divmod(position, len(self.records))
            batch.append(self.records[self._epoch_order(epoch)[offset]])
        return batch

    def _epoch_order(self, epoch: int) -> list[int]:
        """The seeded permutation of one epoch (kept for the current epoch only)."""
        if self._order[0] != epoch:
            order = list(range(len(self.records)))
            random.Random(self.config.train.seed * 1_000_003 + epoch).shuffle(order)
            self._order = (epoch, order)
        return self._order[1]

    def _text(self, prompt: str) -> tuple[torch.Tensor, ...]:
        if prompt not in self._text_cache:
            with torch.no_grad():
                # keywords: SDXL's signature is (prompt, prompt_2, device, ...), SD 1.5's is not
                encoded = self.pipe.encode_prompt(
                    prompt=prompt,
                    device=self.device,
                    num_images_per_prompt=1,
                    do_classifier_free_guidance=False,
                )
                retrieval = self.holder.embed_text_for_retrieval(prompt).to(self.device)
            embeds = encoded[0]
            pooled = encoded[2] if len(encoded) > 2 else None
            self._text_cache[prompt] = (
                embeds[0],
                retrieval,
                pooled[0] if pooled is not None else None,
            )
        return self._text_cache[prompt]

    def _latent(self, path: Path, rng: random.Random) -> torch.Tensor:
        d = self.config.data
        cacheable = d.center_crop and not d.random_flip
        key = str(path)
        if cacheable and key in self._latent_cache:
            return self._latent_cache[key]
        image = load_image_tensor(
            path, d.resolution, center_crop=d.center_crop, flip=d.random_flip, rng=rng
        )
        vae = self.pipe.vae
        with torch.no_grad():
            latent = vae.encode(image[None].to(self.device, vae.dtype)).latent_dist.mode().float()
        latent = (latent * vae.config.scaling_factor)[0]
        if cacheable:
            self._latent_cache[key] = latent
        return latent

    # ----- one step -----------------------------------------------------------------------
    def compute_loss(self, records: list[TrainingRecord], generator: torch.Generator) -> Any:
        cfg = self.config
        rng = random.Random(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
        bank = self.holder.visual_prompt_bank
        index = {e: i for i, e in enumerate(bank.emotions)}
        lat_w = torch.stack([self._latent(r.image_w, rng) for r in records])
        has_pair = torch.tensor([r.image_l is not None for r in records], device=self.device)
        lat_l = torch.stack(
            [
                self._latent(r.image_l, rng)
                if r.image_l is not None
                else torch.zeros_like(lat_w[0])
                for r in records
            ]
        )
        texts = [self._text(r.prompt) for r in records]
        emb = torch.stack([t[0] for t in texts])
        retrieval = torch.stack([t[1] for t in texts])
        pooled = [t[2] for t in texts]
        # the bank (trained tokens copied to the CPU) is only needed to find the hardest negative
        sampling_bank = self._current_bank() if cfg.loss.negative_sampling == "hardest" else None
        negatives = [
            r.negative_emotion
            or sample_negative_emotion(r.emotion, cfg.loss.negative_sampling, rng, sampling_bank)
            for r in records
        ]
        n = len(records)
        noise = torch.randn(lat_w.shape, generator=generator).to(self.device, lat_w.dtype)
        timesteps = torch.randint(
            0, self.noise_scheduler.config.num_train_timesteps, (n,), generator=generator
        ).to(self.device)
        # input perturbation (diffusers' --input_perturbation): the latents are noised with a
        # perturbed noise, the target stays `noise`; drawn last, so 0 draws what a run without it
        # draws, and shared by a record's winner and loser, as the noise is
        noised = noise
        if cfg.train.input_perturbation:
            extra_noise = torch.randn(lat_w.shape, generator=generator).to(self.device, noise.dtype)
            noised = noise + cfg.train.input_perturbation * extra_noise
        parts = ["w"]
        rows_x = [self.noise_scheduler.add_noise(lat_w, noised, timesteps)]
        rows_e = [torch.tensor([index[r.emotion] for r in records])]
        if cfg.loss.image_weight and bool(has_pair.any()):
            parts.append("l")
            rows_x.append(self.noise_scheduler.add_noise(lat_l, noised, timesteps))
            rows_e.append(rows_e[0])
        if cfg.loss.nvp_weight:
            parts.append("neg")
            rows_x.append(rows_x[0])
            rows_e.append(torch.tensor([index[e] for e in negatives]))
        k = len(parts)
        x = torch.cat(rows_x)
        emotion_rows = torch.cat(rows_e).to(self.device)
        t_rows = timesteps.repeat(k)
        text_rows = emb.repeat(k, 1, 1)
        retrieval_rows = retrieval.repeat(k, 1)
        clean = {"w": lat_w, "l": lat_l, "neg": lat_w}
        if self.noise_scheduler.config.prediction_type == "v_prediction":
            target_rows = torch.cat(
                [self.noise_scheduler.get_velocity(clean[p], noise, timesteps) for p in parts]
            )
        else:
            target_rows = torch.cat([noise] * k)
        extra = self._added_cond(pooled, k)

        def errors(visual: torch.Tensor) -> dict[str, torch.Tensor]:
            # the visual prompt travels through the UNet call (diffusers' IP-Adapter slot), so
            # gradient checkpointing recomputes exactly the path of the forward pass
            cond = {**extra, "image_embeds": [visual]}
            pred = self.unet(
                x.to(self.weight_dtype),
                t_rows,
                encoder_hidden_states=text_rows.to(self.weight_dtype),
                added_cond_kwargs=cond,
            ).sample
            err = denoising_error(pred, target_rows)
            return {p: err[i * n : (i + 1) * n] for i, p in enumerate(parts)}

        model = self.accelerator.unwrap_model(self.trainable)
        with torch.no_grad(), self.reference.active(model):
            ref_err = errors(model(emotion_rows, retrieval_rows))
        model_err = errors(self.trainable(emotion_rows, retrieval_rows))
        return dpo_objective(
            model_err,
            ref_err,
            beta=cfg.loss.beta,
            variant=cfg.loss.variant,
            image_weight=cfg.loss.image_weight,
            nvp_weight=cfg.loss.nvp_weight,
            pair_mask=has_pair.float(),
        )

    def _added_cond(self, pooled: list[torch.Tensor | None], k: int) -> dict[str, Any]:
        if getattr(self.unet.config, "addition_embed_type", None) != "text_time":
            return {}
        r = self.config.data.resolution
        text_embeds = torch.stack([p for p in pooled if p is not None]).repeat(k, 1)
        time_ids = torch.tensor(
            [[r, r, 0, 0, r, r]], device=self.device, dtype=text_embeds.dtype
        ).repeat(text_embeds.shape[0], 1)
        return {
            "text_embeds": text_embeds.to(self.weight_dtype),
            "time_ids": time_ids.to(self.weight_dtype),
        }

    def _current_bank(self) -> VisualPromptBank:
        bank = self.holder.visual_prompt_bank
        model = self.accelerator.unwrap_model(self.trainable)
        bank.tokens = model.tokens.detach().cpu()
        return bank

    # ----- loop ---------------------------------------------------------------------------
    def train(
        self,
        resume: str | None = None,
        on_step: Callable[[int, dict[str, float]], None] | None = None,
        on_resume: Callable[[int], None] | None = None,
        *,
        overwrite: bool = False,
    ) -> Path:
        """Train to ``train.max_steps``; ``resume`` is ``"latest"`` or a checkpoint folder.

        A run never writes into an ``output_dir`` that holds an earlier run unless resuming it,
        and a resumed run keeps its config (:meth:`check_resume_config`) unless ``overwrite``.
        ``on_step(step, metrics)`` after every step (metrics averaged over processes);
        ``on_resume(step)`` once a checkpoint is loaded (see :attr:`notes` for fallbacks).
        """
        t = self.config.train
        if resume:
            self.check_resume_config(overwrite=overwrite)
        else:
            self.check_output_dir()
        self.accelerator.wait_for_everyone()  # every rank checked before anything is written
        self.output_dir.mkdir(parents=True, exist_ok=True)
        if self.accelerator.is_main_process:
            atomic_write(
                self.output_dir / "config.json",
                lambda tmp: tmp.write_text(self.config.model_dump_json(indent=2)),
                what="training config",
                error=CheckpointError,
            )
        if resume:
            self._resume(resume)
            if on_resume:
                on_resume(self.step)
        params = [p for p in self.trainable.parameters() if p.requires_grad]
        while self.step < t.max_steps:
            started = time.perf_counter()
            totals: dict[str, float] = {}
            for micro in range(t.gradient_accumulation_steps):
                generator = step_generator(t.seed, self.step, micro, self.accelerator.process_index)
                with self.accelerator.accumulate(self.trainable), self.accelerator.autocast():
                    terms = self.compute_loss(self.batch_for(self.step, micro), generator)
                    self.accelerator.backward(terms.loss)
                    if self.accelerator.sync_gradients:
                        self.accelerator.clip_grad_norm_(params, t.max_grad_norm)
                    self.optimizer.step()
                    self.optimizer.zero_grad()
                # every rank's loss counts: mean over processes, not rank 0's alone
                values = torch.stack(
                    [
                        (terms.loss if name == "loss" else getattr(terms, name)).detach().float()
                        for name in METRICS[1:7]
                    ]
                )
                values = self.accelerator.reduce(values.to(self.device), reduction="mean")
                for name, value in zip(METRICS[1:7], values.tolist()):
                    totals[name] = totals.get(name, 0.0) + value / t.gradient_accumulation_steps
            self.step += 1
            totals["lr"] = self.optimizer.param_groups[0]["lr"]
            totals["seconds"] = time.perf_counter() - started
            if self.step % t.log_every == 0 or self.step == t.max_steps:
                self._log(totals)
            if on_step:
                on_step(self.step, totals)
            if self.step % t.checkpoint_every == 0 or self.step == t.max_steps:
                self.save_checkpoint()
            if t.validation_every and self.step % t.validation_every == 0:
                self.validate()
        return self.export(self.output_dir)

    def _tensorboard_writer(self) -> Any:
        if not self.accelerator.is_main_process:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise MissingExtraError(
                "train.tensorboard is on but TensorBoard is not installed: pip install tensorboard "
                "(metrics.csv is always written)."
            ) from None
        return SummaryWriter(str(Path(self.config.train.output_dir) / "tensorboard"))

    def _log(self, totals: dict[str, float]) -> None:
        if not self.accelerator.is_main_process:
            return
        if self._tensorboard is not None:
            for name in METRICS[1:]:
                self._tensorboard.add_scalar(f"train/{name}", totals[name], self.step)
        path = self.output_dir / "metrics.csv"
        new = not path.exists()
        with path.open("a", newline="") as handle:  # append-only: a crash loses nothing logged
            writer = csv.writer(handle)
            if new:
                writer.writerow(METRICS)
            writer.writerow([self.step, *(f"{totals[m]:.6g}" for m in METRICS[1:])])

    def save_checkpoint(self) -> Path:
        folder = self.output_dir / f"checkpoint-{self.step:08d}"
        self.accelerator.save_state(str(folder))
        if self.accelerator.is_main_process:
            # written last and atomically: a checkpoint counts only once it is complete
            atomic_write(
                folder / "trainer_state.json",
                lambda tmp: tmp.write_text(json.dumps({"step": self.step})),
                what="trainer state",
                error=CheckpointError,
            )
            checkpoints = sorted(self.output_dir.glob("checkpoint-*"))
            for old in checkpoints[: -self.config.train.keep_checkpoints]:
                shutil.rmtree(old, ignore_errors=True)
        return folder

    @classmethod
    def for_run(
        cls,
        config: str | Path,
        *,
        max_steps: int | None = None,
        resume: str | None = None,
        overwrite: bool = False,
        preset: str | None = None,
    ) -> DPOTrainer:
        """A trainer for the YAML ``config``, checked before any step: a new run must not replace
        an earlier one (:meth:`check_output_dir`), a resume must train what the run trained
        (:meth:`check_resume_config`; ``overwrite`` continues anyway). ``max_steps`` overrides
        ``train.max_steps``; ``preset`` fills the fields the file leaves unset. Bad data or a bad
        model fail here, in one line."""
        cfg = DPOConfig.from_yaml(config, preset=preset)
        if max_steps:
            cfg.train.max_steps = max_steps
        trainer = cls(cfg)
        if not resume:
            trainer.check_output_dir()
        else:
            trainer.check_resume_config(overwrite=overwrite)
        return trainer

    def check_output_dir(self) -> None:
        """Refuse an ``output_dir`` holding an earlier run: a new run never replaces its bank,
        adapter, checkpoints or metrics (resume it instead)."""
        if not self.output_dir.is_dir():
            return
        earlier = sorted(
            p.name
            for p in self.output_dir.iterdir()
            if p.name
            in {"bank.safetensors", "adapter.safetensors", "lora.safetensors", "metrics.csv"}
            or p.name.startswith("checkpoint-")
        )
        if earlier:
            raise TrainingOutputExistsError(
                f"{self.output_dir} already holds a run ({', '.join(earlier[:3])}"
                f"{', ...' if len(earlier) > 3 else ''}): pass --resume latest to continue it, or "
                "set train.output_dir to a new folder."
            )
        # a folder of other files (an eval run's results, a dataset) is no place for a run's
        # bank, adapter, checkpoints and metrics, which would be mixed among them
        foreign = sorted(
            p.name
            for p in self.output_dir.iterdir()
            if not p.name.startswith(".") and p.name not in _OWN_START_FILES
        )
        if foreign:
            raise TrainingOutputExistsError(
                f"{self.output_dir} holds other files ({', '.join(foreign[:3])}"
                f"{', ...' if len(foreign) > 3 else ''}): a training run writes its bank, "
                "adapter, checkpoints and metrics into a folder of its own; set train.output_dir "
                "to a new or empty folder."
            )

    def check_resume_config(self, *, overwrite: bool = False) -> None:
        """Refuse to resume a run under a config that trains something else: the run's
        ``config.json`` and this config must agree on every field but those in
        :data:`RESUMABLE_CHANGES` (e.g. ``train.max_steps``), or resuming would mix two trainings
        and replace the run's config, bank and adapter. ``overwrite`` continues anyway."""
        saved_path = self.output_dir / "config.json"
        if overwrite or not saved_path.is_file():
            return
        from emotion_director.files import read_json_file

        saved = read_json_file(
            saved_path,
            fix="the run's config is unknown; pass --overwrite to resume with this config anyway",
            error=CheckpointError,
        )
        old, new = _flatten(saved), _flatten(json.loads(self.config.model_dump_json()))
        old = {**ADDED_FIELDS, **old}  # a run from before a field existed trained its default
        differ = sorted(
            k
            for k in old.keys() | new.keys()
            if not _same(old.get(k), new.get(k)) and k not in RESUMABLE_CHANGES
        )
        if differ:
            shown = "; ".join(
                f"{k}: {_short(old.get(k))} -> {_short(new.get(k))}" for k in differ[:4]
            )
            raise ConfigError(
                f"--resume: this config differs from the run's {saved_path} in {shown}"
                f"{f' (and {len(differ) - 4} more)' if len(differ) > 4 else ''}; resuming would "
                "mix two trainings and replace the run's files. Resume with the run's config, "
                "pass --overwrite to continue with this one anyway, or set train.output_dir to a "
                "new folder."
            )

    def _resume(self, resume: str) -> None:
        if resume == "latest":
            checkpoints = sorted(
                p
                for p in self.output_dir.glob("checkpoint-*")
                if (p / "trainer_state.json").is_file()
            )
            if not checkpoints:
                return  # nothing saved yet: start from scratch
            for folder in reversed(checkpoints):
                try:
                    self._load_checkpoint(folder)
                    return
                except Exception as exc:  # a torn or damaged checkpoint: try the one before
                    self.notes.append(
                        f"{folder.name} is unreadable ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0][:100] if str(exc) else ''}); "
                        "falling back to the previous checkpoint."
                    )
            raise CheckpointError(
                f"no readable checkpoint in {self.output_dir}: every checkpoint-* failed to load; "
                "start a new run in a new train.output_dir."
            )
        folder = Path(resume)
        if not (folder / "trainer_state.json").is_file():
            raise CheckpointError(f"{folder}: not a training checkpoint.")
        self._load_checkpoint(folder)

    def _load_checkpoint(self, folder: Path) -> None:
        state = json.loads((folder / "trainer_state.json").read_text())
        self.accelerator.load_state(str(folder))
        self.step = int(state["step"])
        if self.notes:
            self.notes.append(f"resumed from {folder.name} (step {self.step}).")
        metrics = self.output_dir / "metrics.csv"
        if metrics.exists() and self.accelerator.is_main_process:
            # rows logged after the checkpoint belong to lost work
            rows = metrics.read_text().splitlines()
            kept = [rows[0]] + [r for r in rows[1:] if int(r.split(",")[0]) <= self.step]
            atomic_write(
                metrics,
                lambda tmp: tmp.write_text("\n".join(kept) + "\n"),
                what="metrics",
                error=CheckpointError,
            )

    def validate(self) -> list[Path]:
        if not self.accelerator.is_main_process:
            return []
        self._current_bank()
        folder = self.output_dir / "validation"
        folder.mkdir(exist_ok=True)
        paths = []
        r = self.config.data.resolution
        for prompt in self.config.train.validation_prompts:
            for emotion in self.config.train.validation_emotions:
                image = self.holder(
                    prompt,
                    emotion,
                    num_inference_steps=self.config.train.validation_steps,
                    generator=torch.Generator().manual_seed(0),
                    height=r,
                    width=r,
                ).images[0]
                tag = zlib.crc32(prompt.encode()) % 10**6
                path = folder / f"step{self.step:06d}-{emotion}-{tag:06d}.png"
                atomic_write(
                    path,
                    lambda tmp, image=image: image.save(tmp, format="PNG"),
                    what="validation image",
                    error=CheckpointError,
                )
                paths.append(path)
        return paths

    def export(self, folder: Path) -> Path:
        """Write ``bank.safetensors`` and ``adapter.safetensors`` for
        ``emotion-director generate``."""
        bank = self._current_bank()
        if self.accelerator.is_main_process:
            # generation must retrieve as training did: the temperature travels with the bank
            temperature = self.config.model.retrieval_temperature
            adapter = self.accelerator.unwrap_model(self.trainable).adapter
            # the preset and projector travel with both files: generate loads the projector
            # trained here without being told (and refuses a --preset that asks for another)
            record = {
                "projector": getattr(adapter.projector, "kind", None),
                "preset": self.config.preset or bank.metadata.get("preset"),
            }
            bank.metadata.update(
                {
                    "trained": "dpo",
                    "steps": self.step,
                    "retrieval_temperature": temperature,
                    **record,
                    "lora_rank": self.config.model.lora_rank,
                    "input_perturbation": self.config.train.input_perturbation,
                }
            )
            bank.save(folder / "bank.safetensors")
            adapter.save(
                folder / "adapter.safetensors",
                metadata={
                    "retrieval_temperature": json.dumps(temperature),
                    **{k: str(v) for k, v in record.items() if v},
                    "lora_rank": str(self.config.model.lora_rank),
                },
            )
            if self.config.model.lora_rank:
                self._save_lora(folder)
        return folder

    def _save_lora(self, folder: Path) -> None:
        """``lora.safetensors`` in diffusers' LoRA format: ``pipe.load_lora_weights`` reads it."""
        from diffusers.utils import convert_state_dict_to_diffusers
        from peft.utils import get_peft_model_state_dict

        layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(self.unet))
        layers = {k: v.detach().cpu() for k, v in layers.items()}

        def write(tmp: Path) -> None:  # diffusers writes into a folder: a private one, renamed
            with tempfile.TemporaryDirectory(dir=folder, prefix=".lora-") as scratch:
                type(self.pipe).save_lora_weights(
                    scratch,
                    unet_lora_layers=layers,
                    weight_name="lora.safetensors",
                    safe_serialization=True,
                )
                os.replace(Path(scratch) / "lora.safetensors", tmp)

        atomic_write(folder / "lora.safetensors", write, what="LoRA weights", error=CheckpointError)


def _flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"seed": 0}}`` -> ``{"train.seed": 0}``."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _same(old: Any, new: Any) -> bool:
    """Equal values, or two spellings of one existing file (a config given by another relative
    path resolves its data paths differently)."""
    if old == new:
        return True
    try:
        return (
            isinstance(old, str)
            and isinstance(new, str)
            and os.path.exists(old)
            and os.path.samefile(old, new)
        )
    except OSError:
        return False


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
