"""LLM work as steps, run sync or async: the agents' logic is written once.

An agent (a persona reading, the refiner, consensus) and the LLM seam are *generators*: where they
need the outside world they ``yield`` a step (:class:`ModelCall`, :class:`Backoff`,
:data:`CHARGE_CALL`) and get its result back (or its exception, thrown in at the ``yield``). Two
small drivers run such a generator: :func:`run_steps` with ``invoke`` and ``time.sleep``, and
:func:`arun_steps` with ``ainvoke`` and ``asyncio.sleep``. So the graph's nodes have a real sync
implementation (LangGraph's ``invoke``/``stream``) and a real async one (``ainvoke``/``astream``)
that differ only in how they call the model; no event loop runs behind ``invoke``. (The same
"sans-I/O" split as h11's protocol objects or psycopg's connection generators.)

The LLM call budget of the running node travels with the drivers (``budget=``), not in a global.

Example:
    >>> from emotion_director.agents.steps import ModelCall, run_steps
    >>> from langchain_core.runnables import RunnableLambda
    >>> def shout(text):
    ...     reply = yield ModelCall(RunnableLambda(str.upper), text)
    ...     return reply + "!"
    >>> run_steps(shout("hi"))
    'HI!'
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Coroutine, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeVar

from langchain_core.runnables import Runnable, RunnableConfig

from emotion_director.errors import BackendError

T = TypeVar("T")
P = ParamSpec("P")


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


@dataclass(frozen=True)
class ModelCall:
    """Run ``runnable`` on ``input`` (``invoke`` or ``ainvoke``); the step's result is its
    output."""

    runnable: Runnable
    input: Any
    config: RunnableConfig | None = None


@dataclass(frozen=True)
class Backoff:
    """Wait ``seconds`` before the next attempt (``time.sleep`` or ``asyncio.sleep``)."""

    seconds: float


class _ChargeCall:
    """Count one LLM call against the running node's budget (raises when it is spent)."""

    def __repr__(self) -> str:
        return "CHARGE_CALL"


CHARGE_CALL = _ChargeCall()

#: A generator of steps that returns ``T``.
Steps = Generator["ModelCall | Backoff | _ChargeCall", Any, T]


async def arun_steps(steps: Steps[T], budget: CallBudget | None = None) -> T:
    """Run ``steps`` on the running event loop: model calls with ``ainvoke``."""
    run = _StepRun(steps)
    for step in run:
        with run.answering():
            run.reply = await _async_step(step, budget)
    return run.result


class _StepRun(Generic[T]):
    """The loop both drivers share: iterating gives the generator's steps one by one; what a
    driver sets as ``reply`` within :meth:`answering` (or the exception raised there) is sent
    (thrown) into the generator for its next step, and ``result`` is what it returned."""

    def __init__(self, steps: Steps[T]) -> None:
        self._steps = steps
        self.reply: Any = None
        self._error: BaseException | None = None
        self.result: T

    def __iter__(self) -> Iterator[Any]:
        while True:
            try:
                step = _resume(self._steps, self.reply, self._error)
            except StopIteration as done:
                self.result = done.value
                return
            self.reply, self._error = None, None
            yield step

    @contextmanager
    def answering(self) -> Iterator[None]:
        try:
            yield
        except Exception as exc:  # handed to the generator, which decides
            self._error = exc


def _resume(steps: Steps[Any], reply: Any, error: BaseException | None) -> Any:
    """The generator's next step: it gets the last reply, or the last call's error raised in it."""
    return steps.send(reply) if error is None else steps.throw(error)


def _sync_step(step: Any, budget: CallBudget | None) -> Any:
    if isinstance(step, ModelCall):
        return step.runnable.invoke(step.input, config=step.config)
    if isinstance(step, Backoff):
        time.sleep(step.seconds)
        return None
    return _charge(budget)


async def _async_step(step: Any, budget: CallBudget | None) -> Any:
    if isinstance(step, ModelCall):
        return await step.runnable.ainvoke(step.input, config=step.config)
    if isinstance(step, Backoff):
        await asyncio.sleep(step.seconds)
        return None
    return _charge(budget)


def _charge(budget: CallBudget | None) -> None:
    if budget is not None:
        budget.spend()


def run_steps(steps: Steps[T], budget: CallBudget | None = None) -> T:
    """Run ``steps`` synchronously: model calls with ``invoke``, waits with ``time.sleep``."""
    run = _StepRun(steps)
    for step in run:
        with run.answering():
            run.reply = _sync_step(step, budget)
    return run.result


class StepsFunction(Generic[P, T]):
    """A function written as steps, callable three ways.

    ``await f(...)`` runs it async (what the function was before it was written as steps),
    ``f.invoke(...)`` runs it sync, and ``f.steps(...)`` gives the generator, for a caller that
    drives it itself (with a budget) or composes it with ``yield from``.
    """

    def __init__(self, steps: Callable[P, Steps[T]]) -> None:
        self.steps = steps
        functools.update_wrapper(self, steps)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, T]:
        return arun_steps(self.steps(*args, **kwargs))

    def invoke(self, *args: P.args, **kwargs: P.kwargs) -> T:
        return run_steps(self.steps(*args, **kwargs))


def steps_function(steps: Callable[P, Steps[T]]) -> StepsFunction[P, T]:
    """Decorate a generator of steps so that it runs sync (``.invoke``) and async (``await``)."""
    return StepsFunction(steps)
