"""The visual prompt bank: L learned visual tokens per emotion, stored as safetensors.

A bank holds two tensors:

* ``tokens`` ``[|E|, L, d]``: the visual prompt itself (image-feature space, e.g. CLIP vision or
  DINOv2 centres), mapped to the UNet's cross-attention width by a projector;
* ``text_keys`` ``[|E|, L, d_t]``: the caption-embedding part of the same centres, used to weight
  the tokens by their affinity to the prompt (see :mod:`emotion_director.diffusion.retrieval`).

Example:
    >>> import torch
    >>> bank = VisualPromptBank.random(num_tokens=4, dim=8, text_dim=6)
    >>> bank.tokens.shape
    torch.Size([8, 4, 8])
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emotion_director.diffusion.dependencies import require_diffusion

require_diffusion()

import torch  # noqa: E402

from emotion_director.emotions import Emotion, resolve_emotion  # noqa: E402
from emotion_director.errors import BankError, EmotionDirectorError  # noqa: E402

FORMAT_VERSION = "1"


@dataclass
class VisualPromptBank:
    """Per-emotion visual tokens plus the metadata needed to check and use them.

    Args:
        tokens (`torch.Tensor` of shape `[|E|, L, d]`): visual tokens, emotions in ``emotions``
            order.
        text_keys (`torch.Tensor` of shape `[|E|, L, d_t]`): text part of each token, for retrieval.
        emotions (`list[str]`, *optional*, defaults to the 8 Mikels emotions in EmoSet order).
        metadata (`dict`, *optional*): provenance: encoders used, dataset, K-means settings.
    """

    tokens: torch.Tensor
    text_keys: torch.Tensor
    emotions: list[str] = field(default_factory=lambda: [e.value for e in Emotion])
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tokens.ndim != 3 or self.text_keys.ndim != 3:
            raise BankError(
                f"bank tensors must be 3-D [emotions, tokens, dim]; got tokens "
                f"{tuple(self.tokens.shape)} and text_keys {tuple(self.text_keys.shape)}."
            )
        if self.tokens.shape[:2] != self.text_keys.shape[:2]:
            raise BankError(
                f"tokens {tuple(self.tokens.shape)} and text_keys {tuple(self.text_keys.shape)} "
                "must agree on [emotions, tokens]."
            )
        if self.tokens.shape[0] != len(self.emotions):
            raise BankError(
                f"bank has {self.tokens.shape[0]} emotion rows but {len(self.emotions)} emotion "
                "names in its metadata."
            )
        names = []
        for name in self.emotions:
            try:
                names.append(resolve_emotion(str(name)).value)
            except EmotionDirectorError:
                raise BankError(f"bank metadata names an unknown emotion {name!r}.") from None
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise BankError(
                f"bank metadata lists {', '.join(duplicates)} more than once: each emotion needs "
                "exactly one row (rebuild the bank with `emotion-director bank init`)."
            )
        self.emotions = names
        for label, tensor in (("tokens", self.tokens), ("text_keys", self.text_keys)):
            if not tensor.is_floating_point():
                raise BankError(
                    f"bank {label} are {tensor.dtype}, not floating point: rebuild the bank with "
                    "`emotion-director bank init`."
                )
            if not bool(torch.isfinite(tensor).all()):
                bad = int((~torch.isfinite(tensor)).sum())
                raise BankError(
                    f"bank {label} hold {bad} NaN/inf value(s): the file is damaged or a training "
                    "run diverged; use an earlier bank or checkpoint."
                )

    @property
    def num_tokens(self) -> int:
        return int(self.tokens.shape[1])

    @property
    def dim(self) -> int:
        return int(self.tokens.shape[2])

    @property
    def text_dim(self) -> int:
        return int(self.text_keys.shape[2])

    def index(self, emotion: Emotion | str) -> int:
        name = resolve_emotion(emotion).value
        if name not in self.emotions:
            raise BankError(f"the bank has no tokens for '{name}'; it holds {self.emotions}.")
        return self.emotions.index(name)

    def for_emotion(self, emotion: Emotion | str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(tokens [L, d], text_keys [L, d_t])`` of one emotion."""
        i = self.index(emotion)
        return self.tokens[i], self.text_keys[i]

    @classmethod
    def random(
        cls, num_tokens: int = 16, dim: int = 768, text_dim: int = 768, seed: int = 0
    ) -> VisualPromptBank:
        """A random bank (for tests and for training from scratch)."""
        if not 0 <= seed < 2**63:  # torch's generator takes a signed 64-bit seed
            raise BankError(f"seed {seed} is out of range: use a seed from 0 to 2**63 - 1.")
        if len(Emotion) * num_tokens * max(dim, text_dim) > 2**31:
            raise BankError(
                f"a bank of {num_tokens} tokens of width {max(dim, text_dim)} is too "
                "large to allocate: use fewer --tokens or a smaller --dim/--text-dim."
            )
        gen = torch.Generator().manual_seed(seed)
        n = len(Emotion)
        return cls(
            tokens=torch.randn(n, num_tokens, dim, generator=gen),
            text_keys=torch.randn(n, num_tokens, text_dim, generator=gen),
            metadata={"init": "random", "seed": seed},
        )

    def save(self, path: str | Path, *, overwrite: bool = True) -> Path:
        """Write the bank as a safetensors file (tensors + JSON metadata); never pickle.

        Written to a temporary file and renamed into place; a device, FIFO or folder at
        ``path`` is refused, and so is an existing file when ``overwrite`` is false."""
        from emotion_director.files import write_safetensors

        path = Path(path)
        if path.suffix != ".safetensors":
            raise BankError(f"{path}: a bank file must end in .safetensors.")
        header = {
            "format": "emotion-director-visual-prompt-bank",
            "version": FORMAT_VERSION,
            "emotions": json.dumps(self.emotions),
            "num_tokens": str(self.num_tokens),
            "dim": str(self.dim),
            "text_dim": str(self.text_dim),
            "metadata": json.dumps(self.metadata, default=str),
        }
        tensors = {
            "tokens": self.tokens.float(),
            "text_keys": self.text_keys.float(),
        }
        return write_safetensors(
            path, tensors, what="bank", metadata=header, overwrite=overwrite, error=BankError
        )

    @classmethod
    def load(cls, path: str | Path) -> VisualPromptBank:
        """Read a bank written by :meth:`save`; errors say what is wrong with the file."""
        path = Path(path)
        if path.is_file() and path.suffix != ".safetensors":
            raise BankError(f"{path}: banks are .safetensors files (pickles are never loaded).")
        from emotion_director.files import load_safetensors

        header, tensors = load_safetensors(
            path,
            what="bank file",
            hint="build one with `emotion-director bank init`",
            error=BankError,
        )
        if header.get("format") != "emotion-director-visual-prompt-bank":
            raise BankError(f"{path}: not a visual prompt bank (missing format metadata).")
        missing = {"tokens", "text_keys"} - set(tensors)
        if missing:
            raise BankError(f"{path}: missing tensor(s) {sorted(missing)}.")
        emotions = _json_field(header, "emotions", "[]", list, path)
        metadata = _json_field(header, "metadata", "{}", dict, path)
        try:
            bank = cls(
                tokens=tensors["tokens"],
                text_keys=tensors["text_keys"],
                emotions=emotions,
                metadata=metadata,
            )
        except BankError as exc:
            raise BankError(f"{path}: {exc}") from None
        for key, value in (
            ("num_tokens", bank.num_tokens),
            ("dim", bank.dim),
            ("text_dim", bank.text_dim),
        ):
            if key in header and not header[key].isdigit():
                raise BankError(f"{path}: metadata {key}={header[key]!r} is not a whole number.")
            if key in header and int(header[key]) != value:
                raise BankError(
                    f"{path}: metadata says {key}={header[key]} but tensors have {value}."
                )
        return bank

    def __repr__(self) -> str:
        return (
            f"VisualPromptBank(emotions={len(self.emotions)}, num_tokens={self.num_tokens}, "
            f"dim={self.dim}, text_dim={self.text_dim})"
        )

    def check_compatible(self, *, dim: int, text_dim: int | None = None, where: str = "") -> None:
        """Raise :class:`BankError` if the bank's sizes differ from a projector/encoder's."""
        if self.dim != dim:
            raise BankError(
                f"bank token size {self.dim} does not match {where or 'the projector'} input size "
                f"{dim}: use a bank built with the same image encoder, or a new projector."
            )
        if text_dim is not None and self.text_dim != text_dim:
            raise BankError(
                f"bank text size {self.text_dim} does not match the retrieval text encoder's "
                f"{text_dim}: build the bank with the pipeline's text encoder."
            )


def _json_field(header: dict[str, str], key: str, default: str, kind: type, path: Path) -> Any:
    from emotion_director.files import parse_json

    return parse_json(
        header.get(key, default),
        where=f"{path}: metadata field '{key}'",
        fix="the file is damaged; rebuild it with `emotion-director bank init`",
        kind=kind,
        error=BankError,
    )
