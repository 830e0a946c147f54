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
import logging
import math
import random
import ssl
import threading
import time
from collections import OrderedDict
from typing import Any, TypeVar, cast

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig, RunnableSequence
from pydantic import BaseModel, ValidationError

from emotion_director.agents.backends import backend_name
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
from emotion_director.untrusted import clean_model_output

T = TypeVar("T", bound=BaseModel)


logger = logging.getLogger("emotion_director.llm")


_STRUCTURED: OrderedDict[tuple[int, type, str], tuple[Any, Runnable]] = OrderedDict()
_STRUCTURED_LOCK = threading.Lock()


def _structured(model: BaseChatModel, schema: type[T], method: str) -> Runnable:
    """``model.with_structured_output(schema, method=method)``, built once per model and schema.

    Converting a pydantic schema to JSON schema / an OpenAI tool costs ~1-3 ms of CPU; under load
    (hundreds of concurrent persona calls) that dominated the graph's own cost, so the runnable
    is cached and per-call parameters are bound on top of it (:func:`structured_runnable`).
    """
    key = (id(model), schema, method)
    with _STRUCTURED_LOCK:
        hit = _STRUCTURED.get(key)
        if hit is not None and hit[0] is model:
            _STRUCTURED.move_to_end(key)
            return hit[1]
    built = model.with_structured_output(schema, method=method)
    with _STRUCTURED_LOCK:
        _STRUCTURED[key] = (model, built)
        while len(_STRUCTURED) > 128:
            _STRUCTURED.popitem(last=False)
    return built


def structured_runnable(
    model: BaseChatModel,
    schema: type[T],
    *,
    temperature: float | None = None,
    seed: int | None = None,
    method: str = "function_calling",
) -> Runnable:
    """``model`` bound to return ``schema`` (its own ``with_structured_output``), with per-call
    temperature and seed."""
    params = {k: v for k, v in {"temperature": temperature, "seed": seed}.items() if v is not None}
    structured = _structured(model, schema, method)
    if not params:
        return structured
    # with_structured_output gives "model.bind(...) | parser" (langchain-core's models and
    # ours): the call parameters join the model's binding
    if isinstance(structured, RunnableSequence) and isinstance(structured.first, RunnableBinding):
        return RunnableSequence(
            structured.first.bind(**params), *structured.middle, structured.last
        )
    update = {k: v for k, v in params.items() if k in type(model).model_fields}
    return model.model_copy(update=update).with_structured_output(schema, method=method)


#: How the openai backend can ask for structure, most to least strict. A server that rejects one
#: is asked the next way (logged once per model); e.g. llama.cpp's server answers HTTP 500 to
#: ``json_schema`` but handles tool calls.
STRUCTURED_METHODS = ("json_schema", "function_calling", "json_mode")
# (server URL, model name, method) -> why the server rejected it: a property of the server, so
# every model object talking to it learns from the first rejection
_REJECTED: dict[tuple[str, str, str], str] = {}
_REJECTED_LOCK = threading.Lock()
_TRANSIENT_STATUS = {408, 429, 502, 503, 504}


def _method_for(model: BaseChatModel, method: str) -> str:
    """The first method at or after ``method`` in :data:`STRUCTURED_METHODS` not yet rejected."""
    if method not in STRUCTURED_METHODS:
        return method
    with _REJECTED_LOCK:
        for candidate in STRUCTURED_METHODS[STRUCTURED_METHODS.index(method) :]:
            if (*_server_key(model), candidate) not in _REJECTED:
                return candidate
    return STRUCTURED_METHODS[-1]


