"""An MCP server (stdio) exposing the same tools as :func:`emotion_director.graph.tools.as_tools`.

    emotion-director mcp          # settings from EMOTION_DIRECTOR_* variables

Claude Desktop / any MCP client config::

    {"mcpServers": {"emotion-director": {"command": "emotion-director", "args": ["mcp"]}}}

Tools take described arguments (``emotion`` lists the 8 categories and also accepts synonyms)
and return structured content (an ``outputSchema`` and ``structuredContent``, with the same JSON
as text for older clients). The server reports the project's version. It logs warnings and
errors only (``EMOTION_DIRECTOR_LOG_LEVEL=INFO`` for more); MCP clients show the server's stderr
as its log. A malformed line gets the JSON-RPC error the spec prescribes (parse error, invalid
request, invalid params) instead of silence, so a client never waits forever, and the server reads
on: :func:`diagnose_line` checks size, UTF-8, nesting depth, JSON and the JSON-RPC envelope before
the MCP SDK sees a line, since the SDK drops what it cannot validate without an answer.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import sys
from typing import Annotated, Any, BinaryIO, NamedTuple

from pydantic import BaseModel, Field, TypeAdapter, ValidationError, WithJsonSchema

from emotion_director.errors import EmotionDirectorError, MissingExtraError

# the tool arguments are declared once, beside the LangChain tools
from emotion_director.graph.tools import Arousal, EmotionArg, Personas, Prompt, Seed, Valence
from emotion_director.redaction import redact
from emotion_director.settings import Settings, load_settings

PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS = -32700, -32600, -32602
MAX_LINE_BYTES = 1024 * 1024
"""A longer line is answered with a parse error and skipped, never held in memory whole."""
MAX_NESTING_DEPTH = 128
"""Deeper JSON is refused before parsing: the SDK's parser stops near 200, Python's recurses."""

logger = logging.getLogger(__name__)


class EmotionRewrite(BaseModel):
    """What the tools return (as MCP structured content)."""

    final_prompt: str = Field(description="the rewritten image prompt")
    negative_prompt: str = Field(description="what the image should avoid")
    emotion: str = Field(description="the target emotion category")
    negative_emotion: str | None = Field(
        default=None, description="the emotion the prompt's own words pull toward, if any"
    )
    personas: dict[str, list[str]] = Field(description="each persona's visual cues")
    ignored_instructions: list[str] = Field(
        default_factory=list,
        description="sentences cut from the prompt as instructions to the model, not scene",
    )
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
            raise MissingExtraError(
                'the MCP server needs the mcp package: pip install "emotion-director[mcp]"'
            ) from None


def build_server(settings: Settings | None = None, **graph_kwargs: Any) -> Any:
    """The MCP server with ``rewrite_for_emotion`` (and ``generate_emotion_image``)."""
    from emotion_director import __version__
    from emotion_director.graph.tools import as_tools

    server_class, modern = _mcp_server_class()
    # a bad EMOTION_DIRECTOR_* value is a one-line SettingsError, as for every command (was
    # "unexpected ValidationError ... report it", hostile round 5)
    tools = {t.name: t for t in as_tools(settings or load_settings(), **graph_kwargs)}
    level = os.environ.get("EMOTION_DIRECTOR_LOG_LEVEL", "WARNING").upper()
    options: dict[str, Any] = {
        "log_level": level
        if level in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
        else "WARNING"
    }
    if modern:
        options["version"] = __version__
    server = server_class("emotion-director", **options)
    if not modern:  # mcp 1.x: the low-level server carries the version
        server._mcp_server.version = __version__

    for name in ("rewrite_for_emotion", "generate_emotion_image"):
        if name in tools:
            server.tool(name=name, description=tools[name].description)(_tool_function(tools[name]))

    return server


#: valence and arousal as the MCP SDK sees them: their bounds are advertised in the tool's
#: schema but checked by the tool itself, whose error is one line ("valence: should be less than
#: or equal to 1, got 2.0"); the SDK's own check answered pydantic's text with a link to its docs.
_Valence = Annotated[float, WithJsonSchema(TypeAdapter(Valence).json_schema())]
_Arousal = Annotated[float, WithJsonSchema(TypeAdapter(Arousal).json_schema())]


def _arguments_problem(exc: ValidationError) -> str:
    """Tool arguments that failed validation, in one line without pydantic's links."""
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error.get("loc", ())) or "arguments"
        message = error["msg"].removeprefix("Input ")
        got = f", got {error['input']!r}" if "input" in error else ""
        problems.append(f"{where}: {message}{got}"[:200])
    return "invalid arguments: " + "; ".join(problems) + "."


