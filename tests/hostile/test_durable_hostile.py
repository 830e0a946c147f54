"""Hostile use of durable runs (issue items 1-4): reused thread ids, a process killed between a
step's writes and its checkpoint, bad review answers, two processes on one thread, odd ids."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from typer.testing import CliRunner

from emotion_director import Settings, build_graph
from emotion_director.cli import app
from emotion_director.graph.checkpoints import open_checkpointer
from emotion_director.graph.durable import check_thread_id, hold_thread, saved_run
from emotion_director.graph.state import checkpoint_serde
from emotion_director.personas import default_personas
from tests.integration.conftest import postgres_url  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(120)
PERSONAS = [p.name for p in default_personas()]
runner = CliRunner()


@pytest.fixture
def durable_env(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOTION_DIRECTOR_BACKEND", "test")
    db = tmp_path / "runs.sqlite"
    monkeypatch.setenv("EMOTION_DIRECTOR_CHECKPOINT_DB", str(db))
    return db


def cli(*args, input=None):
    return runner.invoke(app, list(args), input=input)


def one_clean_line(result):
    """The CLI's contract for bad input: exit 2, one 'error:' line, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "Traceback" not in result.output and "unexpected" not in result.stderr
    return lines[0]


# --- 1. a reused thread id never mixes two requests ------------------------------------------------


@pytest.mark.parametrize("store", ["memory", "sqlite"])
async def test_a_new_request_on_a_used_thread_starts_clean_in_the_python_api(store, tmp_path):
    request_a = {"prompt": "an angry dog", "emotion": "contentment"}
    request_b = {"prompt": "a funeral", "emotion": "amusement", "personas": ["poet"]}
    config = {"configurable": {"thread_id": "T"}}
    settings = Settings(backend="test", checkpoint_db=tmp_path / "ck.sqlite")
    fresh = await build_graph(settings).ainvoke(request_b)

    async def run(saver):
        graph = build_graph(settings, checkpointer=saver)
        first = await graph.ainvoke(request_a, config)
        second = await graph.ainvoke(request_b, config)
        return first, second, (await graph.aget_state(config)).values

    if store == "memory":
        first, second, values = await run(InMemorySaver(serde=checkpoint_serde()))
    else:
        async with open_checkpointer(settings) as saver:
            first, second, values = await run(saver)
    assert len(first["readings"]) == len(PERSONAS)
    assert [r.persona for r in second["readings"]] == ["poet"]  # not 8 readings, 7 of them stale
    assert second["emotion"] == "amusement" and second["final_prompt"] == fresh["final_prompt"]
    assert values["llm_calls"] == 1  # the call budget is this request's, not the thread's


def test_cli_refuses_a_new_request_on_a_thread_that_holds_a_run(durable_env):
    first = cli("rewrite", "an angry dog", "-e", "contentment", "--thread", "T", "--json")
    assert first.exit_code == 0, first.output
    second = cli("rewrite", "a funeral", "-e", "amusement", "--thread", "T", "--persona", "poet",
                 "--json")
    line = one_clean_line(second)
    assert "already holds a finished run ('an angry dog' -> contentment)" in line
    assert "--thread T --resume" in line and "another --thread id" in line
    saved = cli("rewrite", "--thread", "T", "--resume", "--json")  # the first run is intact
    assert saved.exit_code == 0, saved.output
    assert json.loads(saved.stdout) == json.loads(first.stdout)


# --- 2. --resume finishes a run killed between a step's writes and its checkpoint ------------------


