"""The graph on the scene model: no contradictions, subject fitted, honest negative prompt."""

import pytest

from emotion_director import Settings, build_graph
from emotion_director.emotions import Emotion
from emotion_director.evals.scene_metrics import added_phrases, contradictions
from emotion_director.testing import TestChatModel

SCENES = [
    "a campfire at night",
    "a lighthouse on a sunny coast",
    "a horse in a snowy field",
    "a tram in the rain",
    "a goldfish in a bowl",
    "a puppy chewing a slipper",
    "a cat asleep on a sofa",
    "a street at noon",
    "a chair",
    "a hospital corridor",
    "a girl with her dog on a beach",
    "an owl on a branch",
]


@pytest.mark.parametrize("prompt", SCENES)
def test_rewrites_never_contradict_their_scene(graph, prompt):
    for emotion in Emotion:
        out = graph.invoke({"prompt": prompt, "emotion": emotion.value})
        assert not contradictions(prompt, out["final_prompt"]), (emotion, out["final_prompt"])
        assert len(added_phrases(prompt, out["final_prompt"])) >= 3


def test_output_has_the_scene_model_and_what_was_changed(graph):
    out = graph.invoke({"prompt": "a sobbing toddler", "emotion": "amusement"})
    assert out["scene"].main.noun == "toddler"
    # the subject's expression is the user's: it stays, and no other face joins it
    assert out["subject"] == "a sobbing toddler" and not out["adjustments"]
    grins = [c for c in out["concepts"].concepts if "grin" in c.text]
    assert not grins
    recasting = build_graph(Settings(recast_expressions=True), chat_model=TestChatModel())
    out = recasting.invoke({"prompt": "a sobbing toddler", "emotion": "amusement"})
    assert out["subject"] == "a giggling toddler" and "sobbing" not in out["final_prompt"]
    change = out["adjustments"][0]
    assert (change.action, change.text, change.replacement) == ("recast", "sobbing", "giggling")
    moved = graph.invoke({"prompt": "a rotting apple", "emotion": "excitement"})
    assert moved["adjustments"][0].action == "negative"
    assert "rotting" not in moved["final_prompt"] and "rotting" in moved["negative_prompt"]


@pytest.mark.parametrize(
    "prompt, emotion, absent",
    [
        ("a tram in the rain", "contentment", "stormy sky"),
        ("a birthday party", "sadness", "party decorations"),
        ("a funeral", "amusement", "funeral black"),
        ("a graveyard at night", "amusement", "dark muted tones"),
    ],
)
def test_negative_prompt_never_negates_the_prompt(graph, prompt, emotion, absent):
    out = graph.invoke({"prompt": prompt, "emotion": emotion})
    assert absent not in out["negative_prompt"]
    assert out["negative_prompt"]  # the rest of the avoid list is still there


def test_several_subjects_name_the_owner_of_each_posture(graph):
    outs = [
        graph.invoke({"prompt": "a girl with her cat", "emotion": e.value, "seed": s})
        for e in (Emotion.FEAR, Emotion.ANGER, Emotion.SADNESS)
        for s in range(3)
    ]
    postures = [c for out in outs for c in out["concepts"].concepts if c.facet == "body_language"]
    assert postures
    assert all(
        c.text.startswith(("the girl's", "the cat's"))
        or "girl" in c.text
        or "cat" in c.text
        or not any(w in c.text for w in ("eyes", "ears", "fists"))
        for c in postures
    )
    assert any(c.text.startswith(("the girl's", "the cat's")) for c in postures)


def test_non_english_prompt_is_kept_intact_and_flagged(graph):
    out = graph.invoke({"prompt": "un chien qui joue dans le jardin", "emotion": "awe"})
    assert not out["scene"].english and out["scene"].language_note
    assert out["final_prompt"].startswith("un chien qui joue dans le jardin, ")


def test_trace_links_appraisals_to_concepts_and_shows_agreement(graph):
    out = graph.invoke({"prompt": "a dog in a park", "emotion": "awe"})
    appraisals = {
        a.appraisal
        for a in __import__("emotion_director.knowledge", fromlist=["x"])
        .load_concept_graph()
        .appraisals("awe")
    }
    linked = [link for entry in out["trace"] for link in entry.links]
    assert linked and all(link.split(" -> ")[0] in appraisals for link in linked)
    assert any(entry.agreed_with for entry in out["trace"])
    assert any(entry.dissent for entry in out["trace"])


def test_long_prompt_is_condensed_to_the_clip_window(graph):
    from emotion_director.agents.text import estimate_clip_tokens

    prompt = (
        "An elderly fisherman with a weathered face and a thick grey beard sits on an "
        "upturned wooden crate on a busy harbour pier, mending a tangled orange net, "
        "surrounded by stacked lobster traps, coiled ropes, seagulls perched on posts and "
        "small painted boats bobbing in the water behind him"
    )
    out = graph.invoke({"prompt": prompt, "emotion": "amusement"})
    assert estimate_clip_tokens(out["final_prompt"]) + 2 <= 77
    assert "fisherman" in out["final_prompt"]
    assert len(added_phrases(prompt, out["final_prompt"])) >= 3
    assert any(a.action == "condensed" for a in out["adjustments"])


def test_negative_prompt_keeps_expressions_that_negate_no_stated_fact(graph):
    out = graph.invoke({"prompt": "an old man reading", "emotion": "anger"})
    assert "relaxed smile" in out["negative_prompt"]


@pytest.mark.parametrize(
    "text, kept",
    [
        ("a laundromat at 3 a.m.", "a laundromat at 3 a.m."),
        ("a cab made in the U.S.", "a cab made in the U.S."),
        ("a dog in a park.", "a dog in a park"),
        ("a cab at 4 p.m.;", "a cab at 4 p.m."),  # the dot is not the text's last mark
        ("a bar, 3 a.m.,", "a bar, 3 a.m."),
        ("a bar at 3a.m.", "a bar at 3a.m."),
        ("...a dog", "a dog"),
        ("Dr. Who.", "Dr. Who"),
    ],
)
def test_an_abbreviation_keeps_its_final_dot(text, kept):
    from emotion_director.untrusted import strip_end

    assert strip_end(text, " ,.;:") == kept


def test_a_scene_ending_in_a_m_keeps_it_in_the_prompt(graph):
    # seen in real outputs: "a laundromat at 3 a.m, a single wilted flower, ..."
    out = graph.invoke({"prompt": "a laundromat at 3 a.m.", "emotion": "sadness"})
    assert out["final_prompt"].startswith("a laundromat at 3 a.m., ")
