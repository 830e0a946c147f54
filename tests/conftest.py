"""Shared fixtures. Unit tests may never reach a real model: the guard makes such a call fail."""

from __future__ import annotations

import pytest

import emotion_director.agents.models as chat_models
from emotion_director import Settings, build_graph
from emotion_director.agents.models import TestChatModel


@pytest.fixture(autouse=True)
def _forbid_real_models(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    allowed = request.node.get_closest_marker("integration") is not None
    monkeypatch.setattr(chat_models, "ALLOW_MODEL_REQUESTS", allowed)
    for key in ("BACKEND", "BASE_URL", "API_KEY", "MODEL", "MODEL_PATH", "SEED"):
        monkeypatch.delenv(f"EMOTION_DIRECTOR_{key}", raising=False)
    yield


@pytest.fixture
def test_model() -> TestChatModel:
    return TestChatModel()


@pytest.fixture
def test_settings() -> Settings:
    return Settings(backend="test")


@pytest.fixture
def graph(test_settings: Settings, test_model: TestChatModel):
    return build_graph(test_settings, chat_model=test_model)
