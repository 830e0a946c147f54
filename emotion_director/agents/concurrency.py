"""How many requests one OpenAI-compatible server gets at once: as many as it can serve.

A server with fewer slots than the graph has personas queues the rest; under load the queued
requests pass their deadline and fail. :class:`AdaptiveLimit` keeps the number in flight to a
server at what it can take, without tuning:

* it **starts** at the server's slot count when the server reports one (llama.cpp's server:
  ``GET /props`` -> ``total_slots``), else at the ceiling (``max_concurrent_requests``);
* it **halves** on an answer that says the server is overloaded (HTTP 429 or 503, a request
  that ran out of time), never below 1;
* it **grows by one** after as many successes in a row as its current limit, up to the ceiling
  (additive increase, multiplicative decrease, as TCP does); the ceiling is the slot count when
  the server reports one.

One limit is shared by every model object that talks to the same server in this process.

Example:
    >>> limit = AdaptiveLimit(ceiling=8, start=4)
    >>> with limit.slot():
    ...     pass  # one request
    >>> limit.record("overload"); limit.limit
    2
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

logger = logging.getLogger(__name__)

Outcome = Literal["ok", "overload", "other"]


class AdaptiveLimit:
    """A blocking limit on requests in flight that adapts to the server (see the module)."""

    def __init__(self, ceiling: int, start: int | None = None) -> None:
        self.ceiling = max(int(ceiling), 1)
        self.limit = max(1, min(self.ceiling, start if start is not None else self.ceiling))
        self.in_flight = 0
        self.peak = 0  # the most requests ever in flight at once (for tests and benchmarks)
        self._streak = 0
        self._cond = threading.Condition()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Wait for a free slot, hold it for one request; the caller reports the outcome with
        :meth:`record` (inside the block) or leaves it as "other"."""
        with self._cond:
            while self.in_flight >= self.limit:
                self._cond.wait()
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            yield
        finally:
            with self._cond:
                self.in_flight -= 1
                self._cond.notify_all()

    @contextmanager
    def request(self) -> Iterator[None]:
        """One request in a slot, its outcome recorded: ``ok`` when the block ends normally,
        else what :func:`classify` makes of the exception (re-raised)."""
        with self.slot():
            try:
                yield
            except BaseException as exc:
                self.record(classify(exc))
                raise
            self.record("ok")

    def record(self, outcome: Outcome) -> None:
        """Adapt to one request's outcome."""
        with self._cond:
            if outcome == "overload":
                before, self.limit = self.limit, max(1, self.limit // 2)
                self._streak = 0
                if self.limit != before:
                    logger.info(
                        "the server is overloaded: %d request(s) in flight at most (was %d)",
                        self.limit,
                        before,
                    )
            elif outcome == "ok":
                self._streak += 1
                if self._streak >= self.limit and self.limit < self.ceiling:
                    self.limit += 1
                    self._streak = 0
                    self._cond.notify_all()


def server_slots(base_url: str, timeout: float = 1.0) -> int | None:
    """The number of requests the server serves at once, when it says (llama.cpp's
    ``/props`` ``total_slots``); None when it does not or cannot be asked."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https"):
        return None
    path = parts.path.rstrip("/")
    root = path[: -len("/v1")] if path.endswith("/v1") else path
    url = urlunsplit((parts.scheme, parts.netloc, f"{root}/props", "", ""))
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (http only)
            data = json.loads(response.read(65536))
    except (OSError, ValueError):
        return None
    slots = data.get("total_slots") if isinstance(data, dict) else None
    return slots if isinstance(slots, int) and not isinstance(slots, bool) and slots > 0 else None


_LIMITS: dict[tuple[str, int], AdaptiveLimit] = {}
_LOCK = threading.Lock()


def limit_for(base_url: str, ceiling: int) -> AdaptiveLimit:
    """The shared limit for ``base_url`` (its slots asked once, on first use)."""
    key = (base_url, ceiling)
    with _LOCK:
        found = _LIMITS.get(key)
    if found is not None:
        return found
    slots = server_slots(base_url)
    if slots is not None:
        logger.info("the server at %s serves %d request(s) at once", base_url, slots)
    # a server that says how many it serves at once is never sent more: the rest would only
    # queue there, their deadlines running
    limit = AdaptiveLimit(min(ceiling, slots) if slots else ceiling, start=slots)
    with _LOCK:
        return _LIMITS.setdefault(key, limit)


def classify(error: BaseException | None) -> Outcome:
    """``ok`` for no error; ``overload`` for HTTP 429/503 or a request out of time."""
    if error is None:
        return "ok"
    status = getattr(error, "status_code", None) or getattr(
        getattr(error, "response", None), "status_code", None
    )
    if status in (429, 503):
        return "overload"
    name = type(error).__name__
    if "Timeout" in name or name in ("DeadlineExceeded", "ReadTimeout"):
        return "overload"
    return "other"
