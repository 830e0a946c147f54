"""Every model call names who asks: run name, tags and metadata, read back by a callback handler."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler

from emotion_director import Settings, build_graph
from emotion_director.agents.structured import trace_config
from emotion_director.testing import TestChatModel


class Recorder(BaseCallbackHandler):
    """Keeps the tags, metadata and run name of every chat-model start and chain start, and
    each run's parent."""

    def __init__(self) -> None:
        self.llm: list[dict[str, Any]] = []
        self.chains: list[dict[str, Any]] = []
        self.parents: dict[Any, tuple[str | None, Any]] = {}

    def path(self, run_id: Any) -> list[str | None]:
        """The names of a run's ancestors, nearest first."""
        names = []
        while run_id in self.parents:
            name, run_id = self.parents[run_id]
            names.append(name)
        return names

    def on_chat_model_start(
        self,
        serialized,
        messages,
        *,
        run_id,
        parent_run_id=None,
        tags=None,
        metadata=None,
        **kwargs,
    ):
        self.llm.append(
            {
                "tags": list(tags or []),
                "metadata": dict(metadata or {}),
                "name": kwargs.get("name"),
                "parent": parent_run_id,
            }
        )

    def on_chain_start(
        self, serialized, inputs, *, run_id, parent_run_id=None, tags=None, metadata=None, **kwargs
    ):
        self.chains.append(
            {"tags": list(tags or []), "metadata": dict(metadata or {}), "name": kwargs.get("name")}
        )
        self.parents[run_id] = (kwargs.get("name"), parent_run_id)


def _personas(graph_output) -> list[str]:
    return graph_output["personas"]


def test_every_llm_call_carries_its_persona_and_role():
    recorder = Recorder()
    graph = build_graph(Settings(), chat_model=TestChatModel())
    out = graph.invoke(
        {"prompt": "a dog in a park", "emotion": "awe"}, config={"callbacks": [recorder]}
    )
    personas = set(out["readings"][i].persona for i in range(len(out["readings"])))
    assert len(personas) >= 2
    assert recorder.llm, "no chat model call was recorded"
    for call in recorder.llm:
        assert "emotion-director" in call["tags"]
        assert call["metadata"]["ed_node"] in {"persona_reading", "chain_of_concept", "consensus"}
    persona_calls = [c for c in recorder.llm if c["metadata"]["ed_node"] == "persona_reading"]
    # one call per persona, each tagged and named with its own persona
    assert {c["metadata"]["ed_persona"] for c in persona_calls} == personas
    for call in persona_calls:
        name = call["metadata"]["ed_persona"]
        assert f"persona:{name}" in call["tags"] and "node:persona_reading" in call["tags"]
    named = {c["name"] for c in recorder.chains}
    assert {f"persona_reading[{p}]" for p in personas} <= named


async def test_async_calls_carry_the_same_tags():
    recorder = Recorder()
    graph = build_graph(Settings(), chat_model=TestChatModel())
    out = await graph.ainvoke(
        {"prompt": "a cat on a roof", "emotion": "fear"}, config={"callbacks": [recorder]}
    )
    personas = {r.persona for r in out["readings"]}
    seen = {c["metadata"].get("ed_persona") for c in recorder.llm} - {None}
    assert seen == personas


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_model_call_nests_under_its_node_s_one_run(mode):
    """persona run < node run < graph run: the node body adds no second run of its own name."""
    import asyncio

    recorder = Recorder()
    graph = build_graph(Settings(), chat_model=TestChatModel())
    request = {"prompt": "a dog in a park", "emotion": "awe", "seed": 1}
    config = {"callbacks": [recorder]}
    if mode == "sync":
        graph.invoke(request, config=config)
    else:
        asyncio.run(graph.ainvoke(request, config=config))
    persona_calls = [c for c in recorder.llm if c["metadata"]["ed_node"] == "persona_reading"]
    assert persona_calls
    for call in persona_calls:
        persona = call["metadata"]["ed_persona"]
        path = recorder.path(call["parent"])
        assert path == [f"persona_reading[{persona}]", "persona_reading", "mc-agent"], path


def test_caller_tags_and_metadata_are_kept():
    config = trace_config(
        "persona_reading[Mara]",
        "openai",
        "Picks",
        1,
        {"tags": ["mine"], "metadata": {"team": "x", "ed_node": "override"}},
    )
    assert config["tags"] == ["mine", "emotion-director", "node:persona_reading", "persona:Mara"]
    assert config["metadata"]["team"] == "x"
    assert config["metadata"]["ed_node"] == "override"  # the caller's value wins
    assert config["metadata"]["ed_persona"] == "Mara" and config["metadata"]["ed_attempt"] == 1
    assert config["run_name"] == "persona_reading[Mara]"


def test_a_node_without_a_persona_gets_no_persona_tag():
    config = trace_config("consensus", "embedded", "FinalPrompt", 0)
    assert "ed_persona" not in config["metadata"]
    assert not any(t.startswith("persona:") for t in config["tags"])


@pytest.mark.integration
def test_real_model_calls_are_tagged_per_persona():
    recorder = Recorder()
    graph = build_graph(Settings(backend="embedded"))
    out = graph.invoke(
        # two personas: each call's tags are what is checked, not how many personas run
        {
            "prompt": "a lighthouse at dusk",
            "emotion": "awe",
            "seed": 1,
            "personas": ["poet", "child"],
        },
        config={"callbacks": [recorder]},
    )
    personas = {r.persona for r in out["readings"]}
    assert len(personas) == 2
    seen = {c["metadata"].get("ed_persona") for c in recorder.llm} - {None}
    assert seen == personas
    assert all("emotion-director" in c["tags"] for c in recorder.llm)
