"""Durable runs that cannot mix: one request per thread, one process per thread at a time.

* :func:`check_thread_id`: a thread id must be something a person can type again to resume.
* :func:`hold_thread`: an exclusive lock on a thread for as long as a process works on it (an
  ``flock`` next to the SQLite file, a session advisory lock on PostgreSQL); both are released
  by the operating system or the server when the process dies, even by ``kill -9``.
* :func:`saved_run`: what a thread holds: nothing, a finished run, or one to continue. A run is
  finished only when no task is left, not when ``StateSnapshot.next`` is empty: a process killed
  after a step's writes were saved but before the step's checkpoint leaves ``next == ()`` with
  pending writes, and ``ainvoke(None, config)`` finishes it.
* :func:`run_identity`, :func:`recorded_identity`, :func:`check_resume`: a run records what it
  was started with (backend, model, public base URL, persona folders and a hash of the persona
  set, the settings that change the result, the request) in its checkpoints' metadata; a resume
  with anything else is refused instead of finishing one run with two setups.

Example:
    >>> check_thread_id("job-42")
    'job-42'
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from emotion_director.errors import CheckpointError, InvalidRequestError, ThreadBusyError
from emotion_director.files import exclusive_lock
from emotion_director.settings import Settings

MAX_THREAD_CHARS = 200


def check_thread_id(thread: Any) -> str:
    """``thread`` if it can name a durable run; raises :class:`InvalidRequestError` otherwise."""
    if not isinstance(thread, str) or not thread.strip():
        raise InvalidRequestError(
            "--thread needs a non-empty id, e.g. --thread job-42 (you type it again to resume)."
        )
    if thread != thread.strip():
        raise InvalidRequestError(
            f"--thread {thread!r} starts or ends with whitespace: use {thread.strip()!r}."
        )
    if len(thread) > MAX_THREAD_CHARS:
        raise InvalidRequestError(
            f"--thread id is {len(thread)} characters, over {MAX_THREAD_CHARS}: use a short id."
        )
    odd = [c for c in thread if unicodedata.category(c) in {"Cc", "Cf", "Cs", "Zl", "Zp"}]
    if odd:
        raise InvalidRequestError(
            f"--thread id contains the invisible or control character U+{ord(odd[0]):04X}: "
            "use letters, digits and punctuation you can type again."
        )
    return thread


#: Where a thread's run stands (see :func:`saved_run`).
RunStatus = Literal["none", "finished", "unfinished", "paused"]


@dataclass
class SavedRun:
    """What a thread holds."""

    status: RunStatus
    values: dict[str, Any]
    interrupts: list[Any]

    def describe(self) -> str:
        prompt = str(self.values.get("prompt", ""))[:60]
        emotion = self.values.get("emotion")
        return f"'{prompt}'" + (f" -> {emotion}" if emotion else "")


async def saved_run(graph: Any, config: dict[str, Any]) -> SavedRun:
    """The state of the run saved under ``config``'s thread."""
    state = await graph.aget_state(config)
    interrupts = [i for task in state.tasks for i in task.interrupts]
    status: RunStatus
    if not state.values and not state.tasks:
        status = "none"
    elif interrupts:
        status = "paused"
    elif state.tasks:  # tasks left, with or without pending writes: continue with ainvoke(None)
        status = "unfinished"
    else:
        status = "finished"
    return SavedRun(status, dict(state.values), interrupts)


# --- what a run was started with: a resume must not mix two setups -----------------------------

#: Checkpoint-metadata key holding a run's identity, as JSON text (LangGraph keeps only str, int,
#: float and bool metadata values). Every checkpoint the run writes carries it.
RUN_IDENTITY_KEY = "emotion_director_run"

#: What each identity field is called in a refusal (settings go by their flag or setting name).
_FIELD_NAMES = {
    "backend": "backend",
    "model": "model",
    "base_url": "base URL",
    "structured_method": "structured_method",
    "reading_mode": "reading mode",
    "scene_critic": "scene critic",
    "grounding": "grounding",
    "scene_fit": "scene_fit",
    "read_setting": "read_setting",
    "read_risk": "read_risk",
    "token_budget": "token_budget",
    "persona_dirs": "personas folder",
    "personas_hash": "persona set (hash)",
    "default_seed": "default seed",
    "diffusion_model": "diffusion_model",
    "bank_path": "bank_path",
    "adapter_path": "adapter_path",
    "steps": "steps",
    "visual_prompt_scale": "visual_prompt_scale",
    "prompt": "prompt",
    "emotion": "emotion",
    "valence": "valence",
    "arousal": "arousal",
    "personas": "persona selection",
    "seed": "seed",
}
_REQUEST_FIELDS = ("prompt", "emotion", "valence", "arousal", "personas", "seed")


def personas_hash(personas: Sequence[Any]) -> str:
    """A short hash of a persona set's content (names, bios, tastes), in load order."""
    text = "\n".join(p.model_dump_json() for p in personas)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _model(settings: Settings) -> str | None:
    if settings.backend == "openai":
        return settings.model
    if settings.backend == "embedded":
        if settings.model_path is None:
            return "default"
        return str(Path(settings.model_path).expanduser().resolve())
    return None


