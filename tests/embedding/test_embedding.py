"""MC-Agent inside other apps: as a subgraph, as a tool of a prebuilt agent, via langgraph.json."""

import importlib.util
import json
import warnings
from pathlib import Path

from emotion_director import Settings
from emotion_director.agents.models import TestChatModel
from emotion_director.graph.tools import as_tool, as_tools
from emotion_director.personas import default_personas

ROOT = Path(__file__).parents[2]


def _load_example():
    spec = importlib.util.spec_from_file_location("subgraph_example", ROOT / "examples" / "subgraph.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_subgraph_streams_persona_readings_through_the_parent():
    example = _load_example()
    app = example.build_app(Settings(backend="test"), chat_model=TestChatModel())
    readings, caption = [], None
    async for namespace, update in app.astream({"request": "an angry dog feeling contentment"},
                                               stream_mode="updates", subgraphs=True):
        if "persona_reading" in update:
            assert namespace and namespace[0].startswith("mc_agent")
            readings.append(update["persona_reading"]["readings"][0].persona)
        if "publish" in update:
            caption = update["publish"]["caption"]
    assert sorted(readings) == sorted(p.name for p in default_personas())
    assert caption and caption.startswith("a dog")


async def test_rewrite_tool_works_in_a_prebuilt_tool_calling_agent():
    from langgraph.prebuilt import create_react_agent

    tool = as_tool(Settings(backend="test"), chat_model=TestChatModel())
    schema = tool.args_schema.model_json_schema()
    assert schema["properties"]["emotion"]["enum"][0] == "amusement"
    assert set(schema["required"]) == {"prompt", "emotion"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agent = create_react_agent(TestChatModel(), [tool])
    out = await agent.ainvoke({"messages": [("user", "make a dog look funny")]})
    tool_message = next(m for m in out["messages"] if m.type == "tool")
    result = json.loads(tool_message.content)
    assert result["emotion"] == "amusement" and result["final_prompt"]
    assert out["messages"][-1].content.startswith("tool result:")


def test_image_tool_appears_only_with_a_diffusion_model():
    assert [t.name for t in as_tools(Settings(backend="test"), chat_model=TestChatModel())] == [
        "rewrite_for_emotion"]
    names = [t.name for t in as_tools(Settings(backend="test"), chat_model=TestChatModel(),
                                      image_generator=object())]
    assert names == ["rewrite_for_emotion", "generate_emotion_image"]


def test_langgraph_json_points_at_a_compiled_graph(monkeypatch):
    config = json.loads((ROOT / "langgraph.json").read_text())
    path, _, attr = config["graphs"]["mc_agent"].partition(":")
    monkeypatch.setenv("EMOTION_DIRECTOR_BACKEND", "test")
    spec = importlib.util.spec_from_file_location("server", ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert hasattr(getattr(module, attr), "astream")
