"""Blind human ratings: a local page that shows two systems' rewrites side by side and records
which one a person prefers.

``serve_ratings(run_dir)`` serves, on 127.0.0.1 only, every pair of systems on every case of a
run (with the case's images when ``eval images`` made some). Each rater sees the pairs in their
own random order, each pair with a random side per rater, and never a system name. A choice
(``left``, ``right`` or ``tie``) is appended to ``ratings.jsonl`` in the run folder as it is
made (one JSON line: rater, pair id, case, which system was on which side, the choice and the
winning system); nothing is ever rewritten, so a crash loses nothing. If a rater rates a pair
again, the latest choice counts.

The page is for people on this machine only, so it refuses what a web site in the same browser
could send it: it answers only requests whose ``Host`` is its own loopback address (``127.0.0.1``,
``localhost`` or ``[::1]`` with its port; anything else is DNS rebinding) and whose ``Origin``,
when present, is that same address; a vote must carry the random token of this server session
that the page embeds, and it names its pair by a random per-session key (the stable pair id only
goes to ``ratings.jsonl``). Every response forbids framing and MIME sniffing. Images are served
only when the record's path resolves (symlinks followed) to a regular PNG, JPEG, GIF or WebP file
inside the run folder; anything else is a 404.

:func:`rating_sections` folds the ratings into ``eval report``: per-system win rates (a tie is
half a win) with bootstrap CIs beside the automatic metrics, head-to-head counts, and, when
several people rated the same pairs, inter-rater agreement (raw pairwise agreement, Cohen's
kappa per pair of raters, Fleiss' kappa over all).

Example (a run of two systems on three cases with the deterministic test model, unscored; a
person opens the page in a browser, ``emotion-director eval rate RUN`` serves it until Ctrl-C):
    >>> import asyncio, tempfile, threading, urllib.request
    >>> from types import SimpleNamespace
    >>> from emotion_director.evals.datasets import load_eval_dataset
    >>> from emotion_director.evals.runner import run_eval
    >>> from emotion_director.testing import TestChatModel
    >>> run = tempfile.TemporaryDirectory()
    >>> unscored = SimpleNamespace(score_rewrite=lambda prompt, rewrite, emotion: {})
    >>> _ = asyncio.run(run_eval(["identity", "template"],
    ...                          load_eval_dataset("builtin:shortcut")[:3],
    ...                          run.name, chat_model=TestChatModel(), metrics=unscored))
    >>> server = serve_ratings(run.name, port=0)
    >>> len(server.session.pairs)  # one pair of systems on each of the three cases
    3
    >>> threading.Thread(target=server.serve_forever, daemon=True).start()
    >>> urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/").status
    200
    >>> server.shutdown(); server.server_close(); run.cleanup()
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import html
import itertools
import os
import random
import re
import secrets
import stat
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from emotion_director.errors import RatingError
from emotion_director.evals.markup import markdown_inline
from emotion_director.files import append_jsonl, read_run_jsonl

CHOICES = ("left", "right", "tie", "skip")
RATER_NAME = re.compile(r"^[A-Za-z0-9 _.-]{1,40}$")
MAX_BODY = 4096
IMAGES_PER_SIDE = 2
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")
MAX_IMAGE_BYTES = 64 * 1024 * 1024
# Sent with every response. The page has no inline script or style (/style.css and the
# keyboard shortcuts' /keys.js), so 'self' covers all it loads; a form posts only back here
# and nobody frames it.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self'; style-src 'self'; "
    "script-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    # not no-referrer: under it a browser sends `Origin: null` with the page's own form posts
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@dataclass(frozen=True)
class RatingPair:
    """Two systems' rewrites of one case; ``system_a < system_b`` (names never shown)."""

    pair_id: str
    case_id: str
    prompt: str
    emotion: str
    system_a: str
    system_b: str
    text_a: str
    text_b: str
    images_a: tuple[str, ...] = ()
    images_b: tuple[str, ...] = ()


def pair_id(case_id: str, system_a: str, system_b: str) -> str:
    """The stable id written to ``ratings.jsonl`` (never shown: the page uses random keys)."""
    return hashlib.sha1(f"{case_id}|{system_a}|{system_b}".encode()).hexdigest()[:12]


