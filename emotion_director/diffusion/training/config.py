"""Training configuration: one pydantic model, loaded from YAML; every field documented.

``emotion-director train dpo --print-config`` prints the defaults as YAML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from emotion_director.errors import ConfigError

#: A config nested far deeper than its sections (model, data, loss, train) ever are.
_TOO_DEEP = (
    "{path}: YAML nested too deeply: a training config has a few levels (model, data, loss, "
    "train sections and their fields); check the file is the config you meant."
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ModelSection(_Section):
    pretrained: str = Field(
        default="tiny:sd15",
        description="diffusers folder or hub id of an SD 1.5/SDXL pipeline; 'tiny:sd15' or "
        "'tiny:sdxl' builds tiny random components (tests, smoke runs)",
    )
    bank: str = Field(default="random", description="initial bank (.safetensors) or 'random'")
    bank_tokens: int = Field(default=16, ge=1, description="L, tokens per emotion, for 'random'")
    bank_dim: int = Field(default=768, ge=1, description="token size d, for 'random'")
    adapter: str | None = Field(default=None, description="initial adapter weights (.safetensors)")
    train_bank: bool = Field(default=True, description="train the bank's tokens")
    train_projector: bool = Field(default=True, description="train the projector")
    train_kv: bool = Field(default=True, description="train the visual K/V of every layer")
    lora_rank: int = Field(
        default=0,
        ge=0,
        description="LoRA rank on the UNet's attention projections (0 = off; needs peft)",
    )
    lora_alpha: float | None = Field(default=None, gt=0, description="LoRA alpha (default: rank)")
    projector: Literal["mlp-attn-norm", "mlp-norm-attn"] | None = Field(
        default=None,
        description="projector layout: mlp-attn-norm (default) or mlp-norm-attn (the paper's); "
        "null: the one the initial adapter or bank records, else mlp-attn-norm",
    )
    lora_targets: list[str] = Field(
        default_factory=lambda: ["to_q", "to_k", "to_v", "to_out.0"],
        description="UNet module names that get LoRA layers",
    )
    retrieval_temperature: float | None = Field(
        default=0.1,
        gt=0,
        description="retrieval softmax temperature (> 0; saved with the bank, "
        "so generation retrieves the same way); null turns retrieval off",
    )


class DataSection(_Section):
    preferences: Path | None = Field(
        default=None, description="JSONL of {prompt, emotion, image_w, image_l, negative_emotion?}"
    )
    emotion_records: Path | None = Field(
        default=None,
        description="JSONL of {image, caption, emotion}: negative-visual-prompt "
        "pairs only (no loser image)",
    )
    resolution: int = Field(default=512, ge=8, description="square training resolution (pixels)")
    center_crop: bool = Field(default=True, description="center crop (else random crop)")
    random_flip: bool = Field(default=False, description="random horizontal flip")

    @model_validator(mode="after")
    def _some_data(self) -> DataSection:
        if self.preferences is None and self.emotion_records is None:
            raise ValueError("give data.preferences and/or data.emotion_records")
        return self


class LossSection(_Section):
    variant: Literal["sigmoid", "hinge", "ipo"] = Field(default="sigmoid", description="loss form")
    beta: float = Field(
        default=5000.0,
        gt=0,
        description="DPO beta: loss -log sigmoid(beta/2 * z), the Diffusion-DPO reference "
        "code's beta_dpo; diffusers' train_diffusion_dpo.py --beta_dpo is beta/2",
    )
    image_weight: float = Field(default=1.0, ge=0, description="weight of the image-pair term")
    nvp_weight: float = Field(
        default=1.0, ge=0, description="weight of the negative-visual-prompt term (0 = off)"
    )
    negative_sampling: Literal["uniform", "opposite", "hardest"] = Field(
        default="opposite",
        description="how the negative emotion is drawn when a record gives none: any other "
        "emotion, one of opposite polarity, or the most similar by bank tokens",
    )


class TrainSection(_Section):
    output_dir: Path = Field(default=Path("runs/dpo"), description="checkpoints, logs, weights")
    max_steps: int = Field(default=1000, ge=1, description="optimizer steps")
    batch_size: int = Field(default=4, ge=1, description="records per micro-batch (per device)")
    gradient_accumulation_steps: int = Field(default=1, ge=1)
    learning_rate: float = Field(default=1e-5, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    max_grad_norm: float = Field(default=1.0, gt=0)
    seed: int = Field(default=0, description="seeds data order, noise and timesteps")
    mixed_precision: Literal["no", "fp16", "bf16"] | None = Field(
        default=None,
        description="null: as accelerate's / DeepSpeed's config says (no config: "
        "fp32); a value here overrides it. Frozen modules are cast to this dtype, trained ones "
        "stay fp32",
    )
    gradient_checkpointing: bool = Field(default=False, description="trade compute for memory")
    input_perturbation: float = Field(
        default=0.0,
        ge=0,
        description="noise the noisy latents with noise + this * randn_like(noise), the target "
        "staying noise (diffusers' --input_perturbation; 0 = off)",
    )
    checkpoint_every: int = Field(default=100, ge=1, description="steps between checkpoints")
    keep_checkpoints: int = Field(default=3, ge=1, description="checkpoints kept (oldest removed)")
    log_every: int = Field(default=10, ge=1, description="steps between log rows (CSV)")
    validation_every: int | None = Field(
        default=None, ge=1, description="steps between validation images (null = off)"
    )
    validation_prompts: list[str] = Field(default_factory=lambda: ["a dog in a park"])
    validation_emotions: list[str] = Field(default_factory=lambda: ["awe", "sadness"])
    validation_steps: int = Field(default=20, ge=1, description="denoising steps for validation")
    tensorboard: bool = Field(default=False, description="also log to TensorBoard (if installed)")

    @field_validator("output_dir")
    @classmethod
    def _a_folder(cls, value: Path) -> Path:
        """Checked before the model loads: a file or a device in its place (``/dev/full``)
        failed only when the first checkpoint was written."""
        blocker = next((p for p in (value, *value.parents) if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            raise ValueError(
                f"{blocker} is a file or a device, not a folder: set train.output_dir to a folder "
                "path (it is created)"
            )
        return value


class DPOConfig(_Section):
    """Everything ``emotion-director train dpo`` needs.

    ``preset`` names a set of values (:mod:`~emotion_director.diffusion.presets`) that fill the
    fields the file leaves unset; a field the file sets keeps its value.
    """

    preset: str | None = Field(
        default=None,
        description="a preset (default, paper) whose values fill the fields this file does not "
        "set; null: none",
    )
    model: ModelSection = Field(default_factory=ModelSection)
    data: DataSection
    loss: LossSection = Field(default_factory=LossSection)
    train: TrainSection = Field(default_factory=TrainSection)

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str | None) -> str | None:
        from emotion_director.diffusion.presets import PRESETS

        if value is not None and value not in PRESETS:
            raise ValueError(f"unknown preset {value!r}: use one of {', '.join(PRESETS)}")
        return value

    @classmethod
    def from_yaml(cls, path: str | Path, *, preset: str | None = None) -> DPOConfig:
        """The config in the YAML file ``path`` (see :meth:`parse`); relative data paths are
        read from the file's folder."""
        path = Path(path)
        from emotion_director.files import MiB, read_text_file

        try:
            raw = yaml.safe_load(
                read_text_file(path, what="config file", max_bytes=MiB, error=ConfigError)
            )
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML ({str(exc).splitlines()[0]}).") from None
        except RecursionError:  # (YAML's composer recurses: 500 nested lists, hostile round 5)
            raise ConfigError(_TOO_DEEP.format(path=path)) from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping with model/data/loss/train sections.")
        try:
            config = cls.parse(raw, source=str(path), preset=preset)
        except RecursionError:
            raise ConfigError(_TOO_DEEP.format(path=path)) from None
        base = path.parent  # relative data paths are relative to the config file
        for field in ("preferences", "emotion_records"):
            value = getattr(config.data, field)
            if value is not None and not value.is_absolute():
                setattr(config.data, field, base / value)
        return config

    @classmethod
    def parse(cls, raw: dict, source: str = "config", *, preset: str | None = None) -> DPOConfig:
        """Validate ``raw``; ``preset`` (a ``--preset`` flag) replaces the file's ``preset`` key,
        and the preset's values fill the fields ``raw`` does not set."""
        raw = apply_preset(raw, preset)
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "(top level)"
            message = err["msg"].removeprefix("Value error, ")
            raise ConfigError(f"{source}: field '{field}': {message}.") from None


