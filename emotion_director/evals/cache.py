"""A SQLite LLM cache for eval runs: every LLM call of a run is stored once.

It is a langchain-core :class:`~langchain_core.caches.BaseCache`, so it serves any chat model
without wrapping it (``model.model_copy(update={"cache": cache})``, or
``langchain_core.globals.set_llm_cache(cache)``). That is safe here because langchain-core keys a
chat model's cache by the messages *and* an ``llm_string`` that holds every call parameter
(response format, tools, ``temperature``, ``seed``, ``stop``) plus the model's own identifying
settings; the project's models list their model file, default temperature, seed and token cap in
``_identifying_params`` so that two differently configured models never share an entry. A
cached re-run of the same eval with the same settings makes no model call at all.

Example:
    >>> import tempfile, os
    >>> from emotion_director.testing import TestChatModel
    >>> cache = SQLiteLLMCache(os.path.join(tempfile.mkdtemp(), "c.sqlite"))
    >>> model = with_cache(TestChatModel(), cache)
    >>> _ = model.invoke("hi"); _ = model.invoke("hi")
    >>> (cache.misses, cache.hits)
    (1, 1)
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.caches import BaseCache
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import message_to_dict, messages_from_dict
from langchain_core.outputs import ChatGeneration, Generation

from emotion_director.errors import EvalCacheError

_FIX = "delete it or pass another cache file (--cache NEW.sqlite)"


def _prepare_cache(path: Path, owned: bool = True) -> None:
    """Create the cache table; name the file and the fix when it cannot be used. ``owned``: the
    path is the run folder's own cache file, which may be deleted; a path the user gave with
    ``--cache`` may be another file of theirs (a dataset), which is never to be deleted."""
    if path.is_dir():
        if owned:
            raise EvalCacheError(f"LLM cache {path} is a directory: {_FIX}.")
        raise EvalCacheError(
            f"LLM cache {path} is a folder: --cache takes a file path, e.g. --cache "
            f"{path / 'llm_cache.sqlite'}."
        )
    if not owned and path.is_file() and path.stat().st_size:
        with path.open("rb") as handle:
            header = handle.read(16)
        if header != b"SQLite format 3\x00":
            # no "delete it": it may be the user's dataset (hostile round 5: --cache DATA.jsonl)
            raise EvalCacheError(
                f"LLM cache {path} is not an SQLite file (is it another file of yours?); it was "
                "not changed: pass a new cache path (--cache NEW.sqlite)."
            )
    if path.exists() and not path.is_file():  # (SQLite would leave a journal beside a device)
        raise EvalCacheError(
            f"LLM cache {path} is not a regular file (a device, FIFO or socket): pass a cache "
            "file path (--cache NEW.sqlite)."
        )
    fix = _FIX if owned else "pass another cache file (--cache NEW.sqlite)"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path, timeout=30) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS generations (key TEXT PRIMARY KEY, message TEXT)"
            )
            db.execute("SELECT key, message FROM generations LIMIT 1").fetchall()
    except sqlite3.DatabaseError as exc:  # "file is not a database", a foreign schema...
        raise EvalCacheError(
            f"LLM cache {path} is not a usable SQLite cache ({exc}): {fix}."
        ) from None
    except OSError as exc:
        raise EvalCacheError(f"cannot open LLM cache {path} ({exc.strerror}): {fix}.") from None


class SQLiteLLMCache(BaseCache):
    """Chat generations keyed by SHA-256 of (messages, llm_string), stored in one SQLite file.

    Args:
        path (`str` or `Path`): the SQLite file (created with its folder).
        owned (`bool`, defaults to `True`): ``path`` is the run's own cache file; ``False`` for
            one the user named (``--cache``), which an error never tells them to delete.
    """

    def __init__(self, path: str | Path, *, owned: bool = True) -> None:
        self.path = str(path)
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        _prepare_cache(Path(self.path), owned)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    @staticmethod
    def _key(prompt: str, llm_string: str) -> str:
        return hashlib.sha256(f"{llm_string}\x00{prompt}".encode()).hexdigest()

    def lookup(self, prompt: str, llm_string: str) -> Sequence[Generation] | None:
        try:
            with self._lock, self._connect() as db:
                row = db.execute(
                    "SELECT message FROM generations WHERE key = ?",
                    (self._key(prompt, llm_string),),
                ).fetchone()
        except sqlite3.DatabaseError as exc:
            raise EvalCacheError(
                f"LLM cache {self.path} became unreadable ({exc}): delete it "
                "or pass another --cache; finished items are kept."
            ) from None
        if row is None:
            return None
        try:
            (message,) = messages_from_dict([json.loads(row[0])])
        except (ValueError, KeyError, TypeError):
            return None  # a damaged entry is a miss: the call is made again and stored anew
        with self._lock:
            self.hits += 1
        return [ChatGeneration(message=message)]

    def update(self, prompt: str, llm_string: str, return_val: Sequence[Generation]) -> None:
        first = return_val[0] if return_val else None
        if not isinstance(first, ChatGeneration):
            return  # only chat models use this cache
        data = json.dumps(message_to_dict(first.message))
        try:
            with self._lock, self._connect() as db:
                db.execute(
                    "INSERT OR REPLACE INTO generations VALUES (?, ?)",
                    (self._key(prompt, llm_string), data),
                )
                self.misses += 1
        except sqlite3.DatabaseError as exc:  # disk full, file replaced: say so, keep the run
            raise EvalCacheError(
                f"cannot write LLM cache {self.path} ({exc}): free space or "
                "pass another --cache; finished items are kept."
            ) from None

    def clear(self, **kwargs: Any) -> None:
        with self._lock, self._connect() as db:
            db.execute("DELETE FROM generations")


def with_cache(model: BaseChatModel, cache: BaseCache) -> BaseChatModel:
    """A copy of ``model`` that answers from ``cache`` when the exact same call was made before."""
    return model.model_copy(update={"cache": cache})