def resolve_run_image(run_root: Path, recorded: object) -> Path | None:
    """Where an image record's ``path`` leads, symlinks followed, if that is inside the run.

    ``None`` for anything that is not a relative-or-absolute path string resolving inside
    ``run_root`` (itself already resolved) with an image suffix: ``/etc/passwd``,
    ``../../secret`` or a symlink out of the run are never served.
    """
    if not isinstance(recorded, str) or not recorded or "\x00" in recorded:
        return None
    try:
        path = (run_root / recorded).resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop, an unreadable folder
        return None
    if not path.is_relative_to(run_root) or path.suffix.lower() not in IMAGE_SUFFIXES:
        return None
    return path


def _image_type(head: bytes) -> str | None:
    """The image MIME type its first bytes show (the suffix alone proves nothing)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def read_run_image(run_root: Path, recorded: object) -> tuple[bytes, str] | None:
    """The bytes and MIME type of a regular image file inside the run, else ``None``."""
    path = resolve_run_image(run_root, recorded)
    if path is None:
        return None
    # O_NOFOLLOW: the resolved path has no symlink left, so one appearing since is refused;
    # O_NONBLOCK: opening a FIFO named like an image must not hang the request thread.
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        regular = stat.S_ISREG(info.st_mode) and info.st_size <= MAX_IMAGE_BYTES
    except OSError:
        regular = False
    if not regular:  # a folder, FIFO or device named like an image
        os.close(fd)
        return None
    try:
        with os.fdopen(fd, "rb") as handle:  # owns and closes fd from here on
            data = handle.read(MAX_IMAGE_BYTES + 1)
    except OSError:
        return None
    kind = _image_type(data[:16])
    return (data, kind) if kind and len(data) <= MAX_IMAGE_BYTES else None


def build_pairs(run_dir: str | Path, systems: list[str] | None = None) -> list[RatingPair]:
    """Every pair of systems on every case that both rewrote, with up to 2 images per side."""
    from emotion_director.evals.images import read_image_records
    from emotion_director.evals.tables import read_results

    run = Path(run_dir)
    if not (run / "results.jsonl").is_file():
        raise RatingError(
            f"{run} is not an eval run folder (no results.jsonl): run "
            f"`emotion-director eval run --out {run}` first."
        )
    root = run.resolve()
    rows = [r for r in read_results(run) if r.get("rewrite")]
    available = list(dict.fromkeys(r["system"] for r in rows))
    unknown = [s for s in systems or [] if s not in available]
    if unknown:
        raise RatingError(
            f"system(s) {', '.join(unknown)} not in {run}/results.jsonl; it has: "
            f"{', '.join(available) or 'none'}."
        )
    wanted = set(systems or available)
    images: dict[tuple[str, str], list[str]] = defaultdict(list)
    for record in sorted(read_image_records(run), key=lambda r: r["index"]):
        # a path leading out of the run is never offered (and never served: see _image)
        if resolve_run_image(root, record.get("path")) is not None:
            images[(record["system"], record["case_id"])].append(record["path"])
    by_case: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for row in rows:
        if row["system"] in wanted:
            by_case[row["case_id"]].setdefault(row["system"], row)
    pairs = []
    for case_id, found in by_case.items():
        for a, b in itertools.combinations(sorted(found), 2):
            ra, rb = found[a], found[b]
            pairs.append(
                RatingPair(
                    pair_id(case_id, a, b),
                    case_id,
                    ra["prompt"],
                    ra["emotion"],
                    a,
                    b,
                    ra["rewrite"],
                    rb["rewrite"],
                    tuple(images[(a, case_id)][:IMAGES_PER_SIDE]),
                    tuple(images[(b, case_id)][:IMAGES_PER_SIDE]),
                )
            )
    if not pairs:
        raise RatingError(
            f"{run}: nothing to rate; it needs rewrites of the same cases by at least two systems."
        )
    return pairs


def is_flipped(pair: str, rater: str) -> bool:
    """Whether ``system_b`` is on the left for this rater (fixed per rater and pair)."""
    return hashlib.sha1(f"{rater}|{pair}".encode()).digest()[0] % 2 == 1


def read_ratings(run_dir: str | Path) -> list[dict[str, Any]]:
    """The choices in ``ratings.jsonl`` that stand, in file order.

    The file is append-only: an undo is a line ``{"rater", "undo": PAIR_ID}`` that withdraws
    that rater's latest standing choice on the pair; a skip is a choice (``"skip"``) that
    counts for progress but not in any win rate.
    """
    path = Path(run_dir) / "ratings.jsonl"
    out: list[dict[str, Any]] = []
    for _, record in read_run_jsonl(  # a line cut by a crash: that one choice is lost, nothing else
        path, what="ratings file", item="rating", error=RatingError
    ):
        if isinstance(record.get("undo"), str) and isinstance(record.get("rater"), str):
            for i in range(len(out) - 1, -1, -1):
                if out[i]["rater"] == record["rater"] and out[i]["pair_id"] == record["undo"]:
                    del out[i]
                    break
        elif {"rater", "pair_id", "winner"} <= set(record):
            out.append(record)
    return out


@dataclass
class RatingSession:
    """The pairs of one run and its append-only ratings file, shared by the server's threads.

    ``pairs`` is keyed by the stable pair id that ``ratings.jsonl`` records; the page names a
    pair by a random key of this session (``keys``), and a vote must carry ``token``: a page
    from another origin can neither guess a pair nor forge a vote.
    """

    run_dir: Path
    pairs: dict[str, RatingPair]
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    keys: dict[str, str] = field(init=False)  # public key -> pair id
    key_of: dict[str, str] = field(init=False)  # pair id -> public key
    root: Path = field(init=False)  # the run folder, resolved: images must lie inside it
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.key_of = {pid: secrets.token_urlsafe(16) for pid in self.pairs}
        self.keys = {key: pid for pid, key in self.key_of.items()}
        self.root = Path(self.run_dir).resolve()

    @property
    def path(self) -> Path:
        return self.run_dir / "ratings.jsonl"

    def pair_for(self, key: str) -> RatingPair | None:
        """The pair a page key names (``None`` for an unknown or a stable pair id)."""
        pid = self.keys.get(key)
        return None if pid is None else self.pairs[pid]

    def token_matches(self, supplied: str) -> bool:
        return hmac.compare_digest(supplied.encode(), self.token.encode())

    def order(self, rater: str) -> list[str]:
        ids = sorted(self.pairs)
        random.Random(hashlib.sha1(rater.encode()).hexdigest()).shuffle(ids)
        return ids

    def rated_by(self, rater: str) -> set[str]:
        return {r["pair_id"] for r in read_ratings(self.run_dir) if r["rater"] == rater}

    def next_pair(self, rater: str) -> tuple[RatingPair | None, int]:
        done = self.rated_by(rater)
        remaining = [p for p in self.order(rater) if p not in done]
        return (self.pairs[remaining[0]] if remaining else None), len(done & set(self.pairs))

    def sides(self, pair: RatingPair, rater: str) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
        a = (pair.system_a, pair.text_a, pair.images_a)
        b = (pair.system_b, pair.text_b, pair.images_b)
        return (b, a) if is_flipped(pair.pair_id, rater) else (a, b)

    def undo(self, rater: str) -> str | None:
        """Withdraw the rater's latest standing choice (appended as an undo line); returns the
        pair id it concerned, or None when the rater has nothing to undo."""
        if not RATER_NAME.match(rater):
            raise RatingError("rater name must be 1-40 letters, digits, spaces, '_', '.' or '-'.")
        with self.lock:
            mine = [r for r in read_ratings(self.run_dir) if r["rater"] == rater]
            if not mine:
                return None
            record = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "rater": rater,
                "undo": mine[-1]["pair_id"],
            }
            append_jsonl(self.path, [record], what="ratings file", error=RatingError)
            return record["undo"]

    def counts(self, rater: str) -> Counter[str]:
        return Counter(
            r["choice"]
            for r in read_ratings(self.run_dir)
            if r["rater"] == rater and r["pair_id"] in self.pairs
        )

    def record(self, rater: str, pair_key: str, choice: str) -> dict[str, Any]:
        if not RATER_NAME.match(rater):
            raise RatingError("rater name must be 1-40 letters, digits, spaces, '_', '.' or '-'.")
        pair = self.pair_for(pair_key)
        if pair is None:
            raise RatingError(f"unknown pair id '{pair_key[:40]}'.")
        if choice not in CHOICES:
            raise RatingError(f"choice must be one of {', '.join(CHOICES)}.")
        (left, _, _), (right, _, _) = self.sides(pair, rater)
        winner = {"left": left, "right": right, "tie": "tie", "skip": "skip"}[choice]
        record = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "rater": rater,
            "pair_id": pair.pair_id,
            "case_id": pair.case_id,
            "left": left,
            "right": right,
            "choice": choice,
            "winner": winner,
            "system_a": pair.system_a,
            "system_b": pair.system_b,
        }
        with self.lock:
            append_jsonl(self.path, [record], what="ratings file", error=RatingError)
        return record


# ---------------------------------------------------------------- the page
# The pages are jinja2 templates (evals/templates/rating/) with autoescaping on: every value a
# page shows (a rewrite, a prompt, a rater's name) is escaped unless a template says otherwise.


def _render(name: str, **values: Any) -> bytes:
    from emotion_director.evals.tables import render_page

    return render_page(f"rating/{name}", **values).encode()


@functools.cache
def _static(name: str) -> bytes:
    """The page's stylesheet or script (no inline code: the CSP forbids it)."""
    from emotion_director.evals.tables import template_source

    return template_source(f"rating/{name}").encode()


