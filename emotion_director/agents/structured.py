"""The LLM seam: one function that asks any chat model for a pydantic object, with bounded retries.

Example:
    >>> import asyncio
    >>> from pydantic import BaseModel
    >>> from emotion_director.testing import TestChatModel
    >>> class Pick(BaseModel):
    ...     n: int
    >>> invoke_structured(TestChatModel(), Pick, [("user", "hi")], node="demo")
    Pick(n=0)
    >>> asyncio.run(ainvoke_structured(TestChatModel(), Pick, [("user", "hi")], node="demo"))
    Pick(n=0)
"""

from __future__ import annotations

import email.utils
import functools
import logging
import math
import random
import ssl
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar, cast

import tenacity
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig, RunnableSequence
from pydantic import BaseModel, ValidationError

from emotion_director.agents.backends import backend_name
from emotion_director.agents.models import StructuredCall
from emotion_director.agents.steps import (
    CHARGE_CALL,
    Backoff,
    CallBudget,
    ModelCall,
    Steps,
    arun_steps,
    run_steps,
)
from emotion_director.errors import BackendError, ModelOutputError
from emotion_director.untrusted import clean_model_line, clean_model_output, clean_model_text

T = TypeVar("T", bound=BaseModel)


logger = logging.getLogger("emotion_director.llm")


class StructuredMemory:
    """What the LLM seam learns while it works, held by whoever runs the calls (one per graph;
    a call without one gets a fresh one), never in a module global.

    - The runnable ``model.with_structured_output(schema, method=method)``, built once per model,
      schema and method: converting a pydantic schema to JSON schema / an OpenAI tool costs ~1-3
      ms of CPU, and under load (hundreds of concurrent persona calls) that dominated the graph's
      own cost. Per-call parameters are bound on top of it (:func:`structured_runnable`).
    - The structured-output methods a server rejected, keyed by (server URL, model name): a
      property of the server, so every model object of the graph that talks to it learns from
      the first rejection.
    """

    def __init__(self, size: int = 128) -> None:
        self._size = size
        self._built: OrderedDict[tuple[int, type, str], tuple[Any, Runnable]] = OrderedDict()
        self._rejected: dict[tuple[str, str, str], str] = {}
        self._lock = threading.Lock()

    def runnable(self, model: BaseChatModel, schema: type[T], method: str) -> Runnable:
        """``model.with_structured_output(schema, method=method)``, built once."""
        key = (id(model), schema, method)
        with self._lock:
            hit = self._built.get(key)
            if hit is not None and hit[0] is model:
                self._built.move_to_end(key)
                return hit[1]
        built = model.with_structured_output(schema, method=method)
        with self._lock:
            self._built[key] = (model, built)
            while len(self._built) > self._size:
                self._built.popitem(last=False)
        return built

    def method_for(self, model: BaseChatModel, method: str) -> str:
        """The first method at or after ``method`` in :data:`STRUCTURED_METHODS` not yet
        rejected by the model's server."""
        if method not in STRUCTURED_METHODS:
            return method
        with self._lock:
            for candidate in STRUCTURED_METHODS[STRUCTURED_METHODS.index(method) :]:
                if (*_server_key(model), candidate) not in self._rejected:
                    return candidate
        return STRUCTURED_METHODS[-1]

    def reject(self, model: BaseChatModel, method: str, why: str, where: str) -> str | None:
        """Record that the server rejected ``method``; return the next one to try, if any."""
        key = (*_server_key(model), method)
        with self._lock:
            first_time = key not in self._rejected
            self._rejected[key] = why
        following = STRUCTURED_METHODS[STRUCTURED_METHODS.index(method) + 1 :]
        if following and first_time:
            logger.warning(
                "the openai server at %s rejected structured_method=%s (%s); falling back "
                "to %s (set EMOTION_DIRECTOR_STRUCTURED_METHOD to skip the probe)",
                where,
                method,
                why,
                following[0],
            )
        return following[0] if following else None


