from importlib import resources

import pytest

from emotion_director.agents.text import undrawable_reason
from emotion_director.emotions import Emotion, emotion_words_in
from emotion_director.knowledge import FACETS, load_concept_graph, subject_tags


@pytest.fixture(scope="module")
def graph():
    return load_concept_graph()


@pytest.mark.parametrize("emotion", list(Emotion))
def test_every_emotion_has_sourced_appraisal_chains(graph, emotion):
    appraisals = graph.appraisals(emotion)
    assert len(appraisals) >= 3
    assert all(a.source and len(a.concepts) >= 4 for a in appraisals)
    facets = {c.facet for c in graph.concepts(emotion)}
    assert {"light", "colour", "composition", "body_language"} <= facets
    assert len(facets) >= 7
    assert graph.avoid(emotion)


@pytest.mark.parametrize("emotion", list(Emotion))
def test_every_concept_is_depictable(graph, emotion):
    for concept in graph.concepts(emotion):
        assert not emotion_words_in(concept.text), concept.text
        assert undrawable_reason(concept.text) is None, concept.text
        assert concept.facet in FACETS


def test_concepts_are_unique_across_the_graph(graph):
    texts = [c.text for e in Emotion for c in graph.concepts(e)]
    assert len(texts) == len(set(texts))


def test_subject_tags_match_chains_to_the_subject(graph):
    assert subject_tags("a dog in a park") == {"animal", "outdoor", "nature"}
    assert "human" in subject_tags("two old farmers")
    assert "indoor" in subject_tags("a kitchen at night")
    indoor = graph.candidates("awe", subject_tags("a cat in a kitchen"))
    assert all("outdoor" not in c.tags or "any" in c.tags or "animal" in c.tags for c in indoor)
    texts = {c.text for c in graph.candidates("sadness", subject_tags("an old man"))}
    assert "head lowered, resting on its paws" not in texts  # animal-only posture


def test_closest_maps_free_text_onto_the_graph(graph):
    found = graph.closest("sunlight breaking through the clouds in golden shafts", "awe")
    assert found is not None and found.facet == "light"
    assert graph.closest("quantum chromodynamics", "awe") is None


def test_sources_are_documented():
    text = resources.files("emotion_director.knowledge").joinpath("SOURCES.md").read_text()
    for attribute in ("brightness", "colourfulness", "scene", "object", "facial expression",
                      "human action"):
        assert attribute in text
