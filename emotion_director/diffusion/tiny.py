"""Tiny randomly initialised diffusers components, built in code (no downloads).

Used by the tests, the CLI's smoke path and the benchmarks. :func:`write_tiny_pipeline` and
:func:`write_tiny_image_encoder` save them in the exact folder layouts and classes of the real
checkpoints (SD 1.5: ``text_encoder`` = ``CLIPTextModel`` + ``tokenizer/``; SDXL adds
``text_encoder_2`` = ``CLIPTextModelWithProjection`` + ``tokenizer_2/``; CLIP vision and DINOv2
image encoders with their processors), as diffusers' ``hf-internal-testing`` repos do. The
``size="full"`` builders give SD 1.5 / SDXL *dimensions* (768 / 2048-d text states, 64x64 /
128x128 latents) with random weights, for benchmarks on a GPU.

Example:
    >>> pipe = build_tiny_pipeline("sd15")
    >>> type(pipe).__name__, type(pipe.text_encoder).__name__
    ('StableDiffusionPipeline', 'CLIPTextModel')
"""

from __future__ import annotations

import json
import string
import tempfile
from pathlib import Path
from typing import Any, Literal

import torch

from emotion_director.files import make_output_dir

Kind = Literal["sd15", "sdxl"]

TINY_WORDS = (
    "a an the dog cat park in on of with and light sun sunlight golden warm cold soft grass "
    "tree sky cloud clouds storm sea wide shot low angle close up palette blue red green "
    "asleep eyes curled up lying field mountain child man woman rain night fog"
).split()


def tiny_clip_tokenizer(folder: str | Path | None = None, model_max_length: int = 77) -> Any:
    """A CLIPTokenizer from a small local byte-level vocabulary (characters + a few words).

    Without ``folder`` the vocabulary files go to a temporary folder that is removed as soon as
    the tokenizer has read them (it keeps its vocabulary in memory).
    """
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="tiny-clip-tok-") as tmp:
            return tiny_clip_tokenizer(tmp, model_max_length)
    from transformers import CLIPTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab_list = ["<|startoftext|>", "<|endoftext|>"]
    vocab_list += chars + [c + "</w>" for c in chars]
    merges: list[str] = []
    for word in TINY_WORDS:  # greedy left-to-right merges so each listed word is one token
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            merged = pieces[0] + pieces[1]
            merges.append(f"{pieces[0]} {pieces[1]}")
            if merged not in vocab_list:
                vocab_list.append(merged)
            pieces = [merged, *pieces[2:]]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(vocab_list))}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n")
    return CLIPTokenizer(
        str(folder / "vocab.json"),
        str(folder / "merges.txt"),
        model_max_length=model_max_length,
        pad_token="<|endoftext|>",
    )


def tiny_text_encoder(
    vocab_size: int, hidden: int = 32, projection: int | None = None, seed: int = 0, layers: int = 2
) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    config = CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        hidden_size=hidden,
        intermediate_size=37 if hidden <= 64 else 4 * hidden,
        layer_norm_eps=1e-5,
        num_attention_heads=4 if hidden <= 64 else hidden // 64,
        num_hidden_layers=layers,
        vocab_size=vocab_size,
        max_position_embeddings=77,
        hidden_act="gelu",
        projection_dim=projection or hidden,
    )
    model_cls = CLIPTextModelWithProjection if projection else CLIPTextModel
    return model_cls(config).eval()


def unet_config(kind: Kind, size: Literal["tiny", "full"] = "tiny") -> dict[str, Any]:
    """A UNet2DConditionModel config: tiny for tests, or SD 1.5 / SDXL shapes for benchmarks."""
    if size == "full" and kind == "sd15":
        return dict(
            sample_size=64,
            in_channels=4,
            out_channels=4,
            layers_per_block=2,
            block_out_channels=(320, 640, 1280, 1280),
            cross_attention_dim=768,
            attention_head_dim=8,
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        )
    if size == "full":
        return dict(
            sample_size=128,
            in_channels=4,
            out_channels=4,
            layers_per_block=2,
            block_out_channels=(320, 640, 1280),
            cross_attention_dim=2048,
            attention_head_dim=(5, 10, 20),
            use_linear_projection=True,
            transformer_layers_per_block=(1, 2, 10),
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            addition_embed_type="text_time",
            addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=2816,
        )
    base = dict(
        sample_size=16,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(32, 64),
        norm_num_groups=32,
        cross_attention_dim=32,
        attention_head_dim=(2, 4),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
    )
    if kind == "sdxl":
        base.update(
            cross_attention_dim=64,
            use_linear_projection=True,
            transformer_layers_per_block=(1, 2),
            addition_embed_type="text_time",
            addition_time_embed_dim=8,
            projection_class_embeddings_input_dim=80,  # 6 * 8 + 32 (pooled text embeds)
        )
    return base


def build_unet(kind: Kind, size: Literal["tiny", "full"] = "tiny", seed: int = 0) -> Any:
    from diffusers import UNet2DConditionModel

    torch.manual_seed(seed)
    return UNet2DConditionModel(**unet_config(kind, size)).eval()


