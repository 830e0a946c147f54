"""A durable run killed (SIGKILL) in the middle of the persona fan-out resumes from its thread
without recomputing the readings already saved (real embedded model, SQLite checkpoints)."""

import fcntl
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from emotion_director.personas import default_personas

pytestmark = pytest.mark.integration
PERSONAS = {p.name for p in default_personas()}


def _cli(*args, cwd, extra_env=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMOTION_DIRECTOR_")}
    env.update(extra_env or {})
    env["COLUMNS"] = "200"
    env["EMOTION_DIRECTOR_LOG_LEVEL"] = "INFO"
    return subprocess.Popen(
        [sys.executable, "-m", "emotion_director.cli", "rewrite", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _personas_in(text):
    return {m for m in re.findall(r"^\s*([a-z-]+) \d\.\d\d ", text, re.M) if m in PERSONAS}


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return {"EMOTION_DIRECTOR_CHECKPOINT_DB": str(tmp_path / "runs.sqlite")}
    return {"EMOTION_DIRECTOR_CHECKPOINT_URL": request.getfixturevalue("postgres_url")}


@pytest.fixture(scope="module")
def straight_prompt(tmp_path_factory, request):
    """The final prompt of an uninterrupted run (no checkpoint store), shared by both stores:
    a function a test calls when it needs the prompt, at its end. The run is made once per test
    session, also when pytest-xdist runs the two stores on two workers: it is written to the
    folder the session's workers share, under a lock, by whichever asks first; the other test
    meanwhile does its own work and then reads it."""
    shared = tmp_path_factory.getbasetemp()
    if hasattr(request.config, "workerinput"):  # a pytest-xdist worker
        shared = shared.parent  # the folder all workers of this session share

    def prompt() -> str:
        with open(shared / "straight_prompt.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            done = shared / "straight_prompt.txt"
            if done.is_file():
                return done.read_text(encoding="utf-8")
            straight = _cli(
                "an angry dog",
                "-e",
                "contentment",
                "--seed",
                "3",
                cwd=tmp_path_factory.mktemp("straight"),
            )
            out, err = straight.communicate(timeout=300)
            assert straight.returncode == 0, err
            found = re.search(r"prompt: (.*?)\nnegative:", out, re.S).group(1)
            done.write_text(found, encoding="utf-8")
            return found

    return prompt


@pytest.mark.slow  # three real rewrites in processes
def test_sigkill_mid_fanout_then_resume_recomputes_only_missing_readings(
    tmp_path, store, straight_prompt
):
    thread = f"job-{time.time_ns()}"
    first = _cli(
        "an angry dog",
        "-e",
        "contentment",
        "--seed",
        "3",
        "--thread",
        thread,
        cwd=tmp_path,
        extra_env=store,
    )
    seen = ""
    deadline = time.monotonic() + 300
    while len(_personas_in(seen)) < 3 and time.monotonic() < deadline:
        line = first.stdout.readline()
        if not line:
            break
        seen += line
    time.sleep(0.3)  # let the last finished reading reach the checkpoint
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    before_kill = _personas_in(seen)
    assert 3 <= len(before_kill) < len(PERSONAS), seen

    resumed = _cli("--thread", thread, "--resume", cwd=tmp_path, extra_env=store)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    saved = re.search(r"saved readings: ([a-z, -]+)\)", out)
    assert saved, out
    saved_set = set(saved.group(1).split(", "))
    assert len(saved_set) >= 2 and saved_set <= before_kill | PERSONAS
    calls = re.findall(r"llm call node=persona_reading\[([a-z-]+)\]", err)
    assert set(calls) == PERSONAS - saved_set  # only the missing readings were recomputed
    assert _personas_in(out) == PERSONAS  # the saved ones are replayed, not recomputed
    final = re.search(r"prompt: (.*?)\nnegative:", out, re.S).group(1)
    assert (
        final == straight_prompt()
    )  # same seed: the resumed run ends where an uninterrupted one does
