"""The pairwise LLM judge: swapped orders, statistics on hand-made verdicts, resume, servers."""

import json

import pytest

pytest.importorskip("sentence_transformers")

from emotion_director import Settings  # noqa: E402
from emotion_director.emotions import emotion_words_in  # noqa: E402
from emotion_director.errors import BackendError  # noqa: E402
from emotion_director.evals import load_eval_dataset  # noqa: E402
from emotion_director.evals.identity import RunMismatchError  # noqa: E402
from emotion_director.evals.judge import (  # noqa: E402
    TRUST_THRESHOLD,
    judge_run,
    read_judgments,
    summarise_judgments,
    trust_warning,
)
from emotion_director.evals.metrics import TextMetrics  # noqa: E402
from emotion_director.evals.report import write_report  # noqa: E402
from emotion_director.evals.runner import run_eval  # noqa: E402
from emotion_director.testing import FunctionChatModel, TestChatModel  # noqa: E402


def _verdicts(case_id, first, second, v_first_order, v_second_order):
    """Two judgments of one pair: (first, second) then (second, first)."""
    to_winner = {"A": None, "B": None, "tie": "tie"}
    out = []
    for (a, b), verdict in (((first, second), v_first_order), ((second, first), v_second_order)):
        winner = {"A": a, "B": b}.get(verdict, to_winner[verdict])
        out.append(
            {
                "case_id": case_id,
                "first": a,
                "second": b,
                "verdict": verdict,
                "winner": winner,
                "reason": "",
            }
        )
    return out


def test_a_consistent_judge_gives_known_win_rates():
    judgments = []
    for i in range(4):  # x beats y on every case, in both orders
        judgments += _verdicts(f"c{i}", "x", "y", "A", "B")
    s = summarise_judgments(judgments)
    assert s["consistency"] == 1.0 and s["trusted"] and trust_warning(s) is None
    assert s["systems"]["x"][0] == 1.0 and s["systems"]["y"][0] == 0.0
    assert s["pairs"][("x", "y")][3] == 4
    assert s["first_position_rate"] == 0.5


def test_a_judge_that_always_picks_the_first_rewrite_is_flagged_and_scores_ties():
    judgments = []
    for i in range(6):
        judgments += _verdicts(f"c{i}", "x", "y", "A", "A")  # follows the position
    s = summarise_judgments(judgments)
    assert s["consistency"] == 0.0 and not s["trusted"]
    assert s["first_position_rate"] == 1.0
    assert s["systems"]["x"][0] == 0.5  # every flip is a tie: no system wins by position
    warning = trust_warning(s)
    assert "too weak to trust" in warning and "0%" in warning and "100%" in warning


def test_mixed_consistency_and_ties_are_counted_per_pair():
    judgments = (
        _verdicts("c0", "x", "y", "A", "B")  # x wins, consistent
        + _verdicts("c1", "x", "y", "tie", "tie")  # tie, consistent
        + _verdicts("c2", "x", "y", "A", "A")
    )  # flips: tie
    s = summarise_judgments(judgments)
    assert s["consistency"] == pytest.approx(2 / 3)
    assert s["systems"]["x"][0] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert (s["consistency"] >= TRUST_THRESHOLD) is s["trusted"] is False


def _prefers_no_emotion_words(messages, schema):
    """A judge that prefers the rewrite with fewer bare emotion words (ties when equal)."""
    text = messages[-1].content
    first = text.split("Rewrite A: ", 1)[1].split("\n\nRewrite B: ", 1)[0]
    second = text.split("Rewrite B: ", 1)[1].split("\n\n", 1)[0]
    a, b = len(emotion_words_in(first)), len(emotion_words_in(second))
    winner = "tie" if a == b else ("A" if a < b else "B")
    return {"winner": winner, "reason": f"{a} vs {b} emotion words"}


@pytest.fixture(scope="module")
def metrics():
    return TextMetrics()


async def _make_run(path, metrics, systems=("identity", "template", "mc_agent"), n=3):
    cases = load_eval_dataset("builtin:shortcut")[:n]
    await run_eval(
        list(systems),
        cases,
        path,
        chat_model=TestChatModel(),
        metrics=metrics,
        dataset="builtin:shortcut",
    )


