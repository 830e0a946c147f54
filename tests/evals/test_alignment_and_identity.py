"""Shortcut-proof alignment on real MiniLM, run identity on resume and compare, report fixes."""

import json
import math

import pytest

pytest.importorskip("sentence_transformers")

from emotion_director import Settings  # noqa: E402
from emotion_director.emotions import Emotion  # noqa: E402
from emotion_director.evals import load_eval_dataset  # noqa: E402
from emotion_director.evals.identity import RunMismatchError  # noqa: E402
from emotion_director.evals.metrics import CHANCE, TextMetrics  # noqa: E402
from emotion_director.evals.report import (  # noqa: E402
    EvalReportError,
    compare_runs,
    per_emotion_series,
    summarise,
    write_report,
)
from emotion_director.evals.runner import read_results, run_eval  # noqa: E402
from emotion_director.testing import TestChatModel  # noqa: E402


@pytest.fixture(scope="module")
def metrics():
    return TextMetrics()


def _mean(values):
    return sum(values) / len(values)


@pytest.mark.parametrize(
    "template",
    [
        "{prompt}, {emotion} mood, evoking {emotion}",  # the built-in template system
        "{prompt}, {synonym} and {synonym_ly} {emotion}ish",  # synonyms and inflections
    ],
)
@pytest.mark.slow
def test_template_falls_to_chance_on_masked_alignment(metrics, template):
    """The control: an emotion word glued on wins raw alignment and is at chance once masked.

    On the neutral set every subject appears with all 8 emotions, so a masked text that carries
    no emotion is the same for all 8 and is top-1 for exactly one: 1/8. Any word the mask missed
    lifts it above chance.
    """
    from emotion_director.emotions import EMOTIONS

    cases = load_eval_dataset("builtin:neutral")
    raw, masked, added = [], [], []
    for case in cases:
        synonym = EMOTIONS[Emotion(case.emotion)].synonyms[0]
        text = template.format(
            prompt=case.prompt, emotion=case.emotion, synonym=synonym, synonym_ly=synonym + "ly"
        )
        scores = metrics.score_rewrite(case.prompt, text, case.emotion)
        raw.append(scores["minilm_top1"])
        masked.append(scores["masked_top1"])
        added.append(scores["added_top1"])
    assert _mean(raw) > 0.6
    assert _mean(masked) == pytest.approx(CHANCE, abs=0.03)
    assert _mean(added) <= CHANCE + 0.03


SCENES = {  # drawable rewrites with no emotion word: masking must not erase their signal
    "fear": "a dog in a dark alley at night, a shadowy figure with a knife behind it",
    "disgust": "a dog beside a heap of rotting garbage crawling with maggots and flies",
    "sadness": "a dog lying alone by an empty grave in the grey rain",
    "awe": "a dog on a cliff beneath a vast starry sky and the milky way over giant mountains",
}


def test_masked_alignment_keeps_what_can_be_drawn(metrics):
    for emotion, scene in SCENES.items():
        scores = metrics.score_rewrite("a dog", scene, emotion)
        assert scores["masked_prob"] == pytest.approx(scores["minilm_prob"])  # nothing to mask
        assert scores["added_prob"] > CHANCE, emotion


def test_identity_adds_nothing_and_scores_chance_on_added_text(metrics):
    scores = metrics.score_rewrite("a funeral", "a funeral", "amusement")
    assert scores["added_prob"] == scores["added_top1"] == CHANCE


async def _run(
    path,
    metrics,
    *,
    systems=("identity", "template", "mc_agent"),
    dataset="builtin:neutral",
    n=4,
    settings=None,
    chat_model=None,
):
    cases = load_eval_dataset(dataset)[:n]
    return await run_eval(
        list(systems),
        cases,
        path,
        settings=settings,
        chat_model=chat_model or TestChatModel(),
        metrics=metrics,
        dataset=dataset,
    )


