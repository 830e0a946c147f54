import asyncio
import json

import pytest
from pydantic import BaseModel, Field

from emotion_director.agents.embedded import EmbeddedChatModel
from emotion_director.agents.persona_agent import picks_schema
from emotion_director.agents.structured import ainvoke_structured, invoke_structured
from emotion_director.errors import BackendError, ModelOutputError
from emotion_director.testing import FunctionChatModel, TestChatModel, example_from_schema


class Reading(BaseModel):
    cues: list[str] = Field(min_length=3, max_length=6)
    intensity: int = Field(ge=1, le=5)


def test_test_model_returns_schema_valid_output_deterministically():
    model = TestChatModel()
    first = model.with_structured_output(Reading).invoke("hi")
    second = model.with_structured_output(Reading).invoke("hi")
    assert first == second and len(first.cues) == 3 and first.intensity == 1
    assert model.calls[0]["schema"]["title"] == "Reading"


def test_example_from_schema_respects_enums_and_bounds():
    example = example_from_schema(picks_schema(8).model_json_schema())
    assert picks_schema(8).model_validate(example).picks == [1, 2, 3]


@pytest.fixture(params=["invoke", "ainvoke"])
def ask(request):
    """The LLM seam, called sync (``invoke_structured``) or async (``ainvoke_structured``)."""
    if request.param == "invoke":
        return invoke_structured
    return lambda *args, **kwargs: asyncio.run(ainvoke_structured(*args, **kwargs))


def test_invalid_json_is_retried_then_succeeds(ask):
    replies = iter(
        [
            "{not json",
            '{"cues": ["a"], "intensity": 9}',
            json.dumps({"cues": ["a", "b", "c"], "intensity": 2}),
        ]
    )
    model = FunctionChatModel(lambda messages, schema: next(replies))
    result = ask(model, Reading, [("user", "x")], node="demo", retries=2)
    assert result.intensity == 2 and len(model.calls) == 3


def test_retries_are_bounded_and_the_error_names_node_and_backend(ask):
    model = FunctionChatModel(lambda messages, schema: "I refuse to answer in JSON")
    with pytest.raises(ModelOutputError) as info:
        ask(model, Reading, [("user", "x")], node="consensus", retries=1)
    assert len(model.calls) == 2
    assert "node 'consensus'" in str(info.value) and "test backend" in str(info.value)
    assert info.value.node == "consensus" and info.value.backend == "test"


def test_seed_changes_per_attempt_so_a_retry_can_differ(ask):
    model = FunctionChatModel(lambda messages, schema: "bad")
    with pytest.raises(ModelOutputError):
        ask(model, Reading, [("user", "x")], node="n", retries=2, seed=10)
    assert [c["params"]["seed"] for c in model.calls] == [10, 11, 12]


def test_function_model_answers_with_the_function_and_sees_the_schema():
    seen = []

    def answer(messages, schema):
        seen.append(schema["title"])
        return {"cues": [m.content for m in messages] * 3, "intensity": 4}

    result = FunctionChatModel(answer).with_structured_output(Reading).invoke("hi")
    assert result == Reading(cues=["hi", "hi", "hi"], intensity=4) and seen == ["Reading"]


def test_every_model_reaches_the_seam_through_its_own_with_structured_output(ask):
    """No special case by model class: a provider model's own structured output is used, and
    the per-call temperature and seed reach its request."""

    class ProviderModel(FunctionChatModel):
        asked: list = []

        def with_structured_output(self, schema, **kwargs):
            self.asked.append((schema.__name__, kwargs.get("method")))
            return super().with_structured_output(schema, **kwargs)

    model = ProviderModel(lambda m, s: {"cues": ["a", "b", "c"], "intensity": 2})
    ask(model, Reading, [("user", "x")], node="n", temperature=0.7, seed=3, method="json_schema")
    assert model.asked == [("Reading", "json_schema")]
    assert model.calls[0]["params"] == {"temperature": 0.7, "seed": 3}


def _step_kinds(model, retries=2):
    from emotion_director.agents.steps import ModelCall
    from emotion_director.agents.structured import structured_steps

    steps = structured_steps(model, Reading, [("user", "x")], node="n", retries=retries)
    kinds, reply, error = [], None, None
    while True:
        try:
            step = steps.send(reply) if error is None else steps.throw(error)
        except (StopIteration, ModelOutputError):
            return kinds
        kinds.append(type(step).__name__)
        reply, error = None, None
        if isinstance(step, ModelCall):
            try:
                reply = step.runnable.invoke(step.input)
            except Exception as exc:
                error = exc


