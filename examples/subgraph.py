"""MC-Agent as a subgraph of your own LangGraph app, streaming persona readings through the parent.

    python examples/subgraph.py            # embedded backend
    EMOTION_DIRECTOR_BACKEND=test python examples/subgraph.py
"""

from __future__ import annotations

import asyncio
from typing import TypedDict

from langgraph.graph import END, START, StateGraph

from emotion_director import Settings, build_graph


class AppState(TypedDict, total=False):
    request: str
    prompt: str
    emotion: str
    final_prompt: str
    negative_prompt: str
    caption: str


def plan(state: AppState) -> AppState:
    # your own logic: here, a fixed split of the request into scene and emotion
    scene, _, emotion = state["request"].partition(" feeling ")
    return {"prompt": scene, "emotion": emotion or "awe"}


def publish(state: AppState) -> AppState:
    return {"caption": f"{state['final_prompt']}  (avoid: {state['negative_prompt']})"}


def build_app(settings: Settings | None = None, **graph_kwargs):
    parent = StateGraph(AppState)
    parent.add_node("plan", plan)
    # The compiled MC-Agent graph is a node: keys shared with AppState flow in and out.
    parent.add_node("mc_agent", build_graph(settings, **graph_kwargs))
    parent.add_node("publish", publish)
    parent.add_edge(START, "plan")
    parent.add_edge("plan", "mc_agent")
    parent.add_edge("mc_agent", "publish")
    parent.add_edge("publish", END)
    return parent.compile()


async def main() -> None:
    app = build_app()
    request = {"request": "an angry dog feeling contentment"}
    async for namespace, update in app.astream(request, stream_mode="updates", subgraphs=True):
        for node, value in update.items():
            if node == "persona_reading":
                reading = value["readings"][0]
                print(f"{'/'.join(namespace)} {reading.persona}: {'; '.join(reading.cues)}")
            elif node == "publish":
                print(value["caption"])


if __name__ == "__main__":
    asyncio.run(main())
