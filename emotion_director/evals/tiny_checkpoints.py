"""Tiny random stand-ins, built in code, for what a user downloads for the image evals.

* :func:`save_tiny_clip` writes a CLIP checkpoint in the folder layout of a download of
  ``openai/clip-vit-base-patch32`` (``config.json`` of a ``CLIPModel``, ``model.safetensors``,
  ``preprocessor_config.json``, ``vocab.json``/``merges.txt``/``tokenizer_config.json``/
  ``special_tokens_map.json``), with random weights at a tiny width. Its tokenizer is CLIP's
  real byte-pair vocabulary (49,408 tokens), converted from ``bpe_simple_vocab_16e6.txt.gz``
  (shipped with this package, the file OpenAI's vocabulary is converted from), or else the
  small byte-level vocabulary of :func:`~emotion_director.diffusion.tiny.tiny_clip_tokenizer`.
* :func:`make_toy_emoset` writes an EmoSet-layout folder (``image/<emotion>/*.jpg`` and
  ``annotation/<emotion>/*.json``) whose images are noisy patches in one colour per emotion, so
  a probe can learn it and a probe trained on it has a known right answer.

Example:
    >>> import tempfile
    >>> from transformers import CLIPModel
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     type(CLIPModel.from_pretrained(save_tiny_clip(folder))).__name__
    'CLIPModel'
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from emotion_director.clip_bpe import _bytes_to_unicode, clip_vocab_path
from emotion_director.emotions import Emotion
from emotion_director.files import make_output_dir


def open_clip_bpe_path() -> Path | None:
    """CLIP's BPE merges file (shipped with this package; see
    :mod:`~emotion_director.clip_bpe`)."""
    return clip_vocab_path()


def write_clip_bpe_files(folder: str | Path, bpe_path: str | Path) -> None:
    """``vocab.json`` and ``merges.txt`` converted from CLIP's BPE file, as OpenAI's are."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lines = gzip.open(bpe_path).read().decode("utf-8").split("\n")
    merges = lines[1 : 49152 - 256 - 2 + 1]
    alphabet = list(_bytes_to_unicode().values())
    vocab = alphabet + [c + "</w>" for c in alphabet]
    vocab += ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({tok: i for i, tok in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")


def save_tiny_clip(folder: str | Path, *, seed: int = 0, image_size: int = 32) -> Path:
    """Write a tiny random ``CLIPModel`` + ``CLIPProcessor`` to ``folder``; return it."""
    make_output_dir(folder, what="tiny CLIP")
    import torch
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPProcessor,
        CLIPTokenizer,
    )

    from emotion_director.diffusion.tiny import tiny_clip_tokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    bpe = open_clip_bpe_path()
    if bpe is not None:
        write_clip_bpe_files(folder, bpe)
        tokenizer = CLIPTokenizer(
            str(folder / "vocab.json"),
            str(folder / "merges.txt"),
            model_max_length=77,
            pad_token="<|endoftext|>",
        )
    else:
        tokenizer = tiny_clip_tokenizer(folder)
    bos, eos = tokenizer.convert_tokens_to_ids(["<|startoftext|>", "<|endoftext|>"])
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            max_position_embeddings=77,
            bos_token_id=bos,
            eos_token_id=eos,
            pad_token_id=eos,
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            image_size=image_size,
            patch_size=8,
        ),
        projection_dim=16,
    )
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    processor = CLIPProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": image_size},
            crop_size={"height": image_size, "width": image_size},
        ),
        tokenizer=tokenizer,
    )
    model.save_pretrained(str(folder))
    # the files of a hub download, not transformers 5's single processor_config.json
    processor.image_processor.save_pretrained(str(folder))
    processor.tokenizer.save_pretrained(str(folder))
    special = folder / "special_tokens_map.json"
    if not special.is_file():
        special.write_text(
            json.dumps(
                {
                    "bos_token": "<|startoftext|>",
                    "eos_token": "<|endoftext|>",
                    "unk_token": "<|endoftext|>",
                    "pad_token": "<|endoftext|>",
                },
                indent=2,
            )
        )
    return folder


EMOTION_COLOURS = {
    e.value: ((i * 97 + 40) % 255, (i * 53 + 90) % 255, (i * 29 + 160) % 255)
    for i, e in enumerate(Emotion)
}


def make_toy_emoset(
    folder: str | Path, *, per_emotion: int = 6, size: int = 32, seed: int = 0
) -> Path:
    """Write an EmoSet-layout folder of colour-coded noisy images; return ``folder``."""
    import numpy as np
    from PIL import Image

    folder = make_output_dir(folder, what="toy EmoSet")
    rng = np.random.default_rng(seed)
    for emotion, colour in EMOTION_COLOURS.items():
        (folder / "image" / emotion).mkdir(parents=True, exist_ok=True)
        (folder / "annotation" / emotion).mkdir(parents=True, exist_ok=True)
        for j in range(per_emotion):
            name = f"{emotion}_{j:05d}"
            pixels = np.clip(np.array(colour) + rng.normal(0, 20, (size, size, 3)), 0, 255)
            Image.fromarray(pixels.astype("uint8")).save(folder / "image" / emotion / f"{name}.jpg")
            (folder / "annotation" / emotion / f"{name}.json").write_text(
                json.dumps(
                    {
                        "emotion": emotion,
                        "image_id": name,
                        "scene": "field",
                        "object": ["tree"],
                    }
                )
            )
    return folder
