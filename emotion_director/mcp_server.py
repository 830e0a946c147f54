"""An MCP server (stdio) exposing the same tools as :func:`emotion_director.graph.tools.as_tools`.

    emotion-director mcp          # settings from EMOTION_DIRECTOR_* variables

Claude Desktop / any MCP client config::

    {"mcpServers": {"emotion-director": {"command": "emotion-director", "args": ["mcp"]}}}
"""

from __future__ import annotations

from typing import Any

from emotion_director.errors import EmotionDirectorError
from emotion_director.settings import Settings


def build_server(settings: Settings | None = None, **graph_kwargs: Any) -> Any:
    try:  # mcp 2.x renamed FastMCP to MCPServer; same decorator API
        from mcp.server.mcpserver import MCPServer as FastMCP
    except ImportError:
        try:
            from mcp.server.fastmcp import FastMCP
        except ImportError:
            raise EmotionDirectorError('the MCP server needs the mcp package: pip install '
                                       '"emotion-director[mcp]"') from None
    from emotion_director.graph.tools import as_tools

    tools = {t.name: t for t in as_tools(settings or Settings(), **graph_kwargs)}
    server = FastMCP("emotion-director")

    @server.tool(name="rewrite_for_emotion", description=tools["rewrite_for_emotion"].description)
    async def rewrite_for_emotion(prompt: str, emotion: str, seed: int = 0) -> str:
        """prompt: the scene; emotion: amusement, awe, contentment, excitement, anger,
        disgust, fear or sadness; seed: same seed, same result."""
        return await _call(tools["rewrite_for_emotion"], prompt, emotion, seed)

    if "generate_emotion_image" in tools:
        @server.tool(name="generate_emotion_image",
                     description=tools["generate_emotion_image"].description)
        async def generate_emotion_image(prompt: str, emotion: str, seed: int = 0) -> str:
            return await _call(tools["generate_emotion_image"], prompt, emotion, seed)

    return server


async def _call(tool: Any, prompt: str, emotion: str, seed: int) -> str:
    from emotion_director.emotions import resolve_emotion

    try:  # MCP clients see one clear line, not a traceback
        return await tool.ainvoke({"prompt": prompt, "emotion": resolve_emotion(emotion).value,
                                   "seed": seed})
    except EmotionDirectorError as exc:
        raise _tool_error()(str(exc)) from None


def _tool_error() -> type[Exception]:
    """The exception whose message MCP servers pass on to the client."""
    try:
        from mcp.server.mcpserver.exceptions import ToolError
    except ImportError:
        try:
            from mcp.server.fastmcp.exceptions import ToolError
        except ImportError:
            return ValueError
    return ToolError


def main() -> None:
    build_server().run(transport="stdio")
