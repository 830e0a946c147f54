import json

import pytest
from pydantic import BaseModel, Field

from emotion_director.agents.embedded import EmbeddedChatModel
from emotion_director.testing import FunctionChatModel, TestChatModel, example_from_schema
from emotion_director.agents.persona_agent import picks_schema
from emotion_director.agents.structured import ainvoke_structured
from emotion_director.errors import BackendError, ModelOutputError


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


async def test_invalid_json_is_retried_then_succeeds():
    replies = iter(["{not json", '{"cues": ["a"], "intensity": 9}',
                    json.dumps({"cues": ["a", "b", "c"], "intensity": 2})])
    model = FunctionChatModel(lambda messages, schema: next(replies))
    result = await ainvoke_structured(model, Reading, [("user", "x")], node="demo", retries=2)
    assert result.intensity == 2 and len(model.calls) == 3


async def test_retries_are_bounded_and_the_error_names_node_and_backend():
    model = FunctionChatModel(lambda messages, schema: "I refuse to answer in JSON")
    with pytest.raises(ModelOutputError) as info:
        await ainvoke_structured(model, Reading, [("user", "x")], node="consensus", retries=1)
    assert len(model.calls) == 2
    assert "node 'consensus'" in str(info.value) and "test backend" in str(info.value)
    assert info.value.node == "consensus" and info.value.backend == "test"


async def test_seed_changes_per_attempt_so_a_retry_can_differ():
    model = FunctionChatModel(lambda messages, schema: "bad")
    with pytest.raises(ModelOutputError):
        await ainvoke_structured(model, Reading, [("user", "x")], node="n", retries=2, seed=10)
    assert [c["params"]["seed"] for c in model.calls] == [10, 11, 12]


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
    start = time.perf_counter()
    await asyncio.gather(*(model.ainvoke("x") for _ in range(5)))
    assert time.perf_counter() - start < 0.2 * 5
