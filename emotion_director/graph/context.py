"""Per-run settings: the graph's LangGraph ``context_schema``.

Settings (:class:`~emotion_director.settings.Settings`) are fixed when the graph is built. A
:class:`RunContext` changes them for one run without rebuilding anything: which personas speak
and how much each weighs, which model answers, how many calls the run may make, the default
seed and whether a person reviews the result. Pass it as ``context=`` to ``invoke``/``stream``
(or set it on an assistant in LangGraph Studio or the Platform); every field left ``None``
keeps the graph's setting.

Example:
    >>> from emotion_director import build_graph, Settings
    >>> from emotion_director.graph.context import RunContext
    >>> from emotion_director.testing import TestChatModel
    >>> graph = build_graph(Settings(), chat_model=TestChatModel())
    >>> out = graph.invoke({"prompt": "a dog in a park", "emotion": "awe"},
    ...                    context=RunContext(personas=["poet", "child"]))
    >>> sorted(r.persona for r in out["readings"])
    ['child', 'poet']
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, fields
from typing import Any, Literal

from emotion_director.errors import InvalidRequestError


@dataclass(frozen=True)
class RunContext:
    """What one run may change of the graph's settings; ``None`` keeps the setting.

    Attributes:
        personas: persona names to use when the request names none (the request's own
            ``personas`` wins).
        persona_weights: persona name -> weight in (0, 10] in the consensus, for this run.
        backend: ``"embedded"`` or ``"openai"``.
        model: model name on the OpenAI-compatible server (or a GGUF path when embedded).
        base_url: the OpenAI-compatible server, e.g. ``http://127.0.0.1:8000/v1``.
        max_llm_calls: cap on the model calls of this run.
        seed: seed when the request gives none.
        review: ``False`` skips the human review of a graph built with it; ``True`` asks for
            it (the graph must be built with ``Settings(review=True)``).
    """

    personas: list[str] | None = None
    persona_weights: dict[str, float] | None = None
    backend: Literal["embedded", "openai"] | None = None
    model: str | None = None
    base_url: str | None = None
    max_llm_calls: int | None = None
    seed: int | None = None
    review: bool | None = None

    def __new__(cls, /, *args: Any, **values: Any) -> RunContext:
        # LangGraph builds the context from a caller's dict with RunContext(**dict): a misspelt
        # key must be named here, not end as a TypeError
        unknown = set(values) - set(_FIELDS)
        if unknown:
            raise InvalidRequestError(
                f"unknown context key(s) {', '.join(map(repr, sorted(unknown)))}: the run "
                f"context takes {', '.join(_FIELDS)}."
            )
        return super().__new__(cls)

    def __post_init__(self) -> None:
        problem = context_problem(self)
        if problem:
            raise InvalidRequestError(problem)

    def model_settings(self) -> dict[str, Any]:
        """The :class:`Settings` fields this context changes about the model."""
        return {
            k: getattr(self, k)
            for k in ("backend", "model", "base_url")
            if getattr(self, k) is not None
        }


_FIELDS = tuple(field.name for field in fields(RunContext))
# help(), IDEs and autodoc read the fields, not __new__'s (*args, **values)
_INIT = inspect.signature(RunContext.__init__)
setattr(RunContext, "__signature__", _INIT.replace(parameters=list(_INIT.parameters.values())[1:]))


def context_problem(ctx: Any) -> str | None:
    """What is wrong with a run context, in one line with the fix; None when it is fine."""
    if ctx.personas is not None:
        if (
            isinstance(ctx.personas, str)
            or not isinstance(ctx.personas, (list, tuple))
            or not all(isinstance(n, str) and n.strip() for n in ctx.personas)
        ):
            return (
                "context personas must be a list of persona names, e.g. "
                '["poet", "child"] (see `emotion-director personas list`).'
            )
    if ctx.persona_weights is not None:
        if not isinstance(ctx.persona_weights, dict):
            return 'context persona_weights must map persona names to weights, e.g. {"poet": 2}.'
        for name, weight in ctx.persona_weights.items():
            if (
                isinstance(weight, bool)
                or not isinstance(weight, (int, float))
                or not math.isfinite(weight)
                or not 0 < weight <= 10
            ):
                return f"context persona_weights[{name!r}] is {weight!r}: give a number in (0, 10]."
    if ctx.backend is not None and ctx.backend not in ("embedded", "openai"):
        return f"context backend {ctx.backend!r} is unknown: use 'embedded' or 'openai'."
    for key in ("model", "base_url"):
        value = getattr(ctx, key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            return f"context {key} must be non-empty text, got {value!r}."
    if ctx.max_llm_calls is not None and (
        isinstance(ctx.max_llm_calls, bool)
        or not isinstance(ctx.max_llm_calls, int)
        or ctx.max_llm_calls < 1
    ):
        return f"context max_llm_calls is {ctx.max_llm_calls!r}: give a whole number >= 1."
    if ctx.seed is not None and (
        isinstance(ctx.seed, bool) or not isinstance(ctx.seed, int) or not 0 <= ctx.seed < 2**32
    ):
        return f"context seed is {ctx.seed!r}: give a whole number in [0, 2**32)."
    if ctx.review is not None and not isinstance(ctx.review, bool):
        return f"context review is {ctx.review!r}: give true or false."
    return None


def as_run_context(value: Any) -> RunContext | None:
    """The run's context as a :class:`RunContext`: LangGraph passes a dict when the caller (or
    the API server) gave one; unknown keys are refused, naming the ones it takes."""
    if value is None or isinstance(value, RunContext):
        return value
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(_FIELDS))
        if unknown:
            raise InvalidRequestError(
                f"unknown context key(s) {', '.join(map(repr, unknown))}: the run context takes "
                f"{', '.join(_FIELDS)}."
            )
        return RunContext(**value)
    raise InvalidRequestError(
        f"context must be a RunContext or a dict, got {type(value).__name__}."
    )
