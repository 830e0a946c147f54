"""What users' tests need: the in-library test models, and a simulated OpenAI-compatible server.

* :class:`TestChatModel`: schema-valid answers, deterministically (no model at all).
* :class:`FunctionChatModel`: answers from a function of yours.
* :class:`SimulatedOpenAIServer`: a server on 127.0.0.1, for tests and benchmarks of the openai
  backend.

The server:

It answers ``/v1/chat/completions`` as real servers do: a schema-valid tool call built from the
request's tool schema, or JSON content for a ``response_format`` (``json_schema``, or
``json_object`` with llama.cpp's ``schema`` key), or plain text; streamed as server-sent events
when the request says ``"stream": true`` (role chunk, the tool name once, arguments in pieces,
a finish chunk, a usage chunk when ``stream_options.include_usage`` is set, ``[DONE]``).
Deterministic, like :class:`TestChatModel`, after an optional
latency, or misbehaving on purpose.

Modes: ``ok``, ``invalid_json``, ``wrong_schema``, ``truncated`` (JSON cut in half),
``http500``, ``http429``, ``hang`` (answers after ``latency``; set it above the client timeout),
``ok_then_500`` (the first ``healthy_calls`` calls succeed, then HTTP 500), ``drip`` (the whole
response one byte every ``latency`` seconds), ``huge`` (a 64 MiB body without content-length),
``empty_choices``, ``wrong_shape`` (HTTP 200 with JSON that is no chat completion), ``html`` (HTTP
200 with a web page) and ``rejects_json_schema`` (HTTP 500 "1 validation error" to ``json_schema``
requests, as llama.cpp's server answers; everything else works), ``cut_at_max_tokens`` (half the
JSON, ``finish_reason: "length"``), ``control_chars`` (valid answers whose every string carries a
terminal escape, NUL, a bell and a bidirectional override) and ``gzip_bomb`` (``Content-Encoding:
gzip``, 256 KiB on the wire that inflate to 256 MiB), ``gzip`` (ok answers, gzip-compressed
when the client accepts it), ``echo_auth`` (valid answers whose every string carries the
request's credentials back: the ``Authorization`` header, its token, the token's base64 and, for
a Basic header, the decoded ``user:pass``), ``echo_auth_400`` and ``echo_auth_500`` (the same
echo in an HTTP 400 / 500 error body, as some proxies answer), ``http429_then_ok`` (the first
``failing_calls`` calls answer HTTP 429, then it works), ``error_control_chars`` (an HTTP 400
whose error message carries a terminal escape, NUL, a bell and a bidirectional override),
``slots`` (a server with ``slots``
requests' room: one more in flight is answered HTTP 429 at once, the rest work after
``latency``; ``GET /props`` reports ``total_slots`` unless ``report_slots=False``, as
llama.cpp's server does; ``peak`` and ``rejected`` count what it saw). HTTP 429 answers carry
``Retry-After: retry_after``. ``bodies`` keeps every request body, ``times`` the
``time.monotonic()`` at which each chat request arrived. ``tls=(certfile, keyfile)`` serves
``https://``.

Example:
    >>> with SimulatedOpenAIServer(latency=0.0) as server:
    ...     server.url.startswith("http://127.0.0.1:")
    True
"""

from __future__ import annotations

import functools
import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from emotion_director.agents.deterministic_model import TestChatModel, example_from_schema
from emotion_director.agents.function_model import FunctionChatModel

__all__ = ["FunctionChatModel", "SimulatedOpenAIServer", "TestChatModel", "example_from_schema"]

MODES = (
    "ok",
    "invalid_json",
    "wrong_schema",
    "truncated",
    "http500",
    "http429",
    "slots",
    "hang",
    "ok_then_500",
    "drip",
    "huge",
    "empty_choices",
    "wrong_shape",
    "html",
    "rejects_json_schema",
    "cut_at_max_tokens",
    "control_chars",
    "gzip_bomb",
    "gzip",
    "echo_auth",
    "echo_auth_400",
    "echo_auth_500",
    "http429_then_ok",
    "error_control_chars",
    "http401",
    "short_body",
    "reset",
    "deep_json",
    "nan_usage",
)


def _dirty(value: Any) -> Any:
    """Every string in ``value`` wrapped in what a misbehaving model emits."""
    if isinstance(value, str):
        return f"\x1b[31m{value}\x00\x07\u202e\x1b]0;owned\x07"
    if isinstance(value, list):
        return [_dirty(v) for v in value]
    if isinstance(value, dict):
        return {k: _dirty(v) for k, v in value.items()}
    return value


