"""CLIP features for image evals and the emotion linear probe.

* :class:`ClipFeatures` loads a CLIP checkpoint (a transformers folder or id, e.g. a download of
  ``openai/clip-vit-base-patch32``: ``config.json``, weights, ``preprocessor_config.json`` and
  the tokenizer files) and gives L2-normalised image and text embeddings in CLIP's joint space.
* :class:`EmotionProbe` is a multinomial logistic regression over the 8 Mikels emotions on frozen
  image features (the EmoSet / EmoGen protocol for "emotion accuracy"). :func:`train_probe` fits
  it on an EmoSet-layout folder (``image/<emotion>/*.jpg``) or ``<emotion>/*.jpg`` with any image
  encoder :class:`~emotion_director.diffusion.bank_init.HFImageEncoder` reads (CLIP vision or
  DINOv2), holding out a stratified validation split; the probe file records which encoder its
  features came from, so scoring uses the same one.

Example (a real run passes an EmoSet-118K download and ``openai/clip-vit-base-patch32``; the
tiny stand-ins of :mod:`~emotion_director.evals.tiny_checkpoints` have the same layouts):
    >>> import tempfile
    >>> from emotion_director.evals.tiny_checkpoints import make_toy_emoset, save_tiny_clip
    >>> workdir = tempfile.TemporaryDirectory()
    >>> emoset = make_toy_emoset(f"{workdir.name}/EmoSet", per_emotion=4)
    >>> probe = train_probe(emoset, str(save_tiny_clip(f"{workdir.name}/clip")))
    >>> probe.metadata["val_accuracy"] > probe.metadata["chance"]  # one colour per emotion
    True
    >>> probe.save(f"{workdir.name}/probe.safetensors").name
    'probe.safetensors'
    >>> workdir.cleanup()
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emotion_director.diffusion.dependencies import require_diffusion

require_diffusion()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from emotion_director.emotions import Emotion  # noqa: E402
from emotion_director.errors import EmotionDirectorError  # noqa: E402
from emotion_director.evals.images import ImageEvalError  # noqa: E402
from emotion_director.files import load_safetensors, write_safetensors  # noqa: E402

PROBE_FORMAT = "emotion-director-emotion-probe"
EMOTIONS = [e.value for e in Emotion]


def _embeds(out: Any) -> torch.Tensor:
    # get_*_features returns a tensor in transformers 4.x and a model output in later versions
    if isinstance(out, torch.Tensor):
        return out
    for name in ("image_embeds", "text_embeds", "pooler_output"):
        value = getattr(out, name, None)
        if value is not None:
            return value
    raise ImageEvalError(f"unexpected CLIP output {type(out).__name__}: no embeddings.")


class ClipFeatures:
    """Normalised CLIP image and text embeddings (the space CLIPScore and diversity use)."""

    def __init__(self, model: Any, processor: Any, name: str, device: str = "cpu") -> None:
        self.model, self.processor, self.name = model.to(device).eval(), processor, name
        self.device = device

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, device: str = "cpu") -> ClipFeatures:
        from transformers import CLIPModel, CLIPProcessor

        name_or_path = _check_local("CLIP model", name_or_path)
        try:
            processor = CLIPProcessor.from_pretrained(str(name_or_path))
            model = CLIPModel.from_pretrained(str(name_or_path))
        except (OSError, ValueError, TypeError) as exc:
            raise ImageEvalError(
                f"cannot load CLIP model '{name_or_path}': {str(exc).splitlines()[0][:200]}. "
                "Pass a "
                "CLIP folder with config.json, weights, preprocessor_config.json and tokenizer "
                "files (e.g. a download of openai/clip-vit-base-patch32)."
            ) from None
        return cls(model, processor, str(name_or_path), device)

    @torch.no_grad()
    def images(self, batch: Sequence[Any]) -> torch.Tensor:
        pixels = self.processor(images=list(batch), return_tensors="pt")["pixel_values"]
        out = self.model.get_image_features(pixel_values=pixels.to(self.device))
        return F.normalize(_embeds(out).float(), dim=-1).cpu()

    @torch.no_grad()
    def texts(self, batch: Sequence[str]) -> torch.Tensor:
        tokens = self.processor.tokenizer(
            list(batch),
            padding=True,
            truncation=True,
            return_tensors="pt",
            max_length=self.processor.tokenizer.model_max_length,
        ).to(self.device)
        out = self.model.get_text_features(**tokens)
        return F.normalize(_embeds(out).float(), dim=-1).cpu()

    def __call__(self, batch: Sequence[Any]) -> torch.Tensor:  # the FeatureEncoder protocol
        return self.images(batch)


def _check_local(what: str, name_or_path: str | Path) -> str:
    """``name_or_path`` as the loaders take it; a path (absolute, relative with a ./ or ../, or
    under ~) that is not a folder is named as such, before the hub's loader reads it as a
    malformed hub id ("Repo id must use alphanumeric chars")."""
    text = str(name_or_path)
    if text.startswith(("/", "./", "../", "~")) or Path(text).exists():
        path = Path(text).expanduser()
        if not path.exists():
            raise ImageEvalError(f"{what} folder {path} not found: pass a folder or a hub id.")
        if not path.is_dir():
            raise ImageEvalError(
                f"{what} {path} is not a folder: pass the model's folder (with config.json)."
            )
        return str(path)  # (~ expanded: the loaders do not expand it)
    return text


def load_image_encoder(name_or_path: str, device: str = "cpu") -> Any:
    """A full CLIP checkpoint as :class:`ClipFeatures` (its projected image embeddings), anything
    else (a CLIP vision-only or DINOv2 folder) as ``HFImageEncoder``."""
    from transformers import AutoConfig

    name_or_path = _check_local("image encoder", name_or_path)
    try:
        model_type = AutoConfig.from_pretrained(str(name_or_path)).model_type
    except (OSError, ValueError) as exc:
        raise ImageEvalError(
            f"cannot load image encoder '{name_or_path}': {str(exc).splitlines()[0][:200]}"
        ) from None
    if model_type == "clip":
        # CLIPVisionModelWithProjection cannot read a full CLIP config's projection_dim (it
        # would re-initialise the projection), so the full model is loaded instead
        return ClipFeatures.from_pretrained(name_or_path, device=device)
    from emotion_director.diffusion.bank_init import HFImageEncoder

    try:
        return HFImageEncoder.from_pretrained(str(name_or_path), device=device)
    except EmotionDirectorError as exc:
        raise ImageEvalError(str(exc)) from None


@dataclass
class EmotionProbe:
    """Linear probe ``softmax(W (x - mean) / std + b)`` over :data:`EMOTIONS` on L2-normalised
    image features.

    Args:
        weight (`torch.Tensor`): ``[8, d]``. bias (`torch.Tensor`): ``[8]``.
        mean, std (`torch.Tensor`): ``[d]`` feature standardisation from the training set.
        metadata (`dict`): ``encoder`` (the image encoder the features come from), accuracies.
    """

    weight: torch.Tensor
    bias: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.weight.shape[1])

    @property
    def encoder(self) -> str:
        return str(self.metadata.get("encoder", ""))

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        if features.shape[-1] != self.dim:
            raise ImageEvalError(
                f"the probe expects {self.dim}-d features but the image encoder gives "
                f"{features.shape[-1]}-d: score with the encoder the probe was trained on "
                f"({self.encoder or 'see its metadata'}) or train a probe for this one."
            )
        x = (features.float() - self.mean) / self.std
        return x @ self.weight.T + self.bias

    def predict_proba(self, features: torch.Tensor) -> torch.Tensor:
        return self.logits(features).softmax(dim=-1)

    def save(self, path: str | Path, *, overwrite: bool = True) -> Path:
        """Write the probe to ``path`` through a temporary file and a rename (an existing file
        is replaced only with ``overwrite``; a symlink, device or FIFO there never is)."""
        path = Path(path)
        if path.suffix != ".safetensors":
            raise ImageEvalError(f"{path}: the probe file must end in .safetensors.")
        meta = {
            "format": PROBE_FORMAT,
            "emotions": json.dumps(EMOTIONS),
            "metadata": json.dumps(self.metadata),
        }
        tensors = {"weight": self.weight, "bias": self.bias, "mean": self.mean, "std": self.std}
        return write_safetensors(
            path, tensors, what="probe", metadata=meta, overwrite=overwrite, error=ImageEvalError
        )

    @classmethod
    def load(cls, path: str | Path) -> EmotionProbe:
        meta, tensors = load_safetensors(
            path,
            what="probe file",
            hint="train one with `emotion-director eval train-probe DATASET --encoder CLIP "
            "--out probe.safetensors`",
            error=ImageEvalError,
        )
        if meta.get("format") != PROBE_FORMAT or json.loads(meta.get("emotions", "[]")) != EMOTIONS:
            raise ImageEvalError(f"{path}: not an emotion probe written by `eval train-probe`.")
        try:
            probe = cls(
                tensors["weight"],
                tensors["bias"],
                tensors["mean"],
                tensors["std"],
                json.loads(meta.get("metadata", "{}")),
            )
        except KeyError as exc:
            raise ImageEvalError(f"{path}: probe file lacks tensor {exc}.") from None
        if probe.weight.shape[0] != len(EMOTIONS) or probe.bias.shape != (len(EMOTIONS),):
            raise ImageEvalError(f"{path}: probe has {probe.weight.shape[0]} classes, expected 8.")
        return probe


def fit_probe(
    features: torch.Tensor,
    labels: torch.Tensor,
    *,
    weight_decay: float = 1e-3,
    steps: int = 200,
) -> EmotionProbe:
    """Multinomial logistic regression (L-BFGS, full batch, L2 penalty) on standardised features."""
    mean = features.mean(0)
    std = features.std(0, unbiased=False).clamp_min(1e-6)
    x = (features - mean) / std
    weight = torch.zeros(len(EMOTIONS), x.shape[1], requires_grad=True)
    bias = torch.zeros(len(EMOTIONS), requires_grad=True)
    optimiser = torch.optim.LBFGS(
        [weight, bias], lr=1.0, max_iter=steps, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = F.cross_entropy(x @ weight.T + bias, labels) + weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return EmotionProbe(weight.detach(), bias.detach(), mean, std)


def split_train_val(
    labels: Sequence[int], val_fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Stratified split of indices; emotions with fewer than 2 images go to training only."""
    rng = random.Random(seed)
    train, val = [], []
    for label in sorted(set(labels)):
        mine = [i for i, y in enumerate(labels) if y == label]
        rng.shuffle(mine)
        k = int(round(len(mine) * val_fraction)) if len(mine) > 1 else 0
        val += mine[:k]
        train += mine[k:]
    return sorted(train), sorted(val)


