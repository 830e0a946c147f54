"""CLIP token counts: the real BPE tokenizer from CLIP's shipped merges file, the estimate as
fallback."""

from pathlib import Path

import pytest

import emotion_director.clip_bpe as text_module  # where the count and its fallback live
from emotion_director.agents.text import estimate_clip_tokens
from emotion_director.clip_bpe import clip_bpe_tokenizer, clip_vocab_path

TEXTS = [
    "a dog in a park",
    "an angry dog asleep on a sunlit porch, warm amber light, soft focus",
    "A birthday party in a flickering basement, balloons drifting over an empty stairwell",
    "photorealistic, 8k, award-winning: a lighthouse's beam sweeping a storm-tossed sea!!",
    "café au lait in a Zürich alley — naïve watercolour, 1970s film grain",
    "anthropomorphic hyperdetailed bioluminescent jellyfish cathedral",
    "&amp; HTML entities &lt;3 and    extra   spaces",
    "数字 emoji 🐶🎉 mixed scripts Ελληνικά",
    "",
]
# What open_clip's own SimpleTokenizer (the reference implementation) gives for TEXTS, without
# BOS/EOS; test_counts_match_open_clips_own_tokenizer recomputes them where open_clip is installed.
REFERENCE_COUNTS = [5, 16, 16, 21, 23, 13, 8, 26, 0]


def test_the_shipped_merges_file_is_used():
    path = clip_vocab_path()
    assert path is not None and path.parent.name == "data" and "emotion_director" in str(path)


def test_counts_equal_clips_reference_counts():
    ours = clip_bpe_tokenizer()
    assert [ours.count(text) for text in TEXTS] == REFERENCE_COUNTS


def _open_clip_folder():
    import importlib.util

    spec = importlib.util.find_spec("open_clip")
    return Path(list(spec.submodule_search_locations)[0]) if spec else None


@pytest.mark.skipif(_open_clip_folder() is None, reason="open_clip_torch not installed (optional)")
def test_counts_match_open_clips_own_tokenizer():
    import importlib.util

    # open_clip's own tokenizer module, loaded alone: the package's __init__ needs torchvision
    path = _open_clip_folder() / "tokenizer.py"
    spec = importlib.util.spec_from_file_location("open_clip_tokenizer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    reference = module.SimpleTokenizer(str(clip_vocab_path()))
    ours = clip_bpe_tokenizer()
    for text in TEXTS:
        assert ours.count(text) == len(reference.encode(text)), text
    assert estimate_clip_tokens(TEXTS[1]) == len(reference.encode(TEXTS[1]))


def test_the_real_count_corrects_the_estimate_both_ways():
    under = "an angry dog asleep on a sunlit porch, warm amber light, soft focus"
    assert estimate_clip_tokens(under) == 16 > text_module._heuristic_clip_tokens(under)
    assert estimate_clip_tokens("!!!...") == 2 < text_module._heuristic_clip_tokens("!!!...")


def test_without_open_clip_the_estimate_is_used(monkeypatch):
    monkeypatch.setattr(text_module, "clip_bpe_tokenizer", lambda: None)
    assert estimate_clip_tokens("a dog, in a park") == 6
    assert estimate_clip_tokens("bioluminescent") == 1 + (14 - 1) // 6