def structured_runnable(
    model: BaseChatModel,
    schema: type[T],
    *,
    temperature: float | None = None,
    seed: int | None = None,
    method: str = "function_calling",
    memory: StructuredMemory | None = None,
) -> Runnable:
    """``model`` bound to return ``schema`` (its own ``with_structured_output``), with per-call
    temperature and seed."""
    params = {k: v for k, v in {"temperature": temperature, "seed": seed}.items() if v is not None}
    structured = (memory or StructuredMemory()).runnable(model, schema, method)
    if not params:
        return structured
    # an in-library model gives a StructuredCall, langchain-core's models "model.bind(...) |
    # parser": the call parameters join the model's binding
    if isinstance(structured, StructuredCall) or (
        isinstance(structured, RunnableBinding) and isinstance(structured.bound, StructuredCall)
    ):  # (a StructuredCall a subclass wrapped with_config: call-time keywords reach it too)
        return structured.bind(**params)
    if isinstance(structured, RunnableSequence) and isinstance(structured.first, RunnableBinding):
        return RunnableSequence(
            structured.first.bind(**params), *structured.middle, structured.last
        )
    update = {k: v for k, v in params.items() if k in type(model).model_fields}
    return model.model_copy(update=update).with_structured_output(schema, method=method)


#: How the openai backend can ask for structure, most to least strict. A server that rejects one
#: is asked the next way (logged once per graph); e.g. llama.cpp's server answers HTTP 500 to
#: ``json_schema`` but handles tool calls.
STRUCTURED_METHODS = ("json_schema", "function_calling", "json_mode")


def next_method(method: str) -> str | None:
    """The method after ``method`` in :data:`STRUCTURED_METHODS`, if any."""
    following = STRUCTURED_METHODS[STRUCTURED_METHODS.index(method) + 1 :]
    return following[0] if following else None


_TRANSIENT_STATUS = {408, 429, 502, 503, 504}
#: Statuses that refuse the credentials: no structured-output method gets past them.
_AUTH_STATUS = {401, 403, 407}


def _server_key(model: BaseChatModel) -> tuple[str, str]:
    return (
        _where(model, backend_name(model)),
        str(getattr(model, "model_name", None) or getattr(model, "model", "")),
    )


def retry_after(headers: Any) -> tuple[float, str] | None:
    """The wait a server asks for before the next request, in seconds, and the header as sent.

    ``Retry-After`` as seconds or as an HTTP-date (RFC 9110), or OpenAI's ``retry-after-ms``;
    ``None`` when there is none (or it cannot be read). A date in the past is a wait of 0.

    Example:
        >>> retry_after({"retry-after": "3"})
        (3.0, 'Retry-After: 3')
        >>> retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
        (0.0, 'Retry-After: Wed, 21 Oct 2015 07:28:00 GMT')
        >>> retry_after({"retry-after": "soon"}) is None
        True
    """
    if headers is None:
        return None
    for name, shown, scale in (
        ("retry-after-ms", "Retry-After-Ms", 1000.0),
        ("retry-after", "Retry-After", 1.0),
    ):
        value = headers.get(name)
        if not isinstance(value, str) or not value.strip():
            continue
        value = value.strip()
        try:
            seconds = float(value) / scale
        except ValueError:
            if scale != 1.0:
                continue
            try:
                when = email.utils.parsedate_tz(value)
                seconds = email.utils.mktime_tz(when) - time.time() if when else math.nan
            except (TypeError, ValueError, OverflowError):
                continue
        if not math.isnan(seconds):
            return max(seconds, 0.0), f"{shown}: {value[:60]}"
    return None


def _response_headers(chain: list[BaseException]) -> Any:
    for exc in chain:
        headers = getattr(getattr(exc, "response", None), "headers", None)
        if headers is not None:
            return headers
    return None