def _tool_function(tool: Any) -> Any:
    """The MCP function for one of :func:`~emotion_director.graph.tools.as_tools`' tools: the
    same arguments (declared once, in graph/tools.py), answered as structured content."""

    async def call(
        prompt: Prompt,
        emotion: EmotionArg = None,
        valence: _Valence | None = None,
        arousal: _Arousal | None = None,
        personas: Personas | None = None,
        seed: Seed = 0,
    ) -> EmotionRewrite:
        return await _call(
            tool,
            prompt=prompt,
            emotion=emotion,
            valence=valence,
            arousal=arousal,
            personas=personas,
            seed=seed,
        )

    call.__name__ = tool.name
    return call


async def _call(tool: Any, **args: Any) -> EmotionRewrite:
    try:  # MCP clients see one clear line, not a traceback, and never a secret
        text = redact(await tool.ainvoke({k: v for k, v in args.items() if v is not None}))
    except EmotionDirectorError as exc:
        raise _tool_error()(redact(str(exc))) from None
    except ValidationError as exc:  # the tool's own arguments check
        raise _tool_error()(redact(_arguments_problem(exc))) from None
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


class MalformedLine(NamedTuple):
    """Why a line of stdin is not a message the MCP session can take, and how to answer it."""

    code: int
    message: str
    id: str | int | None = None
    answer: bool = True  # False for notifications and responses: JSON-RPC never answers them


def diagnose_line(line: str | bytes, *, initialized: bool = True) -> MalformedLine | None:
    """What is wrong with one line of the stdio transport, or ``None`` if the session can take it.

    Checks, in the order a reader meets them: the line's size (:data:`MAX_LINE_BYTES`), UTF-8, an
    empty line, nesting depth (:data:`MAX_NESTING_DEPTH`, checked before parsing so no parser
    recurses on hostile input), JSON syntax, the JSON-RPC 2.0 envelope (an object, ``"jsonrpc":
    "2.0"``, a string or integer ``id``, a string ``method``, ``params`` an object as MCP requires),
    then the MCP SDK's own message schema, so nothing that passes here fails silently later. The
    envelope checks are not left to the SDK: it reads ``{"id": 1.5, "method": "ping"}`` as a
    notification (ignoring the bad id), which would leave the client waiting forever.

    Args:
        line (`str` or `bytes`): one line, with or without its trailing newline.
        initialized (`bool`): whether the session is initialized; before it is, a tool call's
            params are not judged (the call is refused for coming first).

    Example:
        >>> diagnose_line('{"jsonrpc": "2.0", "id": 1, "method": "ping"}') is None
        True
        >>> diagnose_line('{"jsonrpc": "2.0", "id": 1.5, "method": "ping"}').code
        -32600
    """
    line = line.rstrip(b"\r\n") if isinstance(line, bytes) else line.rstrip("\r\n")
    if len(line) > MAX_LINE_BYTES:
        return MalformedLine(
            PARSE_ERROR,
            f"Parse error: line longer than {MAX_LINE_BYTES} bytes "
            "(the limit); it was skipped up to the next newline",
        )
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            return MalformedLine(
                PARSE_ERROR,
                f"Parse error: not valid UTF-8 (byte "
                f"0x{line[exc.start]:02x} at offset {exc.start})",
            )
    if not line.strip():
        return MalformedLine(
            PARSE_ERROR, "Parse error: empty line; expected one JSON-RPC message per line"
        )
    if _nests_deeper_than(line, MAX_NESTING_DEPTH):
        return _too_deep()
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        return MalformedLine(
            PARSE_ERROR, f"Parse error: not valid JSON ({exc.msg} at column {exc.colno})"
        )
    except RecursionError:  # the depth scan should have caught it; never let it kill the loop
        return _too_deep()
    except ValueError as exc:  # a number too long for int(): Python's advice is not the client's
        from emotion_director.files import json_error

        return MalformedLine(PARSE_ERROR, f"Parse error: not valid JSON ({json_error(exc)})")
    problem = _diagnose_envelope(data)
    if problem is None and initialized:
        problem = _diagnose_tool_call(data)
    if problem is None and (half := _lone_surrogate(data)) is not None:
        # JSON's syntax allows a "\\ud800" escape alone; it is no character, and the SDK's
        # parser answered with a bare "unexpected end of hex escape" and no id (hostile round 5)
        problem = MalformedLine(
            INVALID_REQUEST,
            f"Invalid Request: the escape \\u{ord(half):04x} is half of a UTF-16 surrogate pair "
            "without its other half, which is no character: send the character itself (UTF-8) "
            "or both halves of its pair",
            data["id"] if _usable_id(data.get("id")) else None,
            answer="method" in data and "id" in data,
        )
    if problem is None and isinstance(rejection := _sdk_rejection(line), Exception):
        problem = _explain_sdk_rejection(rejection, data)
    return problem


