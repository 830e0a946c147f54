"""The CLI: readable output, JSON output, and one clear line with exit code 2 for bad input."""

import json
import subprocess
import sys

import pytest
import yaml
from typer.testing import CliRunner

from emotion_director.cli import app
from emotion_director.emotions import emotion_words_in
from emotion_director.personas import default_personas

runner = CliRunner()


# every test here runs on the simulated server (tests/simulated.py)
pytestmark = pytest.mark.usefixtures("simulated_backend")


def invoke(*args, input=None):
    return runner.invoke(app, list(args), input=input)


def test_rewrite_json_has_the_full_output_schema():
    result = invoke("rewrite", "an angry dog", "--emotion", "contentment", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len({tuple(r["cues"]) for r in data["readings"]}) >= 6
    assert "dog" in data["final_prompt"] and not emotion_words_in(data["final_prompt"])
    assert data["visual_prompt"]["emotion"] == "contentment"
    assert data["concepts"]["concepts"] and data["trace"]


def test_rewrite_human_output_shows_personas_concepts_and_prompt():
    result = invoke("rewrite", "a dog in a park", "-e", "awe", "--seed", "3")
    assert result.exit_code == 0, result.output
    for persona in default_personas():
        assert persona.name in result.stdout
    assert "appraisals:" in result.stdout and "prompt:" in result.stdout
    assert "negative:" in result.stdout


def test_prompt_from_stdin():
    result = invoke("rewrite", "-", "-e", "fear", "--json", input="a lighthouse at night")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["subject"] == "a lighthouse at night"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["rewrite", "", "-e", "awe"], None, "prompt is empty"),
        (["rewrite", "   ", "-e", "awe"], None, "prompt is empty"),
        (["rewrite", "x" * 100_000, "-e", "awe"], None, "over the 1000-character limit"),
        (["rewrite", "a dog\x1b[31m", "-e", "awe"], None, "control character U+001B"),
        (["rewrite", "-", "-e", "awe"], b"\xff\xfe a dog", "stdin is not valid UTF-8"),
        (["rewrite", "a dog", "-e", "joy!!"], None, "unknown emotion"),
        (["rewrite", "a dog", "-e", "awe", "--valence", "-0.9"], None, "conflicts with 'awe'"),
        (["rewrite", "a dog", "-e", "awe", "--arousal", "7"], None, "out of range"),
        (["rewrite", "a dog"], None, "no emotion given"),
        (["rewrite", "a dog", "-e", "awe", "--backend", "gpt"], None, "unknown backend 'gpt'"),
        (["rewrite", "a dog", "-e", "awe", "--backend", "openai"], None, "needs a server URL"),
        (["rewrite", "a dog", "-e", "awe", "--base-url", "localhost:1"], None, "http://"),
        (["rewrite", "a dog", "-e", "awe", "--personas", "/no/such/dir"], None, "not found"),
        (["rewrite", "a dog", "-e", "awe", "-p", "nobody"], None, "unknown persona"),
        (["personas", "show", "nobody"], None, "unknown persona"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(args, stdin, message, monkeypatch):
    if message == "needs a server URL":  # the run's own is the simulated server's
        monkeypatch.delenv("EMOTION_DIRECTOR_BASE_URL")
    result = invoke(*args, input=stdin)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) <= 3  # one line, soft-wrapped at most


def test_unreachable_server_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("EMOTION_DIRECTOR_MAX_RETRIES", "0")
    monkeypatch.setenv("EMOTION_DIRECTOR_TIMEOUT_S", "2")
    import emotion_director.agents.models as models

    monkeypatch.setattr(models, "ALLOW_MODEL_REQUESTS", True)  # a refused TCP connect, no model
    result = invoke(
        "rewrite",
        "a dog",
        "-e",
        "awe",
        "--backend",
        "openai",
        "--base-url",
        "http://127.0.0.1:9/v1",
    )
    assert result.exit_code == 2, result.output
    assert "cannot reach" in result.stderr and "persona_reading" in result.stderr


def test_bad_persona_file_names_file_and_field(tmp_path):
    data = default_personas()[0].model_dump(mode="json")
    data["weight"] = "heavy"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(data))
    result = invoke("rewrite", "a dog", "-e", "awe", "--personas", str(tmp_path))
    assert result.exit_code == 2
    assert "bad.yaml" in result.stderr and "field 'weight'" in result.stderr


def test_personas_list_show_validate(tmp_path):
    listed = invoke("personas", "list")
    assert listed.exit_code == 0
    assert all(p.name in listed.stdout for p in default_personas())
    shown = invoke("personas", "show", "poet")
    assert shown.exit_code == 0 and yaml.safe_load(shown.stdout)["name"] == "poet"
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(default_personas()[0].model_dump(mode="json")))
    (tmp_path / "bad.yaml").write_text("name: [")
    result = invoke("personas", "validate", str(good), str(tmp_path / "bad.yaml"))
    assert result.exit_code == 2
    assert "ok:" in result.stdout and "invalid YAML" in result.stderr
    assert invoke("personas", "validate", str(good)).exit_code == 0


def test_custom_persona_dir_extends_the_run(tmp_path):
    data = default_personas()[0].model_dump(mode="json")
    data["name"] = "baker"
    (tmp_path / "baker.yaml").write_text(yaml.safe_dump(data))
    result = invoke(
        "rewrite", "a loaf of bread", "-e", "contentment", "--json", "--personas", str(tmp_path)
    )
    assert result.exit_code == 0, result.output
    assert "baker" in {r["persona"] for r in json.loads(result.stdout)["readings"]}


def test_emotions_command_lists_all_categories():
    result = invoke("emotions")
    assert result.exit_code == 0 and "sadness" in result.stdout


def test_import_does_not_import_torch():
    code = "import sys, emotion_director; print('torch' in sys.modules, 'llama_cpp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_rewrite_says_when_the_prompt_is_not_english_and_what_was_changed():
    result = invoke("rewrite", "un chien qui joue dans le jardin", "-e", "awe")
    assert result.exit_code == 0, result.output
    assert "language:" in result.stdout and "not English" in result.stdout
    moved = invoke("rewrite", "an angry dog", "-e", "contentment")
    assert "'angry' evokes anger" in moved.stdout and "moved to the" in moved.stdout
