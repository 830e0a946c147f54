"""Build a :class:`VisualPromptBank` from an emotion image–text dataset with K-means.

Datasets:

* a JSONL manifest, one record per line: ``{"image": "path.jpg", "caption": "...",
  "emotion": "awe"}`` (image paths relative to the manifest);
* a folder ``ROOT/<emotion>/*.jpg`` with an optional caption per image in ``<name>.txt``; this
  also reads EmoSet's layout, ``ROOT/image/<emotion>/*.jpg`` with ``ROOT/annotation/<emotion>/
  <name>.json``, where a caption is written from EmoSet's attributes (scene, object, facial
  expression, human action).

Each image is encoded with an image encoder and its caption with a text encoder; per emotion,
K-means (k-means++ init, seeded) on the L2-normalised concatenation ``[image; text]`` gives L
centres, whose image part becomes the tokens and whose text part the retrieval keys. The paper
preset (``cluster_on="image"`` with a :class:`ConcatImageEncoder` of DINO and CLIP vision)
clusters the image features alone, ``[DINO; CLIP]`` each L2-normalised: the centres are the
tokens, and each cluster's retrieval key is the mean text feature of its members. Features are
cached (``cache_dir``) per item, keyed on the image's bytes and the caption, and per pair of
encoders, keyed on a digest of all their weights, so an interrupted build resumes where it stopped
and neither a replaced image nor a changed layer of an encoder ever reuses stale features.

Under ``accelerate launch`` (or ``torchrun``) every process encodes its shard of the dataset into
the shared cache; the main process then clusters and returns the bank (the others return
``None``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Protocol

from emotion_director.diffusion.dependencies import require_diffusion

require_diffusion()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from emotion_director import files  # noqa: E402
from emotion_director.diffusion.bank import BankError, VisualPromptBank  # noqa: E402
from emotion_director.diffusion.retrieval import embed_texts_for_retrieval  # noqa: E402
from emotion_director.emotions import Emotion, resolve_emotion  # noqa: E402
from emotion_director.errors import InvalidRequestError, UnknownEmotionError  # noqa: E402
from emotion_director.files import (  # noqa: E402
    check_output_path,
    read_jsonl,
    read_regular_file,
    write_text_atomic,
)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


@dataclass(frozen=True)
class EmotionImage:
    image: Path
    caption: str
    emotion: str

    @cached_property
    def key(self) -> str:
        """Feature-cache key: the image's *content* and the caption (not the path), so an image
        replaced at the same path is encoded again, and a moved dataset keeps its features."""
        return hashlib.sha1(f"{content_digest(self.image)}|{self.caption}".encode()).hexdigest()


def content_digest(path: Path) -> str:
    """SHA-1 of a file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.sha1()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise BankError(f"image {path}: cannot read it ({exc.strerror or exc}).") from None
    return digest.hexdigest()


class FeatureEncoder(Protocol):
    """Anything that turns a batch of inputs into ``[N, d]`` features.

    ``name`` is shown in the bank's metadata; ``identity`` (when present) keys the feature cache
    and must change whenever the features would (other weights, other pooling).
    """

    name: str

    def __call__(self, batch: Sequence[Any]) -> torch.Tensor: ...


def load_dataset(source: str | Path) -> list[EmotionImage]:
    """Read a JSONL manifest, an EmoSet folder, or a ``<emotion>/*.jpg`` folder."""
    source = Path(source)
    if not source.exists():
        raise BankError(f"dataset {source} not found: pass a JSONL manifest or an image folder.")
    items = _from_manifest(source) if source.is_file() else _from_folder(source)
    if not items:
        raise BankError(f"dataset {source} has no images with a known emotion.")
    return items


def _from_manifest(path: Path) -> list[EmotionImage]:
    items = []
    for number, record in read_jsonl(
        path,
        what="manifest",
        item='manifest record ({"image", "caption", "emotion"})',
        error=BankError,
    ):
        try:
            image = (path.parent / record["image"]).resolve()
            emotion = resolve_emotion(record["emotion"]).value
            caption = str(record.get("caption") or "")
        except (KeyError, TypeError) as exc:
            raise BankError(
                f'{path}:{number}: expected {{"image", "caption", "emotion"}} ({exc}).'
            ) from None
        except UnknownEmotionError as exc:
            raise BankError(f"{path}:{number}: {exc}") from None
        if not image.is_file():
            raise BankError(f"{path}:{number}: image {image} not found.")
        items.append(EmotionImage(image, caption, emotion))
    return items


