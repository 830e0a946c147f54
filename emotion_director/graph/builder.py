"""``build_graph``: the MC-Agent state machine, wired top to bottom in one place.

    parse_request --Send x N--> persona_reading (parallel) --> chain_of_concept
    --> consensus --> END

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
from typing import Any, Literal, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import get_runtime
from langgraph.types import Command, Overwrite, Send, interrupt

from emotion_director.agents.backends import backend_name, make_chat_model
from emotion_director.agents.consensus import build_consensus
from emotion_director.agents.persona_agent import persona_pool, read_persona
from emotion_director.agents.refiner import chain_of_concept
from emotion_director.agents.steps import CallBudget, Steps, arun_steps, run_steps
from emotion_director.agents.structured import StructuredMemory
from emotion_director.emotions import Emotion
from emotion_director.errors import InvalidRequestError, SettingsError
from emotion_director.graph.context import RunContext, as_run_context
from emotion_director.graph.request import parse_request
from emotion_director.graph.review import review_answer_problem
from emotion_director.graph.state import PersonaTask, RewriteInput, RewriteOutput, RewriteState
from emotion_director.knowledge.concept_graph import ConceptGraph, load_concept_graph
from emotion_director.personas.loader import load_personas
from emotion_director.personas.schema import Persona
from emotion_director.settings import Settings
from emotion_director.untrusted import remove_invisible


def _optional_model(name: str, level: int, without: str) -> Any:
    """``emotion_director.scenefit.<name>.load()``, or None, logged once at ``level`` with what
    the graph does ``without`` it, when its extra or MiniLM's weights are missing."""
    try:
        import emotion_director.scenefit as scenefit

        return getattr(scenefit, name).load()
    except ImportError as exc:  # MissingExtraError is an ImportError
        logging.getLogger(__name__).log(level, "%s: %s", without, exc)
        return None


@functools.lru_cache(maxsize=1)
def shared_scene_fit() -> Any:
    """One scene-fit model per process, or None (logged once) when its extra is missing."""
    return _optional_model(
        "SceneFit", logging.WARNING, "scene fit off, the word tables filter alone"
    )


@functools.lru_cache(maxsize=1)
def shared_reader_risk() -> Any:
    """One reader-risk model per process, or None (logged once) when MiniLM is not installed:
    then concepts are ranked by the per-concept counts of the same labels
    (:func:`~emotion_director.knowledge.setting.concept_risk`)."""
    return _optional_model(
        "ReaderRisk", logging.INFO, "reader risk off, concepts are ranked by their own label counts"
    )


@functools.lru_cache(maxsize=1)
def shared_setting_reader() -> Any:
    """One setting reader per process, or None (logged once) when MiniLM is not installed: then
    a scene states only the setting its parsed words give (see
    :mod:`emotion_director.knowledge.setting`)."""
    return _optional_model(
        "SettingReader",
        logging.INFO,
        "setting reader off, scenes state only what the word tables parse",
    )


