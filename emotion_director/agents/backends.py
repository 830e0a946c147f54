"""Build the chat model a :class:`~emotion_director.settings.Settings` asks for."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel

from emotion_director.agents.models import (
    EmbeddedChatModel,
    TestChatModel,
    check_allow_model_requests,
)
from emotion_director.errors import SettingsError
from emotion_director.settings import Settings


def make_chat_model(settings: Settings) -> BaseChatModel:
    """The chat model for ``settings.backend``.

    Raises:
        SettingsError: the openai backend was chosen without a ``base_url``.
    """
    if settings.backend == "embedded":
        return EmbeddedChatModel(
            model_path=str(settings.model_path) if settings.model_path else None,
            n_threads=settings.n_threads,
        )
    if settings.backend == "openai":
        if not settings.base_url:
            raise SettingsError(
                "the openai backend needs a server URL: pass --base-url "
                "http://HOST:PORT/v1 or set EMOTION_DIRECTOR_BASE_URL."
            )
        return _guarded_chat_openai()(
            base_url=settings.base_url,
            api_key=settings.api_key.get_secret_value() if settings.api_key else "not-needed",
            model=settings.model,
            timeout=settings.timeout_s,
            max_retries=settings.max_retries,
        )
    return TestChatModel()


_GUARDED: Any = None


def _guarded_chat_openai() -> Any:
    """``ChatOpenAI`` that refuses to run while unit tests forbid real model requests."""
    global _GUARDED
    if _GUARDED is None:
        from langchain_openai import ChatOpenAI

        class GuardedChatOpenAI(ChatOpenAI):
            def _generate(self, *args: Any, **kwargs: Any) -> Any:
                check_allow_model_requests()
                return super()._generate(*args, **kwargs)

            async def _agenerate(self, *args: Any, **kwargs: Any) -> Any:
                check_allow_model_requests()
                return await super()._agenerate(*args, **kwargs)

        _GUARDED = GuardedChatOpenAI
    return _GUARDED


def backend_name(model: BaseChatModel) -> str:
    if isinstance(model, EmbeddedChatModel):
        return "embedded"
    if isinstance(model, TestChatModel):
        return "test"
    llm_type = getattr(model, "_llm_type", type(model).__name__)
    return "openai" if llm_type.startswith("openai") else llm_type
