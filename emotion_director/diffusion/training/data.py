"""Training records: preference pairs and plain emotion images, with clear per-line errors."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from emotion_director import files
from emotion_director.diffusion.bank import BankError
from emotion_director.emotions import Emotion, resolve_emotion
from emotion_director.errors import DatasetError, UnknownEmotionError
from emotion_director.files import make_output_dir, read_jsonl


@dataclass(frozen=True)
class TrainingRecord:
    """One training sample: an image under an emotion, with an optional dispreferred image."""

    prompt: str
    emotion: str
    image_w: Path
    image_l: Path | None = None
    negative_emotion: str | None = None


def _emotion(value: object, where: str) -> str:
    try:
        return resolve_emotion(str(value)).value
    except UnknownEmotionError as exc:
        raise DatasetError(f"{where}: {exc}") from None


def load_records(preferences: Path | None, emotion_records: Path | None) -> list[TrainingRecord]:
    """Read both JSONL kinds; image paths are relative to their JSONL file."""
    records: list[TrainingRecord] = []
    for path, kind in ((preferences, "preference"), (emotion_records, "emotion")):
        if path is None:
            continue
        for number, data in read_jsonl(
            path, what=f"{kind} file", item=f"{kind} record", error=DatasetError
        ):
            records.append(_record(data, path, number, kind))
    if not records:
        raise DatasetError("no training records: the data files are empty.")
    return records


def _record(data: dict, path: Path, number: int, kind: str) -> TrainingRecord:
    where = f"{path}:{number}"
    required = (
        ("prompt", "emotion", "image_w", "image_l")
        if kind == "preference"
        else ("image", "caption", "emotion")
    )
    missing = [k for k in required if not data.get(k)]
    if missing:
        raise DatasetError(f"{where}: missing field(s) {', '.join(missing)} in a {kind} record.")

    def image(key: str) -> Path:
        return _image_path(path.parent, str(data[key]), f"{where}: field '{key}'")

    negative = data.get("negative_emotion")
    if kind == "preference":
        return TrainingRecord(
            prompt=str(data["prompt"]),
            emotion=_emotion(data["emotion"], where),
            image_w=image("image_w"),
            image_l=image("image_l"),
            negative_emotion=_emotion(negative, where) if negative else None,
        )
    return TrainingRecord(
        prompt=str(data["caption"]),
        emotion=_emotion(data["emotion"], where),
        image_w=image("image"),
        negative_emotion=_emotion(negative, where) if negative else None,
    )


#: larger images are refused before decoding (a 30k x 30k PNG would take gigabytes); the same
#: limit as every other image the program reads
MAX_IMAGE_PIXELS = files.MAX_IMAGE_PIXELS


def _image_path(root: Path, value: str, where: str) -> Path:
    """Resolve an image path under the data root (the JSONL's folder) and check it is an image.

    Paths that leave the root (``../../etc/passwd``, absolute paths elsewhere, symlinks out) are
    refused: a data file must not make training read arbitrary files.
    """
    base = root.resolve()
    file = (base / value).resolve()
    if not file.is_relative_to(base):
        raise DatasetError(
            f"{where}: image path {value!r} leaves the data folder {base}: keep images under the "
            "folder of the JSONL file and use relative paths."
        )
    if not file.exists():
        raise DatasetError(f"{where}: image {file} not found.")
    if not file.is_file():
        raise DatasetError(
            f"{where}: image {file} is not a regular file (a folder, FIFO or device): point it at "
            "an image file."
        )
    check_image(file, where)
    return file


def check_image(file: Path, where: str) -> None:
    """Open the header only: a non-image or an oversize image (pixels, or bytes over what
    :func:`load_image_tensor` will read) is a one-line error before training starts."""
    from PIL import Image, UnidentifiedImageError

    size = file.stat().st_size
    if size > files.MAX_IMAGE_BYTES:
        raise DatasetError(
            f"{where}: {file} is {size:,} bytes, over the {files.MAX_IMAGE_BYTES:,}-byte limit: "
            "resize or recompress it (training crops to data.resolution anyway)."
        )
    try:
        with Image.open(file) as img:
            width, height = img.size
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise DatasetError(
            f"{where}: {file} is not a readable image ({type(exc).__name__}): "
            "use PNG/JPEG/WebP files."
        ) from None
    if width * height > MAX_IMAGE_PIXELS:
        raise DatasetError(
            f"{where}: {file} is {width}x{height} pixels, "
            f"over the {MAX_IMAGE_PIXELS:,}-pixel limit: "
            "resize it (training crops to data.resolution anyway)."
        )


def load_image_tensor(
    path: Path, resolution: int, *, center_crop: bool, flip: bool, rng: random.Random
) -> torch.Tensor:
    """``[3, R, R]`` in ``[-1, 1]``: resize the short side, crop, optionally flip. The file is
    read as every image is (:func:`~emotion_director.files.read_rgb_image`: a regular file of
    bounded bytes and pixels), so one replaced after :func:`check_image` is still refused."""
    from PIL import Image

    img = files.read_rgb_image(
        path, what="training image", error=DatasetError, max_pixels=MAX_IMAGE_PIXELS
    )
    scale = resolution / min(img.size)
    img = img.resize(
        (max(resolution, round(img.width * scale)), max(resolution, round(img.height * scale))),
        Image.BICUBIC,
    )
    if center_crop:
        left, top = (img.width - resolution) // 2, (img.height - resolution) // 2
    else:
        left, top = (
            rng.randint(0, img.width - resolution),
            rng.randint(0, img.height - resolution),
        )
    img = img.crop((left, top, left + resolution, top + resolution))
    if flip and rng.random() < 0.5:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    array = np.asarray(img, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1)


def sample_negative_emotion(
    emotion: str, strategy: str, rng: random.Random, bank: object | None = None
) -> str:
    """Another emotion for the negative visual prompt (see ``loss.negative_sampling``)."""
    from emotion_director.emotions import EMOTIONS

    target = resolve_emotion(emotion)
    others = [e for e in Emotion if e is not target]
    if strategy == "opposite":
        pool = [e for e in others if EMOTIONS[e].polarity != EMOTIONS[target].polarity]
        return rng.choice(pool).value
    if strategy == "hardest":
        if bank is None:
            raise BankError("negative_sampling 'hardest' needs a bank.")
        means = bank.tokens.detach().float().mean(dim=1)  # type: ignore[attr-defined]
        sims = torch.nn.functional.cosine_similarity(means, means[bank.index(target)][None], dim=-1)  # type: ignore[attr-defined]
        best = max(others, key=lambda e: float(sims[bank.index(e)]))  # type: ignore[attr-defined]
        return best.value
    return rng.choice(others).value


def make_toy_preferences(
    folder: str | Path, per_emotion: int = 4, size: int = 32, seed: int = 0
) -> Path:
    """Write a toy preference set: each emotion has a colour; the winner is drawn in the target
    emotion's colour, the loser in another emotion's. Returns the JSONL path."""
    from PIL import Image

    folder = make_output_dir(folder, what="toy preference set")
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    colours = {
        e: np.array([(i * 97 + 40) % 255, (i * 53 + 90) % 255, (i * 29 + 160) % 255])
        for i, e in enumerate(Emotion)
    }

    def draw(emotion: Emotion, name: str) -> str:
        pixels = np.clip(colours[emotion] + rng.normal(0, 20, (size, size, 3)), 0, 255)
        Image.fromarray(pixels.astype("uint8")).save(folder / "images" / name)
        return f"images/{name}"

    lines = []
    emotions = list(Emotion)
    for i, emotion in enumerate(emotions):
        for j in range(per_emotion):
            other = emotions[(i + 1 + j) % len(emotions)]
            lines.append(
                json.dumps(
                    {
                        "prompt": "a dog in a park",
                        "emotion": emotion.value,
                        "image_w": draw(emotion, f"{emotion.value}-{j}-w.png"),
                        "image_l": draw(other, f"{emotion.value}-{j}-l.png"),
                    }
                )
            )
    path = folder / "preferences.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def make_toy_emoset(
    folder: str | Path, per_emotion: int = 16, size: int = 32, seed: int = 0
) -> Path:
    """Write a toy dataset in EmoSet's layout (``image/<emotion>/*.jpg`` +
    ``annotation/<emotion>/*.json`` with scene/object attributes): each emotion has a colour."""
    from PIL import Image

    folder = make_output_dir(folder, what="toy EmoSet")
    rng = np.random.default_rng(seed)
    scenes, objects = ["park", "field", "sea", "street"], ["dog", "cat", "tree", "child"]
    for i, emotion in enumerate(Emotion):
        (folder / "image" / emotion.value).mkdir(parents=True, exist_ok=True)
        (folder / "annotation" / emotion.value).mkdir(parents=True, exist_ok=True)
        colour = np.array([(i * 37) % 255, (i * 91) % 255, (i * 53) % 255])
        for j in range(per_emotion):
            pixels = np.clip(colour + rng.normal(0, 30, (size, size, 3)), 0, 255).astype("uint8")
            name = f"{emotion.value}_{j:05d}"
            Image.fromarray(pixels).save(folder / "image" / emotion.value / f"{name}.jpg")
            (folder / "annotation" / emotion.value / f"{name}.json").write_text(
                json.dumps(
                    {"emotion": emotion.value, "scene": [scenes[j % 4]], "object": [objects[j % 4]]}
                )
            )
    return folder
