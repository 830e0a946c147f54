"""The LLM judge on llama.cpp's real OpenAI-compatible server with the shipped SmolLM2 model."""

import pytest

pytest.importorskip("sentence_transformers")

from emotion_director import Settings  # noqa: E402
from emotion_director.evals import load_eval_dataset  # noqa: E402
from emotion_director.evals.judge import judge_run, read_judgments, summarise_judgments  # noqa: E402
from emotion_director.evals.report import write_report  # noqa: E402
from emotion_director.evals.runner import run_eval  # noqa: E402
from emotion_director.testing import TestChatModel  # noqa: E402

pytestmark = pytest.mark.integration


async def test_judge_runs_on_llama_cpp_server_and_reports_consistency(tmp_path, llama_server):
    cases = load_eval_dataset("builtin:shortcut")[:2]
    await run_eval(
        ["template", "mc_agent"],
        cases,
        tmp_path,
        chat_model=TestChatModel(),
        dataset="builtin:shortcut",
    )
    settings = Settings(
        backend="openai",
        base_url=llama_server,
        model="smollm2",
        max_retries=2,
        max_concurrent_requests=2,
    )
    summary = await judge_run(tmp_path, settings=settings, concurrency=2)
    judgments = read_judgments(tmp_path)
    assert len(judgments) == 4 and summary.done == 4
    answered = [j for j in judgments if "error" not in j]
    assert answered, [j.get("error") for j in judgments]
    assert all(j["verdict"] in {"A", "B", "tie"} for j in answered)
    s = summarise_judgments(judgments)
    if s["swapped_pairs"]:
        assert 0.0 <= s["consistency"] <= 1.0
    md, _ = write_report(tmp_path)
    text = md.read_text()
    assert "## LLM judge (pairwise)" in text and "openai / smollm2" in text
    # a second run is served from the cache and the judgments file: no new judgment
    again = await judge_run(tmp_path, settings=settings, concurrency=2)
    assert again.done == summary.failed and again.cache_misses <= summary.failed * 3
