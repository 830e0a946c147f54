"""What every in-library chat model shares: the unit-test guard and structured output.

The models themselves live one per module, by job:

* :class:`~emotion_director.agents.embedded.EmbeddedChatModel` (production): a GGUF file run
  in-process by llama-cpp-python, output constrained to a JSON schema.
* :class:`~emotion_director.testing.TestChatModel` (tests): schema-valid output built
  deterministically from the request, like pydantic-ai's ``TestModel``.
* :class:`~emotion_director.testing.FunctionChatModel` (tests): a function of yours answers, like
  pydantic-ai's ``FunctionModel``.

All of them reach the LLM seam (:mod:`emotion_director.agents.structured`) the way any
langchain-core model does, through ``with_structured_output``; :class:`SchemaBoundChatModel`
gives them that.

Unit tests set :data:`ALLOW_MODEL_REQUESTS` to ``False``; any real model call then fails loudly.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, ClassVar

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.output_parsers import BaseOutputParser
from langchain_core.outputs import ChatGeneration, ChatResult, Generation
from langchain_core.runnables import (
    Runnable,
    RunnableConfig,
    RunnableLambda,
    RunnableSerializable,
    ensure_config,
    patch_config,
)
from langchain_core.runnables.config import (
    get_async_callback_manager_for_config,
    get_callback_manager_for_config,
    set_config_context,
)
from langchain_core.runnables.utils import coro_with_context
from pydantic import BaseModel, Field, ValidationError

#: Set to ``False`` (the unit-test conftest does) to make any real model request raise.
ALLOW_MODEL_REQUESTS = True


def check_allow_model_requests() -> None:
    if not ALLOW_MODEL_REQUESTS:
        raise RuntimeError(
            "a real model request was made while emotion_director.agents.models."
            "ALLOW_MODEL_REQUESTS is False: use TestChatModel in unit tests, or mark the test "
            "'integration'."
        )


def _role(message: BaseMessage) -> str:
    return {"human": "user", "ai": "assistant", "system": "system"}.get(message.type, "user")


def to_openai_messages(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    return [{"role": _role(m), "content": str(m.content)} for m in messages]


def check_not_cut_off(message: BaseMessage) -> BaseMessage:
    """Name the real cause when a reply stopped at the token cap: its JSON is incomplete."""
    if (getattr(message, "response_metadata", None) or {}).get("finish_reason") == "length":
        raise OutputParserException(
            "the reply hit the max_tokens limit before its JSON was complete: raise "
            "EMOTION_DIRECTOR_MAX_TOKENS",
            llm_output=str(message.content)[:500],
        )
    return message


class JsonSchemaParser(BaseOutputParser[BaseModel]):
    """Parses an AIMessage's JSON content into ``pydantic_object``; a reply cut off at the
    token cap says so (:func:`check_not_cut_off`) instead of reporting broken JSON.

    An output parser (one traced run of type "parser", like langchain-core's own) rather than a
    ``RunnableLambda``, which inspects its function's signature on every call: 0.30 -> 0.20 ms a
    structured call."""

    pydantic_object: type[BaseModel]

    def parse_result(self, result: list[Generation], *, partial: bool = False) -> BaseModel:
        generation = result[0]
        if isinstance(generation, ChatGeneration):
            check_not_cut_off(generation.message)
        return self.parse(generation.text)

    async def aparse_result(self, result: list[Generation], *, partial: bool = False) -> BaseModel:
        """As :meth:`parse_result`, on the event loop: the base class sends every parse to a
        thread (a pool hop per model call for microseconds of JSON parsing)."""
        return self.parse_result(result, partial=partial)

    def parse(self, text: str) -> BaseModel:
        name = self.pydantic_object.__name__
        try:
            return self.pydantic_object.model_validate(json.loads(text))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise OutputParserException(
                f"output does not match {name}: {str(exc).splitlines()[0]}",
                llm_output=text[:500],
            ) from exc

    @property
    def _type(self) -> str:
        return "json_schema_parser"


def parse_json_into(schema: type[BaseModel]) -> Runnable:
    """A runnable that parses an AIMessage's JSON content into ``schema``."""
    return JsonSchemaParser(pydantic_object=schema, name=f"parse_{schema.__name__}")


class StructuredCall(RunnableSerializable[Any, BaseModel]):
    """``model`` called with ``kwargs`` (its JSON-schema ``response_format`` among them), its
    reply parsed into ``target``: what an in-library model's ``with_structured_output`` gives.

    One traced run wraps the chat model's own (named by the caller's ``run_name``, holding a
    parse error when the reply does not fit), as LangChain's ``_call_with_config`` does: the
    model runs in that run's config and tracing context. ``model.bind(...) | parser`` traced
    three runs, a sequence, the model and the parser, ~0.1 ms more a call. :meth:`bind` adds
    call parameters (a temperature, a seed) to ``kwargs``; parameters given at call time win.
    """

    model: BaseChatModel
    target: type[BaseModel]
    kwargs: dict[str, Any] = Field(default_factory=dict)

    @property
    def InputType(self) -> Any:  # noqa: N802 (LangChain's name)
        return self.model.InputType

    @property
    def OutputType(self) -> type[BaseModel]:  # noqa: N802
        return self.target

    def get_input_schema(self, config: RunnableConfig | None = None) -> Any:
        return self.model.get_input_schema(config)

    def bind(self, **kwargs: Any) -> StructuredCall:
        return self.model_copy(update={"kwargs": {**self.kwargs, **kwargs}})

    def _parse(self, message: BaseMessage) -> BaseModel:
        return _parser_for(self.target).parse_result([ChatGeneration(message=message)])

    def _start(self, config: RunnableConfig | None, kwargs: dict[str, Any]) -> _CallStart:
        """The call's config, what its run starts with, and the model's keywords (bound ones,
        then the call's own, which win)."""
        config = ensure_config(config)
        start = {
            "name": config.get("run_name") or self.get_name(),
            "run_id": config.pop("run_id", None),
        }
        return config, start, {**self.kwargs, **kwargs}

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> BaseModel:
        config, start, model_kwargs = self._start(config, kwargs)
        run = get_callback_manager_for_config(config).on_chain_start(None, input, **start)
        try:
            child = patch_config(config, callbacks=run.get_child())
            with set_config_context(child) as context:
                message = context.run(self.model.invoke, input, child, **model_kwargs)
            result = self._parse(message)
        except BaseException as exc:
            run.on_chain_error(exc)
            raise
        run.on_chain_end(result)
        return result

    async def ainvoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> BaseModel:
        config, start, model_kwargs = self._start(config, kwargs)
        run = await get_async_callback_manager_for_config(config).on_chain_start(
            None, input, **start
        )
        try:
            child = patch_config(config, callbacks=run.get_child())
            with set_config_context(child) as context:
                call = self.model.ainvoke(input, child, **model_kwargs)
                message = await coro_with_context(call, context)
            result = self._parse(message)
        except BaseException as exc:
            await run.on_chain_error(exc)
            raise
        await run.on_chain_end(result)
        return result


#: What :meth:`StructuredCall._start` gives: the config, the run's start keywords, the model's.
_CallStart = tuple[RunnableConfig, dict[str, Any], dict[str, Any]]


@lru_cache(maxsize=256)
def _parser_for(target: type[BaseModel]) -> JsonSchemaParser:
    """One parser per schema (it holds nothing but the schema)."""
    return JsonSchemaParser(pydantic_object=target)


def tool_call_parts(model: BaseChatModel, schema: type[BaseModel]) -> tuple[Runnable, Runnable]:
    """``model`` forced to call one tool shaped like ``schema``, and the parser of that call."""
    from langchain_core.output_parsers.openai_tools import PydanticToolsParser

    return (
        model.bind_tools([schema], tool_choice=schema.__name__, parallel_tool_calls=False),
        RunnableLambda(check_not_cut_off, name="check_not_cut_off")
        | PydanticToolsParser(tools=[schema], first_tool_only=True),
    )


def _json_schema(schema: type[BaseModel]) -> dict[str, Any]:
    """``schema.model_json_schema()``, built once per class (~0.5 ms each time otherwise); a
    fresh dict each call, so a model or a test function that changes it changes no other."""
    return json.loads(_json_schema_text(schema))


@lru_cache(maxsize=256)
def _json_schema_text(schema: type[BaseModel]) -> str:
    return json.dumps(schema.model_json_schema())


class SchemaBoundChatModel(BaseChatModel):
    """Base of the in-library models: structured output by a JSON-schema response format.

    ``runs_in_process`` tells the LLM seam there is no server to back off from or to probe for
    another structured-output method; ``backend_label`` is the backend named in messages.
    """

    runs_in_process: ClassVar[bool] = True
    backend_label: ClassVar[str] = "local"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._complete(messages, stop, kwargs)

    def _complete(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> ChatResult:
        """One reply to ``messages`` (``kwargs``: the bound call parameters, the JSON-schema
        ``response_format`` among them, a dict of the caller's own): what each in-library model
        implements. LangChain runs it in a thread under ``ainvoke`` unless the model overrides
        ``_agenerate`` too (the recording test models do, to sleep their latency on the event
        loop: a subclass of theirs that changes this changes ``_agenerate`` as well)."""
        raise NotImplementedError

    def with_structured_output(  # type: ignore[override]
        self, schema: type[BaseModel], *, include_raw: bool = False, **kwargs: Any
    ) -> Runnable:
        """``self`` bound to a JSON-schema response format, its reply parsed into ``schema``
        (:class:`StructuredCall`; ``method`` is accepted and ignored: the schema always
        constrains the output)."""
        if include_raw:
            raise NotImplementedError("include_raw is not supported by this model")
        kwargs.pop("method", None)
        fmt = {"type": "json_object", "schema": _json_schema(schema)}
        return StructuredCall(model=self, target=schema, kwargs={"response_format": fmt, **kwargs})


#: Names that moved to their own module; importing them from here still works, with a warning.
_MOVED = {
    "EmbeddedChatModel": "emotion_director.agents.embedded",
    "default_gguf_path": "emotion_director.agents.embedded",
    "TestChatModel": "emotion_director.testing",
    "FunctionChatModel": "emotion_director.testing",
    "example_from_schema": "emotion_director.testing",
    "_SchemaBoundModel": "emotion_director.agents.models (as SchemaBoundChatModel)",
}


def __getattr__(name: str) -> Any:
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name == "_SchemaBoundModel":
        value: Any = SchemaBoundChatModel
    else:
        import importlib

        value = getattr(importlib.import_module(_MOVED[name]), name)
    warnings.warn(
        f"emotion_director.agents.models.{name} moved: import it from {_MOVED[name]}",
        DeprecationWarning,
        stacklevel=2,
    )
    return value
