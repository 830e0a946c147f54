"""``ChatOpenAI`` hardened for real OpenAI-compatible servers (vLLM, llama.cpp's server, OpenAI).

What the stock client leaves to the caller, and why it matters for a graph that fans out many
calls at once:

* **A total deadline per request.** httpx's ``timeout`` is a *read* timeout: a server that drips
  one byte every half second never trips it. Every socket read and write here gets the time left
  until the request's deadline, so a request ends after ``timeout_s`` whatever the server does.
* **A cap on the response body** (``max_response_bytes``): a runaway server cannot fill memory.
* **Replies checked for shape**: an answer without ``choices`` (a proxy's HTML page, another API)
  is named as such instead of surfacing as a ``KeyError`` deep in langchain-openai.
* **Streaming that works**: structured calls (tools or a response format) are never streamed,
  because servers stream tool calls differently (llama.cpp repeats the tool name in every chunk,
  which merges into ``'ReadingReadingReading...'``) and a structured answer is only useful
  whole. LangGraph's ``stream_mode="messages"`` still receives the finished message. Plain chat
  streams chunk by chunk through the same guarded sync client.
* **Async on the sync client**: langchain-openai caches one async HTTP client per base URL for
  the whole process, bound to the first event loop that used it; mixing ``invoke`` and
  ``ainvoke`` (or two ``asyncio.run`` calls) then fails with "bound to a different event loop".
  Async calls run the sync client on a thread pool sized by ``max_concurrent_requests``.

Retries of failed requests are done by :mod:`emotion_director.agents.structured`, which knows
a deterministic rejection (same HTTP error twice, a 4xx) from a transient one, so the openai
client's own retries are off.
"""

from __future__ import annotations

import asyncio
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from emotion_director.agents.models import check_allow_model_requests, tool_call_parts
from emotion_director.errors import BackendError, ResponseTooLargeError, ServerReplyShapeError

#: Default cap on one response body; a structured reply is a few KiB.
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024


class DeadlineExceeded(Exception):
    """Raised inside the transport when a request's total deadline has passed."""


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOL_LOCK = threading.Lock()
_DEADLINE = threading.local()  # the running request's deadline (sync httpx: one thread each)


def _openai_pool(size: int) -> ThreadPoolExecutor:
    """Threads for in-flight server requests: the cap on concurrent requests to the server."""
    with _POOL_LOCK:
        if size not in _POOLS:
            _POOLS[size] = ThreadPoolExecutor(size, thread_name_prefix="emotion-director-openai")
        return _POOLS[size]


