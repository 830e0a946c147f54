"""A chat model whose replies come from a function of yours (pydantic-ai's ``FunctionModel``).

For unit tests that need a particular answer: invalid JSON to exercise retries, a reply that
depends on the prompt, an outage. It records every call (``calls``) and can simulate latency.

Example:
    >>> from pydantic import BaseModel
    >>> from emotion_director.testing import FunctionChatModel
    >>> class Pick(BaseModel):
    ...     n: int
    >>> model = FunctionChatModel(lambda messages, schema: {"n": len(messages)})
    >>> model.with_structured_output(Pick).invoke("hi")
    Pick(n=1)
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from pydantic import BaseModel, PrivateAttr

from emotion_director.agents.models import SchemaBoundChatModel, to_openai_messages

#: ``function(messages, schema)``: ``schema`` is the requested JSON schema or ``None``; return
#: text (raw, e.g. invalid JSON), a dict / list (sent as JSON) or a pydantic object.
ReplyFunction = Callable[[list[BaseMessage], "dict[str, Any] | None"], Any]


class RecordingChatModel(SchemaBoundChatModel):
    """What the in-library test models share: the call log, simulated latency, tool binding.

    Subclasses say what to answer (:meth:`_answer`).
    """

    backend_label: ClassVar[str] = "test"
    latency_s: float = 0.0

    _calls: list[dict[str, Any]] = PrivateAttr(default_factory=list)

    @property
    def calls(self) -> list[dict[str, Any]]:
        """Every call made so far: messages (as dicts), schema and parameters."""
        return self._calls

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable:
        from langchain_core.utils.function_calling import convert_to_openai_tool

        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _answer(
        self, messages: list[BaseMessage], schema: dict[str, Any] | None, kwargs: dict[str, Any]
    ) -> Any:
        raise NotImplementedError

    def _reply(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> ChatResult:
        schema = (kwargs.get("response_format") or {}).get("schema")
        reply = self._answer(messages, schema, kwargs)
        if isinstance(reply, AIMessage):
            return ChatResult(generations=[ChatGeneration(message=reply)])
        self._calls.append(
            {
                "messages": to_openai_messages(messages),
                "schema": schema,
                "params": {k: v for k, v in kwargs.items() if k != "response_format"},
            }
        )
        if isinstance(reply, BaseModel):
            reply = reply.model_dump_json()
        elif isinstance(reply, dict | list):
            reply = json.dumps(reply)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])

    def _complete(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> ChatResult:
        if self.latency_s:
            time.sleep(self.latency_s)
        return self._reply(messages, kwargs)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        return self._reply(messages, kwargs)


class FunctionChatModel(RecordingChatModel):
    """A chat model that answers with ``function(messages, schema)``.

    Args:
        function (`Callable[[messages, schema], str | dict | BaseModel]`): builds each reply;
            ``schema`` is the requested JSON schema or ``None``.
        latency_s (`float`, *optional*, defaults to 0): simulated latency per call; the async path
            sleeps without blocking the event loop.
    """

    __test__ = False  # not a pytest class

    function: Any

    def __init__(self, function: ReplyFunction | None = None, **data: Any) -> None:
        if function is not None:
            data["function"] = function
        super().__init__(**data)

    @property
    def _llm_type(self) -> str:
        return "emotion-director-function"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        # another function answers differently: never share cache entries with one
        return {"function": id(self.function)}

    def _answer(
        self, messages: list[BaseMessage], schema: dict[str, Any] | None, kwargs: dict[str, Any]
    ) -> Any:
        return self.function(messages, schema)
