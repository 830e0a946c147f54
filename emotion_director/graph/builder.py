"""``build_graph``: the MC-Agent state machine, wired top to bottom in one place.

    parse_request --Send x N--> persona_reading (parallel) --> chain_of_concept --> consensus --> END

Every node runs sync under ``invoke``/``stream`` and async under ``ainvoke``/``astream``: the LLM
nodes are written once as steps (:mod:`emotion_director.agents.steps`).

Example:
    >>> from emotion_director import build_graph, Settings
    >>> from emotion_director.testing import TestChatModel
    >>> graph = build_graph(Settings(), chat_model=TestChatModel())
    >>> for update in graph.stream({"prompt": "an angry dog", "emotion": "contentment"},
    ...                            stream_mode="updates"):
    ...     pass  # one update per node; one 'persona_reading' update per persona
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableLambda
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Overwrite, Send, interrupt

from emotion_director.agents.backends import make_chat_model
from emotion_director.agents.consensus import build_consensus
from emotion_director.agents.persona_agent import read_persona
from emotion_director.agents.refiner import chain_of_concept
from emotion_director.agents.steps import CallBudget, Steps, arun_steps, run_steps
from emotion_director.emotions import Emotion
from emotion_director.errors import InvalidRequestError
from emotion_director.graph.request import parse_request
from emotion_director.graph.review import review_answer_problem
from emotion_director.graph.state import PersonaTask, RewriteInput, RewriteOutput, RewriteState
from emotion_director.knowledge.concept_graph import ConceptGraph, load_concept_graph
from emotion_director.personas.loader import load_personas
from emotion_director.personas.schema import Persona
from emotion_director.settings import Settings
from emotion_director.untrusted import remove_invisible


@functools.lru_cache(maxsize=1)
def shared_scene_fit() -> Any:
    """One scene-fit model per process, or None (logged once) when its extra is missing."""
    try:
        from emotion_director.scenefit import SceneFit

        return SceneFit.load()
    except ImportError as exc:  # MissingExtraError is an ImportError
        logging.getLogger(__name__).warning("scene fit off, the word tables filter alone: %s", exc)
        return None


class MCAgentNodes:
    """The graph's nodes, bound to one model, persona set, concept graph and settings.

    The LLM nodes are written once, as steps (:mod:`emotion_director.agents.steps`);
    :meth:`llm_node` gives each a sync implementation (``invoke``/``stream``) and an async one
    (``ainvoke``/``astream``) that differ only in how they call the model.
    """

    def __init__(
        self,
        settings: Settings,
        personas: Sequence[Persona],
        model: BaseChatModel,
        concept_graph: ConceptGraph,
        image_generator: Any = None,
    ) -> None:
        self.settings = settings
        self.personas = {p.name: p for p in personas}
        self.model = model
        self.concept_graph = concept_graph
        self.mode = settings.effective_reading_mode
        self.llm_options = {"retries": settings.max_retries, "method": settings.structured_method}
        self.image_generator = image_generator
        #: Where an approved prompt goes: decided once, when the graph is built.
        self.after_prompt = "generate_image" if image_generator is not None else END

    def parse_request(self, state: RewriteState) -> dict[str, Any]:
        update = parse_request(
            dict(state), max_chars=self.settings.max_prompt_chars, default_seed=self.settings.seed
        )
        update["personas"] = [p.name for p in self._selected(state.get("personas"))]
        # a new request on a thread that already ran starts clean: the reducers must never add
        # this request's readings (or LLM calls) to an earlier request's
        update.update(readings=Overwrite([]), llm_calls=Overwrite(0), dropped_personas=[])
        if state.get("images"):  # (no empty "images" key in the output of a prompt-only graph)
            update["images"] = []
        limit = self.settings.max_llm_calls
        if limit is not None and limit < len(update["personas"]):
            raise InvalidRequestError(
                f"max_llm_calls={limit} is below the {len(update['personas'])} persona calls this "
                "run needs: raise it or select fewer personas."
            )
        return update

    def fan_out(self, state: RewriteState) -> list[Send]:
        return [
            Send("persona_reading", PersonaTask(
                persona=self.personas[name], subject=state["subject"],
                subject_tags=state["subject_tags"], emotion=state["emotion"], seed=state["seed"],
                share=len(state["personas"]), scene=state["scene"],
            ))
            for name in state["personas"]
        ]

    def llm_node(
        self,
        name: str,
        steps: Callable[[Any], Steps[dict[str, Any]]],
        budget_for: Callable[[Any], CallBudget],
    ) -> RunnableLambda:
        """A node running ``steps`` sync under ``invoke`` and async under ``ainvoke``, within the
        node's part of the run's LLM call budget; the update reports the calls it made."""

        def run(state: Any) -> dict[str, Any]:
            budget = budget_for(state)
            return {**run_steps(steps(state), budget), "llm_calls": budget.used}

        async def arun(state: Any) -> dict[str, Any]:
            budget = budget_for(state)
            return {**await arun_steps(steps(state), budget), "llm_calls": budget.used}

        return RunnableLambda(run, afunc=arun, name=name)

    def _budget(self, node: str, used: int, share: int = 1) -> CallBudget:
        """This node's part of the run's remaining LLM calls (parallel personas split it)."""
        limit = self.settings.max_llm_calls
        return CallBudget(None if limit is None else max(limit - used, 0) // share, node)

    def persona_budget(self, task: PersonaTask) -> CallBudget:
        return self._budget(f"persona_reading[{task['persona'].name}]", 0, task["share"])

    def chain_budget(self, state: RewriteState) -> CallBudget:
        return self._budget("chain_of_concept", state.get("llm_calls", 0))

    def consensus_budget(self, state: RewriteState) -> CallBudget:
        return self._budget("consensus", state.get("llm_calls", 0))

    def persona_reading(self, task: PersonaTask) -> Steps[dict[str, Any]]:
        reading = yield from read_persona.steps(
            model=self.model, persona=task["persona"], subject=task["subject"],
            subject_tags=frozenset(task["subject_tags"]), emotion=Emotion(task["emotion"]),
            concept_graph=self.concept_graph, seed=task["seed"], mode=self.mode,
            grounding=self.settings.grounding, scene=task.get("scene"), **self.llm_options,
        )
        return {"readings": [reading]}

    def chain_of_concept(self, state: RewriteState) -> Steps[dict[str, Any]]:
        readings = self._active_readings(state)
        chain = yield from chain_of_concept.steps(
            readings, emotion=Emotion(state["emotion"]), subject=state["subject"],
            subject_tags=frozenset(state["subject_tags"]), concept_graph=self.concept_graph,
            model=self.model,
            mode=self.mode, grounding=self.settings.grounding, scene=state.get("scene"),
            seed=state["seed"], scene_fit=self._scene_fit(), **self.llm_options,
        )
        return {"concepts": chain}

    def _scene_fit(self) -> Any:
        """The learned scene-fit model, loaded on first use; None when off or not installed."""
        if not self.settings.scene_fit:
            return None
        return shared_scene_fit()

    def consensus(self, state: RewriteState) -> Steps[dict[str, Any]]:
        readings = self._active_readings(state)
        result = yield from build_consensus.steps(
            state["concepts"], readings, subject=state["subject"],
            head_nouns=state["head_nouns"], emotion=Emotion(state["emotion"]),
            concept_graph=self.concept_graph, prompt_emotion_words=state["prompt_emotion_words"],
            token_budget=self.settings.token_budget, model=self.model, mode=self.mode,
            scene=state.get("scene"), moved_to_negative=state.get("subject_negatives", []),
            **self.llm_options,
        )
        return {
            "final_prompt": result.final_prompt,
            "negative_prompt": result.negative_prompt,
            "visual_prompt": result.visual_prompt,
            "trace": result.trace,
        }

    def generate_image(self, state: RewriteState) -> dict[str, Any]:
        request = state["visual_prompt"]
        paths = self.image_generator.generate(
            state["final_prompt"],
            emotion=request.emotion.value,
            negative_prompt=state["negative_prompt"],
            negative_emotion=request.negative_emotion.value if request.negative_emotion else None,
            seed=state["seed"],
            extra={"source_prompt": state["prompt"], "visual_query": request.query},
        )
        return {"images": paths}

    async def agenerate_image(self, state: RewriteState) -> dict[str, Any]:
        # diffusion is blocking compute: off the event loop, so other runs keep going
        return await asyncio.to_thread(self.generate_image, state)

    @staticmethod
    def _active_readings(state: RewriteState) -> list[Any]:
        order = {name: i for i, name in enumerate(state["personas"])}
        dropped = set(state.get("dropped_personas") or [])
        kept = [r for r in state["readings"] if r.persona not in dropped]
        return sorted(kept, key=lambda r: order.get(r.persona, len(order)))

    def review(self, state: RewriteState) -> Command:
        """Human approval: pause (``interrupt``) with the result; resume with
        ``Command(resume={"action": "approve" | "edit" | "drop", ...})``.

        An invalid answer is not an error that would end the run (and be replayed on every
        resume): the node asks again, with the problem in the payload's ``error``.
        """
        dropped = set(state.get("dropped_personas") or [])
        payload = {
            "final_prompt": state["final_prompt"],
            "negative_prompt": state["negative_prompt"],
            "readings": {r.persona: r.cues for r in state["readings"] if r.persona not in dropped},
            "next": "end" if self.after_prompt == END else self.after_prompt,
        }
        while True:
            answer = interrupt(payload)
            problem = review_answer_problem(
                answer, state["personas"], sorted(dropped),
                max_chars=self.settings.max_prompt_chars)
            if problem is None:
                break
            payload = {**payload, "error": problem}
        action = answer["action"]
        if action == "edit":
            text = re.sub(r"\s+", " ", remove_invisible(answer["final_prompt"])).strip()
            return Command(goto=self.after_prompt, update={"final_prompt": text})
        if action == "drop":
            names = sorted({*dropped, *answer["personas"]})
            return Command(goto="chain_of_concept", update={"dropped_personas": names})
        return Command(goto=self.after_prompt)

    def _selected(self, names: Sequence[str] | None) -> list[Persona]:
        if not names:
            return list(self.personas.values())
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise InvalidRequestError("personas must be a list of persona names.")
        missing = [n for n in names if n not in self.personas]
        if missing:
            raise InvalidRequestError(
                f"unknown persona(s) {', '.join(missing)}; available: "
                f"{', '.join(sorted(self.personas))}."
            )
        return [self.personas[n] for n in dict.fromkeys(names)]


def _image_generator_from(settings: Settings) -> Any:
    if not settings.diffusion_model:
        return None
    from emotion_director.diffusion.generator import ImageGenerator

    return ImageGenerator(
        model=settings.diffusion_model, bank=settings.bank_path, adapter=settings.adapter_path,
        out_dir=str(settings.images_dir), device=settings.device, steps=settings.steps,
        scale=settings.visual_prompt_scale,
    )


def build_graph(
    settings: Settings | None = None,
    personas: Sequence[Persona] | None = None,
    checkpointer: Any = None,
    *,
    chat_model: BaseChatModel | None = None,
    concept_graph: ConceptGraph | None = None,
    image_generator: Any = None,
) -> Any:
    """Build and compile the MC-Agent graph.

    Args:
        settings (`Settings`, *optional*): backend and limits; defaults to ``Settings()``
            (embedded backend, environment variables applied).
        personas (`list[Persona]`, *optional*): the persona agents; defaults to the shipped set
            plus ``settings.persona_dirs``.
        checkpointer (`BaseCheckpointSaver`, *optional*): LangGraph checkpointer for durable runs.
        chat_model (`BaseChatModel`, *optional*): use this model instead of the backend's.
        concept_graph (`ConceptGraph`, *optional*): replace the shipped concept graph.
        image_generator (`ImageGenerator`, *optional*): adds the ``generate_image`` tool node
            after consensus; built from ``settings.diffusion_model`` when that is set. Without
            one the graph ends at the prompt.

    Returns:
        A compiled LangGraph (``invoke``/``ainvoke``/``stream``/``astream``) taking
        :class:`RewriteInput` and returning :class:`RewriteOutput`.

    Example:
        >>> from emotion_director.testing import TestChatModel
        >>> graph = build_graph(Settings(), chat_model=TestChatModel())
        >>> graph.invoke({"prompt": "a dog in a park", "emotion": "awe"})["emotion"]
        'awe'
    """
    settings = settings or Settings()
    personas = list(personas) if personas is not None else load_personas(settings.persona_dirs)
    nodes = MCAgentNodes(
        settings,
        personas,
        chat_model or make_chat_model(settings),
        concept_graph or load_concept_graph(),
        image_generator or _image_generator_from(settings),
    )

    builder = StateGraph(RewriteState, input_schema=RewriteInput, output_schema=RewriteOutput)
    builder.add_node("parse_request", nodes.parse_request)
    builder.add_node("persona_reading", nodes.llm_node(
        "persona_reading", nodes.persona_reading, nodes.persona_budget))
    builder.add_node("chain_of_concept", nodes.llm_node(
        "chain_of_concept", nodes.chain_of_concept, nodes.chain_budget))
    builder.add_node("consensus", nodes.llm_node(
        "consensus", nodes.consensus, nodes.consensus_budget))

    builder.add_edge(START, "parse_request")
    builder.add_conditional_edges("parse_request", nodes.fan_out, ["persona_reading"])
    builder.add_edge("persona_reading", "chain_of_concept")
    builder.add_edge("chain_of_concept", "consensus")
    if settings.review:  # a person approves, edits or drops readings (interrupt)
        builder.add_node("review", nodes.review,
                         destinations=("chain_of_concept", nodes.after_prompt))
        builder.add_edge("consensus", "review")
    else:
        builder.add_edge("consensus", nodes.after_prompt)
    if nodes.image_generator is not None:
        builder.add_node("generate_image", RunnableLambda(
            nodes.generate_image, afunc=nodes.agenerate_image, name="generate_image"))
        builder.add_edge("generate_image", END)
    return builder.compile(checkpointer=checkpointer, name="mc-agent")