def _time_left(timeout: float | None) -> float | None:
    deadline = getattr(_DEADLINE, "at", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        import httpcore

        raise httpcore.ReadTimeout("total deadline of the request exceeded")
    return left if timeout is None else min(timeout, left)


def _http_client(total_s: float, max_bytes: int) -> Any:
    """An ``httpx.Client`` whose requests each end within ``total_s`` and read <= ``max_bytes``."""
    import httpcore
    import httpx

    class DeadlineStream(httpcore.NetworkStream):
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return self._inner.read(max_bytes, _time_left(timeout))

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self._inner.write(buffer, _time_left(timeout))

        def close(self) -> None:
            self._inner.close()

        def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                      timeout: float | None = None) -> Any:
            return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname,
                                                        _time_left(timeout)))

        def get_extra_info(self, info: str) -> Any:
            return self._inner.get_extra_info(info)

    class DeadlineBackend(httpcore.NetworkBackend):
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                        local_address: str | None = None, socket_options: Any = None) -> Any:
            return DeadlineStream(self._inner.connect_tcp(
                host, port, _time_left(timeout), local_address, socket_options))

        def connect_unix_socket(self, path: str, timeout: float | None = None,
                                socket_options: Any = None) -> Any:
            return DeadlineStream(self._inner.connect_unix_socket(
                path, _time_left(timeout), socket_options))

        def sleep(self, seconds: float) -> None:
            self._inner.sleep(seconds)

    def too_large() -> ResponseTooLargeError:
        return ResponseTooLargeError(
            f"the server's response exceeded {max_bytes:,} bytes and was cut off "
            "(a runaway generation, a compressed bomb or the wrong endpoint): lower max_tokens "
            "(EMOTION_DIRECTOR_MAX_TOKENS) or raise EMOTION_DIRECTOR_MAX_RESPONSE_BYTES.")

    class CappedBody(httpx.SyncByteStream):
        """The body, decompressed here (gzip, deflate) so the cap counts the bytes the
        program will hold, not the bytes on the wire: 64 KiB of gzip can inflate to 256 MiB."""

        def __init__(self, inner: Any, deadline: float, encoding: str) -> None:
            self._inner, self._deadline = inner, deadline
            self._zlib = None
            if encoding in {"gzip", "x-gzip"}:
                self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
            elif encoding == "deflate":
                self._zlib = zlib.decompressobj(zlib.MAX_WBITS)

        def _inflate(self, chunk: bytes, room: int) -> Iterator[bytes]:
            # max_length: never more than the cap leaves, whatever the ratio
            while chunk:
                out = self._zlib.decompress(chunk, room + 1)
                room -= len(out)
                if room < 0:
                    raise too_large()
                if out:
                    yield out
                chunk = self._zlib.unconsumed_tail
                if not out and not chunk:
                    break

        def __iter__(self) -> Iterator[bytes]:
            seen = 0
            iterator = iter(self._inner)
            while True:
                _DEADLINE.at = self._deadline  # the body may be read after handle_request
                try:
                    chunk = next(iterator)
                except StopIteration:
                    return
                finally:
                    _DEADLINE.at = None
                if self._zlib is None:
                    seen += len(chunk)
                    if seen > max_bytes:
                        raise too_large()
                    yield chunk
                    continue
                try:
                    for out in self._inflate(chunk, max_bytes - seen):
                        seen += len(out)
                        yield out
                except zlib.error as exc:
                    raise BackendError(
                        f"the server's compressed response is corrupt ({exc}): check the server "
                        "or a proxy in front of it.") from None

        def close(self) -> None:
            self._inner.close()

    class DeadlineTransport(httpx.HTTPTransport):
        def __init__(self) -> None:
            super().__init__()
            # httpx exposes no network-backend option; the pool it built takes one.
            self._pool._network_backend = DeadlineBackend(self._pool._network_backend)

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            deadline = time.monotonic() + total_s
            _DEADLINE.at = deadline
            try:
                response = super().handle_request(request)
            finally:
                _DEADLINE.at = None
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                response.close()
                raise ResponseTooLargeError(
                    f"the server announced a {int(declared):,}-byte response, over the "
                    f"{max_bytes:,}-byte cap: lower max_tokens (EMOTION_DIRECTOR_MAX_TOKENS) or "
                    "raise EMOTION_DIRECTOR_MAX_RESPONSE_BYTES.")
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            if encoding not in {"identity", "", "gzip", "x-gzip", "deflate"}:
                response.close()
                raise BackendError(
                    f"the server answered with Content-Encoding {encoding!r}, which this client "
                    "did not ask for (it accepts gzip and deflate): check the server or a proxy "
                    "in front of it.")
            # decoded here, capped; httpx must not decode it again
            response.headers.pop("content-encoding", None)
            response.stream = CappedBody(response.stream, deadline, encoding)
            return response

    # the per-phase timeout stays as a floor for each read; the transport enforces the total
    return httpx.Client(transport=DeadlineTransport(), timeout=httpx.Timeout(total_s),
                        headers={"accept-encoding": "gzip, deflate"})


def _check_shape(response: Any, where: str) -> dict[str, Any]:
    data = response if isinstance(response, dict) else (
        # the client fills absent fields with None: keep only what the server sent
        {k: v for k, v in response.model_dump().items() if v is not None}
        if hasattr(response, "model_dump") else None)
    if not isinstance(data, dict):
        raise ServerReplyShapeError(
            f"the openai server at {where} answered with {type(response).__name__} text, not a "
            "chat completion: point --base-url at an OpenAI-compatible /v1 endpoint.")
    if data.get("error"):
        raise ServerReplyShapeError(
            f"the openai server at {where} answered HTTP 200 with an error: "
            f"{str(data['error'])[:200]}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise ServerReplyShapeError(
            f"the openai server at {where} answered without choices "
            f"({'an empty list' if choices == [] else 'keys: ' + ', '.join(sorted(data)[:8])}): "
            "point --base-url at an OpenAI-compatible /v1 endpoint serving chat completions.")
    first = choices[0]
    if not isinstance(first, dict) or not isinstance(first.get("message"), dict):
        raise ServerReplyShapeError(
            f"the openai server at {where} answered a choice without a message: it does not "
            "speak the chat-completions protocol; check --base-url.")
    return data