def _error_page(message: str) -> bytes:
    return _render("error.html", title="Error", message=message)


def _done_page(session: RatingSession, rater: str) -> bytes:
    counts = session.counts(rater)
    labels = (("left", "left"), ("right", "right"), ("tie", "about the same"))
    summary = ", ".join(f"{counts[c]} {label}" for c, label in (*labels, ("skip", "skipped")))
    return _render(
        "done.html",
        title="Done",
        total=len(session.pairs),
        rater=rater,
        summary=summary,
        token=session.token,
        undo=sum(counts.values()) > 0,
    )


def _login_page() -> bytes:
    return _render("login.html", title="Rate rewrites")


def _pair_page(session: RatingSession, pair: RatingPair, rater: str, done: int) -> bytes:
    sides = [
        {"id": label.lower(), "label": label, "text": text, "images": len(images)}
        for label, (_, text, images) in zip(("Left", "Right"), session.sides(pair, rater))
    ]
    return _render(
        "pair.html",
        title="Rate rewrites",
        done=done,
        total=len(session.pairs),
        rater=rater,
        prompt=pair.prompt,
        emotion=pair.emotion,
        sides=sides,
        key=session.key_of[pair.pair_id],
        token=session.token,
        undo=done > 0,
    )


def loopback_hosts(port: int) -> frozenset[str]:
    """The ``Host`` values a browser on this machine sends to the page (lower case)."""
    names = ("127.0.0.1", "localhost", "[::1]")
    return frozenset([f"{n}:{port}" for n in names] + (list(names) if port == 80 else []))


