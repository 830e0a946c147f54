"""The graph as ``langgraph dev`` / LangGraph Platform serve it (see ``langgraph.json``).

Settings come from ``EMOTION_DIRECTOR_*`` environment variables (e.g. ``.env``); the server
supplies its own checkpointer.
"""

from emotion_director.graph.builder import build_graph
from emotion_director.redaction import install_log_redaction

install_log_redaction()  # request lines carry the server URL, which may hold a password
graph = build_graph()
