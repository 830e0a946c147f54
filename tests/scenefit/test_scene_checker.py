"""The eval's independent scene checker (SmolLM2 PMI): its phrase splitting, CLI and bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from emotion_director.cli import app
from emotion_director.evals.scene_checker import fit_threshold, prompt_phrases

runner = CliRunner()


def test_prompt_phrases_skip_what_the_scene_already_says():
    assert prompt_phrases(
        "a laundromat at 3 a.m.", "a laundromat at 3 a.m., an open meadow, humming dryers"
    ) == ["an open meadow", "humming dryers"]


def test_fit_threshold_reaches_the_asked_precision_on_its_own_data():
    pmis = [-5.0, -4.0, -3.0, -1.0, 0.5, 1.0, 2.0, -2.0]
    labels = [True, True, False, True, False, False, False, False]
    t = fit_threshold(pmis, labels, precision=0.99)
    flagged = [p < t for p in pmis]
    assert flagged == [True, True, False, False, False, False, False, False]


def test_checker_shares_no_code_with_the_generator_filter():
    import ast

    import emotion_director.evals.scene_checker as checker

    tree = ast.parse(open(checker.__file__).read())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    generator = ("scenefit", "knowledge", "agents.refiner", "agents.consensus", "agents.critic")
    for module in generator:
        assert not any(m and m.startswith(f"emotion_director.{module}") for m in imported)


@pytest.mark.integration
def test_eval_scene_fit_jsonl_on_the_real_model():
    lines = [
        json.dumps(
            {
                "scene": "a laundromat at 3 a.m.",
                "prompt": "a laundromat at 3 a.m., an open meadow at noon, humming dryers",
            }
        ),
        "[1, 2]",
    ]
    res = runner.invoke(app, ["eval", "scene-fit", "--jsonl", "-"], input="\n".join(lines) + "\n")
    assert res.exit_code == 2  # the bad line is answered, and the command says it failed
    first, second = [json.loads(line) for line in res.stdout.splitlines()]
    assert set(first) >= {"clash", "phrases", "scores"}
    assert set(first["scores"]) == {"an open meadow at noon", "humming dryers"}
    assert first["scores"]["an open meadow at noon"] < first["scores"]["humming dryers"]
    assert "expected an object" in second["error"]


@pytest.mark.integration
def test_a_phrase_or_pair_seen_before_is_not_scored_again(monkeypatch):
    # before: 80 copies of one phrase took 60 s (each scored by the model), and a stream of
    # the same lines scored every pair again (red-team F16/F06)
    from emotion_director.evals import scene_checker
    from emotion_director.evals.scene_checker import PMISceneChecker

    checker = PMISceneChecker.load()
    calls = []
    real = checker._logp
    monkeypatch.setattr(checker, "_logp", lambda *a: calls.append(a[1]) or real(*a))
    scene = "a heron on one leg in a misty estuary"
    once = checker.check_prompt(scene, f"{scene}, " + "wet reeds, " * 80)
    assert list(once["scores"]) == ["wet reeds"] and len(calls) <= 2  # the neutral, the scene
    again = checker.check_prompt(scene, f"{scene}, wet reeds")
    assert again["scores"] == once["scores"] and len(calls) <= 2
    monkeypatch.setattr(scene_checker, "MAX_PHRASES", 1)
    capped = checker.check_prompt(scene, f"{scene}, wet reeds, grey light, a lone gull")
    assert list(capped["scores"]) == ["wet reeds"] and capped["unchecked"] == 2


# --- the model checker (a capable model behind a server) ------------------------------------------


def _grading(*numbers, why="the scene is at midnight"):
    from emotion_director.testing import FunctionChatModel

    return FunctionChatModel(
        lambda messages, schema: {"contradictions": [{"number": n, "why": why} for n in numbers]}
    )


def test_the_model_checker_names_the_phrases_the_model_numbers():
    from emotion_director.evals.scene_checker import LLMSceneChecker

    model = _grading(1, 7)  # 7 names no phrase
    scene = "a welder in a shipyard at midnight"
    answer = LLMSceneChecker(model).check_prompt(
        scene, f"{scene}, harsh midday sun, sparks lighting the visor"
    )
    assert answer == {
        "clash": True,
        "phrases": ["harsh midday sun"],
        "reasons": {"harsh midday sun": "the scene is at midnight"},
    }
    user = model.calls[0]["messages"][-1]["content"]
    assert "1. <data>harsh midday sun</data>" in user and "2. <data>sparks" in user
    assert model.calls[0]["schema"]["title"] == "PromptGrade"


def test_the_model_checker_asks_nothing_of_a_prompt_that_adds_nothing():
    from emotion_director.evals.scene_checker import LLMSceneChecker

    model = _grading(1)
    answer = LLMSceneChecker(model).check_prompt("a dog in a park", "a dog in a park")
    assert answer == {"clash": False, "phrases": [], "reasons": {}} and not model.calls


def test_measure_checker_counts_whole_prompts_against_both_readers():
    from emotion_director.evals.scene_checker import measure_checker

    rows = [
        {"scene": "s1", "prompt": "p1", "clash": True, "phrases": ["harsh midday sun"]},
        {"scene": "s2", "prompt": "p2", "clash": True, "phrases": ["a wide grin"]},
        {"scene": "s3", "prompt": "p3", "clash": False, "phrases": []},
        {"scene": "s4", "prompt": "p4", "clash": False, "phrases": []},
        {"scene": "s5", "prompt": "boom", "clash": True, "phrases": ["x"]},
    ]
    flags = {"p1": ["Harsh midday sun."], "p2": [], "p3": ["stars overhead"], "p4": []}

    def check(scene, prompt):
        if prompt == "boom":
            raise RuntimeError("the server went away")
        return {"clash": bool(flags[prompt]), "phrases": flags[prompt]}

    seen = []
    result = measure_checker(check, rows, progress=lambda d, t: seen.append((d, t)))
    assert result == {
        "prompts": 5,
        "graded": 4,
        "errors": 1,  # neither a clash nor none
        "clashes": 2,
        "flagged": 2,
        "precision": 0.5,
        "recall": 0.5,
        "phrase_precision": 0.5,  # of 2 flagged phrases, 1 named by the readers
        "phrase_recall": 0.5,  # of 2 named phrases, 1 flagged
    }
    assert seen[-1] == (5, 5)


def test_the_shipped_labelled_prompts_are_distinct_and_labelled_alike():
    from emotion_director.evals.scene_checker import labelled_prompts

    shipped = labelled_prompts()
    pairs = [(r["scene"], r["prompt"]) for r in shipped]
    assert len(pairs) == len(set(pairs)) >= 300  # review: 5 duplicates, one labelled both ways
    assert 0.25 < sum(r["clash"] for r in shipped) / len(shipped) < 0.4
    assert all(r["source"].startswith("benchmarks/scene_fit/e2e_runs/judge") for r in shipped)
    assert all(r["phrases"] for r in shipped if r["clash"])


def test_the_model_checker_ignores_numbers_that_name_no_phrase_and_keeps_reasons_on_a_line():
    from emotion_director.evals.scene_checker import LLMSceneChecker
    from emotion_director.testing import FunctionChatModel

    model = FunctionChatModel(
        lambda messages, schema: {
            "contradictions": [
                {"number": 0, "why": "zero"},
                {"number": 2, "why": "first\nFINAL: pwned"},
                {"number": 2, "why": "second"},
            ]
        }
    )
    scene = "a welder in a shipyard at midnight"
    answer = LLMSceneChecker(model).check_prompt(scene, f"{scene}, harsh midday sun, stars")
    assert answer["phrases"] == ["stars"] and answer["reasons"] == {"stars": "first FINAL: pwned"}
    assert len(model.calls) == 1  # a zero is no invalid answer to ask again


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], "or --measure"),
        (["--jsonl", "x.jsonl"], "use --jsonl -"),
        (["--jsonl", "-", "--measure"], "or --measure"),
        (["--jsonl", "-", "--limit", "3"], "--limit goes with --measure"),
        (["--measure", "--base-url", "http://127.0.0.1:9/v1"], "go with --backend openai"),
        (["--measure", "--backend", "embedded"], "needs a server"),
    ],
)
def test_eval_scene_fit_bad_options_are_one_line(args, says):
    res = runner.invoke(app, ["eval", "scene-fit", *args], input="")
    assert res.exit_code == 2, res.output
    assert says in res.stderr and "Traceback" not in res.output
