"""Rewrite systems compared by the evals: baselines, MC-Agent and its ablations, and yours.

A system turns an :class:`EvalCase` into a :class:`Rewrite`. Register your own with
:func:`register_system`: a factory ``(SystemContext) -> system``, a plain callable
``(prompt, emotion) -> str`` (sync or async), or a compiled LangGraph graph that takes
``{"prompt", "emotion"}`` and returns ``final_prompt``.

Example:
    >>> register_system("shout", lambda prompt, emotion: prompt.upper())
    >>> "shout" in SYSTEMS
    True
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, Field

from emotion_director.agents.consensus import build_consensus
from emotion_director.agents.schemas import ConceptChain, ConceptLink
from emotion_director.agents.structured import StructuredMemory, ainvoke_structured
from emotion_director.agents.text import guess_facet
from emotion_director.emotions import EMOTIONS, Emotion
from emotion_director.errors import UserInputError
from emotion_director.evals.datasets import EvalCase
from emotion_director.knowledge.concept_graph import load_concept_graph
from emotion_director.personas.loader import load_personas
from emotion_director.settings import Settings


@dataclass
class Rewrite:
    text: str
    negative_prompt: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class SystemContext:
    """What systems share in one run: settings and the (cached) chat model."""

    settings: Settings
    model: BaseChatModel
    #: the LLM seam's memory for the run (built runnables, methods the server rejected)
    memory: StructuredMemory = field(default_factory=StructuredMemory)


class RewriteSystem:
    name = "base"

    async def rewrite(self, case: EvalCase) -> Rewrite:
        raise NotImplementedError


SystemFactory = Callable[[SystemContext], RewriteSystem]
SYSTEMS: dict[str, SystemFactory] = {}


def register_system(name: str, system: Any) -> None:
    """Register a system under ``name`` (see the module doc for what ``system`` may be)."""
    if hasattr(system, "ainvoke") and hasattr(system, "get_graph"):
        SYSTEMS[name] = lambda ctx: _GraphSystem(name, system)
    elif inspect.isclass(system) and issubclass(system, RewriteSystem):
        SYSTEMS[name] = system
    elif callable(system) and len(inspect.signature(system).parameters) == 1:
        SYSTEMS[name] = system  # a factory taking the context
    elif callable(system):
        SYSTEMS[name] = lambda ctx: _CallableSystem(name, system)
    else:
        raise UserInputError(f"cannot register {system!r}: pass a callable or a graph.")


class _CallableSystem(RewriteSystem):
    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        self.name, self.fn = name, fn

    async def rewrite(self, case: EvalCase) -> Rewrite:
        out = self.fn(case.prompt, case.emotion)
        if inspect.isawaitable(out):
            out = await out
        return Rewrite(text=str(out))


class _GraphSystem(RewriteSystem):
    def __init__(self, name: str, graph: Any) -> None:
        self.name, self.graph = name, graph

    async def rewrite(self, case: EvalCase) -> Rewrite:
        out = await self.graph.ainvoke({"prompt": case.prompt, "emotion": case.emotion})
        return Rewrite(text=out["final_prompt"], negative_prompt=out.get("negative_prompt", ""))


class Identity(RewriteSystem):
    """The prompt unchanged: the floor for alignment, the ceiling for subject preservation."""

    name = "identity"

    def __init__(self, ctx: SystemContext) -> None:
        pass

    async def rewrite(self, case: EvalCase) -> Rewrite:
        return Rewrite(text=case.prompt)


class Template(RewriteSystem):
    """``"{prompt}, {emotion} mood"``: the semantic shortcut, written out."""

    name = "template"

    def __init__(self, ctx: SystemContext) -> None:
        pass

    async def rewrite(self, case: EvalCase) -> Rewrite:
        return Rewrite(text=f"{case.prompt}, {case.emotion} mood, evoking {case.emotion}")


class DirectRewrite(BaseModel):
    prompt: str = Field(description="the rewritten image prompt")


class SingleLLM(RewriteSystem):
    """One direct rewrite call to the same backend: the usual LLM prompt rewriter."""

    name = "single_llm"

    def __init__(self, ctx: SystemContext) -> None:
        self.ctx = ctx

    async def rewrite(self, case: EvalCase) -> Rewrite:
        profile = EMOTIONS[Emotion(case.emotion)]
        result = await ainvoke_structured(
            self.ctx.model,
            DirectRewrite,
            [
                (
                    "system",
                    "You rewrite prompts for an image diffusion model. Answer only with JSON.",
                ),
                (
                    "user",
                    f"Rewrite this image prompt so the image evokes {case.emotion} "
                    f"({profile.definition}). Keep the subject.\nPrompt: {case.prompt}",
                ),
            ],
            node="single_llm",
            retries=self.ctx.settings.max_retries,
            temperature=0.7,
            seed=0,
            method=self.ctx.settings.structured_method,
            memory=self.ctx.memory,
        )
        return Rewrite(text=result.prompt.strip() or case.prompt)


class MCAgent(RewriteSystem):
    """The full graph (optionally with fewer personas or no concept grounding)."""

    name = "mc_agent"
    personas: int | None = None
    grounding = True

    def __init__(self, ctx: SystemContext) -> None:
        from emotion_director.graph import build_graph

        settings = ctx.settings.model_copy(update={"grounding": self.grounding})
        personas = load_personas(settings.persona_dirs)
        if self.personas:
            personas = personas[: self.personas]
        self.graph = build_graph(settings, personas=personas, chat_model=ctx.model)
        self.settings = settings

    async def run_graph(self, case: EvalCase) -> dict[str, Any]:
        return await self.graph.ainvoke({"prompt": case.prompt, "emotion": case.emotion})

    async def rewrite(self, case: EvalCase) -> Rewrite:
        out = await self.run_graph(case)
        return Rewrite(
            text=out["final_prompt"],
            negative_prompt=out["negative_prompt"],
            meta={"readings": len(out["readings"]), "dropped": len(out["concepts"].dropped)},
        )


class OnePersona(MCAgent):
    """Ablation: a single persona agent (no simulated subjectivity)."""

    name = "mc_agent_one_persona"
    personas = 1


class NoGrounding(MCAgent):
    """Ablation: persona agents write freely, with no concept-graph hints or facet completion."""

    name = "mc_agent_no_grounding"
    grounding = False


class NoChainOfConcept(MCAgent):
    """Ablation: persona cues go straight to consensus (no dropping, refining or completion)."""

    name = "mc_agent_no_chain"

    async def rewrite(self, case: EvalCase) -> Rewrite:
        out = await self.run_graph(case)
        links: dict[str, ConceptLink] = {}
        for reading in out["readings"]:
            for cue in reading.cues:
                link = links.setdefault(cue.lower(), ConceptLink(text=cue, facet=guess_facet(cue)))
                link.supported_by.append(reading.persona)
                link.support += reading.weight * reading.intensity
        chain = ConceptChain(
            emotion=Emotion(case.emotion),
            appraisals=[],
            concepts=sorted(links.values(), key=lambda c: -c.support),
        )
        result = await build_consensus(
            chain,
            out["readings"],
            subject=out["subject"],
            head_nouns=[],
            emotion=Emotion(case.emotion),
            concept_graph=load_concept_graph(),
            token_budget=self.settings.token_budget,
        )
        return Rewrite(text=result.final_prompt, negative_prompt=result.negative_prompt)


class NoConsensus(MCAgent):
    """Ablation: concatenate every persona's cues instead of a weighted consensus."""

    name = "mc_agent_no_consensus"

    async def rewrite(self, case: EvalCase) -> Rewrite:
        out = await self.run_graph(case)
        cues = list(dict.fromkeys(c for r in out["readings"] for c in r.cues))
        return Rewrite(text=", ".join([out["subject"], *cues]))


for _cls in (
    Identity,
    Template,
    SingleLLM,
    MCAgent,
    OnePersona,
    NoGrounding,
    NoChainOfConcept,
    NoConsensus,
):
    SYSTEMS[_cls.name] = _cls


def make_systems(names: list[str], ctx: SystemContext) -> dict[str, RewriteSystem]:
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown:
        raise UserInputError(
            f"unknown system(s) {', '.join(unknown)}; available: {', '.join(sorted(SYSTEMS))}."
        )
    return {name: SYSTEMS[name](ctx) for name in names}