def _from_folder(root: Path) -> list[EmotionImage]:
    image_root = root / "image" if (root / "image").is_dir() else root
    items = []
    for folder in sorted(p for p in image_root.iterdir() if p.is_dir()):
        try:
            emotion = resolve_emotion(folder.name).value
        except UnknownEmotionError:
            continue
        for image in sorted(folder.iterdir()):
            if image.suffix.lower() in IMAGE_SUFFIXES:
                items.append(EmotionImage(image, _caption_for(root, emotion, image), emotion))
    return items


def _read_text(path: Path, what: str) -> str:
    """A caption or annotation file's text: a regular file of at most ``MAX_CAPTION_BYTES``."""
    data = read_regular_file(path, what=what, max_bytes=MAX_CAPTION_BYTES, error=BankError)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BankError(f"{path}: the {what} is not UTF-8 text; save it as UTF-8.") from None


def _caption_for(root: Path, emotion: str, image: Path) -> str:
    text_file = image.with_suffix(".txt")
    if text_file.is_file():
        return _read_text(text_file, "caption").strip()
    annotation = root / "annotation" / emotion / f"{image.stem}.json"
    if annotation.is_file():  # EmoSet: write a caption from its attributes
        data = json.loads(_read_text(annotation, "annotation"))
        parts = []
        for key in ("scene", "object", "facial_expression", "human_action"):
            value = data.get(key)
            if isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            if value:
                parts.append(str(value).replace("_", " "))
        return "a photo of " + "; ".join(parts) if parts else ""
    return ""


def kmeans(x: torch.Tensor, k: int, *, iters: int = 50, seed: int = 0) -> torch.Tensor:
    """K-means with k-means++ initialisation; returns ``[k, d]`` centres (deterministic for a
    seed)."""
    if x.shape[0] < k:
        raise BankError(f"K-means needs at least {k} samples, got {x.shape[0]}.")
    gen = torch.Generator().manual_seed(seed)
    centres = [x[torch.randint(x.shape[0], (1,), generator=gen)].squeeze(0)]
    for _ in range(1, k):
        dist = torch.cdist(x, torch.stack(centres)).min(dim=1).values ** 2
        probs = dist / dist.sum() if dist.sum() > 0 else torch.full_like(dist, 1 / len(dist))
        centres.append(x[torch.multinomial(probs, 1, generator=gen)].squeeze(0))
    c = torch.stack(centres)
    for _ in range(iters):
        assign = torch.cdist(x, c).argmin(dim=1)
        new = torch.stack(
            [x[assign == j].mean(0) if (assign == j).any() else c[j] for j in range(k)]
        )
        if torch.allclose(new, c):
            break
        c = new
    return c


def encoder_identity(encoder: Any) -> str:
    return str(
        getattr(encoder, "identity", None) or getattr(encoder, "name", type(encoder).__name__)
    )


class FeatureCache:
    """Per-item features on disk (one safetensors file per batch), so a build can resume.

    Features live in a subfolder named after the encoders' identities: a rebuild with other
    encoders gets its own features instead of silently reusing old ones.
    """

    def __init__(self, folder: Path | None, identity: str = "") -> None:
        if folder is not None and identity:
            folder = folder / hashlib.sha1(identity.encode()).hexdigest()[:16]
        self.folder = folder
        self.features: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            if identity:
                write_text_atomic(folder / "encoders.txt", identity + "\n", what="cache identity")
            self._load()

    def _load(self) -> None:
        from safetensors.torch import load_file

        for shard in sorted(self.folder.glob("batch-*.safetensors")):  # type: ignore[union-attr]
            try:
                tensors = load_file(str(shard))
                keys = json.loads((shard.with_suffix(".json")).read_text())
            except Exception:  # a shard torn by a kill: encode those items again
                continue
            for i, key in enumerate(keys):
                self.features[key] = (tensors["image"][i], tensors["text"][i])

    def add(self, keys: list[str], image: torch.Tensor, text: torch.Tensor) -> None:
        for i, key in enumerate(keys):
            self.features[key] = (image[i], text[i])
        if self.folder is None:
            return
        name = self.folder / f"batch-{hashlib.sha1(''.join(keys).encode()).hexdigest()[:16]}"
        # keys file first, tensors last: a shard counts only once both exist
        write_text_atomic(name.with_suffix(".json"), json.dumps(keys), what="cache keys")
        files.write_safetensors(
            name.with_suffix(".safetensors"),
            {"image": image, "text": text},
            what="cache shard",
        )


