import asyncio
import threading
import time
from pathlib import Path

import pytest
from langgraph.graph.state import CompiledStateGraph

from emotion_director import (
    InvalidRequestError,
    RewriteResult,
    Settings,
    UnknownEmotionError,
    build_graph,
)
from emotion_director.emotions import emotion_words_in
from emotion_director.personas import default_personas
from emotion_director.testing import FunctionChatModel, TestChatModel

from ..snapshot import assert_matches_snapshot

SNAPSHOT = Path(__file__).parent / "snapshots" / "mc_agent.mmd"


def test_output_schema_has_every_field(graph):
    out = graph.invoke({"prompt": "an angry dog", "emotion": "contentment"})
    assert set(out) >= {
        "final_prompt",
        "negative_prompt",
        "emotion",
        "visual_prompt",
        "readings",
        "concepts",
        "trace",
        "subject",
    }
    result = RewriteResult.from_state(out)
    assert result.emotion == "contentment" and result.subject == "a dog"
    assert len(result.readings) == len(default_personas())
    assert {t.persona for t in result.trace} == {p.name for p in default_personas()}


def test_readings_differ_across_personas_and_prompt_stays_drawable(graph):
    out = graph.invoke({"prompt": "an angry dog", "emotion": "contentment"})
    assert len({tuple(r.cues) for r in out["readings"]}) >= 6
    assert "dog" in out["final_prompt"]
    assert not emotion_words_in(out["final_prompt"])


def test_stream_updates_show_each_persona_reading_as_it_arrives(graph):
    nodes = [
        next(iter(u))
        for u in graph.stream(
            {"prompt": "a dog in a park", "emotion": "awe"}, stream_mode="updates"
        )
    ]
    assert nodes[0] == "parse_request"
    assert nodes.count("persona_reading") == len(default_personas())
    assert nodes[-2:] == ["chain_of_concept", "consensus"]


def test_persona_agents_run_concurrently(drive):
    # each call holds until every persona's call is in flight (or 5 s pass): overlap is proved by
    # the peak, not by sleeps that a busy machine may not overlap (it read 5 of 7 under load)
    want = len(default_personas())
    in_flight, peak = 0, 0
    lock = threading.Lock()

    def enter():
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)

    def leave():
        nonlocal in_flight
        with lock:
            in_flight -= 1

    class Counting(TestChatModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            enter()
            deadline = time.monotonic() + 5
            while peak < want and time.monotonic() < deadline:
                time.sleep(0.005)
            leave()
            return self._reply(messages, kwargs)

        async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs):
            enter()
            deadline = time.monotonic() + 5
            while peak < want and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            leave()
            return self._reply(messages, kwargs)

    graph = drive(build_graph(Settings(), chat_model=Counting()))
    # (sync, LangGraph runs parallel tasks on its executor: max_concurrency sizes it)
    graph.invoke({"prompt": "a dog", "emotion": "awe"}, {"max_concurrency": want})
    assert peak == want


def test_invoke_runs_nodes_sync_and_ainvoke_runs_them_async(drive):
    paths = []

    class Recording(TestChatModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            paths.append(("sync", _loop_running()))
            return self._reply(messages, kwargs)

        async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs):
            paths.append(("async", _loop_running()))
            return self._reply(messages, kwargs)

    graph = drive(build_graph(Settings(reading_mode="write"), chat_model=Recording()))
    graph.invoke({"prompt": "a dog", "emotion": "awe"})
    expected = ("sync", False) if isinstance(graph, CompiledStateGraph) else ("async", True)
    assert paths and set(paths) == {expected}  # no event loop behind invoke
    assert not [t for t in threading.enumerate() if "loop" in t.name]


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_same_seed_same_result_other_seed_other_readings(graph):
    a = graph.invoke({"prompt": "a cat on a roof", "emotion": "fear", "seed": 7})
    b = graph.invoke({"prompt": "a cat on a roof", "emotion": "fear", "seed": 7})
    assert a["final_prompt"] == b["final_prompt"] and a["readings"] == b["readings"]
    others = [
        graph.invoke({"prompt": "a cat on a roof", "emotion": "fear", "seed": s}) for s in (1, 2, 3)
    ]
    assert any(o["readings"] != a["readings"] for o in others)