def build_tiny_pipeline(
    kind: Kind = "sd15", seed: int = 0, size: Literal["tiny", "full"] = "tiny"
) -> Any:
    """A complete StableDiffusion(XL)Pipeline with random weights.

    ``size="tiny"``: tiny everything (CPU, ~1 s per image). ``size="full"``: the real SD 1.5 /
    SDXL UNet, text encoders of the real widths (768, and 1280 with a 1280-d projection for
    SDXL's second; fewer layers), and a narrow VAE with the real 8x downsampling, so 512 / 1024
    pixels give 64x64 / 128x128 latents. Build ``full`` under ``torch.device("cuda")``.
    """
    from diffusers import AutoencoderKL

    unet = build_unet(kind, size, seed=seed)
    torch.manual_seed(seed)
    blocks = [32, 64] if size == "tiny" else [32, 32, 64, 64]
    vae = AutoencoderKL(
        block_out_channels=blocks,
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * len(blocks),
        up_block_types=["UpDecoderBlock2D"] * len(blocks),
        latent_channels=4,
        sample_size=32 if size == "tiny" else (512 if kind == "sd15" else 1024),
        norm_num_groups=32,
        scaling_factor=0.18215 if kind == "sd15" else 0.13025,
    ).eval()
    tokenizer = tiny_clip_tokenizer()
    full = size == "full"
    with torch.device("cpu"):  # schedulers keep numpy-bound tables: never on a default GPU
        return _assemble(kind, unet, vae, tokenizer, full, seed)


def _assemble(kind: Kind, unet: Any, vae: Any, tokenizer: Any, full: bool, seed: int) -> Any:
    from diffusers import (
        DDIMScheduler,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
        StableDiffusionXLPipeline,
    )

    layers = 4 if full else 2
    # what both kinds share: SD's noise schedule, the UNet, the VAE and the first text encoder
    noise: dict[str, Any] = dict(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1
    )
    parts: dict[str, Any] = dict(
        unet=unet,
        vae=vae,
        text_encoder=tiny_text_encoder(
            len(tokenizer), hidden=768 if full else 32, seed=seed, layers=layers
        ),
        tokenizer=tokenizer,
    )
    if kind == "sd15":
        return StableDiffusionPipeline(
            **parts,
            scheduler=DDIMScheduler(**noise, clip_sample=False, set_alpha_to_one=False),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    return StableDiffusionXLPipeline(
        **parts,
        scheduler=EulerDiscreteScheduler(**noise, timestep_spacing="leading"),
        text_encoder_2=tiny_text_encoder(
            len(tokenizer),
            hidden=1280 if full else 32,
            projection=1280 if full else 32,
            seed=seed + 1,
            layers=layers,
        ),
        tokenizer_2=tokenizer,
    )


def write_tiny_pipeline(folder: str | Path, kind: Kind = "sd15", seed: int = 0) -> Path:
    """Save a tiny pipeline in the real diffusers layout (``model_index.json``, ``scheduler/``,
    ``text_encoder/`` + ``tokenizer/``, SDXL's ``text_encoder_2/`` + ``tokenizer_2/``, ``unet/``,
    ``vae/``), loadable with ``DiffusionPipeline.from_pretrained``."""
    folder = make_output_dir(folder, what="tiny pipeline")
    build_tiny_pipeline(kind, seed).save_pretrained(str(folder))
    return folder


def write_tiny_image_encoder(
    folder: str | Path, kind: Literal["clip", "dinov2"] = "clip", seed: int = 0
) -> Path:
    """Save a tiny image encoder in the layout of ``openai/clip-vit-*``
    (``CLIPVisionModelWithProjection`` + ``CLIPImageProcessor``) or ``facebook/dinov2-*``
    (``Dinov2Model`` + ``BitImageProcessor``)."""
    make_output_dir(folder, what="tiny image encoder")
    from transformers import (
        BitImageProcessor,
        CLIPImageProcessor,
        CLIPVisionConfig,
        CLIPVisionModelWithProjection,
        Dinov2Config,
        Dinov2Model,
    )

    folder = Path(folder)
    torch.manual_seed(seed)
    # the same tiny vision transformer in both layouts
    vit = dict(
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        image_size=32,
        patch_size=8,
    )
    sizes = {"size": {"shortest_edge": 32}, "crop_size": {"height": 32, "width": 32}}
    if kind == "clip":
        model = CLIPVisionModelWithProjection(CLIPVisionConfig(**vit, projection_dim=24))
        processor = CLIPImageProcessor(**sizes)
    elif kind == "dinov2":
        model = Dinov2Model(Dinov2Config(**vit))
        processor = BitImageProcessor(**sizes, do_convert_rgb=True)
    else:
        raise ValueError(f"unknown image encoder kind {kind!r}: use clip or dinov2.")
    model.eval().save_pretrained(str(folder))
    processor.save_pretrained(str(folder))
    return folder
