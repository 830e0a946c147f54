"""The eval LLM cache is a langchain-core BaseCache whose key keeps seed and temperature."""

from __future__ import annotations

import asyncio

from langchain_core.caches import BaseCache
from pydantic import BaseModel

from emotion_director.agents.embedded import EmbeddedChatModel
from emotion_director.agents.structured import ainvoke_structured
from emotion_director.evals.cache import SQLiteLLMCache, with_cache
from emotion_director.testing import TestChatModel


class Pick(BaseModel):
    n: int


def _ask(model, **kw):
    return asyncio.run(ainvoke_structured(model, Pick, [("user", "pick")], node="t", **kw))


def test_cache_serves_any_chat_model_without_wrapping_it(tmp_path):
    cache = SQLiteLLMCache(tmp_path / "c.sqlite")
    assert isinstance(cache, BaseCache)
    inner = TestChatModel()
    model = with_cache(inner, cache)
    assert type(model) is TestChatModel  # the same model class, not a wrapper
    _ask(model, seed=1, temperature=0.5)
    _ask(model, seed=1, temperature=0.5)
    assert (cache.misses, cache.hits) == (1, 1) and len(inner.calls) == 1


def test_seed_and_temperature_are_part_of_the_key(tmp_path):
    cache = SQLiteLLMCache(tmp_path / "c.sqlite")
    model = with_cache(TestChatModel(), cache)
    _ask(model, seed=1, temperature=0.5)
    _ask(model, seed=2, temperature=0.5)
    _ask(model, seed=1, temperature=0.9)
    assert (cache.misses, cache.hits) == (3, 0)


def test_differently_configured_models_do_not_share_entries():
    a = EmbeddedChatModel(model_path="/m/a.gguf", temperature=0.0)._get_llm_string()
    b = EmbeddedChatModel(model_path="/m/b.gguf", temperature=0.0)._get_llm_string()
    c = EmbeddedChatModel(model_path="/m/a.gguf", temperature=0.7)._get_llm_string()
    assert len({a, b, c}) == 3


def test_the_cache_survives_a_new_process_worth_of_objects(tmp_path):
    path = tmp_path / "c.sqlite"
    _ask(with_cache(TestChatModel(), SQLiteLLMCache(path)), seed=3)
    fresh, cold = SQLiteLLMCache(path), TestChatModel()
    _ask(with_cache(cold, fresh), seed=3)
    assert fresh.hits == 1 and cold.calls == []
