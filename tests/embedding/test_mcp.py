"""The MCP server over stdio, driven by the mcp client."""

import json
import os
import sys

import pytest

pytest.importorskip("mcp")

from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402


async def test_mcp_stdio_server_lists_and_calls_the_rewrite_tool():
    env = {**os.environ, "EMOTION_DIRECTOR_BACKEND": "test"}
    params = StdioServerParameters(command=sys.executable,
                                   args=["-m", "emotion_director.cli", "mcp"], env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(tools) == {"rewrite_for_emotion"}  # no diffusion model configured
        assert {"prompt", "emotion"} <= set(tools["rewrite_for_emotion"].input_schema["required"])
        result = await session.call_tool("rewrite_for_emotion",
                                         {"prompt": "an angry dog", "emotion": "calm"})
        assert not result.is_error
        data = json.loads(result.content[0].text)
        assert data["emotion"] == "contentment" and data["final_prompt"].startswith("a dog")
        bad = await session.call_tool("rewrite_for_emotion", {"prompt": "", "emotion": "awe"})
        assert bad.is_error and "prompt is empty" in bad.content[0].text
