"""Build the chat model a :class:`~emotion_director.settings.Settings` asks for."""

from __future__ import annotations

import warnings

from langchain_core.language_models import BaseChatModel

from emotion_director.errors import SettingsError
from emotion_director.settings import Settings


def make_chat_model(settings: Settings) -> BaseChatModel:
    """The chat model for ``settings.backend``.

    Raises:
        SettingsError: the openai backend was chosen without a ``base_url``.
    """
    if settings.backend == "openai":
        if not settings.base_url:
            raise SettingsError(
                "the openai backend needs a server URL: pass --base-url "
                "http://HOST:PORT/v1 or set EMOTION_DIRECTOR_BASE_URL."
            )
        from emotion_director.agents.openai_chat import environment_proxies, guarded_chat_openai

        environment_proxies()  # a proxy variable no request could go through is named here

        return guarded_chat_openai()(
            base_url=settings.base_url,
            api_key=settings.api_key.get_secret_value() if settings.api_key else "not-needed",
            model=settings.model,
            timeout=settings.timeout_s,
            max_tokens=settings.max_tokens,
            # retries live in the LLM seam, which tells a repeated rejection from a blip
            max_retries=0,
            max_concurrent_requests=settings.max_concurrent_requests,
            max_response_bytes=settings.max_response_bytes,
        )
    if settings.backend == "test":
        from emotion_director.agents.deterministic_model import TestChatModel

        warnings.warn(DEPRECATED_TEST_BACKEND, DeprecationWarning, stacklevel=2)
        return TestChatModel()
    from emotion_director.agents.embedded import EmbeddedChatModel

    return EmbeddedChatModel(
        model_path=str(settings.model_path) if settings.model_path else None,
        n_threads=settings.n_threads,
    )


#: ``backend="test"`` is not a production backend; tests pass the model itself.
DEPRECATED_TEST_BACKEND = (
    "backend='test' is deprecated: pass the model itself, e.g. "
    "build_graph(settings, chat_model=TestChatModel()) with TestChatModel from "
    "emotion_director.testing"
)


def backend_name(model: BaseChatModel) -> str:
    """The backend a model belongs to, as messages and eval records name it."""
    label = getattr(model, "backend_label", None)
    if isinstance(label, str):
        return label
    llm_type = getattr(model, "_llm_type", type(model).__name__)
    return "openai" if llm_type.startswith("openai") else llm_type
