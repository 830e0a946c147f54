"""Masking emotion words for shortcut-proof alignment (no model needed)."""

import pytest

from emotion_director.emotions import EMOTION_WORDS
from emotion_director.evals.masking import added_text, is_emotion_word, mask_emotion_words


@pytest.mark.parametrize(
    "word",
    [
        "fear",
        "fears",
        "feared",
        "fearful",
        "fearfully",
        "fearless",
        "angrily",
        "angrier",
        "sadder",
        "saddest",
        "sadly",
        "terrifies",
        "terrify",
        "terrifyingly",
        "happily",
        "happiness",
        "amusing",
        "amusement",
        "amusingly",
        "cheerfully",
        "excitedly",
        "scarier",
        "creepier",
        "joyous",
        "gloomily",
        "calmly",
        "peacefully",
        "serenely",
        "gently",
        "mourning",
        "grieving",
        "horrified",
        "horrors",
        "Awe-inspiring",
        "disgusts",
        "nauseated",
        "contentment",
        "CONTENTED",
        "melancholic",
        "wonderful",
        "moods",
        "atmospheric",
    ],
)
def test_every_inflection_of_an_emotion_word_is_masked(word):
    assert is_emotion_word(word)


def test_every_listed_emotion_word_is_masked():
    for word in EMOTION_WORDS:
        assert mask_emotion_words(f"a chair, {word}") == "a chair", word


@pytest.mark.parametrize(
    "word",
    [
        "dog",
        "chair",
        "forest",
        "interest",
        "evening",
        "wedding",
        "family",
        "water",
        "storm",
        "clouds",
        "rotting",
        "maggots",
        "fireworks",
        "porch",
        "crying",
        "tears",
        "smiling",
        "scream",
        "funeral",
        "shadows",
        "candle",
        "hats",
        "bus",
        "kitchen",
        "string",
        "garage",
        "easel",
    ],
)
def test_depictable_words_are_kept(word):
    assert not is_emotion_word(word)


def test_masking_removes_the_template_shortcut_and_keeps_the_scene():
    assert mask_emotion_words("a dog, fear mood, evoking fear") == "a dog, evoking"
    assert mask_emotion_words("a chair, at ease, contentedly calm") == "a chair"
    assert (
        mask_emotion_words("a dog cowering under a flickering streetlight, terrifying fog")
        == "a dog cowering under a flickering streetlight, fog"
    )


def test_added_text_is_what_the_rewrite_added_to_the_prompt():
    assert (
        added_text("an angry dog", "An angry dog asleep on a sunlit porch")
        == "asleep on a sunlit porch"
    )
    assert added_text("a funeral", "a funeral") == ""
