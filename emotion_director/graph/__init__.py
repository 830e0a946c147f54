"""The MC-Agent LangGraph state machine."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emotion_director.graph.builder import build_graph
    from emotion_director.graph.state import (
        RewriteInput,
        RewriteOutput,
        RewriteResult,
        RewriteState,
    )

__all__ = ["RewriteInput", "RewriteOutput", "RewriteResult", "RewriteState", "build_graph"]


def __getattr__(name: str) -> Any:
    # built on first use: importing a submodule (graph.context, graph.durable) stays light
    if name == "build_graph":
        from emotion_director.graph.builder import build_graph

        return build_graph
    if name in __all__:
        from emotion_director.graph import state

        return getattr(state, name)
    raise AttributeError(f"module 'emotion_director.graph' has no attribute {name!r}")