class _Failure:
    """A failed request, classified: ``down`` (no connection), ``slow`` (deadline passed),
    ``status`` (an HTTP error answer), ``tls`` (the TLS handshake failed: the wrong scheme or an
    untrusted certificate), or ``final`` (a reply that retrying cannot fix)."""

    def __init__(self, exc: Exception) -> None:
        from emotion_director.agents.openai_chat import ResponseTooLargeError

        self.exc, self.status, self.detail = exc, None, ""
        self.retry_after: tuple[float, str] | None = None  # (seconds, the header as sent)
        self.tls: ssl.SSLError | None = None
        self.answered = False  # ("lost") the server had begun an HTTP answer
        chain = _cause_chain(exc)
        too_large = next((e for e in chain if isinstance(e, ResponseTooLargeError)), None)
        tls = next((e for e in chain if isinstance(e, ssl.SSLError)), None)
        refused, slow, lost, proxy = _transport_failures()
        broken = _broken_body(chain)  # an HTTP answer begun and broken off
        status_code = getattr(exc, "status_code", None)
        # (a server's text is cleaned where it enters: no terminal escapes, NUL or bells reach
        # the red error line, the logs or an eval's error records)
        if too_large is not None:
            self.kind, self.detail = "final", clean_model_text(str(too_large))
        elif isinstance(exc, BackendError):
            self.kind, self.detail = "final", clean_model_text(str(exc))
        elif status_code is not None:
            self.kind, self.status = "status", int(status_code)
            self.detail = clean_model_line(str(getattr(exc, "message", exc)), 300)
            self.retry_after = retry_after(_response_headers(chain))
        elif tls is not None:
            self.kind, self.tls = "tls", tls
        elif any(isinstance(e, proxy) for e in chain):
            # the proxy the environment names refused to carry the request (its CONNECT answer)
            self.kind = "proxy"
            self.detail = clean_model_text(str(chain[-1]))[:200]
        elif any(isinstance(e, refused) for e in chain):
            self.kind = "down"
        elif any(isinstance(e, slow) for e in chain):
            self.kind = "slow"
        elif any(isinstance(e, lost) for e in chain) or broken:
            # it connected, then the connection was reset or cut short: a server is there
            self.kind = "lost"
            self.detail = f"{type(chain[-1]).__name__}: {clean_model_text(str(chain[-1]))[:120]}"
            # an answer begun and broken off, or a malformed body, is HTTP: no TLS to suggest
            self.answered = broken
        elif any(isinstance(e, RecursionError) for e in chain):
            self.kind = "final"
            self.detail = (
                "its answer is JSON nested too deeply to read, which no chat completion is: "
                "check that --base-url is an OpenAI-compatible server"
            )
        else:
            self.kind = "final"
            # one line: "garbage\r\n"
            self.detail = f"{type(exc).__name__}: {clean_model_line(str(exc), 200)}"

    @property
    def rejects_method(self) -> bool:
        """A 4xx (other than timeout / rate limit) or a 500: the server refuses this request."""
        return (
            self.status is not None
            and self.status not in _TRANSIENT_STATUS | _AUTH_STATUS
            and (400 <= self.status < 500 or self.status in {500, 501})
        )

    def same_as(self, other: _Failure | None) -> bool:
        return other is not None and (self.kind, self.status, self.detail) == (
            other.kind,
            other.status,
            other.detail,
        )


def _broken_body(chain: list[BaseException]) -> bool:
    """Whether the server began an HTTP answer and broke it off or garbled its body (a cut or
    malformed chunked stream, fewer bytes than its Content-Length)."""
    import http.client

    for error in chain:
        if isinstance(error, http.client.IncompleteRead):
            return True
        text = str(error).lower()
        if type(error).__name__ == "RemoteProtocolError" and ("body" in text or "chunk" in text):
            return True
    return False


def _cause_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in chain and len(chain) < 10:
        chain.append(link)
        link = link.__cause__ or link.__context__
    return chain


@functools.cache
def _transport_failures() -> tuple[tuple[type[BaseException], ...], ...]:
    """The exception types of a request that got no answer, from the clients the openai
    backend rides on (openai > httpx > httpcore): (connection refused, deadline passed,
    connection lost, a proxy refused to carry it). Imported on the first failure only."""
    import httpcore
    import httpx
    import openai

    refused: tuple[type[BaseException], ...] = (
        httpx.ConnectError,
        httpx.ConnectTimeout,
        httpcore.ConnectError,
    )
    refused += (httpcore.ConnectTimeout, ConnectionRefusedError)
    slow: tuple[type[BaseException], ...] = (
        httpx.TimeoutException,
        httpcore.TimeoutException,
        openai.APITimeoutError,
    )
    slow += (TimeoutError,)
    lost: tuple[type[BaseException], ...] = (
        openai.APIConnectionError,
        httpx.TransportError,
        httpcore.NetworkError,
    )
    lost += (httpcore.ProtocolError, ConnectionError)
    proxy: tuple[type[BaseException], ...] = (httpx.ProxyError, httpcore.ProxyError)
    return refused, slow, lost, proxy


def _client_errors() -> tuple[type[BaseException], ...]:
    """What the openai client and its transport raise (a server's answer or no answer)."""
    import httpx
    import openai

    known = (openai.OpenAIError, httpx.HTTPError, httpx.StreamError, httpx.InvalidURL)
    return (*known, *(kind for kinds in _transport_failures() for kind in kinds))


class _InvalidOutput(Exception):
    """A reply that does not match the schema: asked again, with the next seed."""


