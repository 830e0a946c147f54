"""A simulated OpenAI-compatible server on 127.0.0.1, for tests and benchmarks of the openai backend.

It answers ``/v1/chat/completions`` with a schema-valid tool call built from the request's tool
schema (deterministic, like :class:`~emotion_director.agents.models.TestChatModel`), after an
optional latency, or misbehaves on purpose.

Modes: ``ok``, ``invalid_json``, ``wrong_schema``, ``truncated`` (JSON cut in half),
``http500``, ``http429``, ``hang`` (answers after ``latency``; set it above the client timeout),
and ``ok_then_500`` (the first ``healthy_calls`` calls succeed, then HTTP 500).

Example:
    >>> with SimulatedOpenAIServer(latency=0.0) as server:
    ...     server.url.startswith("http://127.0.0.1:")
    True
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from emotion_director.agents.models import example_from_schema

MODES = ("ok", "invalid_json", "wrong_schema", "truncated", "http500", "http429", "hang",
         "ok_then_500")


class SimulatedOpenAIServer:
    """Context manager; ``url`` is the ``/v1`` base URL; ``requests`` counts chat calls and
    ``headers`` keeps the last request's headers (to check what clients send)."""

    def __init__(self, mode: str = "ok", latency: float = 0.0, healthy_calls: int = 0,
                 fail_delay: float = 0.0) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
        self.mode, self.latency, self.healthy_calls = mode, latency, healthy_calls
        self.fail_delay = fail_delay  # errors answer this much later than successes
        self.requests = 0
        self.headers: dict[str, str] = {}
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
                self._send(200, {"object": "list", "data": [{"id": "simulated", "object": "model"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                with outer._lock:
                    outer.requests += 1
                    number = outer.requests
                    outer.headers = {k.lower(): v for k, v in self.headers.items()}
                if outer.latency:
                    time.sleep(outer.latency)
                mode = outer.mode
                if mode == "ok_then_500":
                    mode = "ok" if number <= outer.healthy_calls else "http500"
                if mode in {"http500", "http429"} and outer.fail_delay:
                    time.sleep(outer.fail_delay)
                if mode == "http500":
                    return self._send(500, {"error": {"message": "simulated failure"}})
                if mode == "http429":
                    return self._send(429, {"error": {"message": "rate limited"}},
                                      {"retry-after": "0"})
                tool = (body.get("tools") or [{"function": {"name": "answer", "parameters": {}}}])[0]
                function = tool["function"]
                args = json.dumps(example_from_schema(function.get("parameters") or {}))
                if mode == "invalid_json":
                    args = "{not json"
                elif mode == "wrong_schema":
                    args = json.dumps({"unexpected": True})
                elif mode == "truncated":
                    args = args[: len(args) // 2]
                self._send(200, {
                    "id": f"sim-{number}", "object": "chat.completion", "created": 0,
                    "model": body.get("model", "simulated"),
                    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                        "role": "assistant", "content": None, "tool_calls": [{
                            "id": f"call-{number}", "type": "function",
                            "function": {"name": function["name"], "arguments": args}}]}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                })

            def _send(self, status: int, payload: dict[str, Any],
                      headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> SimulatedOpenAIServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()


class SimulatedOpenAIServerProcess:
    """The same server in a child process (so it does not share the caller's GIL).

    Example:
        >>> with SimulatedOpenAIServerProcess(latency=0.0) as server:  # doctest: +SKIP
        ...     print(server.url)
    """

    def __init__(self, mode: str = "ok", latency: float = 0.0) -> None:
        self.mode, self.latency = mode, latency

    def __enter__(self) -> SimulatedOpenAIServerProcess:
        import subprocess
        import sys

        self._proc = subprocess.Popen(
            [sys.executable, "-m", "emotion_director.testing", self.mode, str(self.latency)],
            stdout=subprocess.PIPE, text=True)
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