async def test_judge_run_swaps_every_pair_resumes_and_reports(tmp_path, metrics):
    await _make_run(tmp_path, metrics)
    judge = FunctionChatModel(_prefers_no_emotion_words)
    summary = await judge_run(tmp_path, ["template", "mc_agent"], chat_model=judge)
    judgments = read_judgments(tmp_path)
    assert summary.done == len(judgments) == 6 and summary.failed == 0
    orders = {(j["case_id"], j["first"], j["second"]) for j in judgments}
    assert all((c, b, a) in orders for c, a, b in orders)  # every pair in both orders
    calls = judge.calls
    assert len(calls) == 6
    assert all("template" not in json.dumps(c["messages"]) for c in calls)  # blind
    s = summarise_judgments(judgments)
    assert s["consistency"] == 1.0 and s["systems"]["mc_agent"][0] == 1.0
    # resumable and cached: nothing left to judge, no call made
    again = FunctionChatModel(_prefers_no_emotion_words)
    second = await judge_run(tmp_path, ["template", "mc_agent"], chat_model=again)
    assert second.done == 0 and second.skipped == 6 and not again.calls
    md, _ = write_report(tmp_path)
    text = md.read_text()
    assert "## LLM judge (pairwise)" in text and "Position-consistency 1.000" in text
    assert "too weak to trust" not in text


async def test_identical_rewrites_are_ties_without_a_call(tmp_path, metrics):
    await _make_run(tmp_path, metrics, systems=("identity", "template"), n=1)
    rows = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    for row in rows:  # make both systems write the same text
        row["rewrite"] = "a dog"
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    judge = FunctionChatModel(_prefers_no_emotion_words)
    await judge_run(tmp_path, chat_model=judge)
    assert not judge.calls
    assert {j["winner"] for j in read_judgments(tmp_path)} == {"tie"}


async def test_a_failed_judgment_is_recorded_and_redone_on_resume(tmp_path, metrics):
    await _make_run(tmp_path, metrics, systems=("template", "mc_agent"), n=1)

    def outage(messages, schema):
        raise BackendError("simulated outage")

    broken = FunctionChatModel(outage)
    first = await judge_run(tmp_path, settings=Settings(max_retries=0), chat_model=broken)
    assert first.failed == 2 and all("error" in j for j in read_judgments(tmp_path))
    fixed = FunctionChatModel(_prefers_no_emotion_words)
    second = await judge_run(tmp_path, settings=Settings(max_retries=0), chat_model=fixed)
    assert second.done == 2 and second.failed == 0
    assert all("error" not in j for j in read_judgments(tmp_path))


async def test_judging_again_with_another_judge_model_is_refused(tmp_path, metrics):
    await _make_run(tmp_path, metrics, systems=("template", "mc_agent"), n=1)
    await judge_run(
        tmp_path,
        chat_model=FunctionChatModel(_prefers_no_emotion_words),
    )
    with pytest.raises(RunMismatchError, match="judged with backend 'test'.*delete"):
        await judge_run(
            tmp_path, settings=Settings(backend="openai", base_url="http://127.0.0.1:9/v1")
        )


@pytest.mark.slow
async def test_judge_on_the_simulated_openai_server_flags_position_bias(
    tmp_path, metrics, monkeypatch
):
    import emotion_director.agents.models as models
    from emotion_director.testing import SimulatedOpenAIServer

    await _make_run(tmp_path, metrics, systems=("template", "mc_agent"), n=3)
    monkeypatch.setattr(models, "ALLOW_MODEL_REQUESTS", True)  # a loopback simulated server
    with SimulatedOpenAIServer("ok") as server:
        settings = Settings(
            backend="openai", base_url=server.url, model="simulated", max_concurrent_requests=2
        )
        summary = await judge_run(tmp_path, settings=settings, concurrency=2)
        assert server.requests == 6
    assert summary.failed == 0
    s = summarise_judgments(read_judgments(tmp_path))
    # the simulated server answers the first enum value, "A", whatever the order: pure position
    assert s["first_position_rate"] == 1.0 and s["consistency"] == 0.0
    md, page = write_report(tmp_path)
    assert "too weak to trust" in md.read_text() and "class='warning'" in page.read_text()
    assert json.loads((tmp_path / "judge.json").read_text())["model"] == "simulated"


def test_cli_eval_judge_prints_win_rates_and_consistency(tmp_path, metrics, simulated_backend):
    import asyncio

    from typer.testing import CliRunner

    from emotion_director.cli import app

    asyncio.run(_make_run(tmp_path, metrics, systems=("template", "mc_agent"), n=2))
    result = CliRunner().invoke(app, ["eval", "judge", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "mc_agent" in result.stdout and "position-consistency" in result.stderr
    assert "too weak to trust" in result.stderr  # the test model always answers "A"
    one = CliRunner().invoke(app, ["eval", "judge", str(tmp_path), "--systems", "template"])
    assert one.exit_code == 2 and "at least two" in one.stderr
    unknown = CliRunner().invoke(app, ["eval", "judge", str(tmp_path), "--systems", "a,b"])
    assert unknown.exit_code == 2 and "no rewrites in this run" in unknown.stderr
