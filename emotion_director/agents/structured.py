"""The LLM seam: one function that asks any chat model for a pydantic object, with bounded retries.

Example:
    >>> import asyncio
    >>> from pydantic import BaseModel
    >>> from emotion_director.agents.models import TestChatModel
    >>> class Pick(BaseModel):
    ...     n: int
    >>> asyncio.run(ainvoke_structured(TestChatModel(), Pick, [("user", "hi")], node="demo"))
    Pick(n=0)
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
import threading
from collections import OrderedDict
from typing import Any, TypeVar

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable
from pydantic import BaseModel, ValidationError

from emotion_director.agents.backends import backend_name
from emotion_director.agents.models import _SchemaBoundModel, tool_call_parts
from emotion_director.errors import BackendError, ModelOutputError

T = TypeVar("T", bound=BaseModel)


class CallBudget:
    """LLM calls a graph node may still make (set per node by the graph; see ``max_llm_calls``)."""

    def __init__(self, limit: int | None, node: str) -> None:
        self.limit, self.node, self.used = limit, node, 0

    def spend(self) -> None:
        if self.limit is not None and self.used >= self.limit:
            raise BackendError(
                f"node '{self.node}': the run's LLM call budget is spent ({self.limit} call(s) "
                "left for this node): raise max_llm_calls (EMOTION_DIRECTOR_MAX_LLM_CALLS)."
            )
        self.used += 1


CALL_BUDGET: contextvars.ContextVar[CallBudget | None] = contextvars.ContextVar(
    "emotion_director_call_budget", default=None)
logger = logging.getLogger("emotion_director.llm")


_BASES: OrderedDict[tuple[int, type, str], tuple[Any, Runnable, Runnable]] = OrderedDict()
_BASES_LOCK = threading.Lock()


def _structured_base(model: BaseChatModel, schema: type[T], method: str) -> tuple[Runnable, Runnable] | None:
    """``(model bound to the schema, output parser)``, built once per model and schema.

    Converting a pydantic schema to JSON schema / an OpenAI tool costs ~1-3 ms of CPU; under load
    (hundreds of concurrent persona calls) that dominated the graph's own cost, so the bound
    model is cached and per-call parameters are bound on top of it.
    """
    key = (id(model), schema, method)
    with _BASES_LOCK:
        hit = _BASES.get(key)
        if hit is not None and hit[0] is model:
            _BASES.move_to_end(key)
            return hit[1], hit[2]
    if isinstance(model, _SchemaBoundModel):
        built = model.structured_parts(schema, method)
    elif method == "function_calling" and hasattr(model, "bind_tools"):
        built = tool_call_parts(model, schema)
    else:  # json_schema / json_mode on a provider model: its own with_structured_output
        return None
    with _BASES_LOCK:
        _BASES[key] = (model, *built)
        while len(_BASES) > 128:
            _BASES.popitem(last=False)
    return built


def structured_runnable(
    model: BaseChatModel,
    schema: type[T],
    *,
    temperature: float | None = None,
    seed: int | None = None,
    method: str = "function_calling",
) -> Runnable:
    """``model`` bound to return ``schema``, with per-call temperature and seed."""
    params = {k: v for k, v in {"temperature": temperature, "seed": seed}.items() if v is not None}
    base = _structured_base(model, schema, method)
    if base is not None:
        bound, parser = base
        return (bound.bind(**params) if params else bound) | parser
    update = {k: v for k, v in params.items() if k in type(model).model_fields}
    bound_model = model.model_copy(update=update) if update else model
    return bound_model.with_structured_output(schema, method=method)


async def ainvoke_structured(
    model: BaseChatModel,
    schema: type[T],
    messages: list[Any],
    *,
    node: str,
    retries: int = 2,
    temperature: float | None = None,
    seed: int | None = None,
    method: str = "function_calling",
    config: dict[str, Any] | None = None,
) -> T:
    """Call ``model`` for a ``schema`` object; retry invalid output, then raise a clear error.

    Args:
        model (`BaseChatModel`): any langchain-core chat model.
        schema (`type[BaseModel]`): the pydantic model the reply must match.
        messages (`list`): langchain messages or ``(role, text)`` tuples.
        node (`str`): the graph node asking, named in errors.
        retries (`int`, *optional*, defaults to 2): extra attempts after invalid output.
        seed (`int`, *optional*): sampling seed; attempt ``i`` uses ``seed + i``.

    Raises:
        ModelOutputError: every attempt returned output that does not match ``schema``.
        BackendError: the backend cannot be reached or answered with an error.
    """
    backend = backend_name(model)
    last_error = "no attempt made"
    for attempt in range(retries + 1):
        if attempt and backend not in {"embedded", "test"}:
            # jittered exponential backoff before re-asking a remote server
            await asyncio.sleep(min(2.0, 0.1 * 2**attempt) * random.uniform(0.5, 1.5))
        runnable = structured_runnable(
            model, schema, temperature=temperature,
            seed=None if seed is None else seed + attempt, method=method,
        )
        budget = CALL_BUDGET.get()
        if budget is not None:
            budget.spend()
        logger.info("llm call node=%s backend=%s schema=%s attempt=%d", node, backend,
                    schema.__name__, attempt + 1)
        try:
            result = await runnable.ainvoke(messages, config=config)
        except (OutputParserException, ValidationError, ValueError) as exc:
            if isinstance(exc, BackendError):
                raise
            last_error = str(exc).splitlines()[0][:200]
            continue
        except Exception as exc:  # transport errors: name the node and the backend
            raise _backend_error(exc, node=node, backend=backend, model=model) from None
        if isinstance(result, schema):
            return result
        last_error = f"got {type(result).__name__} instead of {schema.__name__}"
    raise ModelOutputError(
        f"node '{node}': the {backend} backend returned invalid output {retries + 1} time(s) "
        f"({last_error}). Try a larger model, another --seed, or the openai backend.",
        node=node,
        backend=backend,
    )


def _backend_error(exc: Exception, *, node: str, backend: str, model: BaseChatModel) -> Exception:
    if isinstance(exc, (BackendError, RuntimeError)) and not _is_openai_error(exc):
        return exc
    where = getattr(model, "openai_api_base", None) or backend
    kind = type(exc).__name__
    if "Connection" in kind or "Connect" in kind or "Timeout" in kind:
        return BackendError(
            f"node '{node}': cannot reach the {backend} server at {where} ({kind}). Start the "
            "server or fix --base-url."
        )
    status = getattr(exc, "status_code", None)
    if status is not None:
        return BackendError(
            f"node '{node}': the {backend} server at {where} answered HTTP {status} "
            f"({str(exc).splitlines()[0][:160]})."
        )
    return BackendError(f"node '{node}': the {backend} backend failed: {kind}: {str(exc)[:200]}")


def _is_openai_error(exc: Exception) -> bool:
    return type(exc).__module__.startswith(("openai", "httpx"))
