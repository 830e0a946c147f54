import pytest
from hypothesis import given
from hypothesis import strategies as st

from emotion_director.emotions import (
    EMOTIONS,
    Emotion,
    check_affect_consistency,
    emotion_words_in,
    nearest_emotion,
    resolve_emotion,
)
from emotion_director.errors import InvalidRequestError, UnknownEmotionError


def test_eight_mikels_categories_in_emoset_order():
    assert [e.value for e in Emotion] == [
        "amusement",
        "awe",
        "contentment",
        "excitement",
        "anger",
        "disgust",
        "fear",
        "sadness",
    ]
    assert {p.polarity for p in EMOTIONS.values()} == {"positive", "negative"}
    assert all(p.definition and p.synonyms for p in EMOTIONS.values())


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("happy", "contentment"),
        ("Scared", "fear"),
        ("furious", "anger"),
        ("  AWE ", "awe"),
        ("grossed", None),
    ],
)
def test_synonyms_map_to_categories(word, expected):
    if expected is None:
        with pytest.raises(UnknownEmotionError):
            resolve_emotion(word)
    else:
        assert resolve_emotion(word).value == expected


def test_unknown_emotion_lists_valid_ones_and_closest_match():
    with pytest.raises(UnknownEmotionError) as info:
        resolve_emotion("sadnes")
    message = str(info.value)
    assert "sadness" in message and "Did you mean" in message
    assert all(e.value in message for e in Emotion)


def test_empty_emotion_is_an_error():
    with pytest.raises(UnknownEmotionError, match="empty"):
        resolve_emotion("   ")


def test_synonyms_are_unambiguous():
    seen: dict[str, Emotion] = {}
    for profile in EMOTIONS.values():
        for word in profile.words:
            assert seen.setdefault(word, profile.emotion) is profile.emotion, word


def test_conflicting_valence_is_rejected_with_a_fix():
    with pytest.raises(InvalidRequestError, match="conflicts with 'awe'"):
        check_affect_consistency(Emotion.AWE, -0.8, None)
    with pytest.raises(InvalidRequestError, match="arousal"):
        check_affect_consistency(Emotion.EXCITEMENT, None, 0.05)
    check_affect_consistency(Emotion.SADNESS, -0.6, 0.3)


def test_nearest_emotion_from_valence_arousal():
    assert nearest_emotion(-0.7, 0.2) is Emotion.SADNESS
    assert nearest_emotion(0.8, 0.9) is Emotion.EXCITEMENT
    with pytest.raises(InvalidRequestError, match="out of range"):
        nearest_emotion(3.0, 0.5)


@given(st.floats(-1, 1), st.floats(0, 1))
def test_nearest_emotion_is_total_on_the_valid_square(valence, arousal):
    assert isinstance(nearest_emotion(valence, arousal), Emotion)


def test_emotion_words_are_found_in_text():
    assert emotion_words_in("An Angry dog, a calm lake") == ["angry", "calm"]
    assert emotion_words_in("a dog in a park") == []
