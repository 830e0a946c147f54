"""MC-Agent inside other apps: as a subgraph, as a tool of a prebuilt agent, via langgraph.json."""

import importlib.util
import json
import warnings
from pathlib import Path

import pytest

from emotion_director import Settings
from emotion_director.graph.tools import as_tool, as_tools
from emotion_director.personas import default_personas
from emotion_director.testing import TestChatModel

ROOT = Path(__file__).parents[2]


def _load_example():
    spec = importlib.util.spec_from_file_location(
        "subgraph_example", ROOT / "examples" / "subgraph.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_subgraph_streams_persona_readings_through_the_parent(drive):
    example = _load_example()
    app = drive(example.build_app(Settings(), chat_model=TestChatModel()))
    readings, caption = [], None
    for namespace, update in app.stream(
        {"request": "an angry dog feeling contentment"}, stream_mode="updates", subgraphs=True
    ):
        if "persona_reading" in update:
            assert namespace and namespace[0].startswith("mc_agent")
            readings.append(update["persona_reading"]["readings"][0].persona)
        if "publish" in update:
            caption = update["publish"]["caption"]
    assert sorted(readings) == sorted(p.name for p in default_personas())
    assert caption and caption.startswith("a dog")


async def test_rewrite_tool_works_in_a_prebuilt_tool_calling_agent():
    from langgraph.prebuilt import create_react_agent

    tool = as_tool(Settings(), chat_model=TestChatModel())
    schema = tool.args_schema.model_json_schema()
    # the 8 categories are offered first; synonyms, or valence + arousal, are accepted too
    assert schema["properties"]["emotion"]["anyOf"][0]["enum"][0] == "amusement"
    assert set(schema["required"]) == {"prompt"}
    assert {"valence", "arousal", "personas", "seed"} <= set(schema["properties"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agent = create_react_agent(TestChatModel(), [tool])
    out = await agent.ainvoke({"messages": [("user", "make a dog look funny")]})
    tool_message = next(m for m in out["messages"] if m.type == "tool")
    result = json.loads(tool_message.content)
    assert result["emotion"] == "amusement" and result["final_prompt"]
    assert out["messages"][-1].content.startswith("tool result:")


def test_image_tool_appears_only_with_a_diffusion_model():
    assert [t.name for t in as_tools(Settings(), chat_model=TestChatModel())] == [
        "rewrite_for_emotion"
    ]
    names = [
        t.name for t in as_tools(Settings(), chat_model=TestChatModel(), image_generator=object())
    ]
    assert names == ["rewrite_for_emotion", "generate_emotion_image"]


def test_langgraph_json_points_at_a_compiled_graph(simulated_backend):
    config = json.loads((ROOT / "langgraph.json").read_text())
    path, _, attr = config["graphs"]["mc_agent"].partition(":")
    spec = importlib.util.spec_from_file_location("server", ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    factory = getattr(module, attr)
    assert callable(factory) and not hasattr(factory, "astream")  # a factory: built lazily
    assert hasattr(factory(), "astream") and factory() is factory()


def test_rewrite_tool_runs_under_a_sync_agent_and_an_async_one():
    tool = as_tool(Settings(), chat_model=TestChatModel())
    data = json.loads(tool.invoke({"prompt": "a dog in a park", "emotion": "awe"}))
    assert data["emotion"] == "awe" and data["final_prompt"].startswith("a dog")
    import asyncio

    again = json.loads(asyncio.run(tool.ainvoke({"prompt": "a dog in a park", "emotion": "awe"})))
    assert again == data


def _readme_block(heading: str) -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index(heading) :]
    return section[
        section.index("```python") + len("```python") : section.index(
            "```", section.index("```python") + 9
        )
    ]


def test_readme_tool_example_runs_as_written_with_a_sync_agent(simulated_backend):
    pytest.importorskip("langchain.agents")
    code = _readme_block("**Tool**")
    assert "create_agent" in code and "create_react_agent" not in code
    scope = {"model": TestChatModel()}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 (the README, as written)
    tool_message = next(m for m in scope["out"]["messages"] if m.type == "tool")
    assert json.loads(tool_message.content)["final_prompt"]


def test_input_schema_describes_fields_and_lists_emotions_but_accepts_synonyms():
    from emotion_director import build_graph

    graph = build_graph(Settings(), chat_model=TestChatModel())
    schema = graph.get_input_jsonschema()
    props = schema["properties"]
    assert all(
        props[k].get("description")
        for k in ("prompt", "emotion", "valence", "arousal", "personas", "seed")
    )
    options = props["emotion"]["anyOf"]
    assert next(o["enum"] for o in options if "enum" in o)[:2] == ["amusement", "awe"]
    assert any(o.get("type") == "string" and "enum" not in o for o in options)
    assert schema["required"] == ["prompt"]
    out = graph.invoke({"prompt": "a dog", "emotion": "happy"})
    assert out["emotion"] == "contentment"


def test_langchain_tool_takes_what_the_cli_takes():
    tool = as_tool(Settings(), chat_model=TestChatModel())
    out = json.loads(
        tool.invoke(
            {"prompt": "a dog in a park", "valence": 0.8, "arousal": 0.2, "personas": ["poet"]}
        )
    )
    assert out["emotion"] == "contentment" and list(out["personas"]) == ["poet"]
    assert json.loads(tool.invoke({"prompt": "a dog", "emotion": "scared"}))["emotion"] == "fear"
    with pytest.raises(Exception, match="conflicts with 'contentment'"):
        tool.invoke({"prompt": "a dog", "emotion": "happy", "valence": -1.0, "arousal": 0.5})
    with pytest.raises(Exception, match="valence"):
        tool.invoke({"prompt": "a dog", "valence": 3.0, "arousal": 0.5})  # outside [-1, 1]
