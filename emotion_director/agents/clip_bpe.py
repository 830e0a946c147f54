"""Moved to :mod:`emotion_director.clip_bpe` (the knowledge layer counts tokens too)."""

from emotion_director.clip_bpe import (  # noqa: F401
    VOCAB_FILE,
    _bytes_to_unicode,
    clip_bpe_tokenizer,
    clip_vocab_path,
    estimate_clip_tokens,
)