def apply_preset(raw: dict, preset: str | None = None) -> dict:
    """A copy of ``raw`` with ``preset`` (else ``raw["preset"]``) recorded and its values filled
    in where ``raw`` sets none. An unknown ``--preset`` name raises
    :class:`~emotion_director.errors.SettingsError` listing the presets."""
    import copy

    from emotion_director.diffusion.presets import PRESETS, get_preset

    raw = copy.deepcopy(raw)
    if preset is not None:
        raw["preset"] = get_preset(preset).name
    name = raw.get("preset")
    chosen = PRESETS.get(name.strip().lower()) if isinstance(name, str) else None
    if chosen is None:
        return raw  # no preset, or an unknown one: validation names the field
    raw["preset"] = chosen.name
    for section, values in chosen.config_overrides().items():
        target = raw.setdefault(section, {})
        if isinstance(target, dict):
            for key, value in values.items():
                target.setdefault(key, value)
    return raw


def default_config_yaml() -> str:
    """The defaults, with each field's description as a comment."""
    lines = [
        f"preset: null  # {DPOConfig.model_fields['preset'].description}",
    ]
    for section_name, section_cls in (
        ("model", ModelSection),
        ("data", DataSection),
        ("loss", LossSection),
        ("train", TrainSection),
    ):
        lines.append(f"{section_name}:")
        for name, field in section_cls.model_fields.items():
            default = field.get_default(call_default_factory=True)
            if isinstance(default, Path):
                default = str(default)
            value = yaml.safe_dump({name: default}, default_flow_style=True).strip()[1:-1]
            lines.append(f"  {value}  # {field.description or ''}".rstrip(" #"))
    return "\n".join(lines) + "\n"
