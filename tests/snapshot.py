"""Snapshot files that a test can fail on, even the first time.

A missing snapshot fails the test instead of being written by it, so a wiring change can never
pass unnoticed because the file happened to be absent (a fresh checkout, a renamed test). To
write or update snapshots on purpose, run the test with ``EMOTION_DIRECTOR_UPDATE_SNAPSHOTS=1``
and commit the file it writes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

UPDATE_ENV = "EMOTION_DIRECTOR_UPDATE_SNAPSHOTS"


def assert_matches_snapshot(text: str, snapshot: Path) -> None:
    """Fail unless ``text`` equals the committed ``snapshot`` file (or write it when asked to)."""
    if os.environ.get(UPDATE_ENV) == "1":
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(text)
        return
    how = (
        f"run `{UPDATE_ENV}=1 python -m pytest <this test>` to write it on purpose, review "
        "the diff and commit it"
    )
    if not snapshot.is_file():
        pytest.fail(f"snapshot {snapshot} is missing: {how}.", pytrace=False)
    assert text == snapshot.read_text(), f"{snapshot.name} changed: if on purpose, {how}."
