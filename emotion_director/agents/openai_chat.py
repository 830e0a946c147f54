"""``ChatOpenAI`` hardened for real OpenAI-compatible servers (vLLM, llama.cpp's server, OpenAI).

What the stock client leaves to the caller, and why it matters for a graph that fans out many
calls at once:

* **A total deadline per request.** httpx's ``timeout`` is a *read* timeout: a server that drips
  one byte every half second never trips it. Every socket read and write here gets the time left
  until the request's deadline, so a request ends after ``timeout_s`` whatever the server does.
* **A cap on the response body** (``max_response_bytes``): a runaway server cannot fill memory.
* **The request's credentials masked in what comes back**: a server (or a proxy) that echoes the
  API key or a Basic ``user:pass`` (from ``http://user:pass@host``) in an error body, or a model
  that repeats it in its answer, would have it printed and stored downstream (checkpoints, eval
  results, caches, reports). The transport masks the credentials it sent, in the forms of
  :func:`~emotion_director.redaction.credential_forms`, in every body and header it returns;
  a streamed answer is held back by a few characters so a key split across chunks is masked too.
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
  Async calls run the sync client on a thread pool sized by ``max_concurrent_requests``; both
  kinds wait for a slot of the server's adaptive limit (:mod:`emotion_director.agents.concurrency`).

Retries of failed requests are done by :mod:`emotion_director.agents.structured`, which knows
a deterministic rejection (same HTTP error twice, a 4xx) from a transient one and honours
``Retry-After``, so the openai client's own retries are always off (``max_retries`` is 0 for it
whatever the caller passes; otherwise each of the seam's attempts would be up to three).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from emotion_director.agents.models import check_allow_model_requests, tool_call_parts
from emotion_director.errors import BackendError, ResponseTooLargeError, ServerReplyShapeError
from emotion_director.redaction import CredentialScrubber

#: What :func:`~emotion_director.agents.backends.make_chat_model` sends when no key is set: not
#: a secret, and masking it would only mangle text.
NO_API_KEY = "not-needed"
# headers whose value is a credential (Authorization, Azure's api-key, x-api-key, x-auth-token...)
_CREDENTIAL_HEADER = re.compile(
    r"^(?:proxy-)?authorization$|(?:^|-)(?:api-?key|auth-?token|token|secret)(?:$|-)", re.IGNORECASE
)

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


def request_credentials(request: Any) -> CredentialScrubber:
    """A scrubber for the credentials ``request`` (an ``httpx.Request``) carries: the token of
    each credential header (``Bearer KEY``, ``Basic BASE64``, a bare ``api-key``), the
    ``user:pass`` a Basic header encodes and its password, and the URL's ``user:pass``."""
    found: list[str] = []
    for name, value in request.headers.items():
        if not _CREDENTIAL_HEADER.search(name):
            continue
        scheme, _, token = value.strip().partition(" ")
        token = token.strip() or scheme
        found.append(token)
        if scheme.lower() == "basic" and token != scheme:
            try:
                userinfo = base64.b64decode(token, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                continue
            found += [userinfo, userinfo.partition(":")[2]]
    url = request.url
    if url.password:
        found += [
            url.password,
            f"{url.username}:{url.password}",
            url.userinfo.decode("ascii", "replace"),
        ]
    return CredentialScrubber(f for f in found if f and f != NO_API_KEY)


def _scrub_body(data: bytes, scrub: CredentialScrubber) -> bytes:
    """A whole (non-streamed) body with ``scrub`` applied: to the text as sent, then to the
    decoded JSON strings (a server may write a key's characters as ``\\u`` escapes)."""
    text = scrub.text(data.decode("utf-8", "surrogateescape"))
    try:
        decoded = json.loads(text)
    except ValueError:
        return text.encode("utf-8", "surrogateescape")
    clean = scrub.values(decoded)
    if clean != decoded:
        text = json.dumps(clean, ensure_ascii=False)
    return text.encode("utf-8", "surrogateescape")


# a blank line ends an event; a line ends with CRLF, LF or CR (a lone CR: not one half of CRLF)
_EVENT_END = re.compile(rb"(?:\r\n|\n|\r(?!\n))(?:\r\n|\n|\r(?!\n))")


class _ScrubbedEvents:
    """Server-sent events with ``scrub`` applied, also to a credential that the server split
    across events: a streamed answer arrives a few characters per event, so the text of each
    delta (content, tool-call arguments) is held back by ``scrub.longest - 1`` characters
    (never masked before it is complete) and released when its choice finishes (or before
    ``[DONE]``, or at the end)."""

    def __init__(self, scrub: CredentialScrubber) -> None:
        self.scrub, self.keep = scrub, max(scrub.longest - 1, 0)
        self.held: dict[tuple[Any, ...], str] = {}
        self.last: dict[str, Any] = {}  # id, model... of the last chunk, for a closing one
        self.buffer, self.searched = b"", 0

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        self.buffer += chunk
        while (end := _EVENT_END.search(self.buffer, max(self.searched - 3, 0))) is not None:
            event, self.buffer = self.buffer[: end.end()], self.buffer[end.end() :]
            self.searched = 0
            yield self._event(event)
        self.searched = len(self.buffer)

    def close(self) -> Iterator[bytes]:
        if self.buffer:
            tail, self.buffer = self.buffer, b""
            yield self._event(tail)
        yield self._release_all()

    def _event(self, raw: bytes) -> bytes:
        text = raw.decode("utf-8", "surrogateescape")
        lines = text.splitlines()
        data = [line[5:].removeprefix(" ") for line in lines if line.startswith("data:")]
        if not data:
            return self.scrub.text(text).encode("utf-8", "surrogateescape")
        if "\n".join(data).strip() == "[DONE]":
            return self._release_all() + self.scrub.text(text).encode("utf-8", "surrogateescape")
        try:
            chunk = json.loads("\n".join(data))
        except ValueError:
            return self.scrub.text(text).encode("utf-8", "surrogateescape")
        others = "".join(
            f"{self.scrub.text(line)}\n" for line in lines if line and not line.startswith("data:")
        )
        payload = json.dumps(self._chunk(chunk), ensure_ascii=False)
        return f"{others}data: {payload}\n\n".encode("utf-8", "surrogateescape")

    def _chunk(self, chunk: Any) -> Any:
        choices = chunk.get("choices") if isinstance(chunk, dict) else None
        for choice in choices if isinstance(choices, list) else []:
            if not isinstance(choice, dict):
                continue
            index, delta = choice.get("index", 0), choice.get("delta")
            if not isinstance(delta, dict):
                delta = choice["delta"] = {}
            for field in ("content", "reasoning_content", "refusal"):
                if isinstance(delta.get(field), str):
                    delta[field] = self._hold((index, field), delta[field])
            for call in delta.get("tool_calls") or []:
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                    function["arguments"] = self._hold(
                        (index, "tool", call.get("index", 0)), function["arguments"]
                    )
            if choice.get("finish_reason") is not None:
                self._release(index, delta)
        if isinstance(chunk, dict):
            self.last = {k: chunk[k] for k in ("id", "object", "created", "model") if k in chunk}
        return self.scrub.values(chunk)  # names, ids, an error object: masked whole

    def _hold(self, key: tuple[Any, ...], piece: str) -> str:
        text = self.held.get(key, "") + piece
        cut = max(len(text) - self.keep, 0)
        # a form starting before the cut is whole in ``text`` (none is longer than keep + 1):
        # emit through its end; one starting after it may still grow (base64 padding): wait
        for start, end in self.scrub.spans(text):
            if start >= cut:
                break
            cut = max(cut, end)
        self.held[key] = text[cut:]
        return self.scrub.text(text[:cut])

    def _release(self, index: Any, delta: dict[str, Any]) -> None:
        for key in [k for k in self.held if k[0] == index]:
            text = self.scrub.text(self.held.pop(key))
            if not text:
                continue
            if key[1] != "tool":
                delta[key[1]] = (delta.get(key[1]) or "") + text
                continue
            calls = delta.setdefault("tool_calls", [])
            call = next(
                (c for c in calls if isinstance(c, dict) and c.get("index", 0) == key[2]), None
            )
            if call is None:
                calls.append({"index": key[2], "function": {"arguments": text}})
            else:
                function = call.setdefault("function", {})
                function["arguments"] = (function.get("arguments") or "") + text

    def _release_all(self) -> bytes:
        deltas: dict[Any, dict[str, Any]] = {}
        for index in {key[0] for key, text in self.held.items() if text}:
            self._release(index, deltas.setdefault(index, {}))
        self.held.clear()
        if not deltas:
            return b""
        chunk = {
            **self.last,
            "choices": [{"index": i, "delta": d, "finish_reason": None} for i, d in deltas.items()],
        }
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode(
            "utf-8", "surrogateescape"
        )


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

        def start_tls(
            self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
        ) -> Any:
            return DeadlineStream(
                self._inner.start_tls(ssl_context, server_hostname, _time_left(timeout))
            )

        def get_extra_info(self, info: str) -> Any:
            return self._inner.get_extra_info(info)

    class DeadlineBackend(httpcore.NetworkBackend):
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Any = None,
        ) -> Any:
            return DeadlineStream(
                self._inner.connect_tcp(
                    host, port, _time_left(timeout), local_address, socket_options
                )
            )

        def connect_unix_socket(
            self, path: str, timeout: float | None = None, socket_options: Any = None
        ) -> Any:
            return DeadlineStream(
                self._inner.connect_unix_socket(path, _time_left(timeout), socket_options)
            )

        def sleep(self, seconds: float) -> None:
            self._inner.sleep(seconds)

    def too_large() -> ResponseTooLargeError:
        return ResponseTooLargeError(
            f"the server's response exceeded {max_bytes:,} bytes and was cut off "
            "(a runaway generation, a compressed bomb or the wrong endpoint): lower max_tokens "
            "(EMOTION_DIRECTOR_MAX_TOKENS) or raise EMOTION_DIRECTOR_MAX_RESPONSE_BYTES."
        )

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
            inflater = self._zlib
            assert inflater is not None  # __iter__ inflates only a compressed body
            while chunk:
                out = inflater.decompress(chunk, room + 1)
                room -= len(out)
                if room < 0:
                    raise too_large()
                if out:
                    yield out
                chunk = inflater.unconsumed_tail
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
                        "or a proxy in front of it."
                    ) from None

        def close(self) -> None:
            self._inner.close()

    class ScrubbedBody(httpx.SyncByteStream):
        """The (capped, decoded) body with the request's credentials masked: a whole body at
        once (it is read whole anyway), server-sent events one by one."""

        def __init__(self, inner: Any, scrub: CredentialScrubber, events: bool) -> None:
            self._inner, self._scrub, self._events = inner, scrub, events

        def __iter__(self) -> Iterator[bytes]:
            if not self._events:
                yield _scrub_body(b"".join(self._inner), self._scrub)
                return
            events = _ScrubbedEvents(self._scrub)
            for chunk in self._inner:
                yield from (out for out in events.feed(chunk) if out)
            yield from (out for out in events.close() if out)

        def close(self) -> None:
            self._inner.close()

    class DeadlineTransport(httpx.HTTPTransport):
        def __init__(self, proxy: httpx.Proxy | None = None) -> None:
            super().__init__(proxy=proxy)
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
                    "raise EMOTION_DIRECTOR_MAX_RESPONSE_BYTES."
                )
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            if encoding not in {"identity", "", "gzip", "x-gzip", "deflate"}:
                response.close()
                raise BackendError(
                    f"the server answered with Content-Encoding {encoding!r}, which this client "
                    "did not ask for (it accepts gzip and deflate): check the server or a proxy "
                    "in front of it."
                )
            # decoded here, capped; httpx must not decode it again
            response.headers.pop("content-encoding", None)
            response.stream = CappedBody(response.stream, deadline, encoding)
            scrub = request_credentials(request)
            if scrub:  # the one place a server's text enters: its echo of our credentials goes
                response.headers = httpx.Headers(
                    [(k, scrub.text(v)) for k, v in response.headers.multi_items()]
                )
                response.headers.pop("content-length", None)  # the masked body differs
                events = (
                    response.headers.get("content-type", "").lower().startswith("text/event-stream")
                )
                response.stream = ScrubbedBody(response.stream, scrub, events)
            return response

    # the per-phase timeout stays as a floor for each read; the transport enforces the total.
    # A client given its own transport reads no proxy from the environment: the proxies that
    # HTTPS_PROXY / HTTP_PROXY / ALL_PROXY name (minus NO_PROXY), as httpx reads them, are
    # mounted here, each through the same deadline and caps.
    mounts = {
        pattern: None if proxy is None else DeadlineTransport(httpx.Proxy(proxy))
        for pattern, proxy in environment_proxies().items()
    }
    return httpx.Client(
        transport=DeadlineTransport(),
        mounts=mounts,
        timeout=httpx.Timeout(total_s),
        headers={"accept-encoding": "gzip, deflate"},
    )


