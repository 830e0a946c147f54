"""``mcp``: the MCP server on stdio."""

from __future__ import annotations

from emotion_director.cli.common import call


def mcp() -> None:
    """Serve rewrite_for_emotion (and generate_emotion_image) over MCP on stdio."""
    from emotion_director.mcp_server import build_server, serve_stdio

    server = call(build_server)
    serve_stdio(server)