async def test_run_records_its_identity(tmp_path, metrics):
    await _run(tmp_path, metrics)
    identity = json.loads((tmp_path / "run.json").read_text())["identity"]
    assert identity["backend"] == "test" and identity["seed"] == 0
    assert identity["dataset"] == {
        "source": "builtin:neutral",
        "hash": identity["dataset"]["hash"],
        "cases": 4,
    }
    assert identity["personas"] and all(isinstance(n, str) for n in identity["personas"])
    assert len(identity["personas_hash"]) == 16 and identity["package_version"]
    assert identity["settings"]["structured_method"] == "function_calling"


async def test_resume_with_another_dataset_or_setting_is_refused(tmp_path, metrics):
    await _run(tmp_path, metrics, n=2)
    with pytest.raises(
        RunMismatchError, match="dataset builtin:neutral.*builtin:shortcut.*new --out"
    ):
        await _run(tmp_path, metrics, dataset="builtin:shortcut", n=2)
    with pytest.raises(RunMismatchError, match="seed 0, this run uses 7"):
        await _run(tmp_path, metrics, n=2, settings=Settings(seed=7))
    with pytest.raises(RunMismatchError, match="grounding"):
        await _run(tmp_path, metrics, n=2, settings=Settings(grounding=False))
    # a JSONL file reusing the run's case ids for other prompts
    other = tmp_path.parent / "other.jsonl"
    first = load_eval_dataset("builtin:neutral")[0]
    other.write_text(json.dumps({"id": first.id, "prompt": "a volcano", "emotion": "awe"}) + "\n")
    from emotion_director.evals.datasets import load_eval_dataset as load

    meta = json.loads((tmp_path / "run.json").read_text())
    meta["identity"]["dataset"]["source"] = None  # as if made without a recorded source
    (tmp_path / "run.json").write_text(json.dumps(meta))
    with pytest.raises(RunMismatchError, match=f"case '{first.id}'.*another dataset"):
        await run_eval(
            ["identity"],
            load(str(other)),
            tmp_path,
            chat_model=TestChatModel(),
            metrics=metrics,
        )
    assert len(read_results(tmp_path)) == 6  # nothing was appended


async def test_resume_may_add_cases_and_systems_of_the_same_run(tmp_path, metrics):
    await _run(tmp_path, metrics, systems=("identity",), n=2)
    summary = await _run(tmp_path, metrics, systems=("identity", "template"), n=4)
    assert summary.skipped == 2 and summary.done == 6
    assert json.loads((tmp_path / "run.json").read_text())["systems"] == ["identity", "template"]
    # a run that asks for one system counts only that system's items as already done (before:
    # "3 already done" counted the other system's rows too)
    again = await _run(tmp_path, metrics, systems=("template",), n=5)
    assert again.skipped == 4 and again.done == 1


@pytest.mark.slow
async def test_report_pairs_are_system_minus_reference_and_sections_render(tmp_path, metrics):
    await _run(tmp_path, metrics)
    rows = read_results(tmp_path)
    s = summarise(rows)
    ident = {r["case_id"]: r for r in rows if r["system"] == "identity"}
    agent = {r["case_id"]: r for r in rows if r["system"] == "mc_agent"}
    expected = _mean(
        [
            ident[c]["metrics"]["subject_similarity"] - agent[c]["metrics"]["subject_similarity"]
            for c in ident
        ]
    )
    assert expected > 0  # identity keeps the subject exactly
    assert s["paired"]["identity"]["subject_similarity"][0] == pytest.approx(expected)
    md, page = write_report(tmp_path)
    text = md.read_text()
    assert "## Emotion alignment: raw vs masked" in text and "Which to trust" in text
    assert "(system - mc_agent, same cases)" in text
    line = next(
        x
        for x in text.splitlines()
        if x.startswith("| identity |")
        and "[" in x
        and text.index(x) > text.index("Paired difference")
    )
    assert not line.split("|")[5].strip().startswith("-")  # subject_similarity column: positive


def test_per_emotion_series_leaves_missing_emotions_empty_not_zero(metrics):
    rows = [
        {
            "system": "s",
            "case_id": "1",
            "prompt": "a",
            "emotion": "awe",
            "rewrite": "a",
            "metrics": {"minilm_prob": 0.4, "masked_prob": 0.2},
        }
    ]
    series = per_emotion_series(summarise(rows), "minilm_prob")["s"]
    assert series[list(Emotion).index(Emotion.AWE)] == 0.4
    assert all(math.isnan(v) for i, v in enumerate(series) if i != list(Emotion).index(Emotion.AWE))


