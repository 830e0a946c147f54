"""A small end-to-end eval on the real embedded backend."""

import pytest

pytest.importorskip("sentence_transformers")

from emotion_director import Settings  # noqa: E402
from emotion_director.evals import load_eval_dataset  # noqa: E402
from emotion_director.evals.report import write_report  # noqa: E402
from emotion_director.evals.runner import read_results, run_eval  # noqa: E402

pytestmark = pytest.mark.integration


async def test_small_eval_on_the_embedded_backend(tmp_path):
    cases = load_eval_dataset("builtin:shortcut")[:1]  # "an angry dog" -> contentment
    summary = await run_eval(
        ["identity", "template", "mc_agent"], cases, tmp_path, settings=Settings(backend="embedded")
    )
    assert summary.done == 3 and summary.failed == 0 and summary.cache_misses >= 7
    rows = {r["system"]: r for r in read_results(tmp_path)}
    agent, template = rows["mc_agent"]["metrics"], rows["template"]["metrics"]
    assert agent["bare_emotion_share"] == 0 < template["bare_emotion_share"]
    assert agent["head_noun_retention"] == 1.0
    md, html = write_report(tmp_path)
    assert "mc_agent" in md.read_text()