class _LLMOptions(TypedDict):
    """What every LLM node passes on to its agent."""

    retries: int
    method: str
    memory: StructuredMemory  # built runnables, methods a server rejected: as long as the graph


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
        self.llm_options: _LLMOptions = {
            "retries": settings.max_retries,
            "method": settings.structured_method,
            "memory": StructuredMemory(),
        }
        self.image_generator = image_generator
        #: Where an approved prompt goes: decided once, when the graph is built.
        self.after_prompt = "generate_image" if image_generator is not None else END
        self._models: dict[tuple[tuple[str, Any], ...], BaseChatModel] = {}

    # -- the run's context (LangGraph's context_schema) -----------------------------------------
    @staticmethod
    def context() -> RunContext:
        """This run's :class:`RunContext` (empty when the caller gave none)."""
        try:
            value = get_runtime().context
        except RuntimeError:  # called outside a run (a node method used on its own)
            value = None
        return as_run_context(value) or RunContext()

    def model_for_run(self) -> BaseChatModel:
        """The graph's model, or the one the run's context names (built once per choice)."""
        changes = self.context().model_settings()
        if not changes:
            return self.model
        key = tuple(sorted(changes.items()))
        if key not in self._models:
            try:
                settings = Settings.model_validate({**self.settings.model_dump(), **changes})
            except ValueError as exc:
                raise InvalidRequestError(
                    f"the run context's model settings are invalid: {_first_error(exc)}"
                ) from None
            try:
                self._models[key] = make_chat_model(settings)
            except SettingsError as exc:
                raise InvalidRequestError(f"the run context's model settings: {exc}") from None
        return self._models[key]

    def mode_for_run(self) -> Literal["choose", "write"]:
        """'choose' or 'write': with reading_mode 'auto' it follows the run's backend."""
        backend = self.context().backend
        if backend is None:
            return self.mode
        return self.settings.model_copy(update={"backend": backend}).effective_reading_mode

    def critic_for_run(self) -> bool:
        """Whether the consensus asks for a scene critique (``Settings.scene_critic``; 'auto':
        where the run's model writes and is not the embedded one, which judges scenes poorly)."""
        return self.settings.scene_critic_for(
            self.mode_for_run(), backend_name(self.model_for_run())
        )

    def _critic_options(self, state: RewriteState) -> dict[str, Any]:
        """The critic's part of the consensus's calls: it runs only where a call is left for the
        writer after it, and never takes that call (its retries shrink to fit)."""
        if not self.critic_for_run():
            return {"critic": False}
        limit = self.call_limit()
        retries = self.llm_options["retries"]
        if limit is None:
            return {"critic": True, "critic_retries": retries}
        left = self.consensus_budget(state).limit or 0
        writer = 1 if self.mode_for_run() == "write" else 0
        if left < 1 + writer:
            return {"critic": False}
        return {"critic": True, "critic_retries": min(retries, left - 1 - writer)}

    def call_limit(self) -> int | None:
        limit = self.context().max_llm_calls
        return limit if limit is not None else self.settings.max_llm_calls

    def parse_request(self, state: RewriteState) -> dict[str, Any]:
        ctx = self.context()
        if ctx.review and not self.settings.review:
            raise InvalidRequestError(
                "the run context asks for review, but this graph was built without the review "
                "step: build it with Settings(review=True) (EMOTION_DIRECTOR_REVIEW=1), then "
                "turn review off per run with review=False."
            )
        unknown = sorted(set(ctx.persona_weights or {}) - set(self.personas))
        if unknown:
            raise InvalidRequestError(
                f"the run context weighs unknown persona(s) {', '.join(unknown)}; available: "
                f"{', '.join(sorted(self.personas))}."
            )
        self.model_for_run()  # a bad model choice fails here, before any call
        update = parse_request(
            dict(state),
            max_chars=self.settings.max_prompt_chars,
            default_seed=ctx.seed if ctx.seed is not None else self.settings.seed,
            recast=self.settings.recast_expressions,
        )
        reader = shared_setting_reader() if self.settings.read_setting else None
        if reader is not None:
            scene = update["scene"]
            update["scene"] = scene.model_copy(update={"read_setting": reader.read(scene.text)})
        asked = state.get("personas")
        update["personas"] = [
            p.name for p in self._selected(ctx.personas if asked is None else asked)
        ]
        # a new request on a thread that already ran starts clean: the reducers must never add
        # this request's readings (or LLM calls) to an earlier request's
        update.update(readings=Overwrite([]), llm_calls=Overwrite(0), dropped_personas=[])
        if state.get("images"):  # (no empty "images" key in the output of a prompt-only graph)
            update["images"] = []
        limit = self.call_limit()
        if limit is not None and limit < len(update["personas"]):
            raise InvalidRequestError(
                f"max_llm_calls={limit} is below the {len(update['personas'])} persona calls this "
                "run needs: raise it or select fewer personas."
            )
        # concepts are ranked only when grounded: read their risk once the request is valid, for
        # the concepts the personas may be offered (about a sixth of the emotion's, and the
        # reading is the costliest step outside the model); the refiner reads the few others a
        # model's own words may name (refiner.chain_of_concept's `read_risk`)
        risk = self._read_risk()
        if risk is not None:
            scene = update["scene"]
            pool = persona_pool(
                self.concept_graph,
                Emotion(update["emotion"]),
                scene,
                frozenset(update["subject_tags"]),
            )
            texts = [c.text for c in pool]
            found = dict(zip(texts, risk(scene.text, texts)))
            update["scene"] = scene.model_copy(update={"read_risk": found})
        return update

    def fan_out(self, state: RewriteState) -> list[Send]:
        weights = self.context().persona_weights or {}
        return [
            Send(
                "persona_reading",
                PersonaTask(
                    persona=self.personas[name]
                    if name not in weights
                    else self.personas[name].model_copy(update={"weight": float(weights[name])}),
                    subject=state["subject"],
                    subject_tags=state["subject_tags"],
                    emotion=state["emotion"],
                    seed=state["seed"],
                    share=len(state["personas"]),
                    scene=state["scene"],
                ),
            )
            for name in state["personas"]
        ]

    def llm_node(
        self,
        name: str,
        steps: Callable[[Any], Steps[dict[str, Any]]],
        budget_for: Callable[[Any], CallBudget],
    ) -> SyncAsyncNode:
        """A node running ``steps`` sync under ``invoke`` and async under ``ainvoke``, within the
        node's part of the run's LLM call budget; the update reports the calls it made."""

        def run(state: Any) -> dict[str, Any]:
            budget = budget_for(state)
            return {**run_steps(steps(state), budget), "llm_calls": budget.used}

        async def arun(state: Any) -> dict[str, Any]:
            budget = budget_for(state)
            return {**await arun_steps(steps(state), budget), "llm_calls": budget.used}

        return SyncAsyncNode(run, arun, name)

    def _budget(self, node: str, used: int, share: int = 1) -> CallBudget:
        """This node's part of the run's remaining LLM calls (parallel personas split it)."""
        limit = self.call_limit()
        return CallBudget(None if limit is None else max(limit - used, 0) // share, node)

    def persona_budget(self, task: PersonaTask) -> CallBudget:
        return self._budget(f"persona_reading[{task['persona'].name}]", 0, task["share"])

    def chain_budget(self, state: RewriteState) -> CallBudget:
        return self._budget("chain_of_concept", state.get("llm_calls", 0))

    def consensus_budget(self, state: RewriteState) -> CallBudget:
        return self._budget("consensus", state.get("llm_calls", 0))

    def persona_reading(self, task: PersonaTask) -> Steps[dict[str, Any]]:
        reading = yield from read_persona.steps(
            model=self.model_for_run(),
            persona=task["persona"],
            subject=task["subject"],
            subject_tags=frozenset(task["subject_tags"]),
            emotion=Emotion(task["emotion"]),
            concept_graph=self.concept_graph,
            seed=task["seed"],
            mode=self.mode_for_run(),
            grounding=self.settings.grounding,
            scene=task.get("scene"),
            **self.llm_options,
        )
        return {"readings": [reading]}

    def chain_of_concept(self, state: RewriteState) -> Steps[dict[str, Any]]:
        readings = self._active_readings(state)
        chain = yield from chain_of_concept.steps(
            readings,
            emotion=Emotion(state["emotion"]),
            subject=state["subject"],
            subject_tags=frozenset(state["subject_tags"]),
            concept_graph=self.concept_graph,
            model=self.model_for_run(),
            mode=self.mode_for_run(),
            grounding=self.settings.grounding,
            scene=state.get("scene"),
            seed=state["seed"],
            scene_fit=self._scene_fit(),
            read_risk=self._read_risk(),
            **self.llm_options,
        )
        return {"concepts": chain}

    def _read_risk(self) -> Callable[[str, list[str]], list[float]] | None:
        """Blind readers' risk of concepts in a scene (``ReaderRisk.risks``), when concepts are
        ranked by it: grounded, ``read_risk`` on, MiniLM installed."""
        if not (self.settings.read_risk and self.settings.grounding):
            return None
        model = shared_reader_risk()
        return model.risks if model is not None else None

    def _scene_fit(self) -> Any:
        """The learned scene-fit model, loaded on first use; None when off or not installed."""
        if not self.settings.scene_fit:
            return None
        return shared_scene_fit()

    def consensus(self, state: RewriteState) -> Steps[dict[str, Any]]:
        readings = self._active_readings(state)
        result = yield from build_consensus.steps(
            state["concepts"],
            readings,
            subject=state["subject"],
            head_nouns=state["head_nouns"],
            emotion=Emotion(state["emotion"]),
            concept_graph=self.concept_graph,
            prompt_emotion_words=state["prompt_emotion_words"],
            token_budget=self.settings.token_budget,
            model=self.model_for_run(),
            mode=self.mode_for_run(),
            scene=state.get("scene"),
            moved_to_negative=state.get("subject_negatives", []),
            **self._critic_options(state),
            **self.llm_options,
        )
        update: dict[str, Any] = {
            "final_prompt": result.final_prompt,
            "negative_prompt": result.negative_prompt,
            "visual_prompt": result.visual_prompt,
            "trace": result.trace,
        }
        # why the critic could not judge, or None: written every time, so that a later request
        # on the thread (or a second pass after review) never keeps an earlier run's failure
        update["critic_failed"] = result.critic_failed
        given_up = [
            *result.unseen,
            *([result.trimmed] if result.trimmed is not None else []),
            *result.criticised,
        ]
        if given_up:  # the trace names every cue the prompt gave up
            chain = state["concepts"]
            update["concepts"] = chain.model_copy(update={"dropped": [*chain.dropped, *given_up]})
        return update

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
                answer, state["personas"], sorted(dropped), max_chars=self.settings.max_prompt_chars
            )
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
        if names is None:
            return list(self.personas.values())
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise InvalidRequestError("personas must be a list of persona names.")
        if not names:  # an explicit empty selection is no request for every persona
            raise InvalidRequestError(
                "personas is an empty list: name at least one of "
                f"{', '.join(sorted(self.personas))}, or leave it out to use them all."
            )
        missing = [n for n in names if n not in self.personas]
        if missing:
            shown = ", ".join(m if m.strip() else repr(m) for m in missing)  # ("-p ''")
            raise InvalidRequestError(
                f"unknown persona(s) {shown}; available: {', '.join(sorted(self.personas))}."
            )
        return [self.personas[n] for n in dict.fromkeys(names)]


