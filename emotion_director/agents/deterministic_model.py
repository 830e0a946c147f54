"""A deterministic chat model for tests and benchmarks (pydantic-ai's ``TestModel``).

It answers every structured request with an instance of the requested JSON schema built
deterministically (first enum values, minimum counts and bounds): the graph runs end to end with
no model, the same way every time. With tools bound and no answer yet it calls the first tool
once, then answers with the tool's result. For a reply of your choosing use
:class:`~emotion_director.testing.FunctionChatModel`.

Example:
    >>> from pydantic import BaseModel
    >>> from emotion_director.testing import TestChatModel
    >>> class Pick(BaseModel):
    ...     n: int
    >>> TestChatModel().with_structured_output(Pick).invoke("hi")
    Pick(n=0)
"""

from __future__ import annotations

import warnings
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from pydantic import model_validator

from emotion_director.agents.function_model import RecordingChatModel
from emotion_director.agents.models import to_openai_messages


class TestChatModel(RecordingChatModel):
    """Schema-valid output, deterministically.

    Args:
        latency_s (`float`, *optional*, defaults to 0): simulated latency per call; the async path
            sleeps without blocking the event loop.
        responder (*deprecated*): use ``FunctionChatModel(responder)``, which answers the same.
    """

    __test__ = False  # not a pytest class

    responder: Any = None

    @model_validator(mode="before")
    @classmethod
    def _deprecated_responder(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("responder") is not None:
            warnings.warn(
                "TestChatModel(responder=f) is deprecated: use FunctionChatModel(f) "
                "(from emotion_director.testing)",
                DeprecationWarning,
                stacklevel=4,
            )
        return data

    @property
    def _llm_type(self) -> str:
        return "emotion-director-test"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"responder": None if self.responder is None else id(self.responder)}

    def _answer(
        self, messages: list[BaseMessage], schema: dict[str, Any] | None, kwargs: dict[str, Any]
    ) -> Any:
        if self.responder is not None:
            return self.responder(messages, schema)
        if kwargs.get("tools"):
            return self._tool_reply(messages, kwargs["tools"])
        return example_from_schema(schema) if schema is not None else "ok"

    def _tool_reply(self, messages: list[BaseMessage], tools: list[dict[str, Any]]) -> AIMessage:
        self._calls.append(
            {
                "messages": to_openai_messages(messages),
                "schema": None,
                "params": {"tools": [t["function"]["name"] for t in tools]},
            }
        )
        if messages and messages[-1].type == "tool":
            return AIMessage(content=f"tool result: {messages[-1].content}")
        function = tools[0]["function"]
        args = example_from_schema(function.get("parameters", {}))
        return AIMessage(
            content="",
            tool_calls=[{"name": function["name"], "args": args, "id": f"call_{len(self._calls)}"}],
        )


def _nullable(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "null" or any(
        option.get("type") == "null" for option in schema.get("anyOf", [])
    )


def example_from_schema(schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """A deterministic instance of a JSON schema (as produced by pydantic)."""
    root = root or schema
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return example_from_schema(root["$defs"][name], root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example_from_schema(options[0], root)
    kind = schema.get("type", "object")
    if kind == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", props))
        # an optional property that may be null is left out, as a model with no value for it
        # would (a tool's valence next to its emotion could contradict it)
        return {
            name: example_from_schema(sub, root)
            for name, sub in props.items()
            if name in required or not _nullable(sub)
        }
    if kind == "array":
        items = schema.get("items", {})
        count = max(schema.get("minItems", 1), 1)
        if "enum" in items and schema.get("uniqueItems", True):
            return items["enum"][:count]
        if items.get("type") == "integer" and "maximum" in items:
            lo = items.get("minimum", 0)
            return list(range(lo, lo + count))
        return [example_from_schema(items, root) for _ in range(count)]
    if kind == "integer":
        return int(schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1))
    if kind == "number":
        return float(schema.get("minimum", 0.0))
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return "x" * max(schema.get("minLength", 4), 1)