_GUARDED: Any = None


def guarded_chat_openai() -> Any:
    """The :class:`ChatOpenAI` subclass used by the openai backend (built on first use, so that
    importing the project does not import the openai client)."""
    global _GUARDED
    if _GUARDED is not None:
        return _GUARDED
    from langchain_core.outputs import ChatGenerationChunk
    from langchain_openai import ChatOpenAI
    from pydantic import model_validator

    class GuardedChatOpenAI(ChatOpenAI):
        """``ChatOpenAI`` with a total deadline, a response cap, shape checks and safe
        streaming (see the module docstring).

        Args:
            max_concurrent_requests (`int`, *optional*, defaults to 128): async requests in
                flight (all instances with the same value share one pool).
            max_response_bytes (`int`, *optional*, defaults to 8 MiB): cap on a response body.
        """

        max_concurrent_requests: int = 128
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
        # structured calls need the whole object; see the module docstring
        disable_streaming: bool | str = "tool_calling"

        @model_validator(mode="before")
        @classmethod
        def _deadline_client(cls, values: Any) -> Any:
            if isinstance(values, dict) and values.get("http_client") is None:
                total = values.get("timeout") or values.get("request_timeout") or 60.0
                values = {**values, "http_client": _http_client(
                    float(total), int(values.get("max_response_bytes")
                                      or DEFAULT_MAX_RESPONSE_BYTES))}
            return values

        def _should_stream(self, *, async_api: bool, **kwargs: Any) -> bool:
            if kwargs.get("stream") is True:  # asked for explicitly: the caller merges chunks
                return True
            if kwargs.get("response_format") or kwargs.get("tools"):
                return False
            return super()._should_stream(async_api=async_api, **kwargs)

        def _get_request_payload(self, input_: Any, *, stop: Any = None, **kwargs: Any) -> dict:
            payload = super()._get_request_payload(input_, stop=stop, **kwargs)
            # ChatOpenAI renames max_tokens to OpenAI's newer max_completion_tokens, which
            # llama.cpp's server ignores (a reply then ran 1,686 tokens); every
            # OpenAI-compatible server reads max_tokens.
            if "max_completion_tokens" in payload:
                payload["max_tokens"] = payload.pop("max_completion_tokens")
            return payload

        def with_structured_output(self, schema: Any, *, method: str = "function_calling",
                                   **kwargs: Any) -> Any:
            if method == "function_calling" and isinstance(schema, type) and not kwargs:
                # one forced tool call, and a reply cut at max_tokens named as such
                bound, parser = tool_call_parts(self, schema)
                return bound | parser
            return super().with_structured_output(schema, method=method, **kwargs)

        def _create_chat_result(self, response: Any, generation_info: Any = None) -> Any:
            _check_shape(response, self.openai_api_base or "the configured URL")
            return super()._create_chat_result(response, generation_info)

        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            check_allow_model_requests()
            return super()._generate(*args, **kwargs)

        def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
            check_allow_model_requests()
            yield from super()._stream(*args, **kwargs)

        async def _agenerate(self, messages: Any, stop: Any = None, run_manager: Any = None,
                             **kwargs: Any) -> Any:
            check_allow_model_requests()
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                _openai_pool(self.max_concurrent_requests),
                lambda: super(GuardedChatOpenAI, self)._generate(messages, stop, None, **kwargs))

        async def _astream(self, messages: Any, stop: Any = None, run_manager: Any = None,
                           **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
            check_allow_model_requests()
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue[Any] = asyncio.Queue()
            done = object()

            def pump() -> None:
                try:
                    for chunk in super(GuardedChatOpenAI, self)._stream(messages, stop, None,
                                                                        **kwargs):
                        loop.call_soon_threadsafe(queue.put_nowait, chunk)
                except BaseException as exc:  # handed to the consumer, re-raised there
                    loop.call_soon_threadsafe(queue.put_nowait, exc)
                loop.call_soon_threadsafe(queue.put_nowait, done)

            loop.run_in_executor(_openai_pool(self.max_concurrent_requests), pump)
            while (item := await queue.get()) is not done:
                if isinstance(item, BaseException):
                    raise item
                yield item  # langchain-core reports each chunk to the callbacks

    _GUARDED = GuardedChatOpenAI
    return _GUARDED
