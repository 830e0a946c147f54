"""The MC-Agent LangGraph state machine."""

from emotion_director.graph.builder import build_graph
from emotion_director.graph.state import RewriteInput, RewriteOutput, RewriteResult, RewriteState

__all__ = ["RewriteInput", "RewriteOutput", "RewriteResult", "RewriteState", "build_graph"]