def _reject_method(model: BaseChatModel, method: str, why: str, where: str) -> str | None:
    """Record that the server rejected ``method``; return the next one to try, if any."""
    key = (*_server_key(model), method)
    with _REJECTED_LOCK:
        first_time = key not in _REJECTED
        _REJECTED[key] = why
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
        chain = _cause_chain(exc)
        names = " ".join(type(e).__name__ for e in chain)
        too_large = next((e for e in chain if isinstance(e, ResponseTooLargeError)), None)
        tls = next((e for e in chain if isinstance(e, ssl.SSLError)), None)
        status_code = getattr(exc, "status_code", None)
        if too_large is not None:
            self.kind, self.detail = "final", str(too_large)
        elif isinstance(exc, BackendError):
            self.kind, self.detail = "final", str(exc)
        elif status_code is not None:
            self.kind, self.status = "status", int(status_code)
            self.detail = " ".join(str(getattr(exc, "message", exc)).split())[:300]
            self.retry_after = retry_after(_response_headers(chain))
        elif tls is not None:
            self.kind, self.tls = "tls", tls
        elif "ConnectTimeout" in names or "ConnectError" in names:
            self.kind = "down"
        elif "Timeout" in names:
            self.kind = "slow"
        elif "Connection" in names or "Protocol" in names or "RemoteProtocol" in names:
            self.kind = "down"
        else:
            self.kind, self.detail = "final", f"{type(exc).__name__}: {str(exc)[:200]}"

    @property
    def rejects_method(self) -> bool:
        """A 4xx (other than timeout / rate limit) or a 500: the server refuses this request."""
        return (
            self.status is not None
            and self.status not in _TRANSIENT_STATUS
            and (400 <= self.status < 500 or self.status in {500, 501})
        )

    def same_as(self, other: _Failure | None) -> bool:
        return other is not None and (self.kind, self.status, self.detail) == (
            other.kind,
            other.status,
            other.detail,
        )


def _cause_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in chain and len(chain) < 10:
        chain.append(link)
        link = link.__cause__ or link.__context__
    return chain


