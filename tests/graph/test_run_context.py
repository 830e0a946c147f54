"""The graph's context_schema: per-run personas, weights, model, call budget, seed and review."""

from __future__ import annotations

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from emotion_director import InvalidRequestError, Settings, build_graph
from emotion_director.graph.context import RunContext
from emotion_director.testing import SimulatedOpenAIServer, TestChatModel

REQUEST = {"prompt": "a dog in a park", "emotion": "awe"}


@pytest.fixture(scope="module")
def graph():
    return build_graph(Settings(), chat_model=TestChatModel())


def _personas(out) -> list[str]:
    return sorted(r.persona for r in out["readings"])


def test_context_personas_select_who_speaks_and_the_request_wins(graph):
    out = graph.invoke(REQUEST, context=RunContext(personas=["poet", "child"]))
    assert _personas(out) == ["child", "poet"]
    out = graph.invoke({**REQUEST, "personas": ["poet"]}, context={"personas": ["child"]})
    assert _personas(out) == ["poet"]  # the request's own list wins


def test_context_weights_reach_the_readings_and_the_trace(graph):
    plain = graph.invoke({**REQUEST, "personas": ["poet", "child"]})
    weighted = graph.invoke(
        {**REQUEST, "personas": ["poet", "child"]}, context={"persona_weights": {"poet": 4.0}}
    )
    by_name = {r.persona: r.weight for r in weighted["readings"]}
    assert by_name["poet"] == 4.0 and by_name["child"] == 1.0
    assert {r.persona: r.weight for r in plain["readings"]}["poet"] == 1.0
    assert {t.persona: t.weight for t in weighted["trace"] if t.persona}["poet"] == 4.0


def test_context_seed_is_the_default_seed(graph):
    via_context = graph.invoke(REQUEST, context=RunContext(seed=7))
    via_request = graph.invoke({**REQUEST, "seed": 7})
    assert via_context["final_prompt"] == via_request["final_prompt"]
    default = graph.invoke(REQUEST)["final_prompt"]
    assert any(
        graph.invoke(REQUEST, context=RunContext(seed=s))["final_prompt"] != default
        for s in range(1, 6)
    )  # the context's seed is used, not ignored


def test_context_call_budget_is_checked_before_any_call(graph):
    with pytest.raises(InvalidRequestError, match="max_llm_calls=2 is below the 7 persona calls"):
        graph.invoke(REQUEST, context=RunContext(max_llm_calls=2))


@pytest.mark.integration  # real requests to a server on loopback
def test_context_model_sends_the_run_to_another_server():
    graph = build_graph(Settings(), chat_model=TestChatModel())
    with SimulatedOpenAIServer("ok") as server:
        ctx = RunContext(
            backend="openai", base_url=server.url, model="simulated", personas=["poet"]
        )
        out = graph.invoke(REQUEST, context=ctx)
        first = server.requests
        # the persona's call and the final prompt's (the refiner is asked about abstract cues
        # only: the server's filler cues are dropped, not refined)
        assert first >= 2 and "dog" in out["final_prompt"]
        graph.invoke(REQUEST, context=ctx)
        assert server.requests > first
        assert server.bodies[-1]["model"] == "simulated"
    before = server.requests
    graph.invoke({**REQUEST, "personas": ["poet"]})  # no context: the graph's own model
    assert server.requests == before


async def test_context_works_async(graph):
    out = await graph.ainvoke(REQUEST, context={"personas": ["child"], "seed": 3})
    assert _personas(out) == ["child"]
    assert (
        out["final_prompt"]
        == graph.invoke({**REQUEST, "seed": 3, "personas": ["child"]})["final_prompt"]
    )


def test_review_can_be_turned_off_per_run():
    graph = build_graph(
        Settings(review=True), chat_model=TestChatModel(), checkpointer=InMemorySaver()
    )
    paused = graph.invoke(REQUEST, {"configurable": {"thread_id": "a"}})
    assert "__interrupt__" in paused
    done = graph.invoke(
        REQUEST, {"configurable": {"thread_id": "b"}}, context=RunContext(review=False)
    )
    assert "__interrupt__" not in done and done["final_prompt"]


def test_review_asked_of_a_graph_without_it_is_refused(graph):
    with pytest.raises(InvalidRequestError, match="built without the review step"):
        graph.invoke(REQUEST, context=RunContext(review=True))


@pytest.mark.parametrize(
    "context, message",
    [
        ({"persona": ["poet"]}, "unknown context key(s) 'persona'"),
        ({"personas": "poet"}, "must be a list of persona names"),
        ({"personas": ["nobody"]}, "unknown persona(s) nobody"),
        ({"persona_weights": {"poet": 0}}, "persona_weights['poet'] is 0"),
        ({"persona_weights": {"poet": float("nan")}}, "give a number in (0, 10]"),
        ({"persona_weights": {"ghost": 2}}, "weighs unknown persona(s) ghost"),
        ({"backend": "gpt"}, "backend 'gpt' is unknown"),
        ({"backend": "openai"}, "needs a server URL"),
        ({"base_url": ""}, "base_url must be non-empty"),
        ({"max_llm_calls": 0}, "max_llm_calls is 0"),
        ({"seed": -1}, "seed is -1"),
        ({"seed": True}, "seed is True"),
        ({"review": "yes"}, "review is 'yes'"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_bad_context_is_one_clear_error(graph, context, message):
    with pytest.raises(InvalidRequestError) as info:
        graph.invoke(REQUEST, context=context)
    assert message in str(info.value)


def test_bad_context_object_type_is_refused(graph):
    with pytest.raises(InvalidRequestError, match="context must be a RunContext or a dict"):
        graph.invoke(REQUEST, context=["poet"])


def test_the_context_shows_its_fields_as_its_signature():
    import inspect

    from emotion_director.graph.context import RunContext

    params = inspect.signature(RunContext).parameters
    assert list(params)[:2] == ["personas", "persona_weights"] and "seed" in params
    assert all(p.default is None for p in params.values())