def init_bank(
    items: Sequence[EmotionImage],
    image_encoder: FeatureEncoder,
    text_encoder: FeatureEncoder,
    *,
    num_tokens: int = 16,
    batch_size: int = 32,
    cache_dir: str | Path | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    load_image: Callable[[Path], Any] | None = None,
    cluster_on: Literal["image+text", "image"] = "image+text",
) -> VisualPromptBank | None:
    """Encode the dataset (batched, cached) and run K-means per emotion.

    Data-parallel under ``accelerate launch``: each process encodes ``items[rank::world]`` into
    the cache, then the main process clusters and returns the bank; other processes return
    ``None``. A cache folder is required with more than one process.

    Args:
        items (`list[EmotionImage]`): from :func:`load_dataset`.
        image_encoder, text_encoder (`FeatureEncoder`): batch -> ``[N, d]`` features.
        num_tokens (`int`, *optional*, defaults to 16): L, centres per emotion.
        cache_dir (`str`, *optional*): feature cache; re-running skips cached items.
        progress (`Callable[[done, total], None]`, *optional*): called after each batch.
        cluster_on (`str`, *optional*, defaults to ``"image+text"``): K-means on ``[image; text]``
            (the centres' parts are the tokens and keys), or on the image features alone (the
            paper preset; each key is the mean text feature of the cluster's members).
    """
    if cluster_on not in ("image+text", "image"):
        raise BankError(f"cluster_on {cluster_on!r}: use 'image+text' or 'image'.")
    counts = {e.value: sum(1 for i in items if i.emotion == e.value) for e in Emotion}
    short = {e: n for e, n in counts.items() if n < num_tokens}
    if short:
        raise BankError(
            f"each emotion needs at least {num_tokens} images for {num_tokens} tokens; too few: "
            + ", ".join(f"{e} ({n})" for e, n in short.items())
            + ". Add images or lower --tokens."
        )
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())  # CPU processes: gloo
    world, rank = state.num_processes, state.process_index
    if world > 1 and not cache_dir:
        raise BankError(
            "a data-parallel bank init needs --cache: the processes share features there."
        )
    identity = f"{encoder_identity(image_encoder)}|{encoder_identity(text_encoder)}"
    cache = FeatureCache(Path(cache_dir) if cache_dir else None, identity)
    pending = [i for i in items if i.key not in cache.features]
    if world > 1:
        # every process must split the same list: none writes a shard before all have read
        # the cache (a shard seen by one process only made items nobody encoded)
        state.wait_for_everyone()
    todo = pending[rank::world]
    load_image = load_image or _open_image
    done = len(items) - len(pending)
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        with torch.no_grad():
            image = image_encoder([load_image(i.image) for i in batch]).float().cpu()
            text = text_encoder([i.caption or f"a photo evoking {i.emotion}" for i in batch])
        cache.add([i.key for i in batch], image, text.float().cpu())
        done += len(batch) * world  # every process advances about as fast
        if progress:
            progress(min(done, len(items)), len(items))
    if world > 1:
        state.wait_for_everyone()
        if not state.is_main_process:
            return None
        assert cache_dir  # checked above: more than one process needs it
        cache = FeatureCache(Path(cache_dir), identity)  # every shard, written by every process
        missing = [i for i in items if i.key not in cache.features]
        if missing:
            raise BankError(
                f"{len(missing)} item(s) missing from the shared cache after encoding: "
                "is --cache on a folder every process can see?"
            )

    tokens, keys = [], []
    for emotion in Emotion:
        mine = [i for i in items if i.emotion == emotion.value]
        image = F.normalize(torch.stack([cache.features[i.key][0] for i in mine]), dim=-1)
        text = F.normalize(torch.stack([cache.features[i.key][1] for i in mine]), dim=-1)
        if cluster_on == "image":
            centres = kmeans(image, num_tokens, seed=seed)
            tokens.append(centres)
            keys.append(_member_means(image, text, centres))
            continue
        centres = kmeans(torch.cat([image, text], dim=-1), num_tokens, seed=seed)
        tokens.append(centres[:, : image.shape[1]])
        keys.append(centres[:, image.shape[1] :])
    return VisualPromptBank(
        tokens=torch.stack(tokens),
        text_keys=torch.stack(keys),
        metadata={
            "init": "kmeans",
            "clustered_on": cluster_on,
            "image_encoder": image_encoder.name,
            "text_encoder": text_encoder.name,
            "encoders_identity": identity,
            "num_images": len(items),
            "processes": world,
            "images_per_emotion": counts,
            "seed": seed,
            **getattr(text_encoder, "provenance", {}),
        },
    )


