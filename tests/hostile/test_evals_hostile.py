"""Hostile inputs to the eval commands: one-line errors with exit 2, no traceback, nothing lost."""

import json

import pytest

pytest.importorskip("sentence_transformers")

from typer.testing import CliRunner  # noqa: E402

from emotion_director.cli import app  # noqa: E402


@pytest.fixture
def cli(simulated_backend):
    runner = CliRunner()

    def invoke(*args):
        result = runner.invoke(app, [str(a) for a in args])
        assert "Traceback" not in result.output
        return result

    return invoke


def _one_line_error(result, *needles):
    assert result.exit_code == 2, result.output
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def run_dir(tmp_path, cli):
    out = tmp_path / "run"
    result = cli(
        "eval",
        "run",
        "--out",
        out,
        "--systems",
        "identity,template",
        "--limit",
        "2",
        "--dataset",
        "builtin:neutral",
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("systems", [" , ", ",", "  ", ",,, "])
def test_systems_naming_nothing_are_refused(cli, tmp_path, systems):
    _one_line_error(
        cli("eval", "run", "--out", tmp_path / "r", "--systems", systems),
        "names no system",
        "--systems identity",
    )
    assert not (tmp_path / "r" / "results.jsonl").exists()


def test_judge_systems_naming_nothing_are_refused(cli, run_dir):
    _one_line_error(cli("eval", "judge", run_dir, "--systems", " , "), "names no system")


def test_a_corrupt_llm_cache_is_named_with_the_fix(cli, tmp_path):
    cache = tmp_path / "cache.sqlite"
    cache.write_bytes(b"this is not a sqlite database at all" * 100)
    _one_line_error(
        cli(
            "eval",
            "run",
            "--out",
            tmp_path / "r",
            "--systems",
            "identity",
            "--limit",
            "1",
            "--cache",
            cache,
        ),
        str(cache),
        "--cache",
    )


def test_an_llm_cache_that_is_a_directory_is_named_with_the_fix(cli, tmp_path):
    (tmp_path / "r" / "llm_cache.sqlite").mkdir(parents=True)
    _one_line_error(
        cli("eval", "run", "--out", tmp_path / "r", "--systems", "identity", "--limit", "1"),
        "is a directory",
    )


def test_a_corrupt_judge_cache_is_named(cli, run_dir):
    (run_dir / "judge_cache.sqlite").write_bytes(b"\x00garbage" * 500)
    _one_line_error(cli("eval", "judge", run_dir), "judge_cache.sqlite", "not a usable")


@pytest.mark.parametrize("value", ['"high"', "null", "[1, 2]", '{"x": 1}', "NaN", "true"])
def test_a_non_numeric_metric_fails_the_report_with_the_row_named(cli, run_dir, value):
    path = run_dir / "results.jsonl"
    rows = path.read_text().splitlines()
    rows[1] = rows[1].replace('"minilm_prob": ', f'"minilm_prob": {value}, "was": ', 1)
    path.write_text("\n".join(rows) + "\n")
    _one_line_error(cli("eval", "report", run_dir), "row 2", "minilm_prob", "not a number")
    other = run_dir.parent / "other"
    other.mkdir()
    (other / "results.jsonl").write_text(path.read_text())
    _one_line_error(cli("eval", "compare", run_dir, other), "minilm_prob")


@pytest.mark.parametrize("line", ["[1, 2, 3]", '"text"', '{"system": 3}', '{"case_id": "x"}'])
def test_a_results_line_that_is_not_a_record_fails_the_report(cli, run_dir, line):
    with (run_dir / "results.jsonl").open("a") as handle:
        handle.write(line + "\n")
    _one_line_error(cli("eval", "report", run_dir), "not a result record")


def test_a_corrupt_run_json_refuses_the_resume(cli, run_dir):
    (run_dir / "run.json").write_text("{not json")
    _one_line_error(
        cli(
            "eval",
            "run",
            "--out",
            run_dir,
            "--systems",
            "identity",
            "--limit",
            "2",
            "--dataset",
            "builtin:neutral",
        ),
        "run.json",
        "new --out",
    )


def test_resuming_into_a_run_of_another_dataset_is_refused(cli, run_dir):
    before = (run_dir / "results.jsonl").read_text()
    _one_line_error(
        cli(
            "eval",
            "run",
            "--out",
            run_dir,
            "--systems",
            "identity",
            "--limit",
            "2",
            "--dataset",
            "builtin:shortcut",
        ),
        "builtin:neutral",
        "new --out",
    )
    assert (run_dir / "results.jsonl").read_text() == before


def _resume(cli, run_dir):
    """The same eval run again, into ``run_dir`` (made by the ``run_dir`` fixture)."""
    args = ("--systems", "identity", "--limit", "2", "--dataset", "builtin:neutral")
    return cli("eval", "run", "--out", run_dir, *args)


def test_resuming_into_a_run_of_another_backend_is_refused(cli, run_dir, monkeypatch):
    monkeypatch.setenv("EMOTION_DIRECTOR_BACKEND", "embedded")
    _one_line_error(_resume(cli, run_dir), "backend", "new --out")


def test_the_same_server_with_a_trailing_slash_resumes(
    cli, run_dir, monkeypatch, simulated_backend
):
    url = simulated_backend["EMOTION_DIRECTOR_BASE_URL"]
    monkeypatch.setenv("EMOTION_DIRECTOR_BASE_URL", url + "/")
    result = _resume(cli, run_dir)
    assert result.exit_code == 0, result.output


def test_resuming_into_a_run_of_another_server_is_refused(cli, run_dir, monkeypatch):
    # the run was made on the simulated server; another server may serve another model
    monkeypatch.setenv("EMOTION_DIRECTOR_BASE_URL", "http://user:secret@127.0.0.1:9/v1")
    result = _resume(cli, run_dir)
    _one_line_error(result, "base_url", "127.0.0.1:9", "new --out")
    assert "secret" not in result.stderr


def test_compare_with_no_common_case_is_an_error_not_a_division_by_zero(cli, tmp_path, run_dir):
    other = tmp_path / "other"
    assert (
        cli(
            "eval",
            "run",
            "--out",
            other,
            "--systems",
            "identity",
            "--limit",
            "1",
            "--dataset",
            "builtin:shortcut",
        ).exit_code
        == 0
    )
    _one_line_error(cli("eval", "compare", run_dir, other), "no case id in common")


def test_compare_of_runs_with_no_common_system_is_an_error(cli, tmp_path, run_dir):
    other = tmp_path / "other"
    assert (
        cli(
            "eval",
            "run",
            "--out",
            other,
            "--systems",
            "mc_agent",
            "--limit",
            "2",
            "--dataset",
            "builtin:neutral",
        ).exit_code
        == 0
    )
    _one_line_error(cli("eval", "compare", run_dir, other), "no system in common")


def test_judge_on_a_run_without_results_or_with_one_system(cli, tmp_path):
    _one_line_error(cli("eval", "judge", tmp_path / "nothing"), "no results.jsonl rows")
    one = tmp_path / "one"
    assert cli("eval", "run", "--out", one, "--systems", "identity", "--limit", "1").exit_code == 0
    _one_line_error(cli("eval", "judge", one), "at least two")


def test_a_cut_judgments_line_is_redone_not_fatal(cli, run_dir):
    assert cli("eval", "judge", run_dir).exit_code == 0
    path = run_dir / "judgments.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:15])
    result = cli("eval", "judge", run_dir)
    assert result.exit_code == 0 and "1 new" in result.stderr
    from emotion_director.evals.judge import read_judgments

    assert len(read_judgments(run_dir)) == 4


def test_a_judge_json_of_another_judge_is_refused_with_the_fix(cli, run_dir):
    (run_dir / "judge.json").write_text(
        json.dumps({"backend": "embedded", "model": "gpt", "rubric": "x"})
    )
    _one_line_error(cli("eval", "judge", run_dir), "judged with backend 'embedded'", "delete")


@pytest.mark.integration
def test_a_judge_whose_every_call_failed_exits_1_and_says_so(cli, run_dir):
    from emotion_director.testing import SimulatedOpenAIServer

    with SimulatedOpenAIServer("http500") as server:
        result = cli("eval", "judge", run_dir, "--backend", "openai", "--base-url", server.url)
    assert result.exit_code == 1, result.output
    assert "every item failed" in result.stderr and "run the same command again" in result.stderr
