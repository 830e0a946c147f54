"""An MCP server (stdio) exposing the same tools as :func:`emotion_director.graph.tools.as_tools`.

    emotion-director mcp          # settings from EMOTION_DIRECTOR_* variables

Claude Desktop / any MCP client config::

    {"mcpServers": {"emotion-director": {"command": "emotion-director", "args": ["mcp"]}}}

Tools take described arguments (``emotion`` lists the 8 categories and also accepts synonyms)
and return structured content (an ``outputSchema`` and ``structuredContent``, with the same JSON
as text for older clients). The server reports the project's version. It logs warnings and
errors only (``EMOTION_DIRECTOR_LOG_LEVEL=INFO`` for more); MCP clients show the server's stderr
as its log. A malformed line gets the JSON-RPC error the spec prescribes (parse error, invalid
request, invalid params) instead of silence, so a client never waits forever.
"""

from __future__ import annotations

import io
import json
import os
import sys
from typing import Annotated, Any

from pydantic import BaseModel, Field, WithJsonSchema

from emotion_director.errors import EmotionDirectorError, MissingExtraError
from emotion_director.graph.state import EMOTION_JSON_SCHEMA
from emotion_director.redaction import redact
from emotion_director.settings import Settings

PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS = -32700, -32600, -32602

Prompt = Annotated[str, Field(description="the scene to depict, e.g. 'a dog in a park'")]
EmotionArg = Annotated[str, WithJsonSchema(EMOTION_JSON_SCHEMA)]
Seed = Annotated[int, Field(description="sampling seed: the same seed gives the same result")]


class EmotionRewrite(BaseModel):
    """What the tools return (as MCP structured content)."""

    final_prompt: str = Field(description="the rewritten image prompt")
    negative_prompt: str = Field(description="what the image should avoid")
    emotion: str = Field(description="the target emotion category")
    negative_emotion: str | None = Field(
        default=None, description="the emotion the prompt's own words pull toward, if any")
    personas: dict[str, list[str]] = Field(description="each persona's visual cues")
    images: list[str] | None = Field(default=None, description="generated image paths")


def _mcp_server_class() -> tuple[Any, bool]:
    try:  # mcp 2.x renamed FastMCP to MCPServer; same decorator API
        from mcp.server.mcpserver import MCPServer

        return MCPServer, True
    except ImportError:
        try:
            from mcp.server.fastmcp import FastMCP

            return FastMCP, False
        except ImportError:
            raise MissingExtraError('the MCP server needs the mcp package: pip install '
                                    '"emotion-director[mcp]"') from None


def build_server(settings: Settings | None = None, **graph_kwargs: Any) -> Any:
    """The MCP server with ``rewrite_for_emotion`` (and ``generate_emotion_image``)."""
    from emotion_director import __version__
    from emotion_director.graph.tools import as_tools

    server_class, modern = _mcp_server_class()
    tools = {t.name: t for t in as_tools(settings or Settings(), **graph_kwargs)}
    level = os.environ.get("EMOTION_DIRECTOR_LOG_LEVEL", "WARNING").upper()
    options: dict[str, Any] = {"log_level": level if level in {
        "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"} else "WARNING"}
    if modern:
        options["version"] = __version__
    server = server_class("emotion-director", **options)
    if not modern:  # mcp 1.x: the low-level server carries the version
        server._mcp_server.version = __version__

    @server.tool(name="rewrite_for_emotion", description=tools["rewrite_for_emotion"].description)
    async def rewrite_for_emotion(prompt: Prompt, emotion: EmotionArg,
                                  seed: Seed = 0) -> EmotionRewrite:
        return await _call(tools["rewrite_for_emotion"], prompt, emotion, seed)

    if "generate_emotion_image" in tools:
        @server.tool(name="generate_emotion_image",
                     description=tools["generate_emotion_image"].description)
        async def generate_emotion_image(prompt: Prompt, emotion: EmotionArg,
                                         seed: Seed = 0) -> EmotionRewrite:
            return await _call(tools["generate_emotion_image"], prompt, emotion, seed)

    return server