def _member_means(image: torch.Tensor, text: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Each centre's mean text feature over the items nearest to it (an empty cluster takes the
    text of its nearest item)."""
    assign = torch.cdist(image, centres).argmin(dim=1)
    nearest = torch.cdist(centres, image).argmin(dim=1)
    return torch.stack(
        [
            text[assign == j].mean(0) if (assign == j).any() else text[nearest[j]]
            for j in range(centres.shape[0])
        ]
    )


def init_bank_file(
    dataset: str | Path,
    out_path: Path,
    *,
    text_encoder: str,
    image_encoder: str,
    num_tokens: int = 16,
    batch_size: int = 32,
    cache_dir: Path | None = None,
    seed: int = 0,
    device: str = "cpu",
    overwrite: bool = False,
    preset: str = "default",
    dino_encoder: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path | None:
    """Build a bank from ``dataset`` with the encoders (ids or folders) and save it to
    ``out_path``; the path written, or ``None`` on a process of a data-parallel run that is not
    the main one.

    ``preset`` picks what is clustered (``paper``: DINO + CLIP image features, which needs
    ``dino_encoder``). The output path is checked before hours of encoding, not after; the
    feature cache defaults to ``out_path`` with the suffix ``.cache`` (an interrupted build
    resumes from it).
    """
    from emotion_director.diffusion.presets import get_preset

    chosen = get_preset(preset)
    check_image_encoder_args(chosen.bank_features, dino_encoder)
    if out_path.suffix != ".safetensors":
        raise InvalidRequestError("--out must end in .safetensors")
    check_output_path(out_path, what="bank", overwrite=overwrite, error=InvalidRequestError)
    items = load_dataset(dataset)
    text = HFTextEncoder.from_pretrained(text_encoder, device=device)
    image = image_encoder_for(chosen.bank_features, image_encoder, dino_encoder, device=device)
    bank = init_bank(
        items,
        image,
        text,
        num_tokens=num_tokens,
        batch_size=batch_size,
        cache_dir=cache_dir or out_path.with_suffix(".cache"),
        seed=seed,
        progress=progress,
        cluster_on=chosen.cluster_on,
    )
    if bank is None:  # not the main process of a data-parallel run
        return None
    bank.metadata.update(dataset=str(dataset), **chosen.bank_record())
    return bank.save(out_path, overwrite=overwrite)


#: The most pixels a dataset image may have (checked before decoding; see
#: :func:`~emotion_director.files.read_rgb_image`); a caption file is text: more is no caption.
MAX_IMAGE_PIXELS = files.MAX_IMAGE_PIXELS
MAX_CAPTION_BYTES = 1 << 20


def _open_image(path: Path) -> Any:
    return files.read_rgb_image(path, what="image", error=BankError, max_pixels=MAX_IMAGE_PIXELS)


def _fingerprint(model: Any) -> str:
    """A digest of *every* weight of a model (names, dtypes, shapes and raw bytes), for the
    feature-cache key: a change to any layer gives other features, hence another key. Computed
    once per encoder, when it is loaded (about a second per GB of weights)."""
    digest = hashlib.sha1()
    for name, tensor in model.state_dict().items():
        t = tensor.detach()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        digest.update(t.cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()[:16]


def _text_encoder_source(name_or_path: str, subfolder: str) -> tuple[str, str, str]:
    """(repo or folder, text encoder subfolder, tokenizer subfolder) for a user's argument.

    Accepts a diffusers model folder (``model_index.json``: its first ``text_encoder`` and
    ``tokenizer``, exactly what the pipeline uses), that folder's ``text_encoder`` subfolder (the
    tokenizer is its sibling ``tokenizer/``), or a plain transformers CLIP folder / hub id.
    """
    path = Path(name_or_path)
    if subfolder:
        return name_or_path, subfolder, subfolder.replace("text_encoder", "tokenizer")
    if (path / "model_index.json").is_file():
        return name_or_path, "text_encoder", "tokenizer"
    if path.name.startswith("text_encoder") and (path.parent / "model_index.json").is_file():
        return str(path.parent), path.name, path.name.replace("text_encoder", "tokenizer")
    return name_or_path, "", ""


class HFTextEncoder:
    """Retrieval keys from a CLIP text encoder: the very function the pipeline queries with.

    The model is loaded with the class its checkpoint names (``CLIPTextModel`` for SD 1.5 and
    SDXL's first encoder), never a class whose extra layers would be randomly initialised, and
    texts are embedded by :func:`embed_texts_for_retrieval`, as ``MCDiffusionPipeline`` does.
    """

    def __init__(
        self, model: Any, tokenizer: Any, name: str, device: str = "cpu", subfolder: str = ""
    ) -> None:
        self.fingerprint = _fingerprint(model)
        self.model, self.tokenizer, self.name, self.device = (
            model.to(device).eval(),
            tokenizer,
            name,
            device,
        )
        self.identity = f"text:{name}:{type(model).__name__}:{self.fingerprint}"
        #: which text encoder builds the keys, recorded in the bank's metadata: a pipeline
        #: refuses keys from another one (SDXL's ``text_encoder_2`` lives in another space)
        self.provenance = {
            "text_encoder_class": type(model).__name__,
            "text_encoder_subfolder": subfolder,
            "text_encoder_fingerprint": self.fingerprint,
        }

    @classmethod
    def from_pretrained(
        cls, name_or_path: str, device: str = "cpu", subfolder: str = ""
    ) -> HFTextEncoder:
        import transformers
        from transformers import AutoConfig, AutoTokenizer

        repo, model_sub, tokenizer_sub = _text_encoder_source(name_or_path, subfolder)
        try:
            tokenizer = AutoTokenizer.from_pretrained(repo, subfolder=tokenizer_sub)
            config = AutoConfig.from_pretrained(repo, subfolder=model_sub)
            arch = (getattr(config, "architectures", None) or ["CLIPTextModel"])[0]
            model_cls = getattr(transformers, arch, None)
            if model_cls is None or not arch.startswith("CLIPText"):
                raise BankError(
                    f"text encoder '{name_or_path}' is a {arch}: pass an SD model folder or its "
                    "CLIP text encoder (CLIPTextModel / CLIPTextModelWithProjection)."
                )
            model = model_cls.from_pretrained(repo, subfolder=model_sub)
        except (OSError, ValueError) as exc:
            if isinstance(exc, BankError):
                raise
            raise BankError(
                f"cannot load text encoder '{name_or_path}': {str(exc).splitlines()[0][:200]} — "
                "pass the diffusion model folder (it holds text_encoder/ and tokenizer/)."
            ) from None
        return cls(model, tokenizer, name_or_path, device, subfolder=model_sub)

    def __call__(self, batch: Sequence[str]) -> torch.Tensor:
        return embed_texts_for_retrieval(self.tokenizer, self.model, list(batch))


class HFImageEncoder:
    """Image features from CLIP vision (projected embeds) or DINOv2/v3 (CLS token)."""

    def __init__(self, model: Any, processor: Any, name: str, device: str = "cpu") -> None:
        fingerprint = _fingerprint(model)
        self.model, self.processor, self.name, self.device = (
            model.to(device).eval(),
            processor,
            name,
            device,
        )
        self.identity = f"image:{name}:{type(model).__name__}:{fingerprint}"

    @classmethod
    def from_pretrained(cls, name_or_path: str, device: str = "cpu") -> HFImageEncoder:
        import transformers
        from transformers import AutoConfig, AutoImageProcessor, AutoModel

        try:
            processor = AutoImageProcessor.from_pretrained(name_or_path)
            config = AutoConfig.from_pretrained(name_or_path)
            arch = (getattr(config, "architectures", None) or [""])[0]
            model: transformers.PreTrainedModel
            if config.model_type == "clip":
                # a full CLIP checkpoint (openai/clip-vit-large-patch14, ...): read as a vision
                # model with projection, its vision config would carry the default
                # projection_dim (512), not the checkpoint's, and fail to load (ViT-L: 768)
                model = transformers.CLIPModel.from_pretrained(name_or_path)
            elif arch.startswith("CLIP") or config.model_type == "clip_vision_model":
                model = transformers.CLIPVisionModelWithProjection.from_pretrained(name_or_path)
            else:
                model = AutoModel.from_pretrained(name_or_path)
        except (OSError, ValueError, RuntimeError) as exc:
            raise BankError(
                f"cannot load image encoder '{name_or_path}': {str(exc).splitlines()[0][:200]}"
            ) from None
        return cls(model, processor, name_or_path, device)

    def __call__(self, batch: Sequence[Any]) -> torch.Tensor:
        pixels = self.processor(images=list(batch), return_tensors="pt").to(self.device)
        if hasattr(self.model, "visual_projection") and hasattr(self.model, "vision_model"):
            # full CLIP: the projected image embedding, as CLIPVisionModelWithProjection gives
            pooled = self.model.vision_model(pixel_values=pixels["pixel_values"]).pooler_output
            return self.model.visual_projection(pooled)
        out = self.model(**pixels)
        if getattr(out, "image_embeds", None) is not None:
            return out.image_embeds
        return out.last_hidden_state[:, 0]


def is_clip_vision(encoder: HFImageEncoder) -> bool:
    """Whether a loaded image encoder is CLIP's vision tower (with or without the text side)."""
    return type(encoder.model).__name__.startswith("CLIP")


class ConcatImageEncoder:
    """Several image encoders as one: ``[f_1; f_2; ...]``, each part L2-normalised, so each
    encoder weighs the same in K-means whatever its feature scale (the paper preset: DINO + CLIP).

    Its ``identity`` joins the parts' identities, so the feature cache keys on every weight of
    every encoder, as for a single one.
    """

    def __init__(self, encoders: Sequence[Any]) -> None:
        self.encoders = list(encoders)
        self.name = " + ".join(e.name for e in self.encoders)
        self.identity = "concat[" + ";".join(encoder_identity(e) for e in self.encoders) + "]"

    def __call__(self, batch: Sequence[Any]) -> torch.Tensor:
        return torch.cat([F.normalize(e(batch).float(), dim=-1) for e in self.encoders], dim=-1)


def check_image_encoder_args(bank_features: str, dino_encoder: str | None) -> None:
    """Refuse a DINO encoder the features do not use, or its absence where they need it (before
    anything is loaded)."""
    from emotion_director.errors import SettingsError

    if bank_features == "image+text" and dino_encoder:
        raise SettingsError(
            "--dino-encoder is for --preset paper (K-means on DINO + CLIP image features): "
            "add --preset paper, or drop --dino-encoder."
        )
    if bank_features not in ("image+text", "dino+clip"):
        raise SettingsError(
            f"unknown bank features {bank_features!r}: use image+text or dino+clip."
        )
    if bank_features == "dino+clip" and not dino_encoder:
        raise SettingsError(
            "--preset paper clusters DINO + CLIP image features: pass --dino-encoder with a DINO "
            "model (e.g. facebook/dinov2-base) and --image-encoder with a CLIP vision model."
        )


def image_encoder_for(
    bank_features: str,
    image_encoder: str,
    dino_encoder: str | None = None,
    device: str = "cpu",
) -> Any:
    """The image encoder ``bank init`` uses for a preset's ``bank_features``.

    ``"image+text"``: ``image_encoder`` (CLIP vision or DINOv2/v3), alone. ``"dino+clip"`` (the
    paper preset): ``dino_encoder`` (a DINOv2/v3 or DINO ViT folder / hub id) followed by
    ``image_encoder``, which must be a CLIP vision model.
    """
    from emotion_director.errors import SettingsError

    check_image_encoder_args(bank_features, dino_encoder)
    if bank_features == "image+text":
        return HFImageEncoder.from_pretrained(image_encoder, device=device)
    dino = HFImageEncoder.from_pretrained(str(dino_encoder), device=device)
    if is_clip_vision(dino):
        raise SettingsError(
            f"--dino-encoder {dino_encoder} is a CLIP model: pass a DINO model (e.g. "
            "facebook/dinov2-base); the CLIP one goes to --image-encoder."
        )
    clip = HFImageEncoder.from_pretrained(image_encoder, device=device)
    if not is_clip_vision(clip):
        raise SettingsError(
            f"--image-encoder {image_encoder} is a {type(clip.model).__name__}, not CLIP: under "
            "--preset paper it is the CLIP image encoder (e.g. openai/clip-vit-large-patch14), "
            "the DINO one goes to --dino-encoder."
        )
    return ConcatImageEncoder([dino, clip])
