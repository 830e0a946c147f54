"""Build the chat model a :class:`~emotion_director.settings.Settings` asks for."""

from __future__ import annotations

import asyncio
import functools
import threading
from concurrent.futures import ThreadPoolExecutor
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
            max_concurrent_requests=settings.max_concurrent_requests,
        )
    return TestChatModel()


_GUARDED: Any = None
_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOL_LOCK = threading.Lock()


def _openai_pool(size: int) -> ThreadPoolExecutor:
    """Threads for in-flight server requests: the cap on concurrent requests to the server."""
    with _POOL_LOCK:
        if size not in _POOLS:
            _POOLS[size] = ThreadPoolExecutor(size, thread_name_prefix="emotion-director-openai")
        return _POOLS[size]


def _guarded_chat_openai() -> Any:
    """``ChatOpenAI`` that refuses to run while unit tests forbid real model requests."""
    global _GUARDED
    if _GUARDED is None:
        from langchain_openai import ChatOpenAI

        class GuardedChatOpenAI(ChatOpenAI):
            """ChatOpenAI whose async calls run the sync client on a thread pool.

            langchain-openai caches one async HTTP client per base URL for the whole process;
            that client belongs to the event loop that first used it, so mixing ``invoke`` and
            ``ainvoke`` (or two ``asyncio.run`` calls) fails with "bound to a different event
            loop". The sync client has no loop, and a thread per request in flight is cheap next
            to a model call.
            """

            max_concurrent_requests: int = 128

            def _generate(self, *args: Any, **kwargs: Any) -> Any:
                check_allow_model_requests()
                return super()._generate(*args, **kwargs)

            async def _agenerate(self, messages: Any, stop: Any = None, run_manager: Any = None,
                                 **kwargs: Any) -> Any:
                check_allow_model_requests()
                loop = asyncio.get_running_loop()
                call = functools.partial(super()._generate, messages, stop, None, **kwargs)
                return await loop.run_in_executor(_openai_pool(self.max_concurrent_requests), call)

        _GUARDED = GuardedChatOpenAI
    return _GUARDED


def backend_name(model: BaseChatModel) -> str:
    if isinstance(model, EmbeddedChatModel):
        return "embedded"
    if isinstance(model, TestChatModel):
        return "test"
    llm_type = getattr(model, "_llm_type", type(model).__name__)
    return "openai" if llm_type.startswith("openai") else llm_type
