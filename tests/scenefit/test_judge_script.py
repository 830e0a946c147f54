"""benchmarks/scene_fit_judge.py: blind files for readers, and each version's score from them."""

import json
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).parents[2]


def _script():
    return SimpleNamespace(**runpy.run_path(str(ROOT / "benchmarks" / "scene_fit_judge.py")))


def _run(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_identical_prompts_are_shown_once_and_each_version_is_scored(tmp_path, capsys):
    judge = _script()
    a = {"scene": "a dog", "emotion": "awe", "final": "a dog, rim light"}
    b = {"scene": "a cat", "emotion": "fear", "final": "a cat, a sunny beach"}
    b2 = {**b, "final": "a cat, deep shadow"}
    before = _run(tmp_path / "before.jsonl", [a, b])
    after = _run(tmp_path / "after.jsonl", [a, b2])
    prefix = str(tmp_path / "judge")
    assert judge.main(["make", prefix, f"before={before}", f"after={after}"]) == 0
    shown = [json.loads(line) for line in Path(f"{prefix}_in.jsonl").read_text().splitlines()]
    assert len(shown) == 3 and set(shown[0]) == {"id", "scene", "emotion", "prompt"}
    versions = json.loads(Path(f"{prefix}_versions.json").read_text())
    assert versions["before"]["a dog"] == versions["after"]["a dog"]
    key = json.loads(Path(f"{prefix}_key.json").read_text())
    assert key[str(versions["before"]["a dog"])] == "before+after"
    clash = {versions["before"]["a cat"]}
    for reader in ("R1", "R2"):
        labels = [{"id": s["id"], "label": "clash" if s["id"] in clash else "fits"} for s in shown]
        _run(tmp_path / f"{reader}.jsonl", labels)
    capsys.readouterr()
    judge.main(
        ["score", f"{prefix}_versions.json", *(str(tmp_path / f"R{n}.jsonl") for n in (1, 2))]
    )
    out = capsys.readouterr().out
    assert "before: R1: clash 1/2" in out and "both readers clash 1/2" in out
    assert "after: R1: clash 0/2" in out and "agree on 3 of 3" in out


def test_a_bad_argument_prints_the_usage_and_exits_2(capsys):
    with pytest.raises(SystemExit, match="expected NAME=FILE"):
        _script().main(["make", "prefix", "no-equals-sign"])
    assert _script().main([]) == 2
    assert "make OUT_PREFIX" in capsys.readouterr().err


def test_missing_or_broken_files_are_one_line_naming_them(tmp_path):
    judge = _script()
    with pytest.raises(SystemExit, match="cannot read .*nope.json"):
        judge.main(["score", str(tmp_path / "nope.json"), str(tmp_path / "r.jsonl")])
    broken = tmp_path / "run.jsonl"
    broken.write_text('{"scene": "a dog"\n')
    with pytest.raises(SystemExit, match="run.jsonl line 1 is not JSON"):
        judge.main(["make", str(tmp_path / "j"), f"before={broken}"])
    other = _run(tmp_path / "other.jsonl", [{"id": 1}])
    with pytest.raises(SystemExit, match="expected scene_fit_e2e.py output"):
        judge.main(["make", str(tmp_path / "j"), f"before={other}"])
