"""CLIP's byte-level BPE tokenizer, read from CLIP's own merges file.

Stable Diffusion truncates prompts at CLIP's 77 tokens, so the consensus budget and the
``clip_tokens`` eval metric need the real count. CLIP's merges (``bpe_simple_vocab_16e6.txt.gz``,
MIT licence, see ``data/CLIP_VOCAB_LICENSE``) ship as package data; it is the file
``open_clip_torch`` ships too. Depending on ``open_clip_torch`` instead would pull torchvision and
timm into every install, and importing it would import torch on the graph's hot path, so this
module reads the file and applies the same algorithm as
``open_clip.tokenizer.SimpleTokenizer`` (Radford et al. 2021): clean the text (ftfy, HTML
unescape, whitespace, lower case), split it with CLIP's pattern, byte-encode each piece and merge
by rank.

Example:
    >>> tokenizer = clip_bpe_tokenizer()
    >>> tokenizer is None or tokenizer.count("a dog in a park") == 5
    True
"""

from __future__ import annotations

import gzip
import html
import importlib.util
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

VOCAB_FILE = "bpe_simple_vocab_16e6.txt.gz"
# CLIP uses the first 49152 - 256 - 2 merges of the file (after its header line)
_MERGES = 49152 - 256 - 2


def clip_vocab_path() -> Path | None:
    """CLIP's BPE merges file: the copy shipped with this package, else ``open_clip_torch``'s."""
    shipped = Path(__file__).parent / "data" / VOCAB_FILE
    if shipped.is_file():
        return shipped
    try:
        spec = importlib.util.find_spec("open_clip")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / VOCAB_FILE
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=1)
def _bytes_to_unicode() -> dict[int, str]:
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes)))


def _pattern() -> Any:  # a compiled pattern of the regex module, or of re
    try:
        import regex

        return regex.compile(
            r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|"""
            r"""[^\s\p{L}\p{N}]+""",
            regex.IGNORECASE,
        )
    except ImportError:  # the stdlib spelling of the same classes
        import re

        return re.compile(
            r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|"""
            r"""(?:[^\s\w]|_)+""",
            re.IGNORECASE,
        )


@lru_cache(maxsize=1)
def _fix_text() -> Callable[[str], str] | None:
    """ftfy's ``fix_text`` when it is installed (looked for once: a failed import searches the
    path on every call)."""
    try:
        import ftfy
    except ImportError:
        return None
    return cast(Callable[[str], str], ftfy.fix_text)


def _clean(text: str) -> str:
    fix = _fix_text()
    if fix is not None:
        text = fix(text)
    text = html.unescape(html.unescape(text)).strip()
    return " ".join(text.split()).lower()


class ClipBPETokenizer:
    """Counts (and splits) text into CLIP BPE tokens; BOS/EOS are not included."""

    def __init__(self, vocab_path: str | Path) -> None:
        with gzip.open(vocab_path, "rt", encoding="utf-8") as handle:
            lines = handle.read().split("\n")[1 : _MERGES + 1]
        # keyed by the merges file's own "a b" lines: no tuple built per line (a third of the
        # tokenizer's start-up, which every fresh process pays on its first prompt)
        self.ranks = dict(zip(lines, range(len(lines))))
        self.byte_encoder = _bytes_to_unicode()
        self.pattern = _pattern()
        self._bpe = lru_cache(maxsize=65536)(self._merge)

    def _merge(self, token: str) -> tuple[str, ...]:
        word = (*token[:-1], token[-1] + "</w>")
        while len(word) > 1:
            pairs = {f"{a} {b}": (a, b) for a, b in zip(word, word[1:])}
            key = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if key not in self.ranks:
                break
            best = pairs[key]
            merged: list[str] = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = tuple(merged)
        return word

    def tokenize(self, text: str) -> list[str]:
        pieces: list[str] = []
        for match in self.pattern.findall(_clean(text)):
            encoded = "".join(self.byte_encoder[b] for b in match.encode("utf-8"))
            pieces.extend(self._bpe(encoded))
        return pieces

    def count(self, text: str) -> int:
        return len(self.tokenize(text))


@lru_cache(maxsize=1)
def clip_bpe_tokenizer() -> ClipBPETokenizer | None:
    """The real CLIP tokenizer, or None when no CLIP merges file can be found."""
    path = clip_vocab_path()
    return ClipBPETokenizer(path) if path else None


def estimate_clip_tokens(text: str) -> int:
    """CLIP BPE tokens in ``text`` (without BOS/EOS).

    Counted with CLIP's real tokenizer and merges file (this module);
    if that file is missing, a conservative estimate:
    CLIP gives one token per common word and per punctuation mark and splits rare or long words,
    so counting words, punctuation, and one extra token for every six letters beyond the sixth
    rarely undercounts (about 11% high on average), and keeping it under 75 keeps the prompt
    under CLIP's 77-token limit.
    """
    tokenizer = clip_bpe_tokenizer()
    if tokenizer is not None:
        return tokenizer.count(text)
    return _heuristic_clip_tokens(text)


def _heuristic_clip_tokens(text: str) -> int:
    pieces = re.findall(r"[A-Za-z]+|\d|[^\sA-Za-z\d]", text)
    extra = sum((len(p) - 1) // 6 for p in pieces if p.isalpha() and len(p) > 6)
    return len(pieces) + extra
