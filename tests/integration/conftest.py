"""Real servers on 127.0.0.1 for integration tests: llama.cpp's OpenAI-compatible server running
the same SmolLM2 GGUF as the embedded backend, and a deliberately misbehaving server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

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


@pytest.fixture
def misbehaving_server(request):
    from emotion_director.testing import SimulatedOpenAIServer

    with SimulatedOpenAIServer(request.param) as server:
        yield server
