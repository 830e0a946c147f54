"""The one retry policy of every model call (agents/structured.py): one budget of attempts,
failures matched by type, no state shared between graphs."""

import httpx
import pytest
from pydantic import BaseModel

from emotion_director.agents.function_model import FunctionChatModel
from emotion_director.agents.structured import (
    StructuredMemory,
    invoke_structured,
    retry_policy,
)
from emotion_director.errors import BackendError, ModelOutputError


class Pick(BaseModel):
    n: int


class RemoteLike(FunctionChatModel):
    """A model that behaves as a server would for the seam: it is backed off from. It logs
    every request (``asked``, with its seed), failed ones included."""

    runs_in_process = False

    def _answer(self, messages, schema, kwargs):
        self.__dict__.setdefault("asked", []).append(kwargs.get("seed"))
        return super()._answer(messages, schema, kwargs)


def _replies(*answers):
    """A model function that gives ``answers`` in turn: a string is the reply, an exception is
    raised."""
    queue = list(answers)

    def answer(messages, schema):
        item = queue.pop(0) if queue else answers[-1]
        if isinstance(item, BaseException):
            raise item
        return item

    return answer


def _down():
    return httpx.ConnectError("connection refused")


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    """Backoff waits are real sleeps; these tests count calls, not seconds."""
    monkeypatch.setattr("emotion_director.agents.steps.time.sleep", lambda s: None)


@pytest.mark.parametrize("retries", [0, 1, 2, 4])
def test_invalid_output_and_transient_failures_share_one_budget_of_attempts(retries):
    # before: each invalid-output attempt had its own transient retries, (retries + 1)^2 calls
    model = RemoteLike(_replies(*([_down(), "not json"] * 10)))
    with pytest.raises((BackendError, ModelOutputError)):
        invoke_structured(model, Pick, [("user", "x")], node="n", retries=retries)
    assert len(model.asked) == retries + 1


def test_a_transient_failure_then_a_valid_reply_takes_two_calls():
    model = RemoteLike(_replies(_down(), '{"n": 4}'))
    assert invoke_structured(model, Pick, [("user", "x")], node="n", retries=2) == Pick(n=4)
    assert len(model.asked) == 2


def test_the_last_failure_names_the_error_when_attempts_run_out():
    model = RemoteLike(_replies("not json", _down()))
    with pytest.raises(BackendError, match="cannot reach"):
        invoke_structured(model, Pick, [("user", "x")], node="n", retries=1)
    model = RemoteLike(_replies(_down(), "not json"))
    with pytest.raises(ModelOutputError, match="invalid output 2 time"):
        invoke_structured(model, Pick, [("user", "x")], node="n", retries=1)


def test_failures_are_matched_by_type_not_by_the_words_in_their_names():
    class ConnectionTimeoutInMyCode(Exception):
        """Not a transport failure, whatever its name says."""

    model = RemoteLike(_replies(ConnectionTimeoutInMyCode("boom")))
    with pytest.raises(BackendError, match="ConnectionTimeoutInMyCode: boom"):
        invoke_structured(model, Pick, [("user", "x")], node="n", retries=3)
    assert len(model.asked) == 1  # not retried as if the server were down or slow


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (httpx.ConnectTimeout("connect timed out"), "cannot reach"),
        (httpx.ReadTimeout("read timed out"), "did not finish answering"),
        # a server that connected and then hung up is there: not "cannot reach" (hostile round 4)
        (httpx.RemoteProtocolError("peer closed connection"), "ended it before a whole answer"),
    ],
)
def test_transport_failures_are_retried_and_named(error, message):
    model = RemoteLike(_replies(error))
    with pytest.raises(BackendError, match=message):
        invoke_structured(model, Pick, [("user", "x")], node="n", retries=2)
    assert len(model.asked) == 3


def test_the_policy_is_a_tenacity_policy_with_the_callers_attempts():
    policy = retry_policy(3)
    assert policy.stop.max_attempt_number == 4


def test_seeds_move_on_with_invalid_replies_only():
    model = RemoteLike(_replies(_down(), "not json", '{"n": 1}'))
    invoke_structured(model, Pick, [("user", "x")], node="n", retries=2, seed=10)
    # the failed connection keeps the attempt's seed; the invalid reply moves to the next
    assert model.asked == [10, 10, 11]


def test_each_memory_learns_on_its_own():
    a, b = StructuredMemory(), StructuredMemory()
    model = RemoteLike(_replies('{"n": 1}'))
    assert a.method_for(model, "json_schema") == "json_schema"
    assert a.reject(model, "json_schema", "HTTP 400", "here") == "function_calling"
    assert a.method_for(model, "json_schema") == "function_calling"
    assert b.method_for(model, "json_schema") == "json_schema"  # nothing global learnt it


class _Status(Exception):
    """An HTTP error answer, as the openai client raises one."""

    def __init__(self, status):
        super().__init__(f"HTTP {status}")
        self.status_code = status
        self.message = "server error"


def test_a_single_500_on_the_last_attempt_is_not_remembered_as_a_rejection():
    memory = StructuredMemory()
    model = RemoteLike(_replies("not json", "not json", _Status(500), '{"n": 2}'))
    got = invoke_structured(
        model, Pick, [("user", "x")], node="n", retries=2, method="function_calling", memory=memory
    )
    assert got == Pick(n=2)  # the answer moved on to the next method...
    assert memory.method_for(model, "function_calling") == "function_calling"  # ...nothing learnt


def test_a_4xx_is_remembered_for_the_graph():
    memory = StructuredMemory()
    model = RemoteLike(_replies(_Status(400), '{"n": 3}'))
    got = invoke_structured(
        model, Pick, [("user", "x")], node="n", retries=0, method="json_schema", memory=memory
    )
    assert got == Pick(n=3)
    assert memory.method_for(model, "json_schema") == "function_calling"


@pytest.mark.integration  # a loopback server speaking the OpenAI protocol
def test_an_eval_run_learns_a_rejected_method_once_for_all_its_calls():
    import asyncio

    from emotion_director import Settings
    from emotion_director.agents.backends import make_chat_model
    from emotion_director.evals import load_eval_dataset
    from emotion_director.evals.systems import SingleLLM, SystemContext
    from emotion_director.testing import SimulatedOpenAIServer

    with SimulatedOpenAIServer("rejects_json_schema") as server:
        settings = Settings(
            backend="openai", base_url=server.url, model="m", structured_method="json_schema"
        )
        system = SingleLLM(SystemContext(settings=settings, model=make_chat_model(settings)))

        async def three():
            for case in load_eval_dataset("builtin:neutral")[:3]:
                await system.rewrite(case)

        asyncio.run(three())
        asked = [(b.get("response_format") or {}).get("type") for b in server.bodies]
    # the first case learns it (the same 500 twice); the other two never ask json_schema again
    assert asked.count("json_schema") == 2 and "json_schema" not in asked[2:]
