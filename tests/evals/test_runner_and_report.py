import json

import pytest

pytest.importorskip("sentence_transformers")

from emotion_director import Settings  # noqa: E402
from emotion_director.evals import SYSTEMS, load_eval_dataset, register_system  # noqa: E402
from emotion_director.evals.datasets import EvalDatasetError  # noqa: E402
from emotion_director.evals.metrics import TextMetrics  # noqa: E402
from emotion_director.evals.report import compare_runs, write_report  # noqa: E402
from emotion_director.evals.runner import read_results, run_eval  # noqa: E402
from emotion_director.testing import TestChatModel  # noqa: E402

SYSTEMS_UNDER_TEST = [
    "identity",
    "template",
    "single_llm",
    "mc_agent",
    "mc_agent_no_chain",
    "mc_agent_no_consensus",
    "mc_agent_one_persona",
]


@pytest.fixture(scope="module")
def metrics():
    return TextMetrics()


def test_builtin_dataset_has_shortcut_and_neutral_cases():
    cases = load_eval_dataset("builtin:all")
    assert len(cases) >= 200
    shortcut = load_eval_dataset("builtin:shortcut")
    assert any(c.prompt == "an angry dog" and c.emotion == "contentment" for c in shortcut)
    assert any(c.prompt == "a funeral" and c.emotion == "amusement" for c in shortcut)
    assert any(c.prompt == "a birthday party" and c.emotion == "fear" for c in shortcut)
    assert len({c.emotion for c in load_eval_dataset("builtin:neutral")}) == 8


def test_bad_dataset_lines_name_the_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(
        '{"id": "a", "prompt": "x", "emotion": "awe"}\n'
        '{"id": "b", "prompt": "y", "emotion": "meh"}\n'
    )
    with pytest.raises(EvalDatasetError, match="d.jsonl:2: field 'emotion': unknown emotion 'meh'"):
        load_eval_dataset(str(path))
    with pytest.raises(EvalDatasetError, match="builtin:"):
        load_eval_dataset("builtin:nope")


@pytest.mark.slow
async def test_run_resumes_after_a_crash_and_caches_llm_calls(tmp_path, metrics):
    cases = load_eval_dataset("builtin:shortcut")[:4]
    settings = Settings()
    first = await run_eval(
        SYSTEMS_UNDER_TEST,
        cases[:2],
        tmp_path / "run",
        settings=settings,
        chat_model=TestChatModel(),
        metrics=metrics,
    )
    assert first.done == 2 * len(SYSTEMS_UNDER_TEST) and first.failed == 0
    # simulate a crash in the middle of writing the last line
    results = tmp_path / "run" / "results.jsonl"
    lines = results.read_text().splitlines()
    results.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])
    inner = TestChatModel()
    second = await run_eval(
        SYSTEMS_UNDER_TEST,
        cases,
        tmp_path / "run",
        settings=settings,
        chat_model=inner,
        metrics=metrics,
    )
    assert second.skipped == 2 * len(SYSTEMS_UNDER_TEST) - 1
    assert second.done == 2 * len(SYSTEMS_UNDER_TEST) + 1
    rows = read_results(tmp_path / "run")
    keys = [(r["system"], r["case_id"]) for r in rows]
    assert len(keys) == len(set(keys)) == len(SYSTEMS_UNDER_TEST) * 4
    assert second.cache_hits > 0  # the redone item's calls and shared persona calls
    # a fresh run folder sharing the cache makes no model call at all
    cache = tmp_path / "run" / "llm_cache.sqlite"
    cold = TestChatModel()
    again = await run_eval(
        SYSTEMS_UNDER_TEST,
        cases,
        tmp_path / "again",
        settings=settings,
        chat_model=cold,
        metrics=metrics,
        cache_path=cache,
    )
    assert again.cache_misses == 0 and len(cold.calls) == 0 and again.cache_hits > 0
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["dataset_hash"] and "api_key" not in meta["settings"]