def jsonrpc_error_for(line: str | bytes) -> dict[str, Any] | None:
    """The JSON-RPC 2.0 error answer a malformed line deserves, or ``None`` if none is due.

    Returns ``{"id": ..., "code": ..., "message": ...}``; ``id`` is ``None`` where it cannot be
    read or used, as the spec says. ``None`` for a well-formed line and for a malformed
    notification or response, which JSON-RPC never answers (see :func:`diagnose_line`).

    Example:
        >>> jsonrpc_error_for('{"jsonrpc": "2.0", "id": 1, "method": "ping"}') is None
        True
        >>> jsonrpc_error_for("{oops")["code"]
        -32700
    """
    problem = diagnose_line(line)
    if problem is None or not problem.answer:
        return None
    return {"id": problem.id, "code": problem.code, "message": problem.message}


def _too_deep() -> MalformedLine:
    return MalformedLine(
        PARSE_ERROR, f"Parse error: JSON nested deeper than {MAX_NESTING_DEPTH} levels (the limit)"
    )


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")


def _nests_deeper_than(text: str, limit: int) -> bool:
    """Whether ``text``'s arrays/objects nest deeper than ``limit``, without parsing it."""
    if text.count("[") + text.count("{") <= limit:  # most messages: cannot be that deep
        return False
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    steps = map({"[": 1, "{": 1, "]": -1, "}": -1}.__getitem__, brackets)
    return max(itertools.accumulate(steps), default=0) > limit


def _lone_surrogate(data: Any) -> str | None:
    """The first unpaired UTF-16 surrogate in a parsed message's strings, or ``None``."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        return str(exc.object[exc.start])
    return None


def _json_kind(value: Any) -> str:
    """``value`` named as JSON names it, for error messages (never the value itself if large)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})" if len(repr(value)) <= 24 else "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _usable_id(value: Any) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool)


#: Methods of what the server does not offer (prompts, resources), whose lists are empty.
_NOTHING_TO_GET = {
    "prompts/get": "prompts",
    "resources/read": "resources",
    "resources/subscribe": "resources",
}