def _dirty_text(text: str, dirty: Any = None) -> str:
    dirty = dirty or _dirty
    if not text:
        return text
    try:
        return json.dumps(dirty(json.loads(text)))
    except ValueError:
        return dirty(text)


def _credential_echo(authorization: str) -> str:
    """What a careless server says back about the credentials of a request."""
    import base64

    scheme, _, token = authorization.partition(" ")
    token = token or scheme
    echo = (
        f"Authorization: {authorization}; key {token}; "
        f"base64 {base64.b64encode(token.encode()).decode()}; "
        f"header base64 {base64.b64encode(authorization.encode()).decode()}"
    )
    if scheme.lower() == "basic":
        try:
            echo += f"; user:pass {base64.b64decode(token).decode()}"
        except ValueError:
            pass
    return echo


def _echoing(echo: str) -> Any:
    def add(value: Any) -> Any:
        if isinstance(value, str):
            return f"{value} ({echo})"
        if isinstance(value, list):
            return [add(v) for v in value]
        if isinstance(value, dict):
            return {k: add(v) for k, v in value.items()}
        return value

    return add


@functools.lru_cache(maxsize=1)
def _gzip_bomb() -> bytes:
    import gzip
    import io

    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as gz:
        block = b" " * (1 << 20)
        for _ in range(256):
            gz.write(block)
    return out.getvalue()


def _answer(body: dict[str, Any]) -> tuple[str | None, str, str]:
    """``(tool name or None, tool arguments, content)`` for a chat-completions request body."""
    if body.get("tools"):
        function = body["tools"][0]["function"]
        return (
            function["name"],
            json.dumps(example_from_schema(function.get("parameters") or {})),
            "",
        )
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") or fmt.get("schema")
    if fmt.get("type") in {"json_schema", "json_object"}:
        return None, "", json.dumps(example_from_schema(schema) if schema else {})
    return None, "", "a simulated answer from the loopback server"


