"""The model of CLI and subprocess tests: the simulated OpenAI-compatible server on loopback.

A run on it goes through the real openai client over HTTP (the shape of a real server), and is
answered with the same schema instances as :class:`~emotion_director.testing.TestChatModel`,
read in choose mode as the embedded default is. One server per test process, started on first
use and stopped when the process ends.
"""

from __future__ import annotations

import atexit
import threading

from emotion_director.testing import SimulatedOpenAIServer

_lock = threading.Lock()
_server: SimulatedOpenAIServer | None = None


def simulated_server() -> SimulatedOpenAIServer:
    global _server
    with _lock:
        if _server is None:
            server = SimulatedOpenAIServer()
            server.__enter__()
            atexit.register(server.__exit__, None, None, None)
            _server = server
    return _server


def simulated_env() -> dict[str, str]:
    """The environment variables of a run on the simulated server (never through a proxy the
    machine's environment names: the server is on this machine)."""
    server = simulated_server()
    server.bodies.clear()  # (it keeps every request's body; one process runs many tests)
    return {
        "EMOTION_DIRECTOR_BACKEND": "openai",
        "EMOTION_DIRECTOR_BASE_URL": server.url,
        "EMOTION_DIRECTOR_MODEL": "simulated",
        "EMOTION_DIRECTOR_READING_MODE": "choose",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