async def _call(tool: Any, prompt: str, emotion: str, seed: int) -> EmotionRewrite:
    from emotion_director.emotions import resolve_emotion

    try:  # MCP clients see one clear line, not a traceback, and never a secret
        text = redact(await tool.ainvoke({"prompt": prompt,
                                          "emotion": resolve_emotion(emotion).value, "seed": seed}))
    except EmotionDirectorError as exc:
        raise _tool_error()(redact(str(exc))) from None
    except Exception as exc:
        raise _tool_error()(redact(f"{type(exc).__name__}: {str(exc)[:300]}")) from None
    return EmotionRewrite.model_validate_json(text)


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


def jsonrpc_error_for(line: str) -> dict[str, Any] | None:
    """The JSON-RPC 2.0 error answer a malformed line deserves, or ``None`` if it is well formed.

    Returns ``{"id": ..., "code": ..., "message": ...}``; ``id`` is ``None`` where it cannot be
    read, as the spec says. A malformed *notification* (no id) gets no answer.

    Example:
        >>> jsonrpc_error_for('{"jsonrpc": "2.0", "id": 1, "method": "ping"}') is None
        True
        >>> jsonrpc_error_for("{oops")["code"]
        -32700
    """
    try:
        data = json.loads(line)
    except ValueError:
        return {"id": None, "code": PARSE_ERROR, "message": "Parse error: not valid JSON"}
    if not isinstance(data, dict):
        kind = "a batch (not supported)" if isinstance(data, list) else type(data).__name__
        return {"id": None, "code": INVALID_REQUEST,
                "message": f"Invalid Request: expected a JSON-RPC object, got {kind}"}
    raw_id = data.get("id")
    ident = raw_id if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) else None
    is_response = "result" in data or "error" in data
    if data.get("jsonrpc") != "2.0" or (not is_response and not isinstance(
            data.get("method"), str)):
        return {"id": ident, "code": INVALID_REQUEST,
                "message": "Invalid Request: needs \"jsonrpc\": \"2.0\" and a string \"method\""}
    if "params" in data and not isinstance(data["params"], (dict, list)):
        if "id" not in data:
            return None  # a notification: never answered, the server drops it
        return {"id": ident, "code": INVALID_PARAMS,
                "message": "Invalid params: \"params\" must be an object"}
    return None


async def _serve_stdio(server: Any) -> None:
    """``server`` on stdio, answering malformed lines with JSON-RPC errors."""
    import anyio

    from mcp.server.stdio import stdio_server
    from mcp.shared.message import SessionMessage

    try:
        import mcp_types as types
    except ImportError:  # mcp 1.x
        import mcp.types as types

    replies: list[Any] = []
    ready = anyio.Event()

    class CheckedStdin:
        """Lines of stdin for the MCP transport; bad ones are answered here, not passed on."""

        def __init__(self) -> None:
            self._file = anyio.wrap_file(io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8",
                                                          errors="replace"))

        def __aiter__(self) -> Any:
            return self._lines()

        async def _lines(self) -> Any:
            await ready.wait()
            async for line in self._file:
                if not line.strip():
                    continue
                error = jsonrpc_error_for(line)
                if error is None:
                    yield line
                elif "id" in error:
                    message = types.JSONRPCError.model_construct(
                        jsonrpc="2.0", id=error["id"],
                        error=types.ErrorData(code=error["code"], message=error["message"]))
                    await replies[0].send(SessionMessage(message))

    async with stdio_server(stdin=CheckedStdin()) as (read_stream, write_stream):
        replies.append(write_stream)
        ready.set()
        low = server._lowlevel_server if hasattr(server, "_lowlevel_server") else server._mcp_server
        await low.run(read_stream, write_stream, low.create_initialization_options())


def main() -> None:
    import anyio

    from emotion_director.redaction import install_log_redaction

    install_log_redaction()
    anyio.run(_serve_stdio, build_server())