class _Transient(Exception):
    """A request that may succeed if sent again (no answer, deadline passed, 408/429/502/503/504,
    a first 500): asked again after a backoff, never sooner than the server's Retry-After."""

    def __init__(self, failure: _Failure) -> None:
        super().__init__(failure.kind)
        self.failure = failure


class _Backoff(tenacity.wait.wait_base):
    """How long to wait before the next attempt: exponential backoff with full jitter
    (0.1 s doubling, at most 2 s), and never sooner than a server's Retry-After (a little
    later, so that concurrent callers do not stampede). A model computed in this process is
    asked again at once after invalid output: there is no server to spare."""

    def __init__(self, remote: bool, limit: float) -> None:
        self.remote, self.limit = remote, limit
        self.jitter = tenacity.wait_random_exponential(multiplier=0.1, max=2.0)

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, _InvalidOutput) and not self.remote:
            return 0.0
        wait = self.jitter(retry_state)
        asked = error.failure.retry_after if isinstance(error, _Transient) else None
        if asked is not None:
            wait = max(wait, min(asked[0] * random.uniform(1.0, 1.1), self.limit))
        return wait


def retry_policy(
    retries: int, *, remote: bool = True, wait_limit: float = 60.0
) -> tenacity.Retrying:
    """The one retry policy of every model call the package makes, as a tenacity
    ``Retrying``: at most ``retries + 1`` calls per structured answer, counting both kinds of
    failure that a new call can fix:

    - invalid output (the reply does not match the schema): asked again with the next seed;
    - a transient failure (no connection, deadline passed, HTTP 408/429/502/503/504, a 500 the
      first time): asked again after :class:`_Backoff`, no sooner than the server's
      ``Retry-After``.

    Everything else (4xx rejections, a repeated 500, TLS failures, replies of the wrong shape,
    a spent call budget) is raised at once. A server that rejects the structured-output method
    is asked the next way within the same attempt (see :class:`StructuredMemory`).

    Example:
        >>> policy = retry_policy(2)
        >>> policy.stop.max_attempt_number
        3
    """
    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(retries + 1),
        wait=_Backoff(remote, wait_limit),
        retry=tenacity.retry_if_exception_type((_InvalidOutput, _Transient)),
        reraise=True,
    )


def _retrying(policy: tenacity.Retrying, attempt: Callable[[int], Steps[T]]) -> Steps[T]:
    """Run ``attempt`` (steps, given the attempt number from 1) under a tenacity ``policy``;
    the policy's waits become :class:`Backoff` steps, so the sync and async drivers both sleep
    their own way. (tenacity's own ``Retrying.__call__`` loop, with the call and the sleep
    yielded as steps.)"""
    policy.begin()
    state = tenacity.RetryCallState(retry_object=policy, fn=None, args=(), kwargs={})
    while True:
        action = policy.iter(retry_state=state)
        if isinstance(action, tenacity.DoAttempt):
            try:
                result = yield from attempt(state.attempt_number)
            except Exception:
                state.set_exception(sys.exc_info())  # type: ignore[arg-type]
            else:
                state.set_result(result)
        elif isinstance(action, tenacity.DoSleep):
            state.prepare_for_next_attempt()
            if action > 0:
                yield Backoff(float(action))
        else:
            return action