def _diagnose_envelope(data: Any) -> MalformedLine | None:
    """The JSON-RPC 2.0 checks on a parsed line (see :func:`diagnose_line`)."""
    if not isinstance(data, dict):
        kind = "a batch (not supported)" if isinstance(data, list) else _json_kind(data)
        return MalformedLine(
            INVALID_REQUEST, f"Invalid Request: expected a JSON-RPC object, got {kind}"
        )
    has_id, raw_id = "id" in data, data.get("id")
    ident = raw_id if _usable_id(raw_id) else None
    if "method" not in data and ("result" in data or "error" in data):
        return None  # a response: the SDK's schema judges it, and it is never answered
    if has_id and ident is None:
        return MalformedLine(
            INVALID_REQUEST,
            f'Invalid Request: "id" must be a string or an integer, got {_json_kind(raw_id)}',
        )
    if data.get("jsonrpc") != "2.0":
        version = data.get("jsonrpc")
        got = (
            "none"
            if "jsonrpc" not in data
            else json.dumps(version)
            if isinstance(version, str) and len(version) <= 20
            else _json_kind(version)
        )
        return MalformedLine(
            INVALID_REQUEST, f'Invalid Request: needs "jsonrpc": "2.0", got {got}', ident
        )
    if not isinstance(data.get("method"), str):
        got = _json_kind(data["method"]) if "method" in data else "none"
        return MalformedLine(
            INVALID_REQUEST, f'Invalid Request: "method" must be a string, got {got}', ident
        )
    params = data.get("params")
    if data["method"] in _NOTHING_TO_GET and has_id:
        # the server offers tools only: the SDK's own handler raised ValueError, answered with
        # code 0 after a 140-line traceback on stderr (hostile round 5)
        return MalformedLine(
            INVALID_PARAMS,
            f"Invalid params: this server has no {_NOTHING_TO_GET[data['method']]}: it offers "
            "tools only (tools/list, tools/call)",
            ident,
        )
    if params is not None and not isinstance(params, dict):
        return MalformedLine(
            INVALID_PARAMS,
            'Invalid params: "params" must be an object, got '
            f"{_json_kind(params)} (MCP methods take named params)",
            ident,
            answer=has_id,
        )  # a notification: dropped, never answered
    return None


def _diagnose_tool_call(data: dict[str, Any]) -> MalformedLine | None:
    """A tools/call request's params, where the SDK answered a bare "Invalid request parameters"
    (hostile round 5)."""
    if data.get("method") != "tools/call" or not _usable_id(data.get("id")):
        return None
    params = data.get("params") or {}
    if not isinstance(params.get("name"), str):
        got = _json_kind(params["name"]) if "name" in params else "none"
        return MalformedLine(
            INVALID_PARAMS,
            f'Invalid params: tools/call needs "name", the tool\'s name (see tools/list) as '
            f"a string, got {got}",
            data["id"],
        )
    if "arguments" in params and not isinstance(params["arguments"], dict):
        return MalformedLine(
            INVALID_PARAMS,
            'Invalid params: "arguments" must be an object of the tool\'s named arguments, '
            f'e.g. {{"prompt": "a dog in a park", "emotion": "awe"}}, got '
            f"{_json_kind(params['arguments'])}",
            data["id"],
        )
    return None


def _sdk_rejection(line: str) -> Exception | None:
    """Why the MCP SDK's message schema rejects ``line``; ``None`` if it takes it (or is absent)."""
    try:
        try:
            from mcp_types import jsonrpc_message_adapter as adapter
        except ImportError:  # mcp 1.x
            from mcp.types import JSONRPCMessage as adapter  # type: ignore[no-redef]
    except ImportError:
        return None
    try:
        if hasattr(adapter, "validate_json"):
            adapter.validate_json(line)
        else:
            adapter.model_validate_json(line)
    except Exception as exc:  # pydantic's ValidationError
        return exc
    return None


