"""MC-Agent (and MC-Diffusion) as LangChain tools for any tool-calling agent.

Each tool runs both ways: ``invoke`` (a sync agent, e.g. LangChain's
``create_agent(model, tools=[as_tool()])`` driven with ``agent.invoke``) and ``ainvoke``.

Example:
    >>> from emotion_director import Settings
    >>> from emotion_director.testing import TestChatModel
    >>> tool = as_tool(Settings(), chat_model=TestChatModel())
    >>> tool.name
    'rewrite_for_emotion'
"""

from __future__ import annotations

import json
from typing import Any, cast

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field, WithJsonSchema
from typing_extensions import Annotated

from emotion_director.graph.state import EMOTION_JSON_SCHEMA, RewriteInput
from emotion_director.settings import Settings

# The tools' arguments, declared once: the LangChain tools and the MCP server (mcp_server.py)
# both use these, and the graph's parse_request validates them as it does the CLI's flags.
Prompt = Annotated[str, Field(description="the scene to depict, e.g. 'a dog in a park'")]
#: the 8 categories as an enum, and synonyms; ``None`` (left out) when valence and arousal say it
EmotionArg = Annotated[str | None, WithJsonSchema(EMOTION_JSON_SCHEMA)]
Valence = Annotated[
    float,
    Field(
        ge=-1.0,
        le=1.0,
        allow_inf_nan=False,
        description=(
            "target valence in [-1, 1]; with arousal and no emotion, the nearest category is used"
        ),
    ),
]
Arousal = Annotated[
    float, Field(ge=0.0, le=1.0, allow_inf_nan=False, description="target arousal in [0, 1]")
]
Personas = Annotated[
    list[str], Field(description=("persona names to use (default: all), e.g. ['poet', 'child']"))
]
Seed = Annotated[int, Field(description="sampling seed: the same seed gives the same result")]


class RewriteArgs(BaseModel):
    """Arguments of ``rewrite_for_emotion`` (and ``generate_emotion_image``): the CLI's."""

    prompt: Prompt
    emotion: EmotionArg = None
    valence: Valence | None = None
    arousal: Arousal | None = None
    personas: Personas | None = None
    seed: Seed = 0


class GenerateArgs(RewriteArgs):
    pass


def request_from_args(**args: Any) -> RewriteInput:
    """The graph request for tool arguments (those not given are left out)."""
    # the arguments are RewriteArgs' fields, validated by the tool: RewriteInput's keys
    return cast(RewriteInput, {k: v for k, v in args.items() if v is not None})


def _summary(out: dict[str, Any]) -> str:
    return json.dumps(
        {
            "final_prompt": out["final_prompt"],
            "negative_prompt": out["negative_prompt"],
            "emotion": out["emotion"],
            "negative_emotion": (
                out["visual_prompt"].negative_emotion.value
                if out["visual_prompt"].negative_emotion
                else None
            ),
            "personas": {r.persona: r.cues for r in out["readings"]},
            # what was cut from the prompt as an instruction to the model: never silently
            "ignored_instructions": list(out.get("ignored_instructions") or []),
            **({"images": out["images"]} if out.get("images") else {}),
        }
    )


def as_tools(settings: Settings | None = None, **graph_kwargs: Any) -> list[BaseTool]:
    """``rewrite_for_emotion``, plus ``generate_emotion_image`` when a diffusion model is set.

    ``graph_kwargs`` go to :func:`build_graph` (personas, chat_model, image_generator, ...).
    """
    from emotion_director.graph.builder import build_graph

    settings = settings or Settings()
    rewrite_graph = build_graph(
        settings, **{k: v for k, v in graph_kwargs.items() if k != "image_generator"}
    )

    def rewrite(**args: Any) -> str:
        return _summary(rewrite_graph.invoke(request_from_args(**args)))

    async def arewrite(**args: Any) -> str:
        return _summary(await rewrite_graph.ainvoke(request_from_args(**args)))

    tools: list[BaseTool] = [
        StructuredTool.from_function(
            func=rewrite,
            coroutine=arewrite,
            name="rewrite_for_emotion",
            args_schema=RewriteArgs,
            description="Rewrite an image prompt so the picture evokes an emotion through "
            "concrete, drawable details (multi-persona MC-Agent). Returns JSON with final_prompt "
            "and negative_prompt.",
        )
    ]
    if settings.diffusion_model or graph_kwargs.get("image_generator") is not None:
        image_graph = build_graph(settings, **graph_kwargs)

        def generate(**args: Any) -> str:
            return _summary(image_graph.invoke(request_from_args(**args)))

        async def agenerate(**args: Any) -> str:
            return _summary(await image_graph.ainvoke(request_from_args(**args)))

        tools.append(
            StructuredTool.from_function(
                func=generate,
                coroutine=agenerate,
                name="generate_emotion_image",
                args_schema=GenerateArgs,
                description="Rewrite the prompt for an emotion and generate the image with "
                "MC-Diffusion. Returns JSON with the prompt and the image paths.",
            )
        )
    return tools


def as_tool(settings: Settings | None = None, **graph_kwargs: Any) -> BaseTool:
    """The ``rewrite_for_emotion`` tool (see :func:`as_tools`)."""
    return as_tools(settings, **graph_kwargs)[0]