async def _kill_between_writes_and_checkpoint(settings, thread):
    """Leave the SQLite file as a process killed at the start of the fan-out leaves it: the
    parse_request step's writes saved, the checkpoint after the step never written."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    class DiesBeforeTheStepCheckpoint(AsyncSqliteSaver):
        async def aput(self, config, checkpoint, metadata, new_versions):
            if metadata.get("step") == 1:
                raise RuntimeError("process killed")
            return await super().aput(config, checkpoint, metadata, new_versions)

    async with open_checkpointer(settings) as saver:
        dying = DiesBeforeTheStepCheckpoint(saver.conn, serde=checkpoint_serde())
        graph = build_graph(settings, checkpointer=dying)
        config = {"configurable": {"thread_id": thread}}
        with pytest.raises(BaseException):
            await graph.ainvoke({"prompt": "an angry dog", "emotion": "contentment"}, config)
        await asyncio.sleep(0.1)  # let the background checkpoint task settle
        state = await build_graph(settings, checkpointer=saver).aget_state(config)
        return state


def test_resume_finishes_a_run_whose_saved_state_has_no_next_but_pending_writes(durable_env):
    settings = Settings(backend="test", checkpoint_db=durable_env)
    state = asyncio.run(_kill_between_writes_and_checkpoint(settings, "K"))
    assert state.next == () and state.tasks and state.tasks[0].name == "parse_request"
    assert "final_prompt" not in state.values  # the run did not finish...
    straight = cli("rewrite", "an angry dog", "-e", "contentment", "--json")
    for attempt in range(2):  # ...and resuming finishes it, every time
        resumed = cli("rewrite", "--thread", "K", "--resume", "--json")
        assert resumed.exit_code == 0, resumed.output
        data = json.loads(resumed.stdout)
        assert data["final_prompt"] == json.loads(straight.stdout)["final_prompt"]
        assert sorted(r["persona"] for r in data["readings"]) == sorted(PERSONAS)


async def test_saved_run_counts_pending_writes_as_unfinished(durable_env):
    settings = Settings(backend="test", checkpoint_db=durable_env)
    await _kill_between_writes_and_checkpoint(settings, "K2")
    async with open_checkpointer(settings) as saver:
        graph = build_graph(settings, checkpointer=saver)
        config = {"configurable": {"thread_id": "K2"}}
        assert (await saved_run(graph, config)).status == "unfinished"
        out = await graph.ainvoke(None, config)
        assert len(out["readings"]) == len(PERSONAS)
        assert (await saved_run(graph, config)).status == "finished"


# --- 3. a bad review answer never jams a thread ----------------------------------------------------


@pytest.fixture
def review_graph():
    return build_graph(Settings(backend="test", review=True),
                       checkpointer=InMemorySaver(serde=checkpoint_serde()))


@pytest.mark.parametrize(("answer", "problem"), [
    ({"action": "drop", "personas": ["nobody"]}, "unknown persona(s) nobody"),
    ({"action": "drop", "personas": []}, "needs persona names"),
    ({"action": "drop", "personas": PERSONAS}, "cannot drop every persona"),
    ({"action": "drop", "personas": "poet"}, "needs persona names"),
    ({"action": "edit", "final_prompt": "x" * 100_000}, "100000 characters, over the 1000"),
    ({"action": "edit", "final_prompt": "\u200b\u200b"}, "only invisible characters"),
    ({"action": "edit", "final_prompt": "a dog\u202eflipped"}, "bidirectional control U+202E"),
    ({"action": "edit", "final_prompt": "a dog\x1b[2J"}, "control character"),
    ({"action": "edit"}, "needs final_prompt as text"),
    ({"action": "maybe"}, "unknown review action 'maybe'"),
    ("approve please", "unknown review action"),
    (42, "unknown review action"),
])
def test_a_bad_review_answer_asks_again_and_the_thread_stays_usable(review_graph, answer, problem):
    config = {"configurable": {"thread_id": "r"}}
    review_graph.invoke({"prompt": "an angry dog", "emotion": "contentment"}, config)
    review_graph.invoke(Command(resume=answer), config)  # no exception: the node asks again
    state = review_graph.get_state(config)
    assert state.next == ("review",)
    assert problem in state.tasks[0].interrupts[0].value["error"]
    review_graph.invoke(None, config)  # replaying the stored answer does not jam the thread
    assert review_graph.get_state(config).next == ("review",)
    out = review_graph.invoke(Command(resume={"action": "approve"}), config)
    assert out["final_prompt"].startswith("a dog")
    assert not review_graph.get_state(config).next


def test_cli_review_asks_again_after_an_unknown_persona(durable_env):
    result = cli("rewrite", "a dog", "-e", "awe", "--review", "--thread", "rv",
                 input="d\nnobody\nd\npoet\ne\n" + "y" * 100_000 + "\ne\na dog under a huge sky\n")
    assert result.exit_code == 0, result.output[-2000:]
    assert result.stderr.count("invalid answer:") == 2
    assert "unknown persona(s) nobody" in result.stderr and "over the 1000" in result.stderr
    assert "prompt: a dog under a huge sky" in result.stdout


def test_cli_resume_review_after_a_bad_stored_answer_asks_instead_of_failing(durable_env):
    settings = Settings(backend="test", review=True, checkpoint_db=durable_env)

    async def store_a_bad_answer():
        async with open_checkpointer(settings) as saver:
            graph = build_graph(settings, checkpointer=saver)
            config = {"configurable": {"thread_id": "jam"}}
            await graph.ainvoke({"prompt": "a dog", "emotion": "awe"}, config)
            await graph.ainvoke(Command(resume={"action": "drop", "personas": ["nobody"]}),
                                config)

    asyncio.run(store_a_bad_answer())
    for _ in range(2):  # a closed stdin twice: still saved, still resumable
        closed = cli("rewrite", "--thread", "jam", "--resume", "--review", input="")
        assert closed.exit_code == 2 and "Traceback" not in closed.output
        assert closed.stderr.strip().splitlines()[-1] == (
            "error: --review needs answers on the terminal (stdin closed); the run is saved: "
            "resume it with --thread jam --resume --review.")
    resumed = cli("rewrite", "--thread", "jam", "--resume", "--review", input="a\n")
    assert resumed.exit_code == 0, resumed.output
    assert "unknown persona(s) nobody" in resumed.stderr  # the stored problem is shown once
    assert "prompt: a dog" in resumed.stdout


def test_cli_resume_without_review_on_a_paused_run_says_how(durable_env):
    started = cli("rewrite", "a dog", "-e", "awe", "--review", "--thread", "p", input="")
    assert started.exit_code == 2
    line = one_clean_line(cli("rewrite", "--thread", "p", "--resume"))
    assert "waits for a review" in line and "--resume --review" in line


# --- 4. one process per thread; ids that can be typed again ------------------------------------------


@pytest.mark.parametrize(("thread", "message"), [
    ("", "needs a non-empty id"),
    ("   ", "needs a non-empty id"),
    (" job", "starts or ends with whitespace"),
    ("job\u200b", "invisible or control character U+200B"),
    ("job\x1b", "invisible or control character U+001B"),
    ("j" * 201, "over 200"),
])
def test_thread_ids_that_cannot_be_typed_again_are_refused(durable_env, thread, message):
    for args in (["rewrite", "a dog", "-e", "awe", "--thread", thread],
                 ["rewrite", "--thread", thread, "--resume"]):
        assert message in one_clean_line(cli(*args))
    assert not durable_env.exists() or b"job" not in durable_env.read_bytes()


def test_check_thread_id_accepts_ordinary_ids():
    for thread in ("job-42", "user@example.com/run:7", "任务-1", "a" * 200):
        assert check_thread_id(thread) == thread


def _cli_process(*args, env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMOTION_DIRECTOR_")}
    env.update(env_extra, COLUMNS="200")
    return subprocess.Popen([sys.executable, "-m", "emotion_director.cli", "rewrite", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def test_a_second_process_on_a_busy_thread_is_refused(tmp_path, store, request):
    env = {"EMOTION_DIRECTOR_BACKEND": "test"}
    if store == "sqlite":
        env["EMOTION_DIRECTOR_CHECKPOINT_DB"] = str(tmp_path / "runs.sqlite")
    else:
        env["EMOTION_DIRECTOR_CHECKPOINT_URL"] = request.getfixturevalue("postgres_url")
    settings = Settings(**{k.removeprefix("EMOTION_DIRECTOR_").lower(): v for k, v in env.items()})
    thread = f"busy-{time.time_ns()}"

    async def hold_while_another_process_tries():
        async with open_checkpointer(settings) as saver, hold_thread(settings, saver, thread):
            other = await asyncio.to_thread(
                lambda: _cli_process("a dog", "-e", "awe", "--thread", thread, env_extra=env)
                .communicate(timeout=60))
        return other

    out, err = asyncio.run(hold_while_another_process_tries())
    assert f"--thread {thread} is being run by another process" in err, err
    assert "Traceback" not in err and out == ""
    after = _cli_process("a dog", "-e", "awe", "--thread", thread, "--json", env_extra=env)
    out, err = after.communicate(timeout=60)  # released: the next process may run it
    assert after.returncode == 0, err
    assert len(json.loads(out)["readings"]) == len(PERSONAS)


@pytest.mark.integration
def test_two_processes_racing_on_one_thread_one_wins_and_the_other_says_so(tmp_path):
    from emotion_director.testing import SimulatedOpenAIServer

    with SimulatedOpenAIServer("ok", latency=8) as server:  # the first run outlasts the start of the second
        env = {"EMOTION_DIRECTOR_BACKEND": "openai", "EMOTION_DIRECTOR_BASE_URL": server.url,
               "EMOTION_DIRECTOR_READING_MODE": "choose",
               "EMOTION_DIRECTOR_CHECKPOINT_DB": str(tmp_path / "runs.sqlite")}
        first = _cli_process("an angry dog", "-e", "contentment", "--thread", "race",
                             env_extra=env)
        line = first.stdout.readline()  # the first process is inside its run
        assert "->" in line, line
        second = _cli_process("a funeral", "-e", "amusement", "--thread", "race", env_extra=env)
        out2, err2 = second.communicate(timeout=60)
        out1, err1 = first.communicate(timeout=60)
    assert first.returncode == 0, err1
    assert second.returncode == 2 and "is being run by another process (pid" in err2, err2
    assert re.search(r"prompt: a dog", out1) and "funeral" not in out1 + line


def _lock_path(settings: Settings, thread: str):
    from emotion_director.graph.durable import _lock_key

    db = settings.checkpoint_db
    return db.parent / f"{db.name}.locks" / f"{_lock_key(thread)[:32]}.lock"


@pytest.mark.parametrize("plant", ["symlink", "fifo", "folder_symlink"])
def test_a_planted_lock_is_refused_and_what_it_points_to_is_untouched(tmp_path, plant):
    settings = Settings(backend="test", checkpoint_db=tmp_path / "runs.sqlite")
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    lock = _lock_path(settings, "t1")
    if plant == "folder_symlink":
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        lock.parent.symlink_to(elsewhere, target_is_directory=True)
    else:
        lock.parent.mkdir()
        if plant == "symlink":
            lock.symlink_to(victim)
        else:
            os.mkfifo(lock)

    async def take():
        async with open_checkpointer(settings) as saver, hold_thread(settings, saver, "t1"):
            pass

    from emotion_director.errors import CheckpointError

    with pytest.raises(CheckpointError, match="remove it and run again"):
        asyncio.run(asyncio.wait_for(take(), 10))
    assert victim.read_text() == "keep me"
    if plant == "folder_symlink":
        assert not list((tmp_path / "elsewhere").iterdir())