def _image_generator_from(settings: Settings) -> Any:
    if not settings.diffusion_model:
        return None
    from emotion_director.diffusion.generator import ImageGenerator

    return ImageGenerator(
        model=settings.diffusion_model,
        bank=settings.bank_path,
        adapter=settings.adapter_path,
        out_dir=str(settings.images_dir),
        device=settings.device,
        steps=settings.steps,
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
) -> CompiledStateGraph[RewriteState, RunContext, RewriteInput, RewriteOutput]:
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

    builder = StateGraph(
        RewriteState,
        context_schema=RunContext,
        input_schema=RewriteInput,
        output_schema=RewriteOutput,
    )
    builder.add_node("parse_request", nodes.parse_request)
    builder.add_node(
        "persona_reading",
        nodes.llm_node("persona_reading", nodes.persona_reading, nodes.persona_budget),
    )
    builder.add_node(
        "chain_of_concept",
        nodes.llm_node("chain_of_concept", nodes.chain_of_concept, nodes.chain_budget),
    )
    builder.add_node(
        "consensus", nodes.llm_node("consensus", nodes.consensus, nodes.consensus_budget)
    )

    builder.add_edge(START, "parse_request")
    builder.add_conditional_edges("parse_request", nodes.fan_out, ["persona_reading"])
    builder.add_edge("persona_reading", "chain_of_concept")
    builder.add_edge("chain_of_concept", "consensus")
    if settings.review:  # a person approves, edits or drops readings (interrupt)
        builder.add_node(
            "review", nodes.review, destinations=("chain_of_concept", nodes.after_prompt)
        )
        # on unless the run's context says review=False
        builder.add_conditional_edges(
            "consensus",
            lambda state: "review" if nodes.context().review is not False else nodes.after_prompt,
            ["review", nodes.after_prompt],
        )
    else:
        builder.add_edge("consensus", nodes.after_prompt)
    if nodes.image_generator is not None:
        builder.add_node(
            "generate_image",
            SyncAsyncNode(nodes.generate_image, nodes.agenerate_image, "generate_image"),
        )
        builder.add_edge("generate_image", END)
    return builder.compile(checkpointer=checkpointer, name="mc-agent")


class SyncAsyncNode(Runnable[Any, Any]):
    """A graph node with a sync body for ``invoke`` and an async one for ``ainvoke``.

    LangGraph takes a plain function for a node of one kind; a node of both kinds must be a
    ``Runnable``. This one calls the body straight away: LangGraph has already opened the node's
    run (its callbacks and config reach the model calls through the context), so a
    ``RunnableLambda`` would only nest a second run of the same name under it, at ~0.5 ms a node.
    """

    def __init__(self, func: Callable[[Any], Any], afunc: Callable[[Any], Any], name: str) -> None:
        self.func, self.afunc, self.name = func, afunc, name

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return self.func(input)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return await self.afunc(input)


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return f"{'.'.join(map(str, first.get('loc', ())))}: {first.get('msg')}"
    return str(exc)