def _make_handler(session: RatingSession) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "emotion-director-rating"

        def log_message(self, format: str, *args: Any) -> None:  # keep the terminal quiet
            pass

        def end_headers(self) -> None:  # every response, http.server's own errors included
            for key, value in SECURITY_HEADERS.items():
                self.send_header(key, value)
            super().end_headers()

        def _refusal(self) -> str | None:
            """Why this request is not from the page in a browser on this machine, if it is not."""
            port = self.server.server_address[1]
            hosts = self.headers.get_all("Host") or []
            host = hosts[0].strip().lower() if len(hosts) == 1 else ""
            if host not in loopback_hosts(port):
                shown = "missing" if not hosts else f"'{', '.join(hosts)[:100]}'"
                return (
                    f"Host header {shown} is not this rating server: it answers only to "
                    f"127.0.0.1:{port}, localhost:{port} or [::1]:{port} (open "
                    f"http://127.0.0.1:{port}/), so other web sites cannot reach it by DNS "
                    "rebinding."
                )
            origins = self.headers.get_all("Origin") or []
            if origins and (len(origins) > 1 or origins[0].strip().lower() != f"http://{host}"):
                return (
                    f"Origin header '{', '.join(origins)[:100]}' is not this page's origin "
                    f"http://{host}: only the rating page itself may send requests here."
                )
            return None

        def _send(
            self,
            status: int,
            body: bytes,
            content_type: str = "text/html; charset=utf-8",
            headers: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, message: str) -> None:
            self._send(status, _error_page(message))

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            refusal = self._refusal()
            if refusal:
                return self._error(403, refusal)
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            rater = (query.get("rater") or [""])[0].strip()
            if url.path == "/":
                if not rater:
                    return self._send(200, _login_page())
                if not RATER_NAME.match(rater):
                    return self._error(
                        400, "rater name must be 1-40 letters, digits, spaces, '_', '.' or '-'."
                    )
                pair, done = session.next_pair(rater)
                if pair is None:
                    return self._send(200, _done_page(session, rater))
                return self._send(200, _pair_page(session, pair, rater, done))
            if url.path == "/style.css":
                return self._send(200, _static("style.css"), "text/css; charset=utf-8")
            if url.path == "/keys.js":
                return self._send(200, _static("keys.js"), "text/javascript; charset=utf-8")
            parts = url.path.strip("/").split("/")
            if len(parts) == 4 and parts[0] == "image":
                return self._image(parts[1], parts[2], parts[3], rater)
            return self._error(404, "not found")

        def _image(self, key: str, side: str, index: str, rater: str) -> None:
            pair = session.pair_for(key)
            if (
                pair is None
                or side not in ("left", "right")
                or not index.isascii()
                or not index.isdigit()
                or not RATER_NAME.match(rater)
            ):
                return self._error(404, "no such image")
            images = session.sides(pair, rater)[0 if side == "left" else 1][2]
            if int(index) >= len(images):
                return self._error(404, "no such image")
            # checked again on every request: the file may have changed since the page was built
            found = read_run_image(session.root, images[int(index)])
            if found is None:
                return self._error(404, "no such image file in this run")
            self._send(200, *found)

        def do_POST(self) -> None:  # noqa: N802
            refusal = self._refusal()
            if refusal:
                return self._error(403, refusal)
            action = urlsplit(self.path).path
            if action not in ("/rate", "/undo"):
                return self._error(404, "not found")
            try:
                length = int(self.headers.get("Content-Length") or "")
            except ValueError:
                return self._error(411, "a Content-Length header is required")
            if length < 0:
                return self._error(400, f"Content-Length must be a size in bytes, got {length}")
            if length > MAX_BODY:
                return self._error(413, f"request body over {MAX_BODY} bytes")
            try:
                form = parse_qs(self.rfile.read(length).decode("utf-8"), strict_parsing=True)
            except (UnicodeDecodeError, ValueError):
                return self._error(
                    400, "expected a form body rater=...&pair=...&choice=...&token=..."
                )
            tokens = form.get("token") or []
            if len(tokens) != 1 or not session.token_matches(tokens[0]):
                return self._error(
                    403,
                    "this vote does not carry the token of this rating "
                    "session: reload the rating page and choose again.",
                )
            fields = {k: v[0].strip() for k, v in form.items() if len(v) == 1}
            if action == "/undo":
                if set(fields) != {"rater", "token"} or len(form) != 2:
                    return self._error(
                        400, "expected exactly one rater field (and the page's token)"
                    )
                try:
                    session.undo(fields["rater"])
                except RatingError as exc:
                    return self._error(400, str(exc))
                return self._send(
                    303, b"", headers={"Location": f"/?rater={quote(fields['rater'])}"}
                )
            if set(fields) != {"rater", "pair", "choice", "token"} or len(form) != 4:
                return self._error(
                    400, "expected exactly one rater, pair and choice field (and the page's token)"
                )
            try:
                session.record(fields["rater"], fields["pair"], fields["choice"])
            except RatingError as exc:
                return self._error(400, str(exc))
            self._send(303, b"", headers={"Location": f"/?rater={quote(fields['rater'])}"})

    return Handler


