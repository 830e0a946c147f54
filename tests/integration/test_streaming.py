"""LangGraph's ``stream_mode="messages"`` and plain chat streaming on the openai backend, against
the in-library simulated server (which streams as OpenAI and vLLM do) and llama.cpp's server."""

from __future__ import annotations

import asyncio
import logging

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk

import emotion_director.agents.models as chat_models
from emotion_director import Settings, build_graph
from emotion_director.agents.backends import make_chat_model
from emotion_director.testing import SimulatedOpenAIServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


async def _messages(graph, request):
    seen, final = [], None
    async for mode, chunk in graph.astream(request, stream_mode=["messages", "values"]):
        if mode == "messages":
            seen.append(chunk)
        else:
            final = chunk
    return seen, final


def _messages_sync(graph, request):
    seen, final = [], None
    for mode, chunk in graph.stream(request, stream_mode=["messages", "values"]):
        if mode == "messages":
            seen.append(chunk)
        else:
            final = chunk
    return seen, final


def _tool_names(seen):
    return [
        call["name"]
        for message, _ in seen
        if isinstance(message, AIMessage)
        for call in message.tool_calls
    ]


def test_simulated_server_streams_text_as_server_sent_events():
    with SimulatedOpenAIServer("ok") as server:
        model = make_chat_model(Settings(backend="openai", base_url=server.url))
        chunks = list(model.stream("say something"))
        achunks = asyncio.run(_collect(model.astream("say something")))
        assert server.bodies[0]["stream"] is True
    assert len(chunks) > 3 and all(isinstance(c, AIMessageChunk) for c in chunks)
    assert "".join(str(c.content) for c in chunks) == "a simulated answer from the loopback server"
    assert "".join(str(c.content) for c in achunks) == "a simulated answer from the loopback server"


async def _collect(stream):
    return [c async for c in stream]


def test_streamed_tool_calls_merge_into_one_call_with_one_name():
    # the protocol part that broke: the name arrives once, arguments in pieces
    with SimulatedOpenAIServer("ok") as server:
        model = make_chat_model(Settings(backend="openai", base_url=server.url))
        tool = {
            "type": "function",
            "function": {
                "name": "WrittenReading",
                "parameters": {
                    "type": "object",
                    "properties": {"cue": {"type": "string", "minLength": 12}},
                    "required": ["cue"],
                },
            },
        }
        merged = None
        for chunk in model.stream("hi", tools=[tool], stream=True):
            merged = chunk if merged is None else merged + chunk
    assert [c["name"] for c in merged.tool_calls] == ["WrittenReading"]
    assert merged.tool_calls[0]["args"] == {"cue": "x" * 12}


@pytest.mark.parametrize("sync", [True, False], ids=["stream", "astream"])
def test_stream_mode_messages_works_with_the_openai_backend_on_the_simulated_server(sync):
    request = {"prompt": "a dog", "emotion": "awe", "personas": ["poet", "child"]}
    with SimulatedOpenAIServer("ok") as server:
        graph = build_graph(Settings(backend="openai", base_url=server.url))
        seen, final = (
            _messages_sync(graph, request) if sync else asyncio.run(_messages(graph, request))
        )
    assert final["final_prompt"].startswith("a dog")
    names = _tool_names(seen)
    assert names and all(len(n) < 40 for n in names)  # one name per call, never repeated
    nodes = {meta["langgraph_node"] for _, meta in seen}
    assert "persona_reading" in nodes
    # structured calls are not streamed: the server saw no stream requests for them
    assert not any(b.get("stream") for b in server.bodies if b.get("tools"))


def test_streaming_is_guarded_in_unit_tests(monkeypatch):
    monkeypatch.setattr(chat_models, "ALLOW_MODEL_REQUESTS", False)
    with SimulatedOpenAIServer("ok") as server:
        model = make_chat_model(Settings(backend="openai", base_url=server.url))
        with pytest.raises(RuntimeError, match="ALLOW_MODEL_REQUESTS"):
            list(model.stream("hi"))
        with pytest.raises(RuntimeError, match="ALLOW_MODEL_REQUESTS"):
            asyncio.run(_collect(model.astream("hi")))
        assert server.requests == 0


async def test_stream_mode_messages_works_on_llama_cpp_server(llama_server):
    # llama.cpp's server repeats the tool name in every streamed chunk; merged, that was
    # 'CuePicksCuePicks...' and "Unknown tool type". Structured calls now arrive whole.
    settings = Settings(backend="openai", base_url=llama_server, reading_mode="choose")
    seen, final = await _messages(
        build_graph(settings),
        {"prompt": "an angry dog", "emotion": "contentment", "personas": ["poet", "child"]},
    )
    assert final["final_prompt"].lower().startswith("a dog") and len(final["readings"]) == 2
    assert _tool_names(seen) == ["CuePicks", "CuePicks"]
    assert {meta["langgraph_node"] for _, meta in seen} == {"persona_reading"}


def test_plain_chat_streams_token_by_token_from_llama_cpp_server(llama_server):
    model = make_chat_model(Settings(backend="openai", base_url=llama_server, max_tokens=24))
    chunks = list(model.stream("Name three colours."))
    achunks = asyncio.run(_collect(model.astream("Name three colours.")))
    assert len(chunks) > 3 and len(achunks) > 3
    assert "".join(str(c.content) for c in chunks).strip()


def test_json_schema_on_llama_cpp_server_falls_back_to_function_calling(llama_server, caplog):
    caplog.set_level(logging.WARNING)
    settings = Settings(
        backend="openai",
        base_url=llama_server,
        reading_mode="choose",
        structured_method="json_schema",
    )
    out = build_graph(settings).invoke(
        {"prompt": "a dog", "emotion": "awe", "personas": ["poet", "child"]}
    )
    assert out["final_prompt"].startswith("a dog") and len(out["readings"]) == 2
    assert "rejected structured_method=json_schema" in caplog.text


def test_max_tokens_caps_every_reply_of_llama_cpp_server(llama_server):
    from langchain_core.messages import HumanMessage

    model = make_chat_model(Settings(backend="openai", base_url=llama_server, max_tokens=16))
    reply = model.invoke([HumanMessage("Write a very long story about a dog.")])
    assert reply.usage_metadata["output_tokens"] <= 16
    assert reply.response_metadata.get("finish_reason") == "length"
