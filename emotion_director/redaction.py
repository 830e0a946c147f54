"""One redaction for every boundary where text leaves the process.

Secrets reach text in many ways: a password in a server URL (``http://alice:PW@host/v1``), a
PostgreSQL URL or key/value DSN (``?password=...``, ``password=... host=...``), an API key in an
``Authorization`` header that a misbehaving server echoes back in its error body. Whatever the
path, text leaves the process through a few boundaries only, and each applies :func:`redact`:

* errors: every :class:`~emotion_director.errors.EmotionDirectorError` redacts its own message,
  so CLI lines, MCP tool errors, eval error records and the error text LangGraph stores in
  checkpoints are clean;
* logs: :func:`install_log_redaction` adds :class:`RedactingFilter` to the handlers (the CLI does
  it), which also covers httpx's ``HTTP Request: POST http://...`` lines;
* stored metadata: :meth:`Settings.redacted_dump <emotion_director.settings.Settings.redacted_dump>`
  for eval ``run.json``;
* MCP tool results.

One boundary is where text *enters*: a server may echo the request's own credentials (the API
key, the base64 ``user:pass`` of a Basic header) inside an error body or even inside a model's
answer, and that answer is then stored (checkpoints, eval results, caches, reports). The openai
transport masks them there, in every form a server is likely to send back, with a
:class:`CredentialScrubber` built from the request itself; it matches those exact values only
(no patterns), so a model's answer is otherwise left alone.

Example:
    >>> redact("cannot reach http://alice:s3cret@db.local:8000/v1")
    'cannot reach http://alice:***@db.local:8000/v1'
    >>> redact("postgresql://bob:p@ss@db/runs?sslmode=require&password=hunter2")
    'postgresql://bob:***@db/runs?sslmode=require&password=***'
    >>> redact("echo: Authorization: Bearer sk-abcdef0123456789")
    'echo: Authorization: Bearer ***'
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# scheme://user:PASSWORD@host — the password runs to the *last* '@' that is followed by a host,
# so an unencoded '@' in the password (postgresql://bob:p@ss@db/runs) is masked whole.
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/?#@'\"]*):(?P<secret>\S*)@"
    r"(?P<host>[A-Za-z0-9.\-_~%]+|\[[0-9A-Fa-f:.]+\])?(?=[:/?#\s'\"),;\]>}]|$)"
)
_SECRET_KEYS = (
    r"password|passwd|pwd|pass|passphrase|api[_-]?key|apikey|access[_-]?token|auth[_-]?token"
    r"|refresh[_-]?token|id[_-]?token|token|secret|client[_-]?secret|private[_-]?key|sslpassword"
)
# key=value in URL queries and libpq DSNs; ``key`` alone only as a query parameter
_KEY_VALUE = re.compile(
    rf"(?P<head>(?<![\w-])(?:{_SECRET_KEYS})\s*=\s*|[?&]key=)(?P<secret>'[^']*'|\"[^\"]*\"|[^\s&;,'\")]+)",
    re.IGNORECASE,
)
# "password": "x" / 'api_key': 'x' (JSON, Python reprs)
_QUOTED_FIELD = re.compile(
    rf"(?P<head>[\"'](?:{_SECRET_KEYS}|authorization|x-api-key|api-key|proxy-authorization)[\"']"
    rf"\s*:\s*)(?P<quote>[\"'])(?P<secret>.*?)(?P=quote)",
    re.IGNORECASE,
)
# Authorization: Bearer xyz / x-api-key: xyz (HTTP header lines, echoed by servers)
_HEADER = re.compile(
    r"(?P<head>\b(?:proxy-)?authorization\s*[:=]\s*(?:(?:bearer|basic|token|digest)\s+)?"
    r"|\b(?:x-)?api-key\s*[:=]\s*)(?P<secret>[^\s,;'\"}]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(
    r"(?P<head>\b(?:bearer|basic)\s+)(?P<secret>[A-Za-z0-9._~+/=\-]{8,})", re.IGNORECASE
)
# well-known key formats (OpenAI, Hugging Face, GitHub, Slack, AWS access key ids)
_KEY_FORMATS = re.compile(
    r"\b(?P<head>sk-(?:proj-|ant-)?|hf_|ghp_|gho_|ghs_|github_pat_|xox[abprs]-|AKIA)"
    r"(?P<secret>[A-Za-z0-9_\-]{12,})"
)

_KNOWN: set[str] = set()
_KNOWN_LOCK = threading.Lock()
#: Shorter values are masked by the patterns only: replacing every "pw" in a text would
#: mangle it without protecting anything.
MIN_REMEMBERED = 6


def remember_secret(value: Any) -> None:
    """Mask ``value`` wherever it appears, even without a recognisable shape.

    A server may echo the API key in an error body with no ``Bearer`` in front of it; the
    settings remember their secrets here (a process-wide set: log handlers and exception
    messages have no settings object to ask).
    """
    if hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    if isinstance(value, str) and len(value) >= MIN_REMEMBERED:
        with _KNOWN_LOCK:
            _KNOWN.add(value)


def url_passwords(url: str | None) -> list[str]:
    """The passwords written in ``url`` (userinfo and ``password=`` parameters)."""
    if not url:
        return []
    found = [m.group("secret") for m in _URL_PASSWORD.finditer(url)]
    found += [m.group("secret").strip("'\"") for m in _KEY_VALUE.finditer(url)]
    return [f for f in found if f]


_URLSAFE = str.maketrans("+/", "-_")


def credential_forms(secret: str) -> set[str]:
    """``secret`` and the forms in which a server may echo it back.

    Its base64 (standard and URL-safe), also as part of a longer encoded text such as
    ``base64("Bearer " + key)``: at each of the three byte alignments, the characters that
    depend on the secret alone. And JSON's escaped slash (``\\/``) in each of them; the secret
    reversed, and its hex.

    Example:
        >>> forms = credential_forms("alice:s3cret")
        >>> "YWxpY2U6czNjcmV0" in forms  # base64, as in "Authorization: Basic YWxp..."
        True
        >>> import base64
        >>> encoded = base64.b64encode(b"user alice:s3cret").decode()  # shifted by 11 bytes
        >>> any(form in encoded for form in forms - {"alice:s3cret", "YWxpY2U6czNjcmV0"})
        True
    """
    raw = secret.encode("utf-8", "surrogateescape")
    forms = {secret, base64.b64encode(raw).decode()}
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        # base64 digit i carries bits 6i..6i+6; keep the digits made of the secret's bits only
        forms.add(encoded[(8 * shift + 5) // 6 : 8 * (shift + len(raw)) // 6])
    forms |= {form.translate(_URLSAFE) for form in forms}
    forms |= {form.replace("/", "\\/") for form in forms if "/" in form}
    # upper- and lower-cased, reversed, and hex in both cases (byte-aligned: found inside the hex
    # of any text that holds the secret); only these, not any case, so a model's "golden sunset"
    # keeps its words where a password is "Sunset"
    forms |= {secret.upper(), secret.lower(), secret[::-1], raw.hex(), raw.hex().upper()}
    return {form for form in forms if len(form) >= MIN_REMEMBERED}


class CredentialScrubber:
    """Masks given credentials, in every :func:`credential_forms`, in text a server sent.

    Unlike :func:`redact` it matches these values only, never a pattern, so it is safe on a
    model's answer: "a basic farmhouse" or "password=..." written by the model stay as written.
    Secrets shorter than :data:`MIN_REMEMBERED` are left out (masking every "pw" would mangle
    text without protecting anything).

    Example:
        >>> scrub = CredentialScrubber(["sk-test-0123456789"])
        >>> scrub.text("key sk-test-0123456789, base64 c2stdGVzdC0wMTIzNDU2Nzg5")
        'key ***, base64 ***'
        >>> scrub.values({"content": "Bearer sk-test-0123456789"})
        {'content': 'Bearer ***'}
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if isinstance(secret, str) and len(secret) >= MIN_REMEMBERED:
                forms |= credential_forms(secret)
        ordered = sorted(forms, key=len, reverse=True)  # a longer form first: masked whole
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        #: the longest form: a streamed answer must hold back one character less than this
        self.longest = len(ordered[0]) if ordered else 0

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, text: str) -> str:
        """``text`` with every form of the credentials replaced by ``***``."""
        return self._pattern.sub(MASK, text) if self._pattern is not None else text

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        """Where :meth:`text` would mask, left to right."""
        if self._pattern is not None:
            yield from (match.span() for match in self._pattern.finditer(text))

    def values(self, value: Any) -> Any:
        """``value`` (decoded JSON) with :meth:`text` applied to every string, keys included."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                self.text(k) if isinstance(k, str) else k: self.values(v) for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.values(v) for v in value]
        return value


def _mask(match: re.Match[str]) -> str:
    secret = match.group("secret")
    if not secret or secret == MASK:
        return match.group(0)
    start, end = match.span("secret")
    whole_start = match.start()
    text = match.group(0)
    quote = secret[0] if secret[0] in "'\"" and secret[-1] == secret[0] and len(secret) > 1 else ""
    return text[: start - whole_start] + f"{quote}{MASK}{quote}" + text[end - whole_start :]


def redact(text: Any) -> str:
    """``text`` with every password, token and API key replaced by ``***``.

    Idempotent, and safe on any text: only what looks like a secret (or was remembered with
    :func:`remember_secret`) changes.
    """
    text = text if isinstance(text, str) else str(text)
    with _KNOWN_LOCK:
        known = sorted(_KNOWN, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in (_URL_PASSWORD, _KEY_VALUE, _QUOTED_FIELD, _HEADER, _BEARER, _KEY_FORMATS):
        text = pattern.sub(_mask, text)
    return text


def redact_values(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings) with :func:`redact` applied to every string."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_values(v) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's message (and its traceback text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is the caller's bug; leave it to logging
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            clean = redact(record.exc_text)
            if clean != record.exc_text:
                # a handler that renders the exception itself (rich's tracebacks, as the MCP SDK's
                # handler does) would show what exc_text hides: it gets the redacted text only
                record.exc_info = None
            record.exc_text = clean
        return True


_FILTER = RedactingFilter()
#: Loggers whose records carry URLs (httpx logs each request line at INFO).
NOISY_LOGGERS = (
    "httpx",
    "httpcore",
    "openai",
    "openai._base_client",
    "emotion_director",
    "langgraph",
    "langchain",
    "langchain_openai",
    "psycopg",
    "mcp",
)


def install_log_redaction(loggers: Iterable[str] = NOISY_LOGGERS) -> None:
    """Redact every record that reaches the root logger's handlers or ``loggers``.

    Call it after configuring logging (``logging.basicConfig``); the CLI does. Handler filters
    see records from every logger; the logger filters keep records from these libraries clean
    even under handlers added later.
    """
    handlers = [*logging.getLogger().handlers]
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    for name in loggers:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def same_server(url: str) -> str:
    """``url`` as two runs' servers are compared: a trailing slash is no other server
    (".../v1/" is ".../v1")."""
    return url.rstrip("/")


def public_url(url: str | None) -> str | None:
    """``url`` without user, password or query (they may hold secrets)."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