def train_probe(
    dataset: str | Path,
    encoder: str | os.PathLike[str] | Any,
    *,
    val_fraction: float = 0.2,
    batch_size: int = 32,
    seed: int = 0,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> EmotionProbe:
    """Encode an EmoSet-layout folder (or JSONL manifest) and fit an :class:`EmotionProbe`.

    Args:
        dataset (`str`): folder ``image/<emotion>/*`` (EmoSet) or ``<emotion>/*``, or a manifest.
        encoder (`str` or encoder): image encoder id/folder (CLIP or DINOv2), or a loaded one.
        val_fraction (`float`, *optional*, defaults to 0.2): held-out share per emotion.
    """
    from emotion_director.diffusion.bank_init import _open_image, load_dataset

    try:
        items = load_dataset(dataset)
    except EmotionDirectorError as exc:
        raise ImageEvalError(str(exc)) from None
    present = {i.emotion for i in items}
    if len(present) < 2:
        raise ImageEvalError(
            f"{dataset}: the probe needs images of at least 2 emotions, found {sorted(present)}."
        )
    if isinstance(encoder, (str, os.PathLike)):
        model, name = load_image_encoder(str(encoder), device=device), str(encoder)
    else:
        model, name = encoder, getattr(encoder, "name", type(encoder).__name__)
    chunks = []
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        with torch.no_grad():
            # L2-normalised, as :func:`probe_features` gives them at scoring time
            chunks.append(
                F.normalize(model([_open_image(i.image) for i in batch]).float(), dim=-1).cpu()
            )
        if progress:
            progress(min(start + batch_size, len(items)), len(items))
    features = torch.cat(chunks)
    labels = [EMOTIONS.index(i.emotion) for i in items]
    train, val = split_train_val(labels, val_fraction, seed)
    y = torch.tensor(labels)
    probe = fit_probe(features[train], y[train])

    def accuracy(index: list[int]) -> float | None:
        if not index:
            return None
        return float((probe.logits(features[index]).argmax(-1) == y[index]).float().mean())

    probe.metadata = {
        "encoder": name,
        "dataset": str(dataset),
        "images": len(items),
        "train_images": len(train),
        "val_images": len(val),
        "train_accuracy": accuracy(train),
        "val_accuracy": accuracy(val),
        "chance": 1 / len(present),
        "images_per_emotion": {e: sum(1 for i in items if i.emotion == e) for e in EMOTIONS},
        "seed": seed,
    }
    return probe