def _request(
    model: BaseChatModel,
    runnable_for: Any,
    messages: list[Any],
    *,
    node: str,
    backend: str,
    method: str,
    retries: int,
    config: RunnableConfig | None,
    label: str = "",
) -> Steps[tuple[Any, str]]:
    """One structured request with transport retries and method fallback; returns
    ``(result, method used)``.

    Transient failures (connection refused, deadline passed, HTTP 408/429/502/503/504) are
    retried ``retries`` times with jittered backoff, and never sooner than the server's
    ``Retry-After`` says; a server that asks for a longer wait than one request may take
    (``request_timeout``, EMOTION_DIRECTOR_TIMEOUT_S) fails at once, naming its wait. An HTTP
    500 is retried only while its answer changes: the same error twice is deterministic. A
    rejection (4xx, repeated 500) moves on to the next structured-output method; when none is
    left the error names every answer. A failed TLS handshake is not retried.
    """
    where = _where(model, backend)
    rejected: list[str] = []
    method = _method_for(model, method)
    previous: _Failure | None = None
    transient_left = retries
    while True:
        yield CHARGE_CALL  # one call of the node's budget (raises when it is spent)
        logger.info("llm call node=%s backend=%s schema=%s method=%s", node, backend, label, method)
        try:
            return (yield ModelCall(runnable_for(method), messages, config)), method
        except (OutputParserException, ValidationError):
            raise
        except Exception as exc:
            if (
                isinstance(exc, ValueError)
                and not isinstance(exc, BackendError)
                and not _is_openai_error(exc)
            ):
                raise  # invalid output: the caller retries with a new seed
            if isinstance(exc, RuntimeError) and not _is_openai_error(exc):
                raise  # e.g. the unit-test guard
            failure = _Failure(exc)
        if failure.kind in {"final", "tls"}:
            raise _backend_error(failure, node=node, backend=backend, where=where) from None
        repeated = failure.same_as(previous)
        previous = failure
        if failure.rejects_method and (failure.status != 500 or repeated or not transient_left):
            rejected.append(f"{method}: HTTP {failure.status} {failure.detail}".strip())
            following = (
                _reject_method(model, method, rejected[-1], where)
                if not runs_in_process(model) and method in STRUCTURED_METHODS
                else None
            )
            if following is None:
                raise _rejected_error(rejected, node=node, backend=backend, where=where)
            method, previous = following, None
            continue
        if not transient_left:
            raise _backend_error(
                failure,
                node=node,
                backend=backend,
                where=where,
                timeout=getattr(model, "request_timeout", None),
            ) from None
        transient_left -= 1
        wait = min(2.0, 0.1 * 2 ** (retries - transient_left)) * random.uniform(0.5, 1.5)
        if failure.retry_after is not None:
            limit = _wait_limit(model)
            if failure.retry_after[0] > limit:
                raise _wait_too_long_error(failure, limit, node=node, backend=backend, where=where)
            # never sooner than asked; a little later, so concurrent callers do not stampede
            wait = max(wait, min(failure.retry_after[0] * random.uniform(1.0, 1.1), limit))
        yield Backoff(wait)


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
) -> Steps[T]:
    """Ask ``model`` for a ``schema`` object, as steps (see :mod:`~emotion_director.agents.steps`);
    retry invalid output, then raise a clear error.

    Agents compose it (``result = yield from structured_steps(...)``);
    :func:`invoke_structured` and :func:`ainvoke_structured` run it on its own.

    Args:
        model (`BaseChatModel`): any langchain-core chat model.
        schema (`type[BaseModel]`): the pydantic model the reply must match.
        messages (`list`): langchain messages or ``(role, text)`` tuples.
        node (`str`): the graph node asking, named in errors.
        retries (`int`, *optional*, defaults to 2): extra attempts after invalid output, and
            after transient server failures (see :func:`_request`).
        seed (`int`, *optional*): sampling seed; attempt ``i`` uses ``seed + i``.
        method (`str`, *optional*, defaults to ``"function_calling"``): how to ask for
            structure; a server that rejects it is asked the next way in
            :data:`STRUCTURED_METHODS` (logged).

    Raises:
        ModelOutputError: every attempt returned output that does not match ``schema``.
        BackendError: the server is down, too slow, rejected every method, or replied with
            something that is not a chat completion; the message says which.
    """
    backend = backend_name(model)
    remote = not runs_in_process(model)
    last_error = "no attempt made"
    for attempt in range(retries + 1):
        call_config = trace_config(node, backend, schema.__name__, attempt, config)
        if attempt and remote:
            # jittered exponential backoff before re-asking a remote server
            yield Backoff(min(2.0, 0.1 * 2**attempt) * random.uniform(0.5, 1.5))
        attempt_seed = None if seed is None else seed + attempt

        def runnable_for(chosen: str, attempt_seed: int | None = attempt_seed) -> Runnable:
            return structured_runnable(
                model, schema, temperature=temperature, seed=attempt_seed, method=chosen
            )

        try:
            result, method = yield from _request(
                model,
                runnable_for,
                messages,
                node=node,
                backend=backend,
                method=method,
                retries=retries,
                config=call_config,
                label=schema.__name__,
            )
        except (OutputParserException, ValidationError, ValueError) as exc:
            if isinstance(exc, BackendError):
                raise
            last_error = " ".join(str(exc).split())[:200]
            continue
        if isinstance(result, schema):
            try:  # the one place a model's text enters: no control characters pass
                return clean_model_output(result)
            except ValidationError as exc:
                last_error = " ".join(str(exc).split())[:200]
                continue
        last_error = f"got {type(result).__name__} instead of {schema.__name__}"
    hint = (
        "another structured_method or a larger model"
        if remote
        else "a larger model (--model-path), another --seed, or the openai backend"
    )
    raise ModelOutputError(
        f"node '{node}': the {backend} backend returned invalid output {retries + 1} time(s) "
        f"({last_error}). Try {hint}.",
        node=node,
        backend=backend,
    )


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
    if failure.kind == "down":
        return BackendError(
            f"node '{node}': cannot reach the {backend} server at {where} (connection failed: "
            "nothing answers there). Start the server or fix --base-url."
        )
    if failure.kind == "slow":
        deadline = f"{timeout:g} s " if isinstance(timeout, (int, float)) else ""
        return BackendError(
            f"node '{node}': the {backend} server at {where} is up but did not finish answering "
            f"within the {deadline}deadline (EMOTION_DIRECTOR_TIMEOUT_S). Raise the timeout, "
            "lower EMOTION_DIRECTOR_MAX_TOKENS, or use a faster model."
        )
    if failure.kind == "status":
        wait = f"; {failure.retry_after[1]}" if failure.retry_after else ""
        if failure.status == 429:
            return BackendError(
                f"node '{node}': the {backend} server at {where} answered HTTP 429, its rate "
                f"limit ({failure.detail}{wait}): run again later, lower "
                "EMOTION_DIRECTOR_MAX_CONCURRENT_REQUESTS, or raise EMOTION_DIRECTOR_MAX_RETRIES."
            )
        return BackendError(
            f"node '{node}': the {backend} server at {where} answered HTTP {failure.status} "
            f"({failure.detail}{wait})."
        )
    return BackendError(f"node '{node}': the {backend} backend failed: {failure.detail}")


def _is_openai_error(exc: Exception) -> bool:
    return type(exc).__module__.startswith(("openai", "httpx", "httpcore"))