def environment_proxies() -> dict[str, str | None]:
    """URL pattern -> the proxy the environment names for it (``None``: go directly), read as
    httpx reads HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY.

    Raises:
        SettingsError: a variable holds no usable proxy URL (it is named, with the fix).
    """
    import os

    try:
        from httpx._utils import get_environment_proxies
    except ImportError:  # (a later httpx that moved it: no proxy rather than no client)
        return {}
    for name in (*_PROXY_VARIABLES, *(v.lower() for v in _PROXY_VARIABLES)):
        value = os.environ.get(name)
        if value:  # (httpx reads a value with no scheme as http://)
            _check_proxy(name, value if "://" in value else f"http://{value}")
    proxies: dict[str, str | None] = get_environment_proxies()
    return proxies


_PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")


def _check_proxy(name: str, proxy: str) -> None:
    """Refuses a proxy URL no request could go through, naming the variable ``name`` holding it."""
    import httpx

    from emotion_director.errors import SettingsError

    try:
        url = httpx.URL(proxy)
        problem = None
        if any(c.isspace() or not c.isprintable() for c in proxy):
            problem = "it holds a space or a control character"
        elif url.scheme not in {"http", "https", "socks5", "socks5h"}:
            problem = f"its scheme {url.scheme!r} is not http, https or socks5"
        elif not url.host:
            problem = "it names no host"
        elif url.port is not None and not 0 < url.port < 65536:
            problem = f"Port out of range: {url.port}, not 1-65535"
        elif url.scheme.startswith("socks"):
            import importlib.util

            if importlib.util.find_spec("socksio") is None:
                problem = "a SOCKS proxy needs the socksio package (pip install 'httpx[socks]')"
    except (httpx.InvalidURL, ValueError) as exc:
        problem = str(exc)
    if problem:  # (the message is redacted when made: a password in the URL is masked)
        raise SettingsError(
            f"{name}={proxy!r} is not a usable proxy ({problem}): give http://HOST:PORT (the "
            f"proxy's user and password, if it needs them, before the host), or unset {name}."
        )