def serve_ratings(
    run_dir: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    systems: list[str] | None = None,
) -> ThreadingHTTPServer:
    """A server (not yet serving) for the run's pairs; ``port=0`` picks a free port."""
    run = Path(run_dir)
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise RatingError(
            f"the rating page serves on loopback only, not '{host}': raters on "
            "this machine open it in a browser; others can use an SSH tunnel "
            f"with the same port on both ends (ssh -L {port}:127.0.0.1:{port})."
        )
    session = RatingSession(run, {p.pair_id: p for p in build_pairs(run, systems)})
    try:
        server = ThreadingHTTPServer((host, port), _make_handler(session))
    except OSError as exc:
        raise RatingError(
            f"cannot listen on {host}:{port} ({exc.strerror}): pass another --port."
        ) from None
    server.daemon_threads = True
    server.session = session  # type: ignore[attr-defined]
    return server


# ---------------------------------------------------------------- agreement and win rates
def cohen_kappa(first: list[str], second: list[str]) -> float:
    """Cohen's kappa of two raters' labels on the same items (nan when chance agreement is 1)."""
    if len(first) != len(second) or not first:
        raise ValueError("cohen_kappa needs two equally long, non-empty label lists")
    n = len(first)
    observed = sum(a == b for a, b in zip(first, second)) / n
    c1, c2 = Counter(first), Counter(second)
    expected = sum(c1[k] * c2[k] for k in set(c1) | set(c2)) / (n * n)
    return float("nan") if expected == 1 else (observed - expected) / (1 - expected)


