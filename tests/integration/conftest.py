"""Real servers on 127.0.0.1 for integration tests: llama.cpp's OpenAI-compatible server running
the same SmolLM2 GGUF as the embedded backend, and a deliberately misbehaving server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from emotion_director.agents.models import default_gguf_path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """``python -m llama_cpp.server`` on a free loopback port; yields its /v1 URL."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("llama-server") / "server.log").open("w+b")
    proc = subprocess.Popen(  # log to a file: a full stderr pipe would block the server
        [sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf_path()),
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "2",
         "--verbose", "False"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/models", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log.seek(0)
                raise RuntimeError(f"llama.cpp server did not start: {log.read()[-2000:]!r}")
            time.sleep(0.5)
    yield url
    log.close()
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


class MisbehavingServer:
    """An OpenAI-compatible endpoint that answers every chat completion the same bad way."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                outer.requests += 1
                self.rfile.read(int(self.headers.get("content-length", 0)))
                if outer.mode == "http500":
                    self._send(500, {"error": {"message": "internal error", "type": "server"}})
                    return
                args = "{not json" if outer.mode == "invalid_json" else json.dumps({"x": 1})
                self._send(200, {
                    "id": "c1", "object": "chat.completion", "created": 0, "model": "bad",
                    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                        "role": "assistant", "content": None, "tool_calls": [{
                            "id": "t1", "type": "function",
                            "function": {"name": "CuePicks", "arguments": args}}]}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                })

            def _send(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def misbehaving_server(request):
    server = MisbehavingServer(request.param)
    yield server
    server.close()