def test_persona_selection_and_unknown_persona(graph):
    out = graph.invoke({"prompt": "a dog", "emotion": "awe", "personas": ["poet", "child"]})
    assert [r.persona for r in out["readings"]] == ["poet", "child"] or {
        r.persona for r in out["readings"]
    } == {"poet", "child"}
    with pytest.raises(InvalidRequestError, match="unknown persona"):
        graph.invoke({"prompt": "a dog", "emotion": "awe", "personas": ["nobody"]})


def test_valence_arousal_pick_the_emotion_or_conflict(graph):
    out = graph.invoke({"prompt": "a harbour", "valence": -0.7, "arousal": 0.2})
    assert out["emotion"] == "sadness"
    with pytest.raises(InvalidRequestError, match="conflicts"):
        graph.invoke({"prompt": "a harbour", "emotion": "awe", "valence": -0.9})


@pytest.mark.parametrize(
    ("request_", "error", "match"),
    [
        ({"prompt": "", "emotion": "awe"}, InvalidRequestError, "empty"),
        ({"prompt": "   \n\t ", "emotion": "awe"}, InvalidRequestError, "empty"),
        ({"prompt": "x" * 100_000, "emotion": "awe"}, InvalidRequestError, "over the"),
        ({"prompt": "a dog\x07", "emotion": "awe"}, InvalidRequestError, r"U\+0007"),
        ({"prompt": "a dog", "emotion": "joyous-ish"}, UnknownEmotionError, "Valid emotions"),
        ({"prompt": "a dog"}, InvalidRequestError, "no emotion given"),
        ({"prompt": 42, "emotion": "awe"}, InvalidRequestError, "must be text"),
        ({"prompt": "a dog", "emotion": "awe", "seed": "x"}, InvalidRequestError, "seed"),
    ],
)
def test_bad_requests_raise_clear_errors(graph, request_, error, match):
    with pytest.raises(error, match=match):
        graph.invoke(request_)


def test_emotion_words_in_the_prompt_are_not_kept_in_the_subject(graph):
    out = graph.invoke({"prompt": "A furious, angry bull in a field", "emotion": "contentment"})
    assert out["subject"].lower().startswith("a bull in a field")
    assert [a.action for a in out["adjustments"]] == ["negative", "negative"]
    assert "bull" in out["final_prompt"]
    assert "furious expression" in out["negative_prompt"]


def test_graph_drawing_matches_snapshot(graph):
    assert_matches_snapshot(graph.get_graph().draw_mermaid(), SNAPSHOT)


def test_checkpointer_keeps_the_thread_state(test_settings, test_model, drive):
    from langgraph.checkpoint.memory import InMemorySaver

    graph = drive(build_graph(test_settings, checkpointer=InMemorySaver(), chat_model=test_model))
    config = {"configurable": {"thread_id": "t1"}}
    out = graph.invoke({"prompt": "a dog", "emotion": "awe"}, config)
    state = graph.get_state(config)
    assert state.values["final_prompt"] == out["final_prompt"]
    assert len(state.values["readings"]) == len(default_personas())


def test_custom_personas_are_used(test_settings, test_model, drive):
    personas = [p for p in default_personas() if p.name in {"poet", "farmer"}]
    graph = drive(build_graph(test_settings, personas=personas, chat_model=test_model))
    out = graph.invoke({"prompt": "a dog", "emotion": "sadness"})
    assert {r.persona for r in out["readings"]} == {"poet", "farmer"}


def test_call_budget_bounds_llm_calls_per_run(drive):
    from emotion_director import BackendError

    model = TestChatModel()
    graph = drive(build_graph(Settings(max_llm_calls=7), chat_model=model))
    graph.invoke({"prompt": "a dog", "emotion": "awe"})
    assert len(model.calls) == 7  # within budget: unchanged behaviour
    bad = FunctionChatModel(lambda m, s: "not json")
    graph = drive(build_graph(Settings(max_llm_calls=14, max_retries=5), chat_model=bad))
    with pytest.raises(BackendError, match="call budget is spent"):
        graph.invoke({"prompt": "a dog", "emotion": "awe"})
    assert len(bad.calls) <= 14  # retries stop at the budget, not at max_retries
    with pytest.raises(InvalidRequestError, match="max_llm_calls=3 is below"):
        drive(build_graph(Settings(max_llm_calls=3), chat_model=model)).invoke(
            {"prompt": "a dog", "emotion": "awe"}
        )