class _Request:
    """One structured answer's requests: the attempt :func:`retry_policy` repeats.

    An attempt sends the request and classifies what comes back. A rejection (4xx, a repeated
    500) moves on to the next structured-output method within the attempt; when none is left
    the error names every answer.
    """

    def __init__(
        self,
        model: BaseChatModel,
        schema: type[T],
        messages: list[Any],
        *,
        node: str,
        retries: int,
        temperature: float | None,
        seed: int | None,
        method: str,
        config: dict[str, Any] | None,
        memory: StructuredMemory,
    ) -> None:
        self.model, self.schema, self.messages, self.node = model, schema, messages, node
        self.retries, self.temperature, self.seed, self.config = retries, temperature, seed, config
        self.memory = memory
        self.backend = backend_name(model)
        self.where = _where(model, self.backend)
        self.method = memory.method_for(model, method)
        self.rejected: list[str] = []
        self.previous: _Failure | None = None  # the last failure, to tell a repeated 500
        self.invalid = 0  # invalid replies so far: the next attempt's seed is seed + invalid

    def attempt(self, number: int) -> Steps[Any]:
        attempt_seed = None if self.seed is None else self.seed + self.invalid
        call_config = trace_config(
            self.node, self.backend, self.schema.__name__, number - 1, self.config
        )
        while True:
            yield CHARGE_CALL  # one call of the node's budget (raises when it is spent)
            logger.info(
                "llm call node=%s backend=%s schema=%s method=%s",
                self.node,
                self.backend,
                self.schema.__name__,
                self.method,
            )
            runnable = structured_runnable(
                self.model,
                self.schema,
                temperature=self.temperature,
                seed=attempt_seed,
                method=self.method,
                memory=self.memory,
            )
            try:
                result = yield ModelCall(runnable, self.messages, call_config)
            except (OutputParserException, ValidationError) as exc:
                raise self._invalid(exc) from None
            except Exception as exc:
                if isinstance(exc, ValueError) and not isinstance(
                    exc, (BackendError, *_client_errors())
                ):
                    raise self._invalid(exc) from None
                if isinstance(exc, RuntimeError) and not isinstance(
                    exc, (RecursionError, *_client_errors())
                ):  # (a RecursionError is a server's answer nested too deeply to parse)
                    raise  # e.g. the unit-test guard
                failure = _Failure(exc)
            else:
                if not isinstance(result, self.schema):
                    raise self._invalid(
                        f"got {type(result).__name__} instead of {self.schema.__name__}"
                    )
                try:  # the one place a model's text enters: no control characters pass
                    return clean_model_output(result)
                except ValidationError as exc:
                    raise self._invalid(exc) from None
            last = number > self.retries
            if not self._rejects(failure, last=last):
                raise self._transient(failure, last=last)

    def _invalid(self, error: Exception | str) -> _InvalidOutput:
        self.invalid += 1
        return _InvalidOutput(" ".join(str(error).split())[:200])

    def _rejects(self, failure: _Failure, *, last: bool) -> bool:
        """Whether the failure is the server refusing this method (then the next method is
        set, or the error raised when none is left); raises failures no retry can fix. A 500 is
        a rejection when it repeats, or when no attempt is left to tell."""
        if failure.kind in {"final", "tls"} or failure.status in _AUTH_STATUS:
            # (refused credentials are refused again: no retry, no other method)
            raise _backend_error(
                failure, node=self.node, backend=self.backend, where=self.where
            ) from None
        repeated, self.previous = failure.same_as(self.previous), failure
        if not failure.rejects_method or (failure.status == 500 and not repeated and not last):
            return False
        self.rejected.append(f"{self.method}: HTTP {failure.status} {failure.detail}".strip())
        # a 4xx or the same 500 twice is the server's answer to this method: remembered for the
        # graph; a single 500 on the last attempt only moves this answer to the next method
        proven = failure.status != 500 or repeated
        following: str | None = None
        if not runs_in_process(self.model) and self.method in STRUCTURED_METHODS:
            following = (
                self.memory.reject(self.model, self.method, self.rejected[-1], self.where)
                if proven
                else next_method(self.method)
            )
        if following is None:
            raise _rejected_error(
                self.rejected, node=self.node, backend=self.backend, where=self.where
            )
        self.method, self.previous = following, None
        return True

    def _transient(self, failure: _Failure, *, last: bool) -> Exception:
        """The failure to retry; when no attempt is left, or the server asks for a longer wait
        than a request may take, the error that names it."""
        if last:
            timeout = getattr(self.model, "request_timeout", None)
            return _backend_error(
                failure, node=self.node, backend=self.backend, where=self.where, timeout=timeout
            )
        limit = _wait_limit(self.model)
        if failure.retry_after is not None and failure.retry_after[0] > limit:
            return _wait_too_long_error(
                failure, limit, node=self.node, backend=self.backend, where=self.where
            )
        return _Transient(failure)


#: Tag on every model call the package makes (filter a LangSmith project by it).
PACKAGE_TAG = "emotion-director"


def trace_config(
    node: str, backend: str, schema: str, attempt: int, config: dict[str, Any] | None = None
) -> RunnableConfig:
    """The callbacks config of one model call: who asks, in run name, tags and metadata.

    ``node`` is the asking graph node, with the persona in brackets for a persona reading
    (``"persona_reading[Mara]"``): the call's run is named after it, tagged
    ``emotion-director``, ``node:persona_reading`` and ``persona:Mara``, and its metadata holds
    ``ed_node``, ``ed_persona``, ``ed_schema``, ``ed_backend`` and ``ed_attempt``, so a trace
    viewer (LangSmith, Langfuse, a callback handler) can filter by persona and role. Tags and
    metadata the caller passes in ``config`` are kept.
    """
    role, _, rest = node.partition("[")
    persona = rest[:-1] if rest.endswith("]") else None
    tags = [PACKAGE_TAG, f"node:{role}"] + ([f"persona:{persona}"] if persona else [])
    metadata: dict[str, Any] = {
        "ed_node": role,
        "ed_schema": schema,
        "ed_backend": backend,
        "ed_attempt": attempt,
    }
    if persona:
        metadata["ed_persona"] = persona
    # a copy of the caller's config (LangGraph's RunnableConfig), or a new one
    merged = cast(RunnableConfig, dict(config or {}))
    merged["tags"] = [
        *merged.get("tags", []),
        *(t for t in tags if t not in merged.get("tags", [])),
    ]
    merged["metadata"] = {**metadata, **merged.get("metadata", {})}
    merged.setdefault("run_name", node)
    return merged