def test_in_process_models_retry_at_once_and_remote_ones_back_off():
    """Backoff is decided by what the model is (``runs_in_process``), not by its name."""

    class RemoteLike(FunctionChatModel):
        runs_in_process = False

    bad = lambda m, s: "bad"  # noqa: E731
    assert "Backoff" not in _step_kinds(FunctionChatModel(bad))
    assert _step_kinds(RemoteLike(bad)).count("Backoff") == 2  # before each of 2 retries


def test_spent_budget_stops_before_the_model_is_asked(ask):
    from emotion_director.agents.steps import CallBudget

    model = TestChatModel()
    with pytest.raises(BackendError, match="call budget is spent"):
        ask(model, Reading, [("user", "x")], node="n", budget=CallBudget(0, "n"))
    assert model.calls == []
    budget = CallBudget(1, "n")
    ask(model, Reading, [("user", "x")], node="n", budget=budget)
    assert budget.used == 1 and len(model.calls) == 1


def test_moved_names_still_import_with_a_deprecation_warning():
    import emotion_director.agents as agents
    import emotion_director.agents.models as models
    import emotion_director.testing as testing

    with pytest.warns(DeprecationWarning, match="emotion_director.testing"):
        assert models.TestChatModel is testing.TestChatModel
    with pytest.warns(DeprecationWarning, match="emotion_director.testing"):
        assert agents.TestChatModel is testing.TestChatModel
    with pytest.warns(DeprecationWarning, match="agents.embedded"):
        assert models.EmbeddedChatModel is EmbeddedChatModel
    with pytest.warns(DeprecationWarning, match="FunctionChatModel"):
        old = TestChatModel(responder=lambda m, s: {"cues": ["a", "b", "c"], "intensity": 5})
    assert old.with_structured_output(Reading).invoke("x").intensity == 5


def test_test_backend_is_deprecated_but_still_builds_the_test_model():
    from emotion_director import Settings
    from emotion_director.agents.backends import make_chat_model

    with pytest.warns(DeprecationWarning, match="chat_model=TestChatModel"):
        model = make_chat_model(Settings(backend="test"))
    assert isinstance(model, TestChatModel)
    assert isinstance(make_chat_model(Settings()), EmbeddedChatModel)


def test_guard_blocks_real_model_calls_in_unit_tests():
    with pytest.raises(RuntimeError, match="ALLOW_MODEL_REQUESTS"):
        EmbeddedChatModel().invoke("hello")


def test_missing_gguf_is_a_backend_error(tmp_path):
    with pytest.raises(BackendError, match="not found"):
        EmbeddedChatModel(model_path=str(tmp_path / "missing.gguf")).resolved_path


async def test_async_latency_does_not_block_the_event_loop():
    import asyncio
    import time

    model = TestChatModel(latency_s=0.2)
    spans = []

    async def call() -> None:
        start = time.perf_counter()
        await model.ainvoke("x")
        spans.append((start, time.perf_counter()))

    await asyncio.gather(*(call() for _ in range(5)))
    # every call started before any had finished: they waited together, not in turn (no
    # wall-clock bound, so a loaded machine cannot fail it)
    assert max(s for s, _ in spans) < min(e for _, e in spans)


def test_the_embedded_model_uses_the_cores_this_process_may_run_on(monkeypatch):
    # a container's cpuset or a pinned test worker: more threads than cores spin against each
    # other (two pytest workers' llama threads on two cores ran the real-model tests 3x slower)
    import os

    from emotion_director.agents import embedded

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert embedded.usable_cores() == 1

    def unsupported(pid):
        raise AttributeError("no affinity here")

    monkeypatch.setattr(os, "sched_getaffinity", unsupported, raising=False)
    assert embedded.usable_cores() == 16


def test_a_schema_s_json_is_built_once_but_each_caller_gets_its_own_copy():
    from pydantic import BaseModel

    from emotion_director.agents.models import _json_schema, _json_schema_text

    class Mood(BaseModel):
        word: str

    first = _json_schema(Mood)
    first["properties"]["word"]["type"] = "integer"  # a test function that edits what it got
    assert _json_schema(Mood) == Mood.model_json_schema()
    assert _json_schema_text.cache_info().currsize >= 1


