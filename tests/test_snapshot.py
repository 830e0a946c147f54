"""The snapshot helper fails on a missing file and writes one only when asked to."""

from __future__ import annotations

import pytest

from .snapshot import UPDATE_ENV, assert_matches_snapshot


def test_a_missing_snapshot_fails_and_says_how_to_write_it(tmp_path, monkeypatch):
    monkeypatch.delenv(UPDATE_ENV, raising=False)
    with pytest.raises(pytest.fail.Exception, match=f"is missing: run `{UPDATE_ENV}=1"):
        assert_matches_snapshot("graph TD;", tmp_path / "graph.mmd")
    assert not (tmp_path / "graph.mmd").exists()


def test_a_changed_drawing_fails_against_the_committed_snapshot(tmp_path, monkeypatch):
    monkeypatch.delenv(UPDATE_ENV, raising=False)
    (tmp_path / "graph.mmd").write_text("graph TD; a-->b;")
    assert_matches_snapshot("graph TD; a-->b;", tmp_path / "graph.mmd")
    with pytest.raises(AssertionError, match="changed: if on purpose"):
        assert_matches_snapshot("graph TD; a-->c;", tmp_path / "graph.mmd")


def test_the_update_variable_writes_the_snapshot_on_purpose(tmp_path, monkeypatch):
    monkeypatch.setenv(UPDATE_ENV, "1")
    assert_matches_snapshot("graph TD; a-->c;", tmp_path / "snapshots" / "graph.mmd")
    assert (tmp_path / "snapshots" / "graph.mmd").read_text() == "graph TD; a-->c;"
