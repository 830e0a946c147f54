"""Files a user points a command at that are not what they seem: a FIFO, /dev/zero, a folder, a
huge line. Each is one red line with exit 2, at once: never a hang, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(120)


def _cli(*args, cwd):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMOTION_DIRECTOR_")}
    env.update(EMOTION_DIRECTOR_BACKEND="test", COLUMNS="300")
    # a reader that blocks on a FIFO would hang: the timeout turns that into a failure
    return subprocess.run([sys.executable, "-m", "emotion_director.cli", *map(str, args)],
                          env=env, capture_output=True, text=True, timeout=60, cwd=cwd)


def _one_red_line(proc, *needles):
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert "Traceback" not in proc.stderr and "unexpected" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("target", ["fifo", "/dev/zero", "folder"])
def test_train_dpo_config_that_is_no_regular_file(tmp_path, fifo, target):
    path = {"fifo": fifo, "/dev/zero": "/dev/zero", "folder": tmp_path}[target]
    proc = _cli("train", "dpo", "--config", path, cwd=tmp_path)
    _one_red_line(proc, "config file")


@pytest.mark.parametrize("target", ["fifo", "/dev/zero"])
def test_eval_dataset_that_is_no_regular_file(tmp_path, fifo, target):
    path = fifo if target == "fifo" else "/dev/zero"
    proc = _cli("eval", "run", "--dataset", path, "--out", tmp_path / "run", "--systems",
                "identity", cwd=tmp_path)
    _one_red_line(proc, "not a regular file")


def test_a_one_megabyte_eval_line_is_refused_before_anything_runs(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps({"id": "x", "prompt": "a dog " * 200_000, "emotion": "awe"}) + "\n")
    proc = _cli("eval", "run", "--dataset", path, "--out", tmp_path / "run", "--systems",
                "identity", cwd=tmp_path)
    _one_red_line(proc, "cases.jsonl:1", "character limit")
    assert not (tmp_path / "run" / "results.jsonl").exists()


def test_an_overlong_eval_prompt_names_the_field(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps({"id": "x", "prompt": "a dog " * 2_000, "emotion": "awe"}) + "\n")
    proc = _cli("eval", "run", "--dataset", path, "--out", tmp_path / "run", "--systems",
                "identity", cwd=tmp_path)
    _one_red_line(proc, "cases.jsonl:1", "prompt")


def test_generate_prompts_file_that_is_a_fifo(tmp_path, fifo):
    proc = _cli("generate", "--prompts", fifo, "-e", "awe", "--model", tmp_path / "none",
                "--bank", tmp_path / "none.safetensors", "--out", tmp_path / "img", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