def fleiss_kappa(counts: list[dict[str, int]]) -> float:
    """Fleiss' kappa from per-item category counts (items may have different numbers of raters,
    at least 2 each); nan when every rating falls in one category."""
    items = [c for c in counts if sum(c.values()) >= 2]
    if not items:
        return float("nan")
    agreement = []
    totals: Counter[str] = Counter()
    for item in items:
        n = sum(item.values())
        agreement.append((sum(v * v for v in item.values()) - n) / (n * (n - 1)))
        totals.update(item)
    grand = sum(totals.values())
    p_bar = sum(agreement) / len(agreement)
    p_e = sum((v / grand) ** 2 for v in totals.values())
    return float("nan") if p_e == 1 else (p_bar - p_e) / (1 - p_e)


def _canonical(record: dict[str, Any]) -> str:
    """The choice in system terms that do not depend on the sides: a, b or tie."""
    if record["winner"] == "tie":
        return "tie"
    return "a" if record["winner"] == record["system_a"] else "b"


def summarise_ratings(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Win rates, head-to-head counts and agreement (the latest choice per rater and pair)."""
    from emotion_director.evals.tables import bootstrap_ci

    latest = {(r["rater"], r["pair_id"]): r for r in records}
    ratings = [r for r in latest.values() if r.get("choice") != "skip"]  # skips weigh nothing
    outcomes: dict[str, list[float]] = defaultdict(list)
    head: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for r in ratings:
        a, b = r["system_a"], r["system_b"]
        label = _canonical(r)
        score_a = {"a": 1.0, "b": 0.0, "tie": 0.5}[label]
        outcomes[a].append(score_a)
        outcomes[b].append(1 - score_a)
        head[(a, b)][label] += 1
    win_rates = {
        s: {"win_rate": bootstrap_ci(v), "comparisons": len(v)} for s, v in sorted(outcomes.items())
    }
    by_pair: dict[str, dict[str, str]] = defaultdict(dict)
    for r in ratings:
        by_pair[r["pair_id"]][r["rater"]] = _canonical(r)
    raters = sorted({r["rater"] for r in ratings})
    shared = {p: v for p, v in by_pair.items() if len(v) >= 2}
    agreement: dict[str, Any] = {"raters": raters, "items_rated_by_2_or_more": len(shared)}
    if shared:
        same = [a == b for v in shared.values() for a, b in itertools.combinations(v.values(), 2)]
        agreement["pairwise_agreement"] = sum(same) / len(same)
        agreement["fleiss_kappa"] = fleiss_kappa(
            [dict(Counter(v.values())) for v in shared.values()]
        )
        cohen = {}
        for r1, r2 in itertools.combinations(raters, 2):
            common = [p for p, v in shared.items() if r1 in v and r2 in v]
            if common:
                cohen[f"{r1} / {r2}"] = (
                    cohen_kappa([shared[p][r1] for p in common], [shared[p][r2] for p in common]),
                    len(common),
                )
        agreement["cohen_kappa"] = cohen
    return {
        "win_rates": win_rates,
        "head_to_head": dict(head),
        "agreement": agreement,
        "ratings": len(ratings),
    }


def _automatic(run: Path) -> dict[str, dict[str, float]]:
    """A few automatic metrics per system to print beside the human win rates."""
    from emotion_director.evals.images import read_image_records
    from emotion_director.evals.tables import read_results

    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in read_results(run):
        for metric in ("minilm_prob", "subject_similarity"):
            if isinstance((row.get("metrics") or {}).get(metric), (int, float)):
                values[row["system"]][metric].append(row["metrics"][metric])
    for record in read_image_records(run):
        values[record["system"]]["clip_score"].append(record["clip_score"])
        if "predicted" in record:
            values[record["system"]]["emotion_accuracy"].append(
                float(record["predicted"] == record["emotion"])
            )
    return {s: {m: sum(v) / len(v) for m, v in ms.items()} for s, ms in values.items()}


def _num(value: float) -> str:
    return "n/a" if value != value else f"{value:.3f}"  # nan != nan


def rating_sections(run_dir: str | Path) -> tuple[str, str] | None:
    """Markdown and HTML for the report (``None`` when nobody has rated yet)."""
    from emotion_director.evals.tables import md_text, read_results

    run = Path(run_dir)
    records = read_ratings(run)
    # a choice naming a system the run never had (an edited ratings.jsonl) is left out, and
    # said: it was shown with a win rate of its own (hostile round 5)
    known = {row.get("system") for row in read_results(run)}
    kept = [r for r in records if r.get("system_a") in known and r.get("system_b") in known]
    foreign = len(records) - len(kept)
    records = kept
    if not records:
        return None
    s = summarise_ratings(records)
    auto = _automatic(run)
    metrics = sorted({m for v in auto.values() for m in v})
    head = ["system", "human win rate [95% CI]", "comparisons", *metrics]
    body = []
    for system, w in s["win_rates"].items():
        mean, lo, hi = w["win_rate"]
        body.append(
            [
                system,
                f"{mean:.3f} [{lo:.3f}, {hi:.3f}]",
                str(w["comparisons"]),
                *(_num(auto.get(system, {}).get(m, float("nan"))) for m in metrics),
            ]
        )
    a = s["agreement"]
    if a["items_rated_by_2_or_more"]:
        agreement = (
            f"{len(a['raters'])} rater(s); {a['items_rated_by_2_or_more']} pair(s) rated "
            f"by two or more: raw agreement {_num(a['pairwise_agreement'])}, Fleiss' "
            f"kappa {_num(a['fleiss_kappa'])}; Cohen's kappa "
            + ", ".join(f"{k}: {_num(v)} on {n}" for k, (v, n) in a["cohen_kappa"].items())
            + ". Kappa below about 0.2 means the raters barely agree beyond chance: "
            "read the win rates as noise."
        )
    else:
        agreement = (
            f"{len(a['raters'])} rater(s); no pair was rated by two people, so "
            "agreement cannot be measured."
        )
    note = (
        f"{s['ratings']} blind pairwise choice(s) from `eval rate` (a tie is half a win), "
        "beside automatic metrics (means)."
    )
    if foreign:
        note += (
            f" {foreign} line(s) of ratings.jsonl name a system this run does not have: left out."
        )
    md = [
        "",
        "## Human ratings",
        "",
        note,
        "",
        "| " + " | ".join(head) + " |",
        "|---" * len(head) + "|",
        *("| " + " | ".join(md_text(c) for c in r) + " |" for r in body),
        "",
        agreement,
        "",
        "| pair (a vs b) | a wins | b wins | ties |",
        "|---|---|---|---|",
    ]
    md += [
        f"| {md_text(a_)} vs {md_text(b_)} | {c['a']} | {c['b']} | {c['tie']} |"
        for (a_, b_), c in s["head_to_head"].items()
    ]
    esc = html.escape
    page = (
        "<h2>Human ratings</h2>"
        + f"<p>{markdown_inline(note)}</p><table><thead><tr>"
        + "".join(f"<th>{esc(h)}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in body)
        + f"</tbody></table><p>{markdown_inline(agreement)}</p>"
    )
    return "\n".join(md) + "\n", page
