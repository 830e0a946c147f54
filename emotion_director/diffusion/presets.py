"""Named sets of MC-Diffusion settings (``--preset`` on ``bank init``, ``train dpo``, ``generate``).

A preset is data: the values below, applied where a config is built, never a code path of its
own. A value the user sets explicitly (a config field, a flag) wins over the preset's.

* ``default``: what this project tests most. K-means per emotion on the concatenation
  ``[image; text]`` of one image encoder's and the caption's features, the
  ``mlp-attn-norm`` projector, no UNet LoRA, no input perturbation.
* ``paper``: the configuration of Emotion-Director (arXiv 2512.19479). K-means on the
  concatenated DINO and CLIP *image* features (the caption's features become each cluster's
  retrieval key, the mean over its members), the ``mlp-norm-attn`` projector (MLP, LayerNorm,
  self-attention), a rank-8 UNet LoRA, and input perturbation 0.1 in DPO (the noise that makes
  the noisy latents is ``noise + 0.1 * randn_like(noise)`` while the target stays ``noise``, as
  diffusers' ``--input_perturbation``). The rank and the 0.1 are the values of diffusers'
  Diffusion-DPO commands and of its ``--input_perturbation`` help ("recommended 0.1").

What a preset chose is written into what it builds (the bank's metadata, the adapter's header,
``config.json``), so ``generate`` loads the matching projector from the files alone.

Example:
    >>> get_preset("paper").projector, get_preset("paper").lora_rank
    ('mlp-norm-attn', 8)
    >>> get_preset("papr")
    Traceback (most recent call last):
    ...
    emotion_director.errors.SettingsError: unknown preset 'papr': use one of default, paper.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from emotion_director.errors import SettingsError

ProjectorKind = Literal["mlp-attn-norm", "mlp-norm-attn"]
BankFeatures = Literal["image+text", "dino+clip"]

#: the projector of files written before projectors had names
DEFAULT_PROJECTOR: ProjectorKind = "mlp-attn-norm"
PROJECTOR_KINDS: tuple[str, ...] = ("mlp-attn-norm", "mlp-norm-attn")


class Preset(BaseModel):
    """One named set of settings (frozen: a preset never changes at run time)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    summary: str
    bank_features: BankFeatures = Field(
        description="what bank init clusters: [image; text] of one image encoder, or the "
        "concatenated DINO + CLIP image features"
    )
    projector: ProjectorKind = Field(description="the projector's layout")
    lora_rank: int = Field(ge=0, description="UNet LoRA rank in train dpo (0 = off)")
    input_perturbation: float = Field(ge=0, description="DPO input perturbation (0 = off)")

    def config_overrides(self) -> dict[str, dict[str, Any]]:
        """The training-config values this preset sets (``section -> field -> value``)."""
        return {
            "model": {"projector": self.projector, "lora_rank": self.lora_rank},
            "train": {"input_perturbation": self.input_perturbation},
        }

    @property
    def cluster_on(self) -> Literal["image+text", "image"]:
        """What ``init_bank`` clusters: ``[image; text]``, or the (DINO + CLIP) image features."""
        return "image" if self.bank_features == "dino+clip" else "image+text"

    def bank_record(self) -> dict[str, str]:
        """What ``bank init`` records in a bank built under this preset."""
        return {
            "preset": self.name,
            "projector": self.projector,
            "bank_features": self.bank_features,
        }


PRESETS: dict[str, Preset] = {
    "default": Preset(
        name="default",
        summary="K-means on [image; text] features, mlp-attn-norm projector, no LoRA, no "
        "input perturbation (what the tests cover most)",
        bank_features="image+text",
        projector="mlp-attn-norm",
        lora_rank=0,
        input_perturbation=0.0,
    ),
    "paper": Preset(
        name="paper",
        summary="Emotion-Director's configuration: K-means on DINO + CLIP image features, "
        "MLP + LayerNorm + self-attention projector, UNet LoRA (rank 8), input perturbation 0.1",
        bank_features="dino+clip",
        projector="mlp-norm-attn",
        lora_rank=8,
        input_perturbation=0.1,
    ),
}


def get_preset(name: str | None) -> Preset:
    """The preset called ``name`` (``None``: ``default``); an unknown name lists the presets."""
    key = "default" if name is None else str(name).strip().lower()
    if key not in PRESETS:
        raise SettingsError(f"unknown preset {name!r}: use one of {', '.join(PRESETS)}.")
    return PRESETS[key]


def resolve_projector(
    preset: Preset | str | None, records: list[tuple[str, str | None]]
) -> ProjectorKind:
    """The projector to build for a set of files.

    ``records`` are ``(file, projector it was built with)`` pairs (``None`` where the file does
    not say: files from before projectors had names). With a ``preset``, its projector, after
    checking that no file was built with another one; without, the first file's record, else
    :data:`DEFAULT_PROJECTOR`.
    """
    known = [(source, kind) for source, kind in records if kind is not None]
    for source, kind in known:
        if kind not in PROJECTOR_KINDS:
            raise SettingsError(
                f"{source} names an unknown projector {kind!r} (this version knows "
                f"{', '.join(PROJECTOR_KINDS)}): upgrade emotion-director or rebuild the file."
            )
    if preset is None:
        return known[0][1] if known else DEFAULT_PROJECTOR  # type: ignore[return-value]
    asked = get_preset(preset) if isinstance(preset, str) else preset
    for source, kind in known:
        if kind != asked.projector:
            raise SettingsError(
                f"{source} was built with the {kind} projector, but --preset {asked.name} uses "
                f"{asked.projector}: drop --preset (the files say which projector to load) or "
                f"use files built under --preset {asked.name}."
            )
    return asked.projector
