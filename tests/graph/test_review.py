"""Human approval: interrupt after consensus, resume with approve / edit / drop."""

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from typer.testing import CliRunner

from emotion_director import Settings, build_graph
from emotion_director.cli import app
from emotion_director.graph.state import checkpoint_serde
from emotion_director.testing import TestChatModel
from tests.simulated import simulated_env


@pytest.fixture
def review_graph(drive):
    return drive(
        build_graph(
            Settings(review=True),
            chat_model=TestChatModel(),
            checkpointer=InMemorySaver(serde=checkpoint_serde()),
        )
    )


def _start(graph, thread="t"):
    config = {"configurable": {"thread_id": thread}}
    graph.invoke({"prompt": "an angry dog", "emotion": "contentment"}, config)
    state = graph.get_state(config)
    assert state.next == ("review",)
    return config, state.tasks[0].interrupts[0].value


def test_review_pauses_with_the_result_and_approve_finishes(review_graph):
    config, payload = _start(review_graph)
    assert payload["final_prompt"].startswith("a dog") and len(payload["readings"]) == 7
    out = review_graph.invoke(Command(resume={"action": "approve"}), config)
    assert out["final_prompt"] == payload["final_prompt"]
    assert not review_graph.get_state(config).next


def test_review_edit_replaces_the_final_prompt(review_graph):
    config, _ = _start(review_graph)
    out = review_graph.invoke(
        Command(resume={"action": "edit", "final_prompt": "a dog asleep by a fire"}), config
    )
    assert out["final_prompt"] == "a dog asleep by a fire"


def test_review_drop_recomputes_without_those_readings(review_graph):
    config, payload = _start(review_graph)
    review_graph.invoke(Command(resume={"action": "drop", "personas": ["poet", "child"]}), config)
    state = review_graph.get_state(config)
    assert state.next == ("review",)  # asks again with the new result
    again = state.tasks[0].interrupts[0].value
    assert set(again["readings"]) == set(payload["readings"]) - {"poet", "child"}
    concepts = state.values["concepts"].concepts
    assert all(not ({"poet", "child"} & set(c.supported_by)) for c in concepts)
    review_graph.invoke(Command(resume={"action": "maybe"}), config)  # asks again, no error
    state = review_graph.get_state(config)
    assert state.next == ("review",)  # still resumable
    assert "unknown review action" in state.tasks[0].interrupts[0].value["error"]


def test_cli_review_reads_decisions_from_the_terminal(tmp_path, monkeypatch, simulated_backend):
    monkeypatch.setenv("EMOTION_DIRECTOR_CHECKPOINT_DB", str(tmp_path / "ck.sqlite"))
    result = CliRunner().invoke(
        app,
        ["rewrite", "a dog", "-e", "awe", "--review"],
        input="d\npoet\ne\na dog under a huge sky\n",
    )
    assert result.exit_code == 0, result.output
    assert "prompt: a dog under a huge sky" in result.stdout
    closed = CliRunner().invoke(app, ["rewrite", "a dog", "-e", "awe", "--review"], input="")
    assert closed.exit_code == 2 and "--review needs answers" in closed.stderr


@pytest.mark.slow
def test_cli_review_no_is_not_approval_and_json_stays_clean(tmp_path):
    """A real process (CliRunner echoes typed input to stdout; a terminal does not)."""
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("EMOTION_DIRECTOR_")}
    env.update(**simulated_env(), EMOTION_DIRECTOR_CHECKPOINT_DB=str(tmp_path / "ck.sqlite"))

    def cli(*args, stdin):
        return subprocess.run(
            [sys.executable, "-m", "emotion_director.cli", "rewrite", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    # "n" and "x" are no answers: asked again; the edit that follows is what lands
    result = cli(
        "a dog", "-e", "awe", "--review", "--json", stdin="n\nx\ne\na dog under a huge sky\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("{"), repr(result.stdout[:20])  # no prompt's space leaked
    assert json.loads(result.stdout)["final_prompt"] == "a dog under a huge sky"
    assert result.stderr.count("unknown answer") == 2 and "review:" in result.stderr
    # only "n" forever: never approved; it ends saying how to resume
    stuck = cli("a cat", "-e", "awe", "--review", "--thread", "t-n", stdin="n\n" * 25)
    assert stuck.returncode == 2 and "--resume --review" in stuck.stderr
    assert "prompt:" not in stuck.stdout


def test_every_checkpointed_type_is_allowed_where_it_lives_and_where_it_lived():
    """The msgpack allowlist names each type by the module it is defined in (what a checkpoint
    records), and the old ``knowledge.scene`` paths of the scene's types still resolve, so a
    checkpoint written before the parser became a package loads."""
    import importlib

    from emotion_director.graph.state import CHECKPOINT_TYPES
    from emotion_director.knowledge.scene import (
        EmotionalAttribute,
        SceneAdjustment,
        SceneModel,
        SubjectEntity,
        parse_scene,
    )

    for cls in (SceneModel, SubjectEntity, EmotionalAttribute, SceneAdjustment):
        assert (cls.__module__, cls.__name__) in CHECKPOINT_TYPES
        assert ("emotion_director.knowledge.scene", cls.__name__) in CHECKPOINT_TYPES
    for module, name in CHECKPOINT_TYPES:
        assert getattr(importlib.import_module(module), name) is not None
    serde = checkpoint_serde()
    scene = parse_scene("a sobbing toddler in a kitchen at night")
    back = serde.loads_typed(serde.dumps_typed(scene))
    assert isinstance(back, SceneModel) and back == scene
