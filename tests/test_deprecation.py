"""Renamed names keep working with a DeprecationWarning that names the new one."""

from __future__ import annotations

import importlib
import sys

import pytest

from emotion_director.agents.consensus import build_trace, negative_prompt
from emotion_director.agents.persona_agent import read_persona
from emotion_director.agents.refiner import chain_of_concept
from emotion_director.agents.schemas import PersonaReading
from emotion_director.emotions import Emotion
from emotion_director.knowledge import load_concept_graph


@pytest.mark.parametrize(
    ("old", "new", "names"),
    [
        (
            "emotion_director.knowledge.graph",
            "emotion_director.knowledge.concept_graph",
            ["ConceptGraph", "load_concept_graph", "content_words", "STOPWORDS"],
        ),
        (
            "emotion_director.diffusion.tool",
            "emotion_director.diffusion.generator",
            ["ImageGenerator", "make_generate_image_tool", "writable_dir", "OutputDirError"],
        ),
    ],
)
def test_a_moved_module_warns_on_import_and_gives_the_same_objects(old, new, names):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} is deprecated: import from {new}"):
        shim = importlib.import_module(old)
    target = importlib.import_module(new)
    for name in names:
        assert getattr(shim, name) is getattr(target, name)
    with pytest.raises(AttributeError):
        shim.no_such_name  # noqa: B018


def test_old_graph_keyword_still_works_with_a_warning_and_gives_the_same_result():
    concept_graph = load_concept_graph()
    new = negative_prompt(Emotion.AWE, concept_graph=concept_graph, prompt_emotion_words=[])
    with pytest.warns(
        DeprecationWarning,
        match=r"negative_prompt\(graph=\.\.\.\) is deprecated: "
        r"pass concept_graph=\.\.\. instead",
    ):
        old = negative_prompt(Emotion.AWE, graph=concept_graph, prompt_emotion_words=[])
    assert old == new and new


async def test_old_graph_keyword_works_on_the_async_agents():
    reading = PersonaReading(
        persona="poet",
        intensity=0.8,
        evocation="x",
        cues=["golden light"],
        rationale="r",
        appraisal=None,
        weight=1.0,
    )
    kwargs = dict(
        emotion=Emotion.AWE, subject="a dog", subject_tags=frozenset({"animal"}), mode="choose"
    )
    with pytest.warns(DeprecationWarning, match="chain_of_concept"):
        old = await chain_of_concept([reading], graph=load_concept_graph(), **kwargs)
    new = await chain_of_concept([reading], concept_graph=load_concept_graph(), **kwargs)
    assert old == new


def test_passing_both_the_old_and_the_new_keyword_is_refused():
    concept_graph = load_concept_graph()
    with pytest.raises(TypeError, match="got both graph= and concept_graph="):
        build_trace([], [], None, "a dog", graph=concept_graph, concept_graph=concept_graph)
    assert read_persona.__name__ == "read_persona"  # the wrapper keeps the agent's identity
