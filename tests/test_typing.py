"""The public API type-checks: a script written against it passes mypy with the project's
configuration ([tool.mypy] in pyproject.toml), mistakes in such a script are caught rather than
lost in ``Any``, and the package ships its ``py.typed`` marker (PEP 561)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

# What a user writes: the names of emotion_director.__all__, the graph with a run context and
# its tools, personas, settings, the error classes, scene fit and the diffusion exports.
USER_SCRIPT = """\
import asyncio

from emotion_director import (
    EMOTIONS,
    BackendError,
    Emotion,
    EmotionDirectorError,
    InvalidRequestError,
    Persona,
    RewriteInput,
    RewriteOutput,
    Settings,
    SettingsError,
    UnknownEmotionError,
    UserInputError,
    build_graph,
    load_personas,
    load_settings,
    resolve_emotion,
)
from emotion_director.diffusion import VisualPromptBank
from emotion_director.graph import RewriteResult
from emotion_director.graph.context import RunContext
from emotion_director.graph.tools import as_tool
from emotion_director.scenefit import SceneFit, SceneFitVerdict
from emotion_director.testing import TestChatModel


def rewrite(prompt: str, emotion: str) -> str:
    try:
        settings = load_settings(backend="openai", base_url="http://127.0.0.1:8000/v1")
    except SettingsError:
        settings = Settings(max_llm_calls=20, reading_mode="choose")
    personas: list[Persona] = load_personas(names=["poet", "child"])
    graph = build_graph(settings, personas, chat_model=TestChatModel())
    request: RewriteInput = {"prompt": prompt, "emotion": emotion, "seed": 7}
    try:
        out = graph.invoke(request, context=RunContext(personas=["poet"], max_llm_calls=10))
    except UnknownEmotionError as exc:
        return f"unknown emotion: {exc}"
    except (BackendError, InvalidRequestError, UserInputError) as exc:
        return f"failed: {exc}"
    except EmotionDirectorError:
        raise
    result = RewriteResult.from_state(out)
    final: str = out["final_prompt"]
    assert final == result.final_prompt
    return final


async def arewrite(prompt: str) -> str:
    graph = build_graph(Settings(), chat_model=TestChatModel())
    out = await graph.ainvoke({"prompt": prompt, "emotion": "awe"})
    return str(out["final_prompt"])


def shapes(output: RewriteOutput) -> tuple[str, str]:
    return output["final_prompt"], output["negative_prompt"]


def tool_name() -> str:
    return as_tool(Settings(), chat_model=TestChatModel()).name


def emotions() -> list[Emotion]:
    return [resolve_emotion("happy"), Emotion.AWE, *EMOTIONS]


def bank_tokens() -> tuple[int, ...]:
    bank = VisualPromptBank.random(num_tokens=4, dim=16, text_dim=32)
    return tuple(bank.for_emotion(Emotion.AWE)[0].shape)


def clash(scene: str, phrase: str) -> bool:
    verdict: SceneFitVerdict = SceneFit.load().check(scene, phrase)
    return verdict.clash


print(rewrite("a dog in a park", "awe"), asyncio.run(arewrite("a dog")))
"""

# Mistakes the types must catch (line -> error code): a wrong setting type, a misspelt request
# key, a wrong context field type, a wrong persona-loading argument.
BROKEN_SCRIPT = """\
from emotion_director import Settings, build_graph, load_personas
from emotion_director.graph.context import RunContext

settings = Settings(max_llm_calls="many")
graph = build_graph(settings)
graph.invoke({"prompt": "a dog", "emotoin": "awe"})
graph.invoke({"prompt": "a dog"}, context=RunContext(personas="poet"))
load_personas(include_defaults="yes")
"""
BROKEN_ERRORS = {4: "arg-type", 6: "call-overload", 7: "arg-type", 8: "arg-type"}


@pytest.mark.slow  # ~2 s with mypy's cache warm (`make lint`), a minute or two without
@pytest.mark.timeout(420)
def test_a_script_using_the_public_api_type_checks(tmp_path):
    pytest.importorskip("mypy", reason="mypy comes with the dev extra")
    (tmp_path / "user_script.py").write_text(USER_SCRIPT)
    (tmp_path / "broken_script.py").write_text(BROKEN_SCRIPT)
    # from the project root: mypy finds this checkout's emotion_director (an editable install's
    # import hook is invisible to it) and reuses the cache `make lint` fills. In a process of its
    # own: mypy.api in the test's process left ~40 s of garbage collection to the worker
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--no-pretty",
            "--show-error-codes",
            str(tmp_path / "user_script.py"),
            str(tmp_path / "broken_script.py"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )
    stdout, stderr = done.stdout, done.stderr
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    assert not stderr, stderr
    # nothing in the package itself, nothing in the user's script
    assert [e for e in errors if "broken_script.py" not in e] == []
    found = {}
    for line in errors:
        match = re.search(r"broken_script\.py:(\d+): error: .*\[([a-z-]+)\]$", line)
        assert match, line
        found[int(match[1])] = match[2]
    assert found == BROKEN_ERRORS, stdout


def test_the_package_ships_its_py_typed_marker():
    assert resources.files("emotion_director").joinpath("py.typed").is_file()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["emotion_director"]


def test_the_printed_result_and_the_graph_output_declare_the_same_fields():
    # RewriteOutput (the graph's output schema, a TypedDict) and RewriteResult (the same as one
    # pydantic object, what --json prints) are declared apart: this keeps them from drifting
    from typing import NotRequired, get_args, get_origin, get_type_hints

    from emotion_director.graph.state import RewriteOutput, RewriteResult

    output = get_type_hints(RewriteOutput, include_extras=True)
    fields = RewriteResult.model_fields
    assert set(output) == set(fields)
    for name, hint in output.items():
        optional = get_origin(hint) is NotRequired
        if optional:
            hint = get_args(hint)[0]
        want = fields[name].annotation
        if type(None) in get_args(
            want
        ):  # absent (or None) in the graph's output, None in the object
            want = next(a for a in get_args(want) if a is not type(None))
            if type(None) in get_args(hint):  # (a field a later request must be able to clear)
                hint = next(a for a in get_args(hint) if a is not type(None))
        assert hint == want, name
        assert optional == (not fields[name].is_required()), name