class _Runs:
    """Records chain and chat-model runs (name, parent) and chain errors."""

    def __init__(self) -> None:
        from langchain_core.callbacks import BaseCallbackHandler

        runs = self

        class Handler(BaseCallbackHandler):
            def on_chain_start(self, serialized, inputs, *, run_id, parent_run_id=None, **kw):
                runs.started.append(("chain", kw.get("name"), run_id, parent_run_id))

            def on_chat_model_start(self, serialized, msgs, *, run_id, parent_run_id=None, **kw):
                runs.started.append(("model", kw.get("name"), run_id, parent_run_id))

            def on_chain_error(self, error, *, run_id, **kw):
                runs.errors.append((run_id, type(error).__name__))

        self.started: list[tuple] = []
        self.errors: list[tuple] = []
        self.handler = Handler()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_in_process_structured_call_is_one_run_around_the_model_s_own(mode):
    from langchain_core.exceptions import OutputParserException

    runs = _Runs()
    model = FunctionChatModel(function=lambda messages, schema: {"cues": ["a", "b", "c"]})
    call = model.with_structured_output(Reading).bind(temperature=0.3, seed=7)
    config = {"callbacks": [runs.handler], "run_name": "persona_reading[Mara]"}
    run = call.invoke if mode == "sync" else lambda *a, **k: asyncio.run(call.ainvoke(*a, **k))
    with pytest.raises(OutputParserException, match="output does not match Reading"):
        run("hi", config)  # the reply has no intensity
    (chain, name, chain_id, _), (kind, _, _, parent) = runs.started
    assert (chain, name, kind, parent) == ("chain", "persona_reading[Mara]", "model", chain_id)
    assert runs.errors == [(chain_id, "OutputParserException")]
    # the bound call parameters and the JSON-schema format reach the model, once
    assert model.calls[0]["params"] == {"temperature": 0.3, "seed": 7}
    assert model.calls[0]["schema"]["title"] == "Reading"


def test_a_structured_call_s_parameters_given_at_call_time_win_and_block_content_parses():
    from langchain_core.messages import AIMessage

    model = FunctionChatModel(
        function=lambda messages, schema: AIMessage(
            content=[{"type": "text", "text": '{"cues": ["a", "b", "c"], "intensity": 2}'}]
        )
    )
    call = model.with_structured_output(Reading).bind(temperature=0.3)
    # LangChain's precedence: a keyword given at call time overrides the bound one
    seen = []
    original = model._reply

    def spy(messages, kwargs):
        seen.append(kwargs.get("temperature"))
        return original(messages, kwargs)

    object.__setattr__(model, "_reply", spy)
    assert call.invoke("hi", temperature=0.9).intensity == 2  # a list of content blocks parses
    assert asyncio.run(call.ainvoke("hi")).intensity == 2
    assert seen == [0.9, 0.3]


def test_per_call_parameters_reach_a_structured_call_wrapped_with_config():
    from emotion_director.agents.structured import structured_runnable

    class Wrapped(FunctionChatModel):
        def with_structured_output(self, schema, **kwargs):
            return super().with_structured_output(schema, **kwargs).with_config(tags=["mine"])

    model = Wrapped(function=lambda messages, schema: {"cues": ["a", "b", "c"], "intensity": 1})
    structured_runnable(model, Reading, temperature=0.4, seed=9).invoke("hi")
    assert model.calls[0]["params"] == {"temperature": 0.4, "seed": 9}


@pytest.mark.parametrize("amx", [True, False])
def test_an_amx_cpu_loads_the_gguf_without_llama_cpp_s_amx_repacking(monkeypatch, amx):
    # llama.cpp's AMX matrix product segfaults on the first decode (llama.cpp#20824): on a CPU
    # with AMX tiles the weights stay in plain CPU buffers; elsewhere nothing changes
    llama_cpp = pytest.importorskip("llama_cpp")
    from emotion_director.agents import embedded

    monkeypatch.setattr(embedded, "cpu_has_amx", lambda: amx)
    default = llama_cpp.llama_cpp.llama_model_default_params
    llm = embedded.load_gguf(
        str(embedded.default_gguf_path()), n_ctx=64, vocab_only=True, verbose=False
    )
    assert llm.model_params.use_extra_bufts is (not amx)
    assert llama_cpp.llama_cpp.llama_model_default_params is default  # put back after the load
    assert default().use_extra_bufts
