"""Persona tuning: schema, friendly errors, clashes, duplicates, override notices, evals, diff."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from emotion_director import Settings
from emotion_director.cli import app
from emotion_director.errors import PersonaFileError
from emotion_director.evals.persona_diff import diff_persona_sets
from emotion_director.personas import Persona, default_personas, load_persona_file, load_personas

runner = CliRunner()


# every test here runs on the simulated server (tests/simulated.py)
pytestmark = pytest.mark.usefixtures("simulated_backend")


def _data(**overrides) -> dict:
    data = next(p for p in default_personas() if p.name == "poet").model_dump(mode="json")
    data.update(overrides)
    return data


def _write(folder: Path, name: str, data: dict | str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def test_personas_schema_prints_the_json_schema_of_a_persona_file():
    result = runner.invoke(app, ["personas", "schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert schema == Persona.model_json_schema()
    assert "name" in schema["required"] and "taste" in schema["properties"]
    assert schema["properties"]["weight"]["description"]


def test_default_files_are_commented_and_still_valid():
    from importlib import resources

    folder = resources.files("emotion_director.personas").joinpath("defaults")
    for file in folder.iterdir():
        if file.name.endswith(".yaml"):
            text = file.read_text("utf-8")
            assert text.count("#") >= 5, f"{file.name} has no field comments"
    assert len(default_personas()) == 7


def test_a_comma_string_where_a_list_belongs_says_how_to_write_the_list(tmp_path):
    text = yaml.safe_dump(_data()).replace(
        "palette:\n  - muted grey-blue\n  - dusky rose\n  - ink blue", "palette: a, b"
    )
    assert "palette: a, b" in text
    with pytest.raises(PersonaFileError, match=r"taste.palette': expects a list; write \[a, b\]"):
        load_persona_file(_write(tmp_path, "p.yaml", text))


def test_a_synonym_key_that_clashes_with_its_category_is_refused(tmp_path):
    path = _write(tmp_path, "p.yaml", _data(sensitivity={"contentment": 1.3, "content": 1.5}))
    with pytest.raises(
        PersonaFileError,
        match="keys '(contentment|content)' and "
        "'(content|contentment)' both mean "
        "'contentment'; keep one",
    ):
        load_persona_file(path)
    # a synonym alone is still fine
    ok = _write(tmp_path, "q.yaml", _data(name="q", sensitivity={"content": 1.5}))
    assert load_persona_file(ok).sensitivity == {"contentment": 1.5}


def test_validate_catches_two_files_with_the_same_name(tmp_path):
    _write(tmp_path, "a.yaml", _data(name="twin"))
    _write(tmp_path, "b.yaml", _data(name="twin"))
    result = runner.invoke(app, ["personas", "validate", str(tmp_path)])
    assert result.exit_code == 2
    assert "persona name 'twin' is also used by" in result.output


def test_a_user_file_that_overrides_a_default_is_announced(tmp_path):
    _write(tmp_path, "mine.yaml", _data(name="poet", temperament="cheerful"))
    notices: list[str] = []
    load_personas(tmp_path, notices=notices)
    assert notices == [f"{tmp_path / 'mine.yaml'} overrides the default persona 'poet'"]
    listed = runner.invoke(app, ["personas", "list", "--personas", str(tmp_path)])
    assert listed.exit_code == 0 and "overrides the default persona 'poet'" in listed.output
    validated = runner.invoke(app, ["personas", "validate", str(tmp_path)])
    assert validated.exit_code == 0 and "overrides the default persona" in validated.output
    rewrite = runner.invoke(
        app, ["rewrite", "a dog", "-e", "awe", "--personas", str(tmp_path), "--json"]
    )
    assert rewrite.exit_code == 0 and "overrides the default persona 'poet'" in rewrite.output


def test_no_notice_without_an_override(tmp_path):
    _write(tmp_path, "baker.yaml", _data(name="baker"))
    notices: list[str] = []
    load_personas(tmp_path, notices=notices)
    assert notices == []


def test_eval_run_takes_a_persona_folder(tmp_path):
    _write(
        tmp_path / "p",
        "poet.yaml",
        _data(name="poet", weight=5.0, taste={**_data()["taste"], "motifs": ["kites"]}),
    )
    result = runner.invoke(
        app,
        [
            "eval",
            "run",
            "--out",
            str(tmp_path / "run"),
            "--systems",
            "mc_agent",
            "--limit",
            "1",
            "--personas",
            str(tmp_path / "p"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "overrides the default persona 'poet'" in result.output
    assert (tmp_path / "run" / "results.jsonl").read_text().strip()
    bad = runner.invoke(
        app,
        [
            "eval",
            "run",
            "--out",
            str(tmp_path / "run2"),
            "--systems",
            "mc_agent",
            "--personas",
            str(tmp_path / "missing"),
        ],
    )
    assert bad.exit_code == 2 and "persona directory not found" in bad.output


def test_personas_diff_shows_what_a_persona_edit_changes(tmp_path, no_read_risk, test_model):
    edited = _data(
        taste={
            **_data()["taste"],
            "motifs": ["lanterns", "red kites", "snow"],
            "palette": ["crimson", "gold"],
            "light": ["candle light"],
        }
    )
    _write(tmp_path / "b", "poet.yaml", edited)
    # a scene where the edited taste reorders the poet's shortlist (on some scenes the
    # subject-specific concepts outrank any taste edit, and the diff rightly shows no change)
    rows = diff_persona_sets(
        None,
        tmp_path / "b",
        Settings(),
        scenes=[("a bedroom", "contentment")],
        chat_model=test_model,
    )
    by = {r.persona: r for r in rows}
    assert by["poet"].changed  # the edited persona reads the scene differently
    assert not by["child"].changed  # the others do not move
    assert "(final prompt)" in by
    same = diff_persona_sets(
        None, None, Settings(), scenes=[("a dog in a park", "awe")], chat_model=test_model
    )
    assert not any(r.changed for r in same)


def test_personas_diff_cli_and_its_bad_input(tmp_path, no_read_risk):
    _write(
        tmp_path / "b",
        "poet.yaml",
        _data(taste={**_data()["taste"], "motifs": ["lanterns", "snow"]}),
    )
    # a scene whose shortlist the edit reorders (on others, concepts specific to the subject
    # and its setting outrank any taste edit: the diff rightly shows no change there; "a hut in
    # the snow" was one until the tiny silhouette in immense surroundings needed a vista, which
    # falling snow hides, and "a lantern on a snowy path" until the lights that fit any scene
    # joined the shortlists, 2026-12-07)
    result = runner.invoke(
        app,
        [
            "personas",
            "diff",
            "defaults",
            str(tmp_path / "b"),
            "--scene",
            "a lantern in the snow:awe",
            "--changed-only",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "poet" in result.stdout and "rows differ" in result.output
    only = runner.invoke(
        app,
        [
            "personas",
            "diff",
            "defaults",
            str(tmp_path / "b"),
            "--scene",
            "a dog in a park:awe",
            "-p",
            "poet",
            "-p",
            "child",
        ],
    )
    assert only.exit_code == 0 and "farmer" not in only.stdout and "child" in only.stdout
    bad = runner.invoke(app, ["personas", "diff", "defaults", "defaults", "--scene", "no emotion"])
    assert bad.exit_code == 2 and "write PROMPT:EMOTION" in bad.output
    missing = runner.invoke(app, ["personas", "diff", "defaults", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "persona directory not found" in missing.output


def test_personas_diff_p_names_a_persona_only_one_set_has(tmp_path, test_model):
    _write(tmp_path / "b", "newcomer.yaml", _data(name="newcomer"))
    rows = diff_persona_sets(
        None,
        tmp_path / "b",
        Settings(),
        scenes=[("a dog", "awe")],
        names=["newcomer", "poet"],
        chat_model=test_model,
    )
    by = {r.persona: r for r in rows}
    assert by["newcomer"].a == "-" and by["newcomer"].b != "-"  # added in B
    assert not by["poet"].changed
    only_new = diff_persona_sets(
        None,
        tmp_path / "b",
        Settings(),
        scenes=[("a dog", "awe")],
        names=["newcomer"],
        chat_model=test_model,
    )
    final = {r.persona: r for r in only_new}["(final prompt)"]
    assert final.a == "-" and final.b.startswith("a dog")  # A has no such persona to run
    cli = runner.invoke(
        app,
        [
            "personas",
            "diff",
            "defaults",
            str(tmp_path / "b"),
            "--scene",
            "a dog:awe",
            "-p",
            "newcomer",
        ],
    )
    assert cli.exit_code == 0, cli.output
    ghost = runner.invoke(app, ["personas", "diff", "defaults", str(tmp_path / "b"), "-p", "ghost"])
    assert ghost.exit_code == 2 and "unknown persona(s) ghost in both sets" in ghost.output


def test_validate_lists_every_problem_of_every_file(tmp_path):
    _write(tmp_path, "a.yaml", "name: a\nbackground: 3\n")
    bad = _data(name="b", weight=99)
    bad["taste"]["focus"] = ["nope"]
    del bad["bio"]
    _write(tmp_path, "b.yaml", yaml.safe_dump(bad))
    _write(tmp_path, "c.yaml", yaml.safe_dump(_data(name="c")))
    result = runner.invoke(app, ["personas", "validate", str(tmp_path)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith("invalid:")]
    a_lines = [line for line in lines if "a.yaml" in line]
    b_lines = [line for line in lines if "b.yaml" in line]
    assert len(a_lines) == 4  # bio, temperament, taste missing; 'background' unknown
    assert any("'background'" in line and "spelling" in line for line in a_lines)
    assert len(b_lines) == 3
    assert any("'weight'" in line for line in b_lines) and any("nope" in line for line in b_lines)
    assert any("'bio'" in line for line in b_lines)
    assert "ok:" in result.output and "c.yaml" in result.output  # the good file still passes
    # a single load still raises one line naming the first problem and counting the rest
    with pytest.raises(PersonaFileError, match=r"and 2 more problem\(s\)"):
        load_persona_file(tmp_path / "b.yaml")


def test_the_old_personas_diff_path_still_works_with_a_warning():
    with pytest.warns(DeprecationWarning, match="emotion_director.evals.persona_diff"):
        from emotion_director.personas.diff import diff_persona_sets as old
    assert old is diff_persona_sets


def test_validating_the_shipped_defaults_does_not_call_them_overrides():
    from importlib import resources

    shipped = str(resources.files("emotion_director.personas").joinpath("defaults"))
    result = runner.invoke(app, ["personas", "validate", shipped])
    assert result.exit_code == 0 and result.output.count("ok:") == 7
    assert "overrides" not in result.output
