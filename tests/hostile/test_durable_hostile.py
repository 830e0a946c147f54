"""Hostile use of durable runs (issue items 1-4): reused thread ids, a process killed between a
step's writes and its checkpoint, bad review answers, two processes on one thread, odd ids,
a resume with other settings or another request (item 9)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from importlib import resources

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
from emotion_director.testing import TestChatModel
from tests.cli_runner import run_cli
from tests.integration.conftest import postgres_url  # noqa: F401  (fixture)
from tests.simulated import simulated_env

# a command run in this process (tests/cli_runner.py) may call the simulated server on loopback
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("loopback_model_server")]
PERSONAS = [p.name for p in default_personas()]
runner = CliRunner()


@pytest.fixture
def durable_env(tmp_path, monkeypatch, simulated_backend):
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


# --- 1. a reused thread id never mixes two requests -----------------------------------------------


@pytest.mark.parametrize("store", ["memory", "sqlite"])
async def test_a_new_request_on_a_used_thread_starts_clean_in_the_python_api(store, tmp_path):
    request_a = {"prompt": "an angry dog", "emotion": "contentment"}
    request_b = {"prompt": "a funeral", "emotion": "amusement", "personas": ["poet"]}
    config = {"configurable": {"thread_id": "T"}}
    settings = Settings(checkpoint_db=tmp_path / "ck.sqlite")
    fresh = await build_graph(settings, chat_model=TestChatModel()).ainvoke(request_b)

    async def run(saver):
        graph = build_graph(settings, checkpointer=saver, chat_model=TestChatModel())
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
    second = cli(
        "rewrite", "a funeral", "-e", "amusement", "--thread", "T", "--persona", "poet", "--json"
    )
    line = one_clean_line(second)
    assert "already holds a finished run ('an angry dog' -> contentment)" in line
    assert "--thread T --resume" in line and "another --thread id" in line
    saved = cli("rewrite", "--thread", "T", "--resume", "--json")  # the first run is intact
    assert saved.exit_code == 0, saved.output
    assert json.loads(saved.stdout) == json.loads(first.stdout)


# --- 2. --resume finishes a run killed between a step's writes and its checkpoint -----------------


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
        graph = build_graph(settings, checkpointer=dying, chat_model=TestChatModel())
        config = {"configurable": {"thread_id": thread}}
        with pytest.raises(BaseException):
            await graph.ainvoke({"prompt": "an angry dog", "emotion": "contentment"}, config)
        await asyncio.sleep(0.1)  # let the background checkpoint task settle
        state = await build_graph(
            settings, checkpointer=saver, chat_model=TestChatModel()
        ).aget_state(config)
        return state


def test_resume_finishes_a_run_whose_saved_state_has_no_next_but_pending_writes(durable_env):
    settings = Settings(checkpoint_db=durable_env)
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
    settings = Settings(checkpoint_db=durable_env)
    await _kill_between_writes_and_checkpoint(settings, "K2")
    async with open_checkpointer(settings) as saver:
        graph = build_graph(settings, checkpointer=saver, chat_model=TestChatModel())
        config = {"configurable": {"thread_id": "K2"}}
        assert (await saved_run(graph, config)).status == "unfinished"
        out = await graph.ainvoke(None, config)
        assert len(out["readings"]) == len(PERSONAS)
        assert (await saved_run(graph, config)).status == "finished"


# --- 3. a bad review answer never jams a thread ---------------------------------------------------


@pytest.fixture
def review_graph():
    return build_graph(
        Settings(review=True),
        checkpointer=InMemorySaver(serde=checkpoint_serde()),
        chat_model=TestChatModel(),
    )


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
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
    ],
)
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
    result = cli(
        "rewrite",
        "a dog",
        "-e",
        "awe",
        "--review",
        "--thread",
        "rv",
        input="d\nnobody\nd\npoet\ne\n" + "y" * 100_000 + "\ne\na dog under a huge sky\n",
    )
    assert result.exit_code == 0, result.output[-2000:]
    assert result.stderr.count("invalid answer:") == 2
    assert "unknown persona(s) nobody" in result.stderr and "over the 1000" in result.stderr
    assert "prompt: a dog under a huge sky" in result.stdout


def test_cli_resume_review_after_a_bad_stored_answer_asks_instead_of_failing(durable_env):
    settings = Settings(review=True, checkpoint_db=durable_env)

    async def store_a_bad_answer():
        async with open_checkpointer(settings) as saver:
            graph = build_graph(settings, checkpointer=saver, chat_model=TestChatModel())
            config = {"configurable": {"thread_id": "jam"}}
            await graph.ainvoke({"prompt": "a dog", "emotion": "awe"}, config)
            await graph.ainvoke(Command(resume={"action": "drop", "personas": ["nobody"]}), config)

    asyncio.run(store_a_bad_answer())
    for _ in range(2):  # a closed stdin twice: still saved, still resumable
        closed = cli("rewrite", "--thread", "jam", "--resume", "--review", input="")
        assert closed.exit_code == 2 and "Traceback" not in closed.output
        assert closed.stderr.strip().splitlines()[-1] == (
            "error: --review needs answers on the terminal (stdin closed); the run is saved: "
            "resume it with --thread jam --resume --review."
        )
    resumed = cli("rewrite", "--thread", "jam", "--resume", "--review", input="a\n")
    assert resumed.exit_code == 0, resumed.output
    assert "unknown persona(s) nobody" in resumed.stderr  # the stored problem is shown once
    assert "prompt: a dog" in resumed.stdout


def test_cli_resume_without_review_on_a_paused_run_says_how(durable_env):
    started = cli("rewrite", "a dog", "-e", "awe", "--review", "--thread", "p", input="")
    assert started.exit_code == 2
    line = one_clean_line(cli("rewrite", "--thread", "p", "--resume"))
    assert "waits for a review" in line and "--resume --review" in line


# --- 4. one process per thread; ids that can be typed again ---------------------------------------


@pytest.mark.parametrize(
    ("thread", "message"),
    [
        ("", "needs a non-empty id"),
        ("   ", "needs a non-empty id"),
        (" job", "starts or ends with whitespace"),
        ("job\u200b", "invisible or control character U+200B"),
        ("job\x1b", "invisible or control character U+001B"),
        ("j" * 201, "over 200"),
    ],
)
def test_thread_ids_that_cannot_be_typed_again_are_refused(durable_env, thread, message):
    for args in (
        ["rewrite", "a dog", "-e", "awe", "--thread", thread],
        ["rewrite", "--thread", thread, "--resume"],
    ):
        assert message in one_clean_line(cli(*args))
    assert not durable_env.exists() or b"job" not in durable_env.read_bytes()


def test_check_thread_id_accepts_ordinary_ids():
    for thread in ("job-42", "user@example.com/run:7", "任务-1", "a" * 200):
        assert check_thread_id(thread) == thread


def _cli_process(*args, env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMOTION_DIRECTOR_")}
    env.update(env_extra, COLUMNS="200")
    return subprocess.Popen(
        [sys.executable, "-m", "emotion_director.cli", "rewrite", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "store", ["sqlite", pytest.param("postgres", marks=pytest.mark.integration)]
)
def test_a_second_process_on_a_busy_thread_is_refused(tmp_path, store, request):
    env = simulated_env()
    if store == "sqlite":
        env["EMOTION_DIRECTOR_CHECKPOINT_DB"] = str(tmp_path / "runs.sqlite")
    else:
        env["EMOTION_DIRECTOR_CHECKPOINT_URL"] = request.getfixturevalue("postgres_url")
    settings = Settings(
        **{
            k.removeprefix("EMOTION_DIRECTOR_").lower(): v
            for k, v in env.items()
            if k.startswith("EMOTION_DIRECTOR_")
        }
    )
    thread = f"busy-{time.time_ns()}"

    async def hold_while_another_process_tries():
        async with open_checkpointer(settings) as saver, hold_thread(settings, saver, thread):
            other = await asyncio.to_thread(
                lambda: _cli_process(
                    "a dog", "-e", "awe", "--thread", thread, env_extra=env
                ).communicate(timeout=60)
            )
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

    with SimulatedOpenAIServer(
        "ok", latency=8
    ) as server:  # the first run outlasts the start of the second
        env = {
            "EMOTION_DIRECTOR_BACKEND": "openai",
            "EMOTION_DIRECTOR_BASE_URL": server.url,
            "EMOTION_DIRECTOR_READING_MODE": "choose",
            "EMOTION_DIRECTOR_CHECKPOINT_DB": str(tmp_path / "runs.sqlite"),
        }
        first = _cli_process("an angry dog", "-e", "contentment", "--thread", "race", env_extra=env)
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


@pytest.mark.parametrize("plant", ["symlink", "fifo", "folder_symlink", "hardlink"])
def test_a_planted_lock_is_refused_and_what_it_points_to_is_untouched(tmp_path, plant):
    settings = Settings(checkpoint_db=tmp_path / "runs.sqlite")
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
        elif plant == "hardlink":  # (the audit of round 3: ftruncate went through it)
            os.link(victim, lock)
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


# --- 5. a resume never mixes two runs (issue 21, item 9) ------------------------------------------

API_KEY = "sk-test-RESUMEKEY0123456789abcdef"
URL_PASSWORD = "pw-RESUME-secret-77"


def _rewrite(*args, env, stdin="", process=False):
    """``emotion-director rewrite`` as a process would run it (:func:`tests.cli_runner.run_cli`),
    or in a process of its own (``process=True``: a failed run's other requests end with it);
    ``stdin=""`` is a closed terminal."""
    if not process:
        return run_cli("rewrite", *args, env=env, input=stdin)
    full = {k: v for k, v in os.environ.items() if not k.startswith("EMOTION_DIRECTOR_")}
    full.update(env, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "emotion_director.cli", "rewrite", *args],
        env=full,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=90,
    )


def _refusal(done):
    """Exit 2 and one red line, no traceback; the line without its 'error: ' head."""
    assert done.returncode == 2, (done.returncode, done.stdout[-500:], done.stderr[-2000:])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    return lines[0].removeprefix("error: ")


@pytest.mark.slow
@pytest.mark.parametrize("change", ["base_url", "model"])
@pytest.mark.usefixtures("loopback_model_server")
def test_resume_with_another_server_or_model_is_refused_and_never_calls_it(tmp_path, change):
    from emotion_director.testing import SimulatedOpenAIServer

    db = tmp_path / "runs.sqlite"
    env = {
        "EMOTION_DIRECTOR_BACKEND": "openai",
        "EMOTION_DIRECTOR_API_KEY": API_KEY,
        "EMOTION_DIRECTOR_MAX_RETRIES": "0",
        "EMOTION_DIRECTOR_CHECKPOINT_DB": str(db),
    }
    with SimulatedOpenAIServer("http500") as first, SimulatedOpenAIServer("ok") as other:
        # the URL holds a password, the environment an API key: neither may ever be printed
        url = first.url.replace("http://", f"http://alice:{URL_PASSWORD}@")
        started = ["--base-url", url, "--model", "model-a"]
        # in a process of its own: when it has ended, so have its other personas' requests
        broken = _rewrite(
            "an angry dog", "-e", "contentment", "--thread", "T", *started, env=env, process=True
        )
        assert broken.returncode == 2 and "HTTP 500" in broken.stderr  # saved, unfinished
        calls = first.requests
        changed = (
            ["--base-url", other.url, "--model", "model-a"]
            if change == "base_url"
            else ["--base-url", url, "--model", "model-b"]
        )
        line = _refusal(_rewrite("--thread", "T", "--resume", *changed, env=env))
        if change == "base_url":  # named without the user and password it was given with
            assert f'base URL "{first.url}" (now "{other.url}")' in line
        else:
            assert 'model "model-a" (now "model-b")' in line
        assert line.startswith("--thread T holds a run started with other settings: ")
        assert "settings it was started with" in line and "another --thread id" in line
        stored = db.read_bytes().decode("latin-1")  # the recorded settings included
        assert API_KEY not in line + stored and URL_PASSWORD not in line + stored
        assert "alice" not in line  # the URL is named without its user either
        assert first.requests == calls and other.requests == 0  # nothing ran with the new setup
        first.mode = "ok"  # the server is back: the same settings continue the run
        resumed = _rewrite("--thread", "T", "--resume", *started, "--json", env=env)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        assert len(json.loads(resumed.stdout)["readings"]) == len(PERSONAS)
        assert {body["model"] for body in first.bodies} == {"model-a"}


def _persona_folder(path, name):
    """A folder with one persona of its own (the shipped child, renamed)."""
    path.mkdir()
    shipped = resources.files("emotion_director.personas") / "defaults" / "child.yaml"
    text = shipped.read_text(encoding="utf-8").replace("name: child", f"name: {name}")
    (path / f"{name}.yaml").write_text(text, encoding="utf-8")
    return path


@pytest.mark.slow
def test_resume_with_another_personas_folder_is_refused(tmp_path):
    db = tmp_path / "runs.sqlite"
    env = {**simulated_env(), "EMOTION_DIRECTOR_CHECKPOINT_DB": str(db)}
    folder = _persona_folder(tmp_path / "crew", "night-nurse")
    other = _persona_folder(tmp_path / "other-crew", "deep-sea-diver")
    paused = _rewrite(
        "a dog", "-e", "awe", "--review", "--thread", "P", "--personas", str(folder), env=env
    )  # stdin closed: the run pauses for review, saved
    assert paused.returncode == 2 and "--resume --review" in paused.stderr
    line = _refusal(
        _rewrite(
            "--thread", "P", "--resume", "--review", "--personas", str(other), env=env, stdin="a\n"
        )
    )
    assert f"personas folder {folder} (now {other})" in line
    assert "persona set (hash)" in line  # another folder, other personas
    line = _refusal(_rewrite("--thread", "P", "--resume", "--review", env=env, stdin="a\n"))
    assert f"personas folder {folder} (now none (the default personas))" in line
    # the same folder through the environment is the same run
    same = _rewrite(
        "--thread",
        "P",
        "--resume",
        "--review",
        "--json",
        stdin="a\n",
        env={**env, "EMOTION_DIRECTOR_PERSONA_DIRS": str(folder)},
    )
    assert same.returncode == 0, same.stderr[-2000:]
    assert "night-nurse" in {r["persona"] for r in json.loads(same.stdout)["readings"]}


@pytest.mark.slow
def test_resume_after_the_personas_folder_changed_is_refused(tmp_path):
    db = tmp_path / "runs.sqlite"
    env = {**simulated_env(), "EMOTION_DIRECTOR_CHECKPOINT_DB": str(db)}
    folder = _persona_folder(tmp_path / "crew", "night-nurse")
    paused = _rewrite(
        "a dog", "-e", "awe", "--review", "--thread", "P", "--personas", str(folder), env=env
    )
    assert paused.returncode == 2
    persona = folder / "night-nurse.yaml"
    persona.write_text(persona.read_text().replace("weight: 1.0", "weight: 2.0"))
    line = _refusal(
        _rewrite(
            "--thread", "P", "--resume", "--review", "--personas", str(folder), env=env, stdin="a\n"
        )
    )
    assert "persona set (hash)" in line and "personas folder" not in line


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["a funeral", "-e", "contentment"], 'prompt "an angry dog" (now "a funeral")'),
        (["an angry dog", "-e", "awe"], 'emotion "contentment" (now "awe")'),
        (["a funeral"], 'prompt "an angry dog" (now "a funeral")'),
    ],
)
@pytest.mark.slow
def test_resume_with_a_new_prompt_or_emotion_is_refused_not_answered_with_the_old_result(
    tmp_path, args, named
):
    env = {
        **simulated_env(),
        "EMOTION_DIRECTOR_CHECKPOINT_DB": str(tmp_path / "runs.sqlite"),
    }
    first = _rewrite("an angry dog", "-e", "contentment", "--thread", "T", "--json", env=env)
    assert first.returncode == 0, first.stderr
    line = _refusal(_rewrite(*args, "--thread", "T", "--resume", "--json", env=env))
    assert line.startswith("--thread T holds a run started with another request: ")
    assert named in line and "--thread T --resume" in line and "another --thread id" in line
    again = _rewrite(
        "an angry dog", "-e", "contentment", "--thread", "T", "--resume", "--json", env=env
    )  # the run's own request, typed again, is the same run
    assert again.returncode == 0, again.stderr
    # (scene.facts is a set: its order differs between processes, so it is left out)
    shown, saved = json.loads(again.stdout), json.loads(first.stdout)
    assert shown.pop("scene")["text"] == saved.pop("scene")["text"] and shown == saved


@pytest.mark.slow
def test_a_run_saved_before_runs_recorded_their_settings_still_resumes(tmp_path):
    settings = Settings(checkpoint_db=tmp_path / "runs.sqlite")
    state = asyncio.run(_kill_between_writes_and_checkpoint(settings, "old"))  # no identity
    assert "final_prompt" not in state.values
    env = {
        **simulated_env(),
        "EMOTION_DIRECTOR_CHECKPOINT_DB": str(settings.checkpoint_db),
    }
    # its prompt is in its state: a new one is still refused...
    line = _refusal(_rewrite("a funeral", "--thread", "old", "--resume", env=env))
    assert 'prompt "an angry dog" (now "a funeral")' in line
    # ...and its settings, never recorded, cannot be checked: it resumes as it always did
    resumed = _rewrite(
        "--thread", "old", "--resume", "--json", env={**env, "EMOTION_DIRECTOR_SEED": "5"}
    )
    assert resumed.returncode == 0, resumed.stderr
    assert len(json.loads(resumed.stdout)["readings"]) == len(PERSONAS)


async def test_the_python_api_records_a_run_and_refuses_a_mixed_resume_with_checkpoint_error():
    from emotion_director.errors import CheckpointError, EmotionDirectorError
    from emotion_director.graph.durable import (
        check_resume,
        config_with_identity,
        recorded_identity,
        run_identity,
    )

    saver = InMemorySaver(serde=checkpoint_serde())
    started = Settings(
        backend="openai",
        base_url=f"http://bob:{URL_PASSWORD}@127.0.0.1:9/v1",
        api_key=API_KEY,
        model="model-a",
    )
    request = {"prompt": "an angry dog", "emotion": "contentment"}
    config = {"configurable": {"thread_id": "api"}}
    graph = build_graph(Settings(), checkpointer=saver, chat_model=TestChatModel())
    await graph.ainvoke(request, config_with_identity(config, run_identity(started, request)))
    recorded = await recorded_identity(saver, config)
    assert recorded["settings"]["base_url"] == "http://127.0.0.1:9/v1"
    assert URL_PASSWORD not in json.dumps(recorded) and API_KEY not in json.dumps(recorded)
    values = (await graph.aget_state(config)).values
    check_resume("api", recorded, run_identity(started), values)  # the same settings: fine
    check_resume("api", recorded, run_identity(started), values, {"emotion": "calm"})  # synonym
    moved = started.model_copy(update={"model": "model-b", "base_url": "http://127.0.0.1:8/v1"})
    with pytest.raises(CheckpointError) as refused:
        check_resume("api", recorded, run_identity(moved), values, {"prompt": "a cat"})
    assert isinstance(refused.value, EmotionDirectorError)
    message = str(refused.value)
    assert 'model "model-a" (now "model-b")' in message and 'prompt "an angry dog"' in message
    assert "127.0.0.1:9" in message and "127.0.0.1:8" in message
    # a later request on the thread, started without an identity, is not taken for this run
    await graph.ainvoke({"prompt": "a funeral", "emotion": "amusement"}, config)
    assert await recorded_identity(saver, config) is None
