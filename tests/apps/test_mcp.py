"""The MCP server over stdio, driven by the mcp client."""

import json
import os
import sys

import pytest

pytest.importorskip("mcp")

from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402

from emotion_director import __version__  # noqa: E402
from emotion_director.mcp_server import jsonrpc_error_for  # noqa: E402

pytestmark = pytest.mark.timeout(120)


def _params():
    env = {**os.environ, "EMOTION_DIRECTOR_BACKEND": "test"}
    env.pop("EMOTION_DIRECTOR_LOG_LEVEL", None)
    return StdioServerParameters(command=sys.executable,
                                 args=["-m", "emotion_director.cli", "mcp"], env=env)


async def test_mcp_stdio_server_lists_and_calls_the_rewrite_tool(tmp_path):
    log = (tmp_path / "stderr.log").open("w+")
    async with stdio_client(_params(), errlog=log) as (read, write), \
            ClientSession(read, write) as session:
        init = await session.initialize()
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(tools) == {"rewrite_for_emotion"}  # no diffusion model configured
        schema = tools["rewrite_for_emotion"].input_schema
        assert {"prompt", "emotion"} <= set(schema["required"])
        result = await session.call_tool("rewrite_for_emotion",
                                         {"prompt": "an angry dog", "emotion": "calm"})
        assert not result.is_error
        data = json.loads(result.content[0].text)
        assert data["emotion"] == "contentment" and data["final_prompt"].startswith("a dog")
        bad = await session.call_tool("rewrite_for_emotion", {"prompt": "", "emotion": "awe"})
        assert bad.is_error and "prompt is empty" in bad.content[0].text
    log.seek(0)
    assert init.server_info.version == __version__


async def test_mcp_tools_keep_the_emotion_list_descriptions_and_return_structured_content(tmp_path):
    log = (tmp_path / "stderr.log").open("w+")
    async with stdio_client(_params(), errlog=log) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        (tool,) = (await session.list_tools()).tools
        props = tool.input_schema["properties"]
        enum = next(o["enum"] for o in props["emotion"]["anyOf"] if "enum" in o)
        assert enum == ["amusement", "awe", "contentment", "excitement", "anger", "disgust",
                        "fear", "sadness"]
        assert all(props[k].get("description") for k in ("prompt", "emotion", "seed"))
        assert tool.output_schema and "final_prompt" in tool.output_schema["properties"]
        result = await session.call_tool("rewrite_for_emotion",
                                         {"prompt": "a funeral", "emotion": "amusement"})
        structured = result.structured_content
        assert structured["emotion"] == "amusement"
        assert structured["final_prompt"].startswith("a funeral")
        assert "result" not in structured  # not a JSON string wrapped in {"result": ...}
        assert isinstance(structured["personas"], dict)
    log.seek(0)
    text = log.read()
    assert "INFO" not in text and "Processing request" not in text, text[-500:]


@pytest.mark.parametrize(("line", "code"), [
    ("{oops", -32700), ("[1]", -32600), ('"x"', -32600), ('{"jsonrpc": "1.0", "id": 1}', -32600),
    ('{"jsonrpc": "2.0", "id": 1, "method": "x", "params": 3}', -32602),
])
def test_jsonrpc_error_for_malformed_lines(line, code):
    assert jsonrpc_error_for(line)["code"] == code


def test_well_formed_lines_and_malformed_notifications_get_no_error_answer():
    assert jsonrpc_error_for('{"jsonrpc": "2.0", "id": 1, "method": "ping"}') is None
    assert jsonrpc_error_for('{"jsonrpc": "2.0", "id": 1, "result": {}}') is None
    assert jsonrpc_error_for('{"jsonrpc": "2.0", "method": "n", "params": "x"}') is None


def test_the_readme_client_config_runs_this_server():
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start = readme.index('`{"mcpServers"')
    config = json.loads(readme[start + 1:readme.index("`", start + 1)])
    server = config["mcpServers"]["emotion-director"]
    assert server == {"command": "emotion-director", "args": ["mcp"]}  # what the tests launch