def environment_proxy(url: str) -> str | None:
    """The proxy a request to ``url`` goes through (credentials masked), or ``None``."""
    found = _environment_proxy(url)
    return found[0] if found else None


def proxy_has_credentials(url: str) -> bool:
    """Whether the proxy a request to ``url`` goes through was given a user (and password)."""
    found = _environment_proxy(url)
    return bool(found and found[1])


def _environment_proxy(url: str) -> tuple[str, bool] | None:
    """(the proxy for ``url`` with no credentials, whether it was given some), or ``None``."""
    import httpx

    try:
        from httpx._utils import URLPattern
    except ImportError:
        return None
    try:
        target = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return None
    patterns = sorted(
        ((URLPattern(key), proxy) for key, proxy in environment_proxies().items()),
        key=lambda item: item[0],  # most specific first, as httpx orders its mounts
    )
    for pattern, proxy in patterns:
        if pattern.matches(target):
            if proxy is None:
                return None
            shown = httpx.URL(proxy)
            if shown.userinfo:
                return str(shown.copy_with(username=None, password=None)), True
            return proxy, False
    return None


def _check_shape(response: Any, where: str) -> dict[str, Any]:
    data = (
        response
        if isinstance(response, dict)
        # the client fills absent fields with None: keep only what the server sent
        else (
            {k: v for k, v in response.model_dump().items() if v is not None}
            if hasattr(response, "model_dump")
            else None
        )
    )
    if not isinstance(data, dict):
        raise ServerReplyShapeError(
            f"the openai server at {where} answered with {type(response).__name__} text, not a "
            "chat completion: point --base-url at an OpenAI-compatible /v1 endpoint."
        )
    if data.get("error"):
        raise ServerReplyShapeError(
            f"the openai server at {where} answered HTTP 200 with an error: "
            f"{str(data['error'])[:200]}"
        )
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise ServerReplyShapeError(
            f"the openai server at {where} answered without choices "
            f"({'an empty list' if choices == [] else 'keys: ' + ', '.join(sorted(data)[:8])}): "
            "point --base-url at an OpenAI-compatible /v1 endpoint serving chat completions."
        )
    first = choices[0]
    if not isinstance(first, dict) or not isinstance(first.get("message"), dict):
        raise ServerReplyShapeError(
            f"the openai server at {where} answered a choice without a message: it does not "
            "speak the chat-completions protocol; check --base-url."
        )
    return data


