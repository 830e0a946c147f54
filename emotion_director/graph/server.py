"""The graph as ``langgraph dev`` / LangGraph Platform serve it (see ``langgraph.json``).

``langgraph.json`` names :func:`make_graph`, a factory: importing this module builds nothing,
so the server starts at once; the graph (and the embedded model, when that is the backend) is
built on the first run and reused by every later one. Settings come from
``EMOTION_DIRECTOR_*`` environment variables (e.g. ``.env``); each run may change personas,
weights, model, call budget, seed and review through its context
(:class:`~emotion_director.graph.context.RunContext`); the server supplies its own
checkpointer.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_built: Any = None


def make_graph() -> Any:
    """The served graph, built once per process (a thread-safe lazy singleton)."""
    global _built
    if _built is None:
        with _lock:
            if _built is None:
                from emotion_director.graph.builder import build_graph
                from emotion_director.redaction import install_log_redaction

                install_log_redaction()  # request lines carry the server URL (maybe a password)
                _built = build_graph()
    return _built


def __getattr__(name: str) -> Any:
    # ``server.graph`` (the module attribute older langgraph.json files name) still works
    if name == "graph":
        return make_graph()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