def test_a_resume_with_the_setting_reader_switched_is_refused_and_an_older_run_is_not():
    from emotion_director.errors import CheckpointError
    from emotion_director.graph.durable import check_resume, run_identity

    started = Settings()
    recorded = run_identity(started)
    assert recorded["settings"]["read_setting"] is True
    switched = run_identity(started.model_copy(update={"read_setting": False}))
    with pytest.raises(CheckpointError, match="read_setting"):
        check_resume("t", recorded, switched, {})
    # a run recorded before the setting existed resumes under either value
    older = {**recorded, "settings": dict(recorded["settings"])}
    del older["settings"]["read_setting"]
    check_resume("t", older, switched, {})


@pytest.mark.parametrize(
    ("prompt", "subject"),
    [
        ("an angry dog", "a dog"),
        ("an angry, wet dog", "a wet dog"),
        ("a dog in a park, awe", "a dog in a park"),
        # an emotion word that names a thing stays ("a book on a desk" was the subject)
        ("a comic book on a desk", "a comic book on a desk"),
        ("a fear of heights", "a fear of heights"),  # not "a of heights"
        ("a horror film poster on a wall", "a horror film poster on a wall"),
        ("a joy ride at dusk", "a joy ride at dusk"),
        # the feeling itself goes, with the preposition it leaves hanging ("a face full of")
        ("a face full of joy", "a face"),
        ("a scream of terror in the night", "a scream in the night"),
        ("a dog, full of joy, in a park", "a dog, in a park"),
        # ... or the preposition and article that held it, where it ended their phrase
        ("a woman in despair on a bridge", "a woman on a bridge"),  # not "a woman in on"
        ("a man in a rage, at the till", "a man, at the till"),
        ("a widow lost in her grief", "a widow"),
        ("a man in despair and his dog", "a man and his dog"),
        ("a boy in happy, muddy boots", "a boy in muddy boots"),  # not "a boy in, muddy boots"
        # nothing removed, nothing tidied; a hyphened word is no preposition (a review)
        ("the stuff dreams are made of", "the stuff dreams are made of"),
        ("a friend to play with", "a friend to play with"),
        ("a man with in-ear headphones on a train", "a man with in-ear headphones on a train"),
    ],
)
def test_the_subject_keeps_the_scene_without_its_feelings(prompt, subject):
    from emotion_director.graph.request import extract_subject

    assert extract_subject(prompt)[0] == subject


@pytest.mark.parametrize(
    ("prompt", "emotion", "subject"),
    [
        ("a woman in despair on a bridge", "amusement", "a woman on a bridge"),
        ("an old man lost in grief by the sea", "excitement", "an old man by the sea"),
        ("a girl screaming in terror in the woods", "contentment", "a girl screaming in the woods"),
        ("a man in a rage at the till", "contentment", "a man at the till"),
        ("a widow in her grief at the graveside", "excitement", "a widow at the graveside"),
        # an adverb of motion is no preposition left hanging
        (
            "a furious chef coming in through the door",
            "contentment",
            "a chef coming in through the door",
        ),
        # an adjective ends no phrase: another may follow it (a review)
        ("a portrait of a sad, old man", "amusement", "a portrait of an old man"),
        ("a man with a sad, tired face at the bar", "amusement", "a man with a face at the bar"),
    ],
)
def test_a_feeling_moved_out_of_the_scene_takes_its_preposition(prompt, emotion, subject):
    from emotion_director.graph.request import parse_request

    request = parse_request({"prompt": prompt, "emotion": emotion}, max_chars=500, default_seed=0)
    assert request["subject"] == subject


@pytest.mark.parametrize(
    ("prompt", "emotion"),
    [("a comic book on a desk", "sadness"), ("a horror film poster on a wall", "contentment")],
)
def test_a_thing_named_by_an_emotion_word_stays_through_the_graph(prompt, emotion):
    out = build_graph(Settings(), chat_model=TestChatModel()).invoke(
        {"prompt": prompt, "emotion": emotion}
    )
    assert out["final_prompt"].startswith(prompt)