def structured_steps(
    model: BaseChatModel,
    schema: type[T],
    messages: list[Any],
    *,
    node: str,
    retries: int = 2,
    temperature: float | None = None,
    seed: int | None = None,
    method: str = "function_calling",
    config: dict[str, Any] | None = None,
    memory: StructuredMemory | None = None,
) -> Steps[T]:
    """Ask ``model`` for a ``schema`` object, as steps (see :mod:`~emotion_director.agents.steps`);
    retry under :func:`retry_policy`, then raise a clear error.

    Agents compose it (``result = yield from structured_steps(...)``);
    :func:`invoke_structured` and :func:`ainvoke_structured` run it on its own.

    Args:
        model (`BaseChatModel`): any langchain-core chat model.
        schema (`type[BaseModel]`): the pydantic model the reply must match.
        messages (`list`): langchain messages or ``(role, text)`` tuples.
        node (`str`): the graph node asking, named in errors.
        retries (`int`, *optional*, defaults to 2): extra attempts after invalid output or a
            transient server failure: at most ``retries + 1`` calls in all (see
            :func:`retry_policy`).
        seed (`int`, *optional*): sampling seed; after ``i`` invalid replies, ``seed + i``.
        method (`str`, *optional*, defaults to ``"function_calling"``): how to ask for
            structure; a server that rejects it is asked the next way in
            :data:`STRUCTURED_METHODS` (logged).
        memory (`StructuredMemory`, *optional*): built runnables and rejected methods to share
            between calls (the graph keeps one); a fresh one when not given.

    Raises:
        ModelOutputError: every attempt returned output that does not match ``schema``.
        BackendError: the server is down, too slow, rejected every method, or replied with
            something that is not a chat completion; the message says which.
    """
    remote = not runs_in_process(model)
    request = _Request(
        model,
        schema,
        messages,
        node=node,
        retries=retries,
        temperature=temperature,
        seed=seed,
        method=method,
        config=config,
        memory=memory or StructuredMemory(),
    )
    policy = retry_policy(retries, remote=remote, wait_limit=_wait_limit(model))
    try:  # the last attempt's transient failure is raised as its named BackendError
        return (yield from _retrying(policy, request.attempt))
    except _InvalidOutput as exc:
        hint = (
            "another structured_method or a larger model"
            if remote
            else "a larger model (--model-path), another --seed, or the openai backend"
        )
        raise ModelOutputError(
            f"node '{node}': the {request.backend} backend returned invalid output "
            f"{retries + 1} time(s) ({exc}). Try {hint}.",
            node=node,
            backend=request.backend,
        ) from None


def invoke_structured(
    model: BaseChatModel,
    schema: type[T],
    messages: list[Any],
    *,
    node: str,
    budget: CallBudget | None = None,
    **options: Any,
) -> T:
    """:func:`structured_steps` run synchronously (``invoke``); ``options`` as there."""
    return run_steps(structured_steps(model, schema, messages, node=node, **options), budget)


async def ainvoke_structured(
    model: BaseChatModel,
    schema: type[T],
    messages: list[Any],
    *,
    node: str,
    budget: CallBudget | None = None,
    **options: Any,
) -> T:
    """:func:`structured_steps` run on the event loop (``ainvoke``); ``options`` as there."""
    return await arun_steps(structured_steps(model, schema, messages, node=node, **options), budget)


def runs_in_process(model: BaseChatModel) -> bool:
    """A model computed here (embedded, test): no server to back off from or to probe."""
    return bool(getattr(model, "runs_in_process", False))


def _where(model: BaseChatModel, backend: str) -> str:
    return (
        getattr(model, "openai_api_base", None)
        or getattr(getattr(model, "inner", None), "openai_api_base", None)
        or backend
    )