def run_identity(
    settings: Settings, request: dict[str, Any] | None = None, personas: Sequence[Any] | None = None
) -> dict[str, Any]:
    """What makes a thread's run the run it is, as JSON-ready values without secrets.

    ``settings``: the backend, model, base URL (without user, password or query:
    :func:`~emotion_director.redaction.public_url`; the API key is never read), the persona
    folders and a hash of the persona set loaded from them, and every setting that changes the
    result. Limits that only decide whether a run gets through (timeouts, retries, ``max_tokens``,
    ``max_llm_calls``) may change between a run and its resume, and are left out. ``request``:
    the prompt, emotion, valence, arousal, persona selection and seed as given (with none, a
    resume: the settings alone).
    """
    from emotion_director.personas.loader import load_personas
    from emotion_director.redaction import public_url

    if personas is None:
        personas = load_personas(settings.persona_dirs)
    openai = settings.backend == "openai"
    images = settings.diffusion_model is not None
    identity_settings: dict[str, Any] = {
        "backend": settings.backend,
        "model": _model(settings),
        "base_url": public_url(settings.base_url) if openai else None,
        "structured_method": settings.structured_method if openai else None,
        "reading_mode": settings.effective_reading_mode,
        "scene_critic": settings.effective_scene_critic,
        "grounding": settings.grounding,
        "scene_fit": settings.scene_fit,
        "read_setting": settings.read_setting,
        "read_risk": settings.read_risk,
        "token_budget": settings.token_budget,
        "persona_dirs": [str(Path(d).expanduser().resolve()) for d in settings.persona_dirs],
        "personas_hash": personas_hash(personas),
        "diffusion_model": settings.diffusion_model,
        "bank_path": settings.bank_path if images else None,
        "adapter_path": settings.adapter_path if images else None,
        "steps": settings.steps if images else None,
        "visual_prompt_scale": settings.visual_prompt_scale if images else None,
    }
    if request is None or request.get("seed") is None:  # the seed the run takes when none is given
        identity_settings["default_seed"] = settings.seed
    identity: dict[str, Any] = {"settings": identity_settings}
    if request is not None:
        identity["request"] = {key: request.get(key) for key in _REQUEST_FIELDS}
    return identity


def config_with_identity(config: dict[str, Any], identity: dict[str, Any] | None) -> dict[str, Any]:
    """``config`` whose checkpoints record ``identity`` (unchanged when it is None)."""
    if identity is None:
        return config
    metadata = {**(config.get("metadata") or {}), RUN_IDENTITY_KEY: json.dumps(identity)}
    return {**config, "metadata": metadata}


async def recorded_identity(checkpointer: Any, config: dict[str, Any]) -> dict[str, Any] | None:
    """The identity the thread's current run recorded, or None (a run from before identities,
    or started without :func:`config_with_identity`).

    The newest checkpoints are read back to the one where the current request came in, so an
    identity from an earlier request on the same thread is never taken for this run's.
    """
    if checkpointer is None:
        return None
    thread_id = (config.get("configurable") or {}).get("thread_id")
    root = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}  # not a subgraph's
    # aclosing: a generator left open would run its cleanup after the store is closed
    async with aclosing(checkpointer.alist(root)) as checkpoints:
        async for saved in checkpoints:
            metadata = saved.metadata or {}
            text = metadata.get(RUN_IDENTITY_KEY)
            if isinstance(text, str):
                try:
                    identity = json.loads(text)
                except ValueError:
                    identity = None
                if isinstance(identity, dict) and isinstance(identity.get("settings"), dict):
                    return identity
            if metadata.get("source") == "input":  # where this run's request came in
                return None
    return None


def _same(key: str, value: Any) -> Any:
    """``value`` as it is compared: the prompt as the run cleans it, the emotion as its category,
    a server's URL without its trailing slash (".../v1/" is the same server as ".../v1")."""
    if value is None:
        return None
    if key == "base_url" and isinstance(value, str):
        from emotion_director.redaction import same_server

        return same_server(value)
    if key == "prompt" and isinstance(value, str):
        from emotion_director.untrusted import clean_prompt

        try:
            return clean_prompt(value, max_chars=2**31)
        except InvalidRequestError:
            return value
    if key == "emotion" and isinstance(value, str):
        from emotion_director.emotions import resolve_emotion

        try:
            return resolve_emotion(value).value
        except InvalidRequestError:
            return value.strip().lower()
    if key == "personas" and isinstance(value, (list, tuple)):
        return list(dict.fromkeys(value)) or None
    if key in ("valence", "arousal") and isinstance(value, (int, float)):
        return float(value)
    return value


def _shown(key: str, value: Any) -> str:
    if value is None or value == []:
        return {
            "persona_dirs": "none (the default personas)",
            "personas": "all",
            "base_url": "none",
            "model": "none",
        }.get(key, "none")
    if key == "persona_dirs":
        value = ", ".join(value)
    text = json.dumps(value, ensure_ascii=False, default=str)
    if key == "persona_dirs":
        return text.strip('"')  # paths in full: a shortened one cannot be told from another
    return text if len(text) <= 80 else text[:77] + "..."


