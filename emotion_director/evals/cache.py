"""A SQLite cache in front of any chat model: every LLM call of an eval run is stored once.

The key is a SHA-256 of the backend, the model name, the messages and every call parameter
(response format, tools, temperature, seed, stop), so a cached re-run of the same eval with the
same settings makes no model call at all.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from pydantic import BaseModel, PrivateAttr

from emotion_director.agents.backends import backend_name
from emotion_director.agents.models import _SchemaBoundModel, tool_call_parts
from emotion_director.errors import EmotionDirectorError


class EvalCacheError(EmotionDirectorError):
    """The LLM cache file cannot be opened or is not a SQLite database."""


def _prepare_cache(path: Path) -> None:
    """Create the cache table; name the file and the fix when it cannot be used."""
    fix = "delete it or pass another cache file (--cache NEW.sqlite)"
    if path.is_dir():
        raise EvalCacheError(f"LLM cache {path} is a directory: {fix}.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path, timeout=30) as db:
            db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, message TEXT)")
            db.execute("SELECT key, message FROM calls LIMIT 1").fetchall()
    except sqlite3.DatabaseError as exc:  # "file is not a database", a foreign schema...
        raise EvalCacheError(f"LLM cache {path} is not a usable SQLite cache ({exc}): "
                             f"{fix}.") from None
    except OSError as exc:
        raise EvalCacheError(f"cannot open LLM cache {path} ({exc.strerror}): {fix}.") from None


class CachedChatModel(_SchemaBoundModel):
    """Wrap ``inner``; answers from ``path`` (SQLite) when the exact same call was made before."""

    inner: Any
    path: str

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _hits: int = PrivateAttr(default=0)
    _misses: int = PrivateAttr(default=0)

    def __init__(self, **data: Any) -> None:
        # checked before pydantic runs: an error raised inside validation would be wrapped
        # in a ValidationError instead of reaching the user as one line
        _prepare_cache(Path(data["path"]))
        super().__init__(**data)

    @property
    def _llm_type(self) -> str:
        return getattr(self.inner, "_llm_type", "cached")

    @property
    def hits(self) -> int:
        return self._hits

    @property
    def misses(self) -> int:
        return self._misses

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def _key(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> str:
        payload = {
            "backend": backend_name(self.inner),
            "model": getattr(self.inner, "model_name", None) or getattr(self.inner, "model", None)
            or getattr(self.inner, "model_path", None),
            "messages": [message_to_dict(m) for m in messages],
            "params": kwargs,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def _lookup(self, key: str) -> ChatResult | None:
        try:
            with self._lock, self._connect() as db:
                row = db.execute("SELECT message FROM calls WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError as exc:
            raise EvalCacheError(f"LLM cache {self.path} became unreadable ({exc}): delete it "
                                 "or pass another --cache; finished items are kept.") from None
        if row is None:
            return None
        try:
            (message,) = messages_from_dict([json.loads(row[0])])
        except (ValueError, KeyError, TypeError):
            return None  # a damaged entry is a miss: the call is made again and stored anew
        self._hits += 1
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _store(self, key: str, result: ChatResult) -> ChatResult:
        self._misses += 1
        data = json.dumps(message_to_dict(result.generations[0].message))
        try:
            with self._lock, self._connect() as db:
                db.execute("INSERT OR REPLACE INTO calls VALUES (?, ?)", (key, data))
        except sqlite3.DatabaseError as exc:  # disk full, file replaced: say so, keep the run
            raise EvalCacheError(f"cannot write LLM cache {self.path} ({exc}): free space or "
                                 "pass another --cache; finished items are kept.") from None
        return result

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: Any = None, **kwargs: Any) -> ChatResult:
        key = self._key(messages, {**kwargs, "stop": stop})
        cached = self._lookup(key)
        if cached is not None:
            return cached
        return self._store(key, self.inner._generate(messages, stop=stop, **kwargs))

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: Any = None, **kwargs: Any) -> ChatResult:
        key = self._key(messages, {**kwargs, "stop": stop})
        cached = self._lookup(key)
        if cached is not None:
            return cached
        return self._store(key, await self.inner._agenerate(messages, stop=stop, **kwargs))

    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kwargs: Any) -> Runnable:
        from langchain_core.utils.function_calling import convert_to_openai_tool

        formatted = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None and isinstance(tool_choice, str) and tool_choice not in {
                "auto", "none", "required", "any"}:
            tool_choice = {"type": "function", "function": {"name": tool_choice}}
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def structured_parts(
        self, schema: type[BaseModel], method: str = "function_calling"
    ) -> tuple[Runnable, Runnable]:
        """Ask for structure the way the wrapped model does (response format or a tool call)."""
        if isinstance(self.inner, _SchemaBoundModel):
            return super().structured_parts(schema, method)
        return tool_call_parts(self, schema)