def _rejected_error(rejected: list[str], *, node: str, backend: str, where: str) -> BackendError:
    if len(rejected) == 1:
        return BackendError(
            f"node '{node}': the {backend} server at {where} rejected the request "
            f"({rejected[0]}); the server is up but refuses it: check --model and the server's "
            "log."
        )
    return BackendError(
        f"node '{node}': the {backend} server at {where} rejected every structured-output method "
        f"({'; '.join(rejected)}): use a server with tool calls or JSON output, or check its log."
    )


#: The longest Retry-After honoured for a model without a numeric ``request_timeout``.
DEFAULT_WAIT_LIMIT_S = 60.0


def _wait_limit(model: BaseChatModel) -> float:
    """How long the seam may wait for a server that asks to retry later: the total deadline of
    one request (a wait longer than the request itself may take is not worth holding the run)."""
    timeout = getattr(model, "request_timeout", None)
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
        return float(timeout)
    return DEFAULT_WAIT_LIMIT_S


def _wait_too_long_error(
    failure: _Failure, limit: float, *, node: str, backend: str, where: str
) -> BackendError:
    seconds, header = failure.retry_after or (math.inf, "")
    asked = "forever" if math.isinf(seconds) else f"{seconds:.0f} s"
    what = (
        "hit the server's rate limit (HTTP 429)"
        if failure.status == 429
        else f"answered HTTP {failure.status}"
    )
    return BackendError(
        f"node '{node}': the {backend} server at {where} {what} and asks to retry in {asked} "
        f"({header}), longer than the {limit:g} s deadline of a request "
        "(EMOTION_DIRECTOR_TIMEOUT_S): not waiting. Run again later, lower "
        "EMOTION_DIRECTOR_MAX_CONCURRENT_REQUESTS, or ask for a higher rate limit."
    )


#: OpenSSL's reasons when the other end answers a TLS handshake with something else (plain HTTP)
_NOT_TLS = {
    "WRONG_VERSION_NUMBER",
    "RECORD_LAYER_FAILURE",
    "PACKET_LENGTH_TOO_LONG",
    "UNKNOWN_PROTOCOL",
    "HTTP_REQUEST",
    "HTTPS_PROXY_REQUEST",
    "UNEXPECTED_RECORD",
}


def _tls_error(error: ssl.SSLError, *, node: str, backend: str, where: str) -> BackendError:
    reason = " ".join(str(error).split())[:200]
    if isinstance(error, ssl.SSLCertVerificationError):
        return BackendError(
            f"node '{node}': the {backend} server at {where} speaks TLS, but its certificate "
            f"verification failed ({error.verify_message or reason}): use http:// for a local "
            "server without TLS, or set SSL_CERT_FILE (or SSL_CERT_DIR) to the CA that signed "
            "its certificate."
        )
    plain = where.replace("https://", "http://", 1) if where.startswith("https://") else "http://"
    if getattr(error, "reason", None) in _NOT_TLS:
        return BackendError(
            f"node '{node}': the {backend} server at {where} does not speak TLS ({reason}): "
            f"is it {plain}? Fix --base-url."
        )
    return BackendError(
        f"node '{node}': the TLS handshake with the {backend} server at {where} failed "
        f"({reason}): check that it serves https on that port (if not, use {plain}), or its "
        "TLS settings."
    )