def check_resume(
    thread: str,
    recorded: dict[str, Any] | None,
    current: dict[str, Any],
    values: dict[str, Any] | None = None,
    given: dict[str, Any] | None = None,
) -> None:
    """Refuse to resume ``thread`` with other settings, or with another request, than it holds.

    Args:
        thread (`str`): the thread id, for the message.
        recorded (`dict`, *optional*): :func:`recorded_identity`; None for a run from before
            identities, whose settings are then not checked (it still resumes).
        current (`dict`): :func:`run_identity` of the settings the resume runs with.
        values (`dict`, *optional*): the thread's saved state; the request is checked against it
            when no identity was recorded.
        given (`dict`, *optional*): request fields given with the resume (prompt, emotion,
            valence, arousal, personas, seed); each must match the run's.

    Raises:
        CheckpointError: one line naming each field that differs, as started and as now (the
            base URL without credentials), and the fix.
    """
    differences: list[str] = []
    if recorded is not None:
        old, new = recorded.get("settings") or {}, current.get("settings") or {}
        for key in [k for k in old if k in new]:
            if _same(key, old[key]) != _same(key, new[key]):
                differences.append(
                    f"{_FIELD_NAMES.get(key, key)} {_shown(key, old[key])} "
                    f"(now {_shown(key, new[key])})"
                )
    settings_differ = bool(differences)
    asked = False
    if given:
        old_request = dict((recorded or {}).get("request") or {})
        for key in _REQUEST_FIELDS:
            if old_request.get(key) is None and values and values.get(key) is not None:
                old_request[key] = values[key]  # what the run resolved: the emotion, the seed
        if old_request.get("seed") is None and recorded is not None:
            old_request["seed"] = (recorded.get("settings") or {}).get("default_seed")
        for key in _REQUEST_FIELDS:
            if key in given and given[key] is not None:
                before, after = _same(key, old_request.get(key)), _same(key, given[key])
                if before != after:
                    asked = True
                    differences.append(
                        f"{_FIELD_NAMES[key]} {_shown(key, before)} (now {_shown(key, after)})"
                    )
    if not differences:
        return
    what = " and ".join(
        part
        for part, differs in (("other settings", settings_differ), ("another request", asked))
        if differs
    )
    fix = (
        "resume it with the settings it was started with (the same flags and "
        "EMOTION_DIRECTOR_* variables), or start a new run under another --thread id"
    )
    if asked:
        fix = (
            f"to continue it, give no prompt or emotion (--thread {thread} --resume) and the "
            "settings it was started with; to run the new request, use another --thread id"
        )
    raise CheckpointError(
        f"--thread {thread} holds a run started with {what}: {'; '.join(differences)}. "
        f"Nothing was run: {fix}."
    )


def _lock_key(thread: str) -> str:
    return hashlib.sha256(f"emotion-director thread {thread}".encode()).hexdigest()


def _busy(thread: str, holder: str) -> ThreadBusyError:
    return ThreadBusyError(
        f"--thread {thread} is being run by another process{holder} right now: wait for it to "
        f"finish and print its result with --thread {thread} --resume, or use another --thread id."
    )


@asynccontextmanager
async def hold_thread(settings: Settings, saver: Any, thread: str) -> AsyncIterator[None]:
    """Hold ``thread`` exclusively for this process, or raise :class:`ThreadBusyError`."""
    if settings.checkpoint_url:
        async with _postgres_lock(saver, thread):
            yield
        return
    db = settings.checkpoint_db
    folder = db.parent / f"{db.name}.locks"
    path = folder / f"{_lock_key(thread)[:32]}.lock"
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise CheckpointError(
            f"cannot create the thread lock in {folder} ({exc.strerror}): make the checkpoint "
            "folder writable or set EMOTION_DIRECTOR_CHECKPOINT_DB to a file in a writable folder."
        ) from None
    if folder.is_symlink() or not folder.is_dir():
        raise CheckpointError(
            f"{folder} is not a plain folder (a symlink or a file): the thread locks live "
            "there, so remove it and run again."
        )
    with exclusive_lock(
        path,
        busy=lambda holder: _busy(thread, holder),
        error=CheckpointError,
        fix="make the checkpoint folder writable or set EMOTION_DIRECTOR_CHECKPOINT_DB to a file "
        "in a writable folder",
    ):
        yield


@asynccontextmanager
async def _postgres_lock(saver: Any, thread: str) -> AsyncIterator[None]:
    """A session-level advisory lock: PostgreSQL releases it when the connection drops."""
    key = int.from_bytes(bytes.fromhex(_lock_key(thread)[:16]), "big", signed=True)
    conn = saver.conn
    cursor = await conn.execute("SELECT pg_try_advisory_lock(%s) AS locked", (key,))
    row = await cursor.fetchone()
    locked = row["locked"] if isinstance(row, dict) else row[0]
    if not locked:
        raise _busy(thread, "")
    try:
        yield
    finally:
        try:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
        except Exception:  # the connection is gone: the server has released the lock already
            pass