async def test_compare_lists_setting_differences_and_refuses_unrelated_runs(tmp_path, metrics):
    await _run(tmp_path / "a", metrics, n=4)
    await _run(tmp_path / "b", metrics, n=2, settings=Settings(seed=3))
    text = compare_runs(tmp_path / "a", tmp_path / "b")
    assert "- seed: A 0, B 3" in text and "compared on the 2 case(s) both runs have" in text
    await _run(tmp_path / "c", metrics, dataset="builtin:shortcut", n=2)
    with pytest.raises(EvalReportError, match="no case id in common"):
        compare_runs(tmp_path / "a", tmp_path / "c")
    # same ids, other cases: another dataset under the same names
    rows = [json.loads(x) for x in (tmp_path / "b" / "results.jsonl").read_text().splitlines()]
    rows[0]["prompt"] = "a volcano"
    (tmp_path / "b" / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(EvalReportError, match="different datasets"):
        compare_runs(tmp_path / "a", tmp_path / "b")


async def test_report_sections_plug_in_where_asked(tmp_path, metrics):
    from emotion_director.evals import report

    await _run(tmp_path, metrics, systems=("identity", "template"), n=2)

    def custom(summary, run_dir):
        return report.ReportSection(
            f"## Custom ({len(summary['systems'])} systems)\n", "<h2>Custom</h2>"
        )

    report.register_report_section(custom, before=report.section_per_emotion)
    try:
        md, page = write_report(tmp_path)
    finally:
        report.SECTIONS.remove(custom)
    text = md.read_text()
    assert (
        text.index("## Emotion alignment")
        < text.index("## Custom (2 systems)")
        < text.index("## Per emotion")
    )
    assert "<h2>Custom</h2>" in page.read_text()


def test_compare_names_every_persona_and_each_differing_setting():
    from emotion_director.evals.identity import identity_differences

    many = [f"persona-with-a-long-name-{i}" for i in range(12)]
    a = {
        "personas": many,
        "personas_hash": "1",
        "settings": {"grounding": True, "token_budget": 77, "reading_mode": "auto"},
    }
    b = {
        "personas": [*many[1:], "newcomer"],
        "personas_hash": "2",
        "settings": {"grounding": False, "token_budget": 77, "reading_mode": "auto"},
    }
    lines = identity_differences({"identity": a}, {"identity": b})
    personas = next(line for line in lines if line.startswith("personas:"))
    assert all(name in personas for name in many) and "..." not in personas
    assert "only in A: persona-with-a-long-name-0" in personas
    assert "only in B: newcomer" in personas
    assert "setting grounding: A true, B false" in lines
    assert not any("token_budget" in line for line in lines)  # equal settings are not listed
    edited = identity_differences({"identity": a}, {"identity": {**a, "personas_hash": "9"}})
    assert edited == ["personas: the same names, edited content (persona files changed)"]


async def test_report_opens_with_what_was_run_and_renders_its_markdown(tmp_path, metrics):
    await _run(tmp_path, metrics, systems=("identity", "template"), n=2)
    rows = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    rows[0]["rewrite"] = "a dog <script>alert(1)</script> " + "very-long-word" * 40
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    md, page = write_report(tmp_path)
    text, html_page = md.read_text(), page.read_text()
    head = text.split("## ")[0]
    for field in (
        "**backend**: test",
        "**personas**: child, farmer",
        "**dataset**: builtin:neutral",
        "**systems**: identity, template",
        "**emotion-director**: ",
        "**run created**",
    ):
        assert field in head, (field, head)
    assert "<table class='header'>" in html_page and "<th>backend</th><td>test</td>" in html_page
    # the notes' markdown is rendered, not shown literally; model text stays text
    assert "<em>Masked</em>" in html_page and "<code>minilm_prob</code>" in html_page
    assert "*Masked*" not in html_page.split("<body>")[1]
    assert "<script>alert" not in html_page and "&lt;script&gt;alert(1)" in html_page
    assert "overflow-wrap:anywhere" in html_page  # long text wraps inside its cell