def _explain_sdk_rejection(exc: Exception, data: dict[str, Any]) -> MalformedLine:
    """The SDK's reason, for a line the JSON-RPC checks let through (its input is not echoed)."""
    is_request = "method" in data
    expected = (
        ("JSONRPCRequest" if "id" in data else "JSONRPCNotification")
        if is_request
        else ("JSONRPCError" if "error" in data else "JSONRPCResponse")
    )
    errors = exc.errors() if hasattr(exc, "errors") else [{"msg": type(exc).__name__}]
    first = next((e for e in errors if e.get("loc", ())[:1] == (expected,)), errors[0])
    code = PARSE_ERROR if first.get("type") == "json_invalid" else INVALID_REQUEST
    kind = (
        "Parse error"
        if code == PARSE_ERROR
        else ("Invalid Request" if is_request else "Invalid response")
    )
    where = ".".join(str(part) for part in first.get("loc", ())[1:])
    message = f"{kind}: {first['msg'][:200]}" + (f" at {where!r}" if where else "")
    return MalformedLine(
        code,
        message,
        data["id"] if _usable_id(data.get("id")) else None,
        answer=is_request and "id" in data,
    )


def _before_initialize(raw: bytes) -> tuple[MalformedLine | None, bool]:
    """For a well-formed line that comes before the session is initialized: its error (a
    request other than ``initialize`` or ``ping``, which the SDK answered with a bare "Invalid
    request parameters"), and whether this line initializes the session."""
    data = json.loads(raw)
    method = data.get("method") if isinstance(data, dict) else None
    if method == "initialize" or method == "ping" or "id" not in data or method is None:
        return None, method == "initialize"
    message = (
        f"the session is not initialized: send initialize (then notifications/initialized) "
        f"before {str(method)[:60]}"
    )
    return MalformedLine(INVALID_REQUEST, message, data["id"], answer=True), False


def read_capped_line(stream: BinaryIO, limit: int = MAX_LINE_BYTES) -> bytes:
    """One line of ``stream`` (``b""`` at the end), holding at most ``limit + 1`` bytes of it.

    A longer line comes back cut to ``limit + 1`` bytes, without its newline, so
    :func:`diagnose_line` rejects it; the rest of it is read and dropped in small chunks, so the
    next call starts at the next line and memory stays bounded whatever the client sends.
    """
    from emotion_director.files import skip_rest_of_line

    line = stream.readline(limit + 1)
    if len(line) > limit and not line.endswith(b"\n"):
        skip_rest_of_line(stream)
    return line


async def _serve_stdio(server: Any) -> None:
    """``server`` on stdio, answering malformed lines with JSON-RPC errors."""
    import anyio
    import anyio.to_thread
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
            self._buffer = sys.stdin.buffer

        def __aiter__(self) -> Any:
            return self._lines()

        async def _lines(self) -> Any:
            await ready.wait()
            initialized = False
            while raw := await anyio.to_thread.run_sync(read_capped_line, self._buffer):
                problem = diagnose_line(raw, initialized=initialized)
                if problem is None and not initialized:
                    problem, initialized = _before_initialize(raw)
                if problem is None:
                    yield raw.decode("utf-8")
                elif problem.answer:
                    message = types.JSONRPCError.model_construct(
                        jsonrpc="2.0",
                        id=problem.id,
                        error=types.ErrorData(code=problem.code, message=problem.message),
                    )
                    await replies[0].send(SessionMessage(message))
                else:  # JSON-RPC forbids answering it; say so where the client's log is
                    logger.warning("dropped a message: %s", problem.message)

    async with stdio_server(stdin=CheckedStdin()) as (read_stream, write_stream):
        replies.append(write_stream)
        ready.set()
        low = server._lowlevel_server if hasattr(server, "_lowlevel_server") else server._mcp_server
        await low.run(read_stream, write_stream, low.create_initialization_options())


def serve_stdio(server: Any) -> None:
    """Serve ``server`` (from :func:`build_server`) on stdin/stdout until the client closes it."""
    import anyio

    from emotion_director.redaction import install_log_redaction

    # the MCP SDK adds its own log handler when the server is built: redact what reaches it too
    # (a base URL's password in a fallback warning went to stderr, which clients keep in logs)
    install_log_redaction()
    anyio.run(_serve_stdio, server)


def main() -> None:
    from emotion_director.redaction import install_log_redaction

    install_log_redaction()
    serve_stdio(build_server())