class SimulatedOpenAIServer:
    """Context manager; ``url`` is the ``/v1`` base URL; ``requests`` counts chat calls and
    ``headers`` keeps the last request's headers (to check what clients send)."""

    def __init__(
        self,
        mode: str = "ok",
        latency: float = 0.0,
        healthy_calls: int = 0,
        fail_delay: float = 0.0,
        *,
        retry_after: str = "0",
        failing_calls: int = 1,
        tls: tuple[str, str] | None = None,
        slots: int = 1,
        report_slots: bool = True,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
        self.mode, self.latency, self.healthy_calls = mode, latency, healthy_calls
        self.fail_delay = fail_delay  # errors answer this much later than successes
        self.retry_after, self.failing_calls = retry_after, failing_calls
        self.requests = 0
        self.slots, self.report_slots = slots, report_slots
        self.in_flight = self.peak = self.rejected = 0
        self.headers: dict[str, str] = {}
        self.bodies: list[dict[str, Any]] = []
        self.times: list[float] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in separate writes: without TCP_NODELAY the client's
            # delayed ACK adds ~40 ms to every response (Nagle), which would dwarf the latency
            # the server is asked to simulate
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if outer.mode == "slots" and outer.report_slots and self.path == "/props":
                    return self._send(200, {"total_slots": outer.slots})
                self._send(
                    200, {"object": "list", "data": [{"id": "simulated", "object": "model"}]}
                )

            def do_POST(self) -> None:
                if outer.mode != "slots":
                    return self._post()
                with outer._lock:
                    outer.in_flight += 1
                    outer.peak = max(outer.peak, outer.in_flight)
                    busy = outer.in_flight > outer.slots
                    outer.rejected += busy
                self._slot_held = True
                try:
                    if busy:
                        self.rfile.read(int(self.headers.get("content-length", 0)))
                        return self._send(
                            429, {"error": {"message": "no free slot"}}, {"retry-after": "0"}
                        )
                    return self._post()
                finally:
                    self._free_slot()

            def _free_slot(self) -> None:
                # freed before the answer goes out: a client that sends its next request the
                # moment it has this answer must find the slot free, as on a real server
                if getattr(self, "_slot_held", False):
                    self._slot_held = False
                    with outer._lock:
                        outer.in_flight -= 1

            def _post(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                with outer._lock:
                    outer.requests += 1
                    number = outer.requests
                    outer.headers = {k.lower(): v for k, v in self.headers.items()}
                    outer.bodies.append(body)
                    outer.times.append(time.monotonic())
                if outer.mode == "drip":
                    return self._drip(number, body)
                if outer.latency:
                    time.sleep(outer.latency)
                mode = "ok" if outer.mode in ("gzip", "slots") else outer.mode
                if mode == "ok_then_500":
                    mode = "ok" if number <= outer.healthy_calls else "http500"
                if mode == "http429_then_ok":
                    mode = "http429" if number <= outer.failing_calls else "ok"
                if mode in {"http500", "http429"} and outer.fail_delay:
                    time.sleep(outer.fail_delay)
                if mode == "http500":
                    return self._send(500, {"error": {"message": "simulated failure"}})
                if mode == "http429":
                    return self._send(
                        429,
                        {"error": {"message": "rate limited"}},
                        {"retry-after": outer.retry_after},
                    )
                if mode == "http401":
                    return self._send(401, {"error": {"message": "Incorrect API key provided"}})
                if mode == "short_body":  # promises more than it sends, then hangs up
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", "4096")
                    self.end_headers()
                    self.wfile.write(b'{"id": "sim", "choices": [')
                    self.close_connection = True
                    return None
                if mode == "reset":  # the connection is reset before any answer
                    import socket
                    import struct

                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.close_connection = True
                    return None
                if mode == "deep_json":
                    return self._send_raw(200, b"[" * 100_000 + b"]" * 100_000, "application/json")
                if mode == "error_control_chars":
                    return self._send(400, {"error": {"message": _dirty("invalid request")}})
                echo = _credential_echo(self.headers.get("authorization", ""))
                if mode in {"echo_auth_400", "echo_auth_500"}:
                    return self._send(
                        400 if mode == "echo_auth_400" else 500,
                        {
                            "error": {
                                "message": f"invalid request ({echo})",
                                "type": "invalid_request_error",
                                "param": echo,
                            }
                        },
                    )
                if mode == "rejects_json_schema":
                    if (body.get("response_format") or {}).get("type") == "json_schema":
                        return self._send(
                            500,
                            {
                                "error": {
                                    "code": 500,
                                    "type": "server_error",
                                    "message": "1 validation error:\n  response_format.type",
                                }
                            },
                        )
                    mode = "ok"
                if mode == "huge":  # no content-length: the client learns the size by reading
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("connection", "close")
                    self.end_headers()
                    self.close_connection = True
                    try:
                        self.wfile.write(b'{"choices": [], "pad": "')
                        for _ in range(64):
                            self.wfile.write(b"x" * (1 << 20))
                        self.wfile.write(b'"}')
                    except OSError:  # the client stopped reading at its cap: expected
                        pass
                    return
                if mode == "empty_choices":
                    return self._send(
                        200,
                        {
                            "id": "sim",
                            "object": "chat.completion",
                            "created": 0,
                            "model": "simulated",
                            "choices": [],
                        },
                    )
                if mode == "wrong_shape":
                    return self._send(200, {"status": "ok", "data": [1, 2, 3]})
                if mode == "html":
                    return self._send_raw(200, b"<html><body>It works!</body></html>", "text/html")
                if mode == "gzip_bomb":
                    return self._send_raw(
                        200, _gzip_bomb(), "application/json", {"content-encoding": "gzip"}
                    )
                name, args, content = _answer(body)
                if mode == "control_chars":
                    args, content = _dirty_text(args), _dirty_text(content)
                if mode == "echo_auth":
                    args = _dirty_text(args, _echoing(echo))
                    content = _dirty_text(content, _echoing(echo))
                if mode == "invalid_json":
                    args = content = "{not json"
                elif mode == "wrong_schema":
                    args = content = json.dumps({"unexpected": True})
                elif mode in {"truncated", "cut_at_max_tokens"}:
                    args, content = args[: len(args) // 2], content[: len(content) // 2]
                if body.get("stream"):
                    return self._stream(number, body, name, args if name else content)
                message: dict[str, Any] = {"role": "assistant", "content": content}
                if name:
                    message = {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": f"call-{number}",
                                "type": "function",
                                "function": {"name": name, "arguments": args},
                            }
                        ],
                    }
                self._send(
                    200,
                    {
                        "id": f"sim-{number}",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", "simulated"),
                        "choices": [
                            {
                                "index": 0,
                                "message": message,
                                "finish_reason": "length"
                                if mode == "cut_at_max_tokens"
                                else "tool_calls"
                                if name
                                else "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": 10,
                            "completion_tokens": 5,
                            "total_tokens": math.nan if mode == "nan_usage" else 15,
                        },
                    },
                )

            def _stream(
                self, number: int, body: dict[str, Any], name: str | None, text: str
            ) -> None:
                base = {
                    "id": f"sim-{number}",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": body.get("model", "simulated"),
                }
                pieces = [text[i : i + 7] for i in range(0, len(text), 7)] or [""]
                deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
                if name:  # as OpenAI and vLLM do: id and name once, then argument pieces
                    deltas.append(
                        {
                            "tool_calls": [
                                {
                                    "index": 0,
                                    "id": f"call-{number}",
                                    "type": "function",
                                    "function": {"name": name, "arguments": ""},
                                }
                            ]
                        }
                    )
                    deltas += [
                        {"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in pieces
                    ]
                else:
                    deltas += [{"content": p} for p in pieces]
                events = [
                    {**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]}
                    for d in deltas
                ]
                events.append(
                    {
                        **base,
                        "choices": [
                            {
                                "index": 0,
                                "delta": {},
                                "finish_reason": "tool_calls" if name else "stop",
                            }
                        ],
                    }
                )
                if (body.get("stream_options") or {}).get("include_usage"):
                    events.append(
                        {
                            **base,
                            "choices": [],
                            "usage": {
                                "prompt_tokens": 10,
                                "completion_tokens": len(pieces),
                                "total_tokens": 10 + len(pieces),
                            },
                        }
                    )
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("connection", "close")
                self.end_headers()
                for event in events:
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

            def _drip(self, number: int, body: dict[str, Any]) -> None:
                name, args, content = _answer(body)
                payload = json.dumps(
                    {
                        "id": f"sim-{number}",
                        "object": "chat.completion",
                        "created": 0,
                        "model": "simulated",
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": content},
                            }
                        ],
                    }
                ).encode()
                head = (
                    f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    f"content-length: {len(payload)}\r\n\r\n"
                ).encode()
                try:
                    for i in range(len(head + payload)):
                        self.wfile.write((head + payload)[i : i + 1])
                        self.wfile.flush()
                        time.sleep(outer.latency or 0.5)
                except OSError:  # the client gave up: that is the point
                    pass
                self.close_connection = True

            def _send_raw(
                self,
                status: int,
                data: bytes,
                content_type: str = "application/json",
                headers: dict[str, str] | None = None,
            ) -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except OSError:  # the client stopped reading (a size cap): expected
                    self.close_connection = True

            def _send(
                self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                self._free_slot()
                data = json.dumps(payload).encode()
                if outer.mode == "gzip" and "gzip" in self.headers.get("accept-encoding", ""):
                    import gzip

                    data = gzip.compress(data)
                    headers = {**(headers or {}), "content-encoding": "gzip"}
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            # a burst of clients (50 runs x 7 personas) must queue, not be refused: the default
            # backlog of 5 made a busy machine reset connections, and the client retried them
            request_queue_size = 512

            def handle_error(self, request: Any, client_address: Any) -> None:
                import sys

                if not isinstance(sys.exc_info()[1], OSError):  # a client that hung up: expected
                    super().handle_error(request, client_address)

        self._server = Server(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls is not None:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> SimulatedOpenAIServer:
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()  # (shutdown waits for the poll: 0.5 s by default, at every exit)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()


class SimulatedOpenAIServerProcess:
    """The same server in a child process (so it does not share the caller's GIL).

    Example:
        >>> import json, urllib.request
        >>> with SimulatedOpenAIServerProcess(latency=0.0) as server:
        ...     reply = urllib.request.urlopen(f"{server.url}/models", timeout=10)
        ...     json.load(reply)["data"][0]["id"]
        'simulated'
    """

    def __init__(self, mode: str = "ok", latency: float = 0.0) -> None:
        self.mode, self.latency = mode, latency

    def __enter__(self) -> SimulatedOpenAIServerProcess:
        import subprocess
        import sys

        self._proc = subprocess.Popen(
            [sys.executable, "-m", "emotion_director.testing", self.mode, str(self.latency)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None  # stdout=PIPE
        self.url = self._proc.stdout.readline().strip()  # the child prints its URL when ready
        if not self.url.startswith("http://127.0.0.1:"):
            self._proc.kill()
            raise RuntimeError("simulated server did not start")
        return self

    def __exit__(self, *exc: Any) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=10)


if __name__ == "__main__":
    import sys

    with SimulatedOpenAIServer(sys.argv[1], float(sys.argv[2])) as _server:
        print(_server.url, flush=True)
        threading.Event().wait()
