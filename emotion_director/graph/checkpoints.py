"""Durable runs: open the checkpointer the settings ask for (SQLite by default, PostgreSQL for
several processes or machines sharing runs).

Example:
    >>> import asyncio
    >>> from emotion_director import Settings, build_graph
    >>> async def main():
    ...     async with open_checkpointer(Settings(backend="test", checkpoint_db="/tmp/ed.sqlite")) as saver:
    ...         graph = build_graph(Settings(backend="test"), checkpointer=saver)
    ...         out = await graph.ainvoke({"prompt": "a dog", "emotion": "awe"},
    ...                                   {"configurable": {"thread_id": "doc"}})
    ...         return out["emotion"]
    >>> asyncio.run(main())
    'awe'
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from emotion_director.errors import BackendError, SettingsError
from emotion_director.graph.state import checkpoint_serde
from emotion_director.settings import Settings


def redact_url(url: str) -> str:
    """``postgresql://user:***@host/db``: never print a password."""
    return re.sub(r"(//[^:/@]+):[^@]*@", r"\1:***@", url)


@asynccontextmanager
async def open_checkpointer(settings: Settings) -> AsyncIterator[Any]:
    """An async LangGraph checkpointer; PostgreSQL when ``checkpoint_url`` is set, else SQLite."""
    url = settings.checkpoint_url
    if url:
        if not url.startswith(("postgresql://", "postgres://")):
            raise SettingsError(f"checkpoint_url must be a postgresql:// URL, got {redact_url(url)}.")
        try:
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        except ImportError:
            raise SettingsError('PostgreSQL checkpoints need: pip install "emotion-director[postgres]"') from None
        try:
            manager = AsyncPostgresSaver.from_conn_string(url, serde=checkpoint_serde())
            saver = await manager.__aenter__()
        except Exception as exc:  # psycopg's OperationalError and friends
            raise BackendError(
                f"cannot connect to PostgreSQL at {redact_url(url)}: "
                f"{str(exc).splitlines()[0][:160]}"
            ) from None
        try:
            await saver.setup()
            yield saver
        finally:
            await manager.__aexit__(None, None, None)
        return
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = settings.checkpoint_db
    path.parent.mkdir(parents=True, exist_ok=True)
    async with aiosqlite.connect(str(path)) as conn:
        yield AsyncSqliteSaver(conn, serde=checkpoint_serde())
