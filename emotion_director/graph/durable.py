"""Durable runs that cannot mix: one request per thread, one process per thread at a time.

* :func:`check_thread_id`: a thread id must be something a person can type again to resume.
* :func:`hold_thread`: an exclusive lock on a thread for as long as a process works on it (an
  ``flock`` next to the SQLite file, a session advisory lock on PostgreSQL); both are released
  by the operating system or the server when the process dies, even by ``kill -9``.
* :func:`saved_run`: what a thread holds: nothing, a finished run, or one to continue. A run is
  finished only when no task is left, not when ``StateSnapshot.next`` is empty: a process killed
  after a step's writes were saved but before the step's checkpoint leaves ``next == ()`` with
  pending writes, and ``ainvoke(None, config)`` finishes it.

Example:
    >>> check_thread_id("job-42")
    'job-42'
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

from emotion_director.errors import CheckpointError, InvalidRequestError, ThreadBusyError
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
            f"--thread {thread!r} starts or ends with whitespace: use {thread.strip()!r}.")
    if len(thread) > MAX_THREAD_CHARS:
        raise InvalidRequestError(
            f"--thread id is {len(thread)} characters, over {MAX_THREAD_CHARS}: use a short id.")
    odd = [c for c in thread if unicodedata.category(c) in {"Cc", "Cf", "Cs", "Zl", "Zp"}]
    if odd:
        raise InvalidRequestError(
            f"--thread id contains the invisible or control character U+{ord(odd[0]):04X}: "
            "use letters, digits and punctuation you can type again.")
    return thread


@dataclass
class SavedRun:
    """What a thread holds."""

    status: Literal["none", "finished", "unfinished", "paused"]
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
    if not state.values and not state.tasks:
        status = "none"
    elif interrupts:
        status = "paused"
    elif state.tasks:  # tasks left, with or without pending writes: continue with ainvoke(None)
        status = "unfinished"
    else:
        status = "finished"
    return SavedRun(status, dict(state.values), interrupts)


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
    try:
        import fcntl
    except ImportError:  # no flock (Windows): runs there are not protected from each other
        yield
        return
    db = settings.checkpoint_db
    folder = db.parent / f"{db.name}.locks"
    path = folder / f"{_lock_key(thread)[:32]}.lock"
    try:
        folder.mkdir(exist_ok=True)
        if folder.is_symlink() or not folder.is_dir():
            raise CheckpointError(
                f"{folder} is not a plain folder (a symlink or a file): the thread locks live "
                "there, so remove it and run again.")
        # O_NOFOLLOW: a lock planted as a symlink must not truncate the file it points to
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_NONBLOCK", 0), 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP or path.is_symlink():
            raise CheckpointError(
                f"the thread lock {path} is a symlink, which a lock never is: remove it and run "
                "again.") from None
        raise CheckpointError(
            f"cannot create the thread lock in {folder} ({exc.strerror}): make the checkpoint "
            "folder writable or set EMOTION_DIRECTOR_CHECKPOINT_DB to a file in a writable folder."
        ) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise CheckpointError(
            f"the thread lock {path} is not a regular file (a FIFO or a device?): remove it and "
            "run again.")
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            raise _busy(thread, f" (pid {holder})" if holder.isdigit() else "") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


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