def _backend_error(
    failure: _Failure, *, node: str, backend: str, where: str, timeout: Any = None
) -> Exception:
    if failure.kind == "final" and isinstance(failure.exc, BackendError):
        return BackendError(f"node '{node}': {failure.detail}")
    if failure.kind == "tls" and failure.tls is not None:  # a "tls" failure always has it
        return _tls_error(failure.tls, node=node, backend=backend, where=where)
    from emotion_director.agents.openai_chat import environment_proxy, proxy_has_credentials

    proxy = environment_proxy(where) if backend == "openai" else None
    # what went wrong on the way may be the proxy's: a 502/503/504 is a gateway's answer, a cut
    # connection or a reply that is no HTTP may come from it (red-team: each blamed the server)
    via = (
        f" The request went through the proxy {proxy} that the environment names: the fault may "
        "be the proxy's; check it, or set NO_PROXY to this host to go to the server directly."
        if proxy
        else ""
    )
    if failure.kind == "proxy":
        return BackendError(
            f"node '{node}': the proxy {proxy or 'the environment names'} would not carry the "
            f"request to the {backend} server at {where} ({failure.detail}): fix HTTPS_PROXY / "
            "HTTP_PROXY / ALL_PROXY, or set NO_PROXY to this host to go to it directly."
        )
    if failure.kind == "down" and proxy:
        return BackendError(
            f"node '{node}': cannot reach the proxy {proxy} that the environment names for the "
            f"{backend} server at {where} (connection failed: nothing answers there). Fix "
            "HTTPS_PROXY / HTTP_PROXY / ALL_PROXY, or set NO_PROXY to this host to go to it "
            "directly."
        )
    if failure.kind == "down":
        return BackendError(
            f"node '{node}': cannot reach the {backend} server at {where} (connection failed: "
            "nothing answers there). Start the server or fix --base-url."
        )
    if failure.kind == "lost" and proxy:
        return BackendError(
            f"node '{node}': the connection through the proxy {proxy} (named by the environment) "
            f"to the {backend} server at {where} ended before a whole answer ({failure.detail}): "
            "the proxy or the server cut it; check the proxy (and the server's log), or set "
            "NO_PROXY to this host to go to the server directly."
        )
    if failure.kind == "lost" and failure.answered:
        return BackendError(
            f"node '{node}': the {backend} server at {where} began an answer and broke it off "
            f"or sent a body that is not valid HTTP ({failure.detail}): check the server's log "
            f"(did it crash mid-answer?) and that --base-url is an OpenAI-compatible server.{via}"
        )
    if failure.kind == "lost":
        secure = where.replace("http://", "https://", 1) if where.startswith("http://") else ""
        tls = f" If the server speaks TLS, use {secure}." if secure and not proxy else ""
        return BackendError(
            f"node '{node}': the {backend} server at {where} accepted the connection but ended "
            f"it before a whole answer ({failure.detail}): check the server's log (did it crash "
            f"or restart?).{tls}{via}"
        )
    if failure.kind == "slow":
        deadline = f"{timeout:g} s " if isinstance(timeout, (int, float)) else ""
        return BackendError(
            f"node '{node}': the {backend} server at {where} is up but did not finish answering "
            f"within the {deadline}deadline (EMOTION_DIRECTOR_TIMEOUT_S). Raise the timeout, "
            f"lower EMOTION_DIRECTOR_MAX_TOKENS, or use a faster model.{via}"
        )
    if failure.kind == "status":
        wait = f"; {failure.retry_after[1]}" if failure.retry_after else ""
        if failure.status == 429:
            return BackendError(
                f"node '{node}': the {backend} server at {where} answered HTTP 429, its rate "
                f"limit ({failure.detail}{wait}): run again later, lower "
                "EMOTION_DIRECTOR_MAX_CONCURRENT_REQUESTS, or raise EMOTION_DIRECTOR_MAX_RETRIES."
            )
        if failure.status == 407 and proxy_has_credentials(where):
            return BackendError(
                f"node '{node}': the proxy {proxy} refused the credentials given in the "
                f"environment (HTTP 407: {failure.detail}): fix the user and password in "
                "HTTPS_PROXY / HTTP_PROXY (http://USER:PASSWORD@PROXY:PORT), or set NO_PROXY "
                "for this host."
            )
        if failure.status == 407:
            return BackendError(
                f"node '{node}': a proxy between here and the {backend} server at {where} asks "
                f"for its own credentials (HTTP 407: {failure.detail}): set them in HTTPS_PROXY / "
                "HTTP_PROXY (http://USER:PASSWORD@PROXY:PORT), or NO_PROXY for this host."
            )
        if failure.status in _AUTH_STATUS:
            return BackendError(
                f"node '{node}': the {backend} server at {where} refused the credentials (HTTP "
                f"{failure.status}: {failure.detail}): check EMOTION_DIRECTOR_API_KEY (or the "
                "user:password in --base-url)."
            )
        if proxy and failure.status in {502, 503, 504}:
            return BackendError(
                f"node '{node}': the proxy {proxy} (named by the environment) answered HTTP "
                f"{failure.status} for the {backend} server at {where} ({failure.detail}{wait}): "
                "a gateway error from a proxy means it could not reach or hear from the server; "
                "check the proxy, or set NO_PROXY to this host to go to the server directly."
            )
        return BackendError(
            f"node '{node}': the {backend} server at {where} answered HTTP {failure.status} "
            f"({failure.detail}{wait})."
        )
    detail = failure.detail.rstrip(". ")
    return BackendError(f"node '{node}': the {backend} backend failed: {detail}.{via}")