#: The structured-output methods of ``ChatOpenAI.with_structured_output``.
StructuredMethod = Literal["function_calling", "json_mode", "json_schema"]

_GUARDED: Any = None


def guarded_chat_openai() -> Any:
    """The :class:`ChatOpenAI` subclass used by the openai backend (built on first use, so that
    importing the project does not import the openai client)."""
    global _GUARDED
    if _GUARDED is not None:
        return _GUARDED
    from langchain_core.outputs import ChatGenerationChunk
    from langchain_openai import ChatOpenAI
    from pydantic import BaseModel, model_validator

    class GuardedChatOpenAI(ChatOpenAI):
        """``ChatOpenAI`` with a total deadline, a response cap, shape checks and safe
        streaming (see the module docstring).

        Args:
            max_concurrent_requests (`int`, *optional*, defaults to 128): async requests in
                flight (all instances with the same value share one pool).
            max_response_bytes (`int`, *optional*, defaults to 8 MiB): cap on a response body.

        ``max_retries`` is always 0 for the openai client: failed requests are retried by
        :func:`~emotion_director.agents.structured.structured_steps` (``retries``).
        """

        max_concurrent_requests: int = 128
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
        # structured calls need the whole object; see the module docstring
        disable_streaming: bool | Literal["tool_calling"] = "tool_calling"

        @model_validator(mode="before")
        @classmethod
        def _deadline_client(cls, values: Any) -> Any:
            if isinstance(values, dict):
                # retries belong to the LLM seam (it honours Retry-After and tells a repeated
                # rejection from a blip); the SDK's own (2 by default) would multiply them
                values = {**values, "max_retries": 0}
                # langchain-openai's TCP keep-alive socket options turn off proxy detection on
                # the clients it builds (and warn when a proxy is set); requests go through the
                # client below, which mounts the environment's proxies itself
                values.setdefault("http_socket_options", ())
            if isinstance(values, dict) and values.get("http_client") is None:
                total = values.get("timeout") or values.get("request_timeout") or 60.0
                values = {
                    **values,
                    "http_client": _http_client(
                        float(total),
                        int(values.get("max_response_bytes") or DEFAULT_MAX_RESPONSE_BYTES),
                    ),
                }
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

        def with_structured_output(
            self,
            schema: Any = None,
            *,
            method: StructuredMethod = "function_calling",
            **kwargs: Any,
        ) -> Any:
            if method == "function_calling" and isinstance(schema, type) and not kwargs:
                # one forced tool call, and a reply cut at max_tokens named as such
                bound, parser = tool_call_parts(self, schema)
                return bound | parser
            if (
                method == "json_mode"
                and isinstance(schema, type)
                and issubclass(schema, BaseModel)
                and not kwargs
            ):
                # OpenAI's JSON mode carries no schema, so a small model answers any JSON; the
                # schema rides along in the format (llama.cpp's server turns it into a
                # grammar; OpenAI and vLLM ignore the extra key)
                from emotion_director.agents.models import parse_json_into

                fmt = {"type": "json_object", "schema": schema.model_json_schema()}
                return self.bind(response_format=fmt) | parse_json_into(schema)
            return super().with_structured_output(schema, method=method, **kwargs)

        def _create_chat_result(self, response: Any, generation_info: Any = None) -> Any:
            _check_shape(response, self.openai_api_base or "the configured URL")
            return super()._create_chat_result(response, generation_info)

        def _limit(self) -> Any:
            from emotion_director.agents.concurrency import limit_for

            return limit_for(self.openai_api_base or "", self.max_concurrent_requests)

        def _limited(self, call: Any) -> Any:
            """``call()`` within the server's adaptive limit of requests in flight."""
            with self._limit().request():
                return call()

        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            check_allow_model_requests()
            return self._limited(lambda: super(GuardedChatOpenAI, self)._generate(*args, **kwargs))

        def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
            check_allow_model_requests()
            yield from self._limited_chunks(
                lambda: super(GuardedChatOpenAI, self)._stream(*args, **kwargs)
            )

        async def _agenerate(
            self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any
        ) -> Any:
            check_allow_model_requests()
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                _openai_pool(self.max_concurrent_requests),
                lambda: self._limited(
                    lambda: super(GuardedChatOpenAI, self)._generate(messages, stop, None, **kwargs)
                ),
            )

        def _limited_chunks(self, stream: Any) -> Iterator[Any]:
            with self._limit().request():
                yield from stream()

        async def _astream(
            self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any
        ) -> AsyncIterator[ChatGenerationChunk]:
            check_allow_model_requests()
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue[Any] = asyncio.Queue()
            done = object()

            def pump() -> None:
                try:
                    for chunk in self._limited_chunks(
                        lambda: super(GuardedChatOpenAI, self)._stream(
                            messages, stop, None, **kwargs
                        )
                    ):
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
