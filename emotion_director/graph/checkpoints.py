"""Durable runs: open the checkpointer the settings ask for (SQLite by default, PostgreSQL for
several processes or machines sharing runs).

Example:
    >>> import asyncio
    >>> from emotion_director import Settings, build_graph
    >>> from emotion_director.testing import TestChatModel
    >>> async def main():
    ...     async with open_checkpointer(Settings(checkpoint_db="/tmp/ed.sqlite")) as saver:
    ...         graph = build_graph(Settings(), checkpointer=saver, chat_model=TestChatModel())
    ...         out = await graph.ainvoke({"prompt": "a dog", "emotion": "awe"},
    ...                                   {"configurable": {"thread_id": "doc"}})
    ...         return out["emotion"]
    >>> asyncio.run(main())
    'awe'
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from emotion_director.errors import BackendError, CheckpointError, SettingsError
from emotion_director.graph.state import checkpoint_serde
from emotion_director.redaction import redact
from emotion_director.settings import Settings

#: SQLite files up to this size are checked (``PRAGMA quick_check``) when opened.
QUICK_CHECK_MAX_BYTES = 256 * 2**20


def redact_url(url: str) -> str:
    """``postgresql://user:***@host/db``: never print a password (see :func:`redact`)."""
    return redact(url)


def sqlite_problem(path: Path, exc: BaseException) -> str:
    """One line saying what is wrong with the SQLite checkpoint file and how to fix it."""
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    lowered = message.lower()
    if "not a database" in lowered:
        return (
            f"checkpoint file {path} is not a SQLite database: move it away, or set "
            "EMOTION_DIRECTOR_CHECKPOINT_DB to another file."
        )
    if "malformed" in lowered or "corrupt" in lowered:
        return (
            f"checkpoint file {path} is damaged ({message}): restore it from a backup, or "
            "move it away to start afresh (the runs in it cannot be resumed)."
        )
    if "full" in lowered or "i/o error" in lowered or "too big" in lowered:
        return (
            f"cannot write checkpoint file {path} ({message}): free disk space, then "
            "continue with --thread ID --resume (the steps saved before this one are kept)."
        )
    if "readonly" in lowered or "read-only" in lowered:
        return (
            f"checkpoint file {path} is read-only: make it writable, or set "
            "EMOTION_DIRECTOR_CHECKPOINT_DB to a writable file."
        )
    if "locked" in lowered:
        return (
            f"checkpoint file {path} is locked by another process ({message}): retry when "
            "it is done."
        )
    if "unable to open" in lowered:
        what = "is a folder" if path.is_dir() else "cannot be opened or created"
        return (
            f"checkpoint file {path} {what}: set EMOTION_DIRECTOR_CHECKPOINT_DB to a "
            "writable file path."
        )
    return f"checkpoint file {path}: {message}."


def _checkpoint_folder(path: Path) -> None:
    if path.is_dir():
        raise CheckpointError(
            f"checkpoint file {path} is a folder: set "
            "EMOTION_DIRECTOR_CHECKPOINT_DB to a file path inside it."
        )
    if path.exists() and not path.is_file():
        # a device, a FIFO or a socket: SQLite would fail on it with "disk I/O error" or "disk
        # full", and leave a journal file beside it (in /dev for /dev/null)
        raise CheckpointError(
            f"checkpoint file {path} is not a regular file (a device, FIFO or socket): set "
            "EMOTION_DIRECTOR_CHECKPOINT_DB to a file path (or unset it for the default, "
            ".emotion-director/checkpoints.sqlite)."
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in [path.parent, *path.parent.parents] if p.is_file()), path.parent)
        raise CheckpointError(
            f"cannot create the checkpoint folder {path.parent}: {blocker} is a file. Move it "
            "away, or set EMOTION_DIRECTOR_CHECKPOINT_DB to a file in another folder."
        ) from None
    except OSError as exc:
        raise CheckpointError(
            f"cannot create the checkpoint folder {path.parent} ({exc.strerror}): set "
            "EMOTION_DIRECTOR_CHECKPOINT_DB to a file in a writable folder."
        ) from None


@asynccontextmanager
async def open_checkpointer(settings: Settings) -> AsyncIterator[Any]:
    """An async LangGraph checkpointer; PostgreSQL when ``checkpoint_url`` is set, else SQLite.

    Problems with the store, when it is opened or in the middle of a run (a damaged file, a full
    disk), raise :class:`~emotion_director.errors.CheckpointError` naming the file and the fix.
    """
    url = settings.checkpoint_url
    if url:
        if not url.startswith(("postgresql://", "postgres://")):
            raise SettingsError(f"checkpoint_url must be a postgresql:// URL, got {redact(url)}.")
        try:
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        except ImportError:
            raise SettingsError(
                'PostgreSQL checkpoints need: pip install "emotion-director[postgres]"'
            ) from None
        try:
            manager = AsyncPostgresSaver.from_conn_string(url, serde=checkpoint_serde())
            saver = await manager.__aenter__()
        except Exception as exc:  # psycopg's OperationalError and friends
            raise BackendError(
                f"cannot connect to PostgreSQL at {redact(url)}: {str(exc).splitlines()[0][:160]}"
            ) from None
        try:
            await saver.setup()
            yield saver
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg"):
                raise CheckpointError(
                    f"PostgreSQL checkpoints at {redact(url)} failed: "
                    f"{str(exc).splitlines()[0][:200]}. Fix the server, then continue with "
                    "--thread ID --resume."
                ) from None
            raise
        finally:
            await manager.__aexit__(None, None, None)
        return
    import sqlite3

    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = settings.checkpoint_db
    _checkpoint_folder(path)
    try:
        # open it once here first: a failed aiosqlite.connect leaves a worker thread behind that
        # prints a traceback when the event loop has closed
        sqlite3.connect(str(path)).close()
        conn = await aiosqlite.connect(str(path))
    except sqlite3.Error as exc:
        raise CheckpointError(sqlite_problem(path, exc)) from None
    try:
        sqlite_saver = AsyncSqliteSaver(conn, serde=checkpoint_serde())
        try:
            await sqlite_saver.setup()
            if path.stat().st_size <= QUICK_CHECK_MAX_BYTES:
                # ~10 ms per 7 MB (100 runs): finds a truncated file before any work is done;
                # past the cap, damage is still reported when a read or write meets it
                async with conn.execute("PRAGMA quick_check") as cursor:
                    verdict = (await cursor.fetchone() or ("ok",))[0]
                if verdict != "ok":
                    raise sqlite3.DatabaseError(f"database disk image is malformed ({verdict})")
        except sqlite3.Error as exc:
            raise CheckpointError(sqlite_problem(path, exc)) from None
        try:
            yield sqlite_saver
        except sqlite3.Error as exc:  # raised by a checkpoint write or read during the run
            raise CheckpointError(sqlite_problem(path, exc)) from None
    finally:
        await conn.close()