@pytest.mark.slow
async def test_report_and_compare_render_with_plots(tmp_path, metrics):
    cases = load_eval_dataset("builtin:neutral")[:4]
    for name in ("a", "b"):
        await run_eval(
            ["identity", "template", "mc_agent"],
            cases,
            tmp_path / name,
            chat_model=TestChatModel(),
            metrics=metrics,
        )
    md, page = write_report(tmp_path / "a")
    text = md.read_text()
    assert "| mc_agent |" in text and "Paired difference vs mc_agent" in text
    html = page.read_text()
    assert "data:image/png;base64," in html and "<table>" in html
    assert (tmp_path / "a" / "emotion_alignment.png").stat().st_size > 1000
    comparison = compare_runs(tmp_path / "a", tmp_path / "b")
    assert "| mc_agent | minilm_prob |" in comparison
    # hostile round 3 audit: report.html was written with write_text, which follows a planted
    # symlink; now a symlink there is refused by name and its target is left as it was
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "b" / "report.html").symlink_to(victim)
    from emotion_director.errors import EvalReportError

    with pytest.raises(EvalReportError, match="symlink"):
        write_report(tmp_path / "b")
    assert victim.read_text() == "keep me"


async def test_user_systems_register_as_callables_or_graphs(tmp_path, metrics):
    from emotion_director import build_graph

    register_system("upper", lambda prompt, emotion: prompt.upper())
    register_system("graph", build_graph(Settings(), chat_model=TestChatModel()))
    try:
        cases = load_eval_dataset("builtin:neutral")[:1]
        await run_eval(
            ["upper", "graph"],
            cases,
            tmp_path,
            chat_model=TestChatModel(),
            metrics=metrics,
        )
        rows = {r["system"]: r for r in read_results(tmp_path)}
        assert rows["upper"]["rewrite"] == cases[0].prompt.upper()
        assert rows["graph"]["rewrite"].startswith(cases[0].prompt.split()[0])
    finally:
        SYSTEMS.pop("upper"), SYSTEMS.pop("graph")


def test_cli_eval_run_report_and_errors(tmp_path, simulated_backend):
    from typer.testing import CliRunner

    from emotion_director.cli import app

    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "eval",
            "run",
            "--out",
            str(tmp_path / "r"),
            "--systems",
            "identity,mc_agent",
            "--limit",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["eval", "report", str(tmp_path / "r")]).exit_code == 0
    bad = runner.invoke(app, ["eval", "run", "--out", str(tmp_path / "r"), "--systems", "nope"])
    assert bad.exit_code == 2 and "unknown system" in bad.stderr
    empty = runner.invoke(app, ["eval", "report", str(tmp_path / "empty")])
    assert empty.exit_code == 2 and "no results" in empty.stderr


async def test_failed_items_are_redone_on_the_next_run_and_the_success_replaces_them(
    tmp_path, metrics
):
    from emotion_director import BackendError
    from emotion_director.testing import FunctionChatModel

    def outage(messages, schema):
        raise BackendError("simulated outage")

    cases = load_eval_dataset("builtin:shortcut")[:2]
    settings = Settings(max_retries=0)
    first = await run_eval(
        ["single_llm"],
        cases,
        tmp_path / "run",
        settings=settings,
        chat_model=FunctionChatModel(outage),
        metrics=metrics,
    )
    assert first.failed == 2 and all("error" in r for r in read_results(tmp_path / "run"))
    second = await run_eval(
        ["single_llm"],
        cases,
        tmp_path / "run",
        settings=settings,
        chat_model=TestChatModel(),
        metrics=metrics,
    )
    assert second.skipped == 0 and second.done == 2 and second.failed == 0
    rows = read_results(tmp_path / "run")
    assert len(rows) == 2 and all("metrics" in r and "error" not in r for r in rows)
    # the file keeps both (append-only): 2 errors, then 2 successes
    assert len((tmp_path / "run" / "results.jsonl").read_text().splitlines()) == 4


def test_last_recorded_error_reads_the_latest_failed_record(tmp_path):
    from emotion_director.evals.runner import last_recorded_error

    path = tmp_path / "results.jsonl"
    assert last_recorded_error(path) == ""  # no file: nothing to say
    records = [
        {"system": "a", "error": "first"},
        {"system": "b"},
        {"system": "c", "error": "x" * 400},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert last_recorded_error(path) == "x" * 300
    path.write_text('{"error": \n')  # unreadable: the error line still prints, without a cause
    assert last_recorded_error(path) == ""
