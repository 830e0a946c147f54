"""Hostile inputs that used to end in "error: unexpected <Type>: ... report it" (issue 21 item 12):
each must now be one red line naming the cause, exit code 2, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from tests.simulated import simulated_env

# a command run in this process (tests/cli_runner.py) may call the simulated server on loopback
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("loopback_model_server")]

RESULT = {
    "system": "identity",
    "case_id": "c1",
    "prompt": "a dog",
    "emotion": "awe",
    "tags": [],
    "rewrite": "a dog",
    "negative_prompt": "",
    "meta": {},
    "metrics": {"minilm_prob": 0.5},
    "seconds": 0.1,
}


def _run_folder(
    root: Path,
    name: str,
    *,
    run_json: object = None,
    results: bytes | None = None,
    results_dir: bool = False,
) -> str:
    folder = root / name
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps(run_json if run_json is not None else {}))
    if results_dir:
        (folder / "results.jsonl").mkdir()
    else:
        (folder / "results.jsonl").write_bytes(
            results if results is not None else (json.dumps(RESULT) + "\n").encode()
        )
    return str(folder)


def _row(**changes: object) -> bytes:
    return (json.dumps({**RESULT, **changes}) + "\n").encode()


def _persona_dir(root: Path, name: str, *, content: bytes | None = None) -> str:
    folder = root / name
    folder.mkdir()
    if content is None:
        (folder / "a.yaml").mkdir()  # a folder where a persona file is expected
    else:
        (folder / "a.yaml").write_bytes(content)
    return str(folder)


def _file(root: Path, name: str, data: bytes = b"") -> str:
    (root / name).write_bytes(data)
    return str(root / name)


# (case id, builder(tmp) -> argv, a word the one error line must contain)
CASES = [
    (
        "compare-run-json-settings-list",
        lambda t: [
            "eval",
            "compare",
            _run_folder(t, "a", run_json={"settings": [1]}),
            _run_folder(t, "b", run_json={"settings": {"backend": "test"}}),
        ],
        "settings",
    ),
    (
        "report-metrics-null",
        lambda t: ["eval", "report", _run_folder(t, "a", results=_row(metrics=None))],
        "metrics",
    ),
    (
        "report-case-id-list",
        lambda t: ["eval", "report", _run_folder(t, "a", results=_row(case_id=[1]))],
        "result record",
    ),
    (
        "judge-case-id-list",
        lambda t: ["eval", "judge", _run_folder(t, "a", results=_row(case_id=[1]))],
        "result record",
    ),
    (
        "report-results-not-utf8",
        lambda t: ["eval", "report", _run_folder(t, "a", results=b"\xff\xfe\n")],
        "UTF-8",
    ),
    (
        "compare-results-not-utf8",
        lambda t: [
            "eval",
            "compare",
            _run_folder(t, "a", results=b"\xff\xfe\n"),
            _run_folder(t, "b"),
        ],
        "UTF-8",
    ),
    (
        "report-results-is-folder",
        lambda t: ["eval", "report", _run_folder(t, "a", results_dir=True)],
        "regular file",
    ),
    (
        "personas-list-file-is-folder",
        lambda t: ["personas", "list", "--personas", _persona_dir(t, "p")],
        "folder",
    ),
    (
        "personas-validate-file-is-folder",
        lambda t: ["personas", "validate", _persona_dir(t, "p")],
        "folder",
    ),
    (
        "personas-diff-file-is-folder",
        lambda t: ["personas", "diff", _persona_dir(t, "p"), "defaults"],
        "folder",
    ),
    (
        "personas-validate-huge-integer",
        lambda t: ["personas", "validate", _persona_dir(t, "p", content=b"name: 1" + b"0" * 5000)],
        "number",
    ),
    (
        "rewrite-personas-huge-integer",
        lambda t: [
            "rewrite",
            "a dog",
            "-e",
            "awe",
            "--personas",
            _persona_dir(t, "p", content=b"name: 1" + b"0" * 5000),
        ],
        "number",
    ),
    (
        "rewrite-base-url-bad-port",
        lambda t: [
            "rewrite",
            "a dog",
            "-e",
            "awe",
            "--backend",
            "openai",
            "--base-url",
            "http://[::1",
        ],
        "URL",
    ),
    ("toy-emoset-out-under-proc", lambda t: ["eval", "toy-emoset", "/proc/x/y"], "cannot create"),
    ("toy-emoset-out-is-file", lambda t: ["eval", "toy-emoset", _file(t, "f")], "not a folder"),
    ("toy-data-out-is-dev-null", lambda t: ["train", "toy-data", "/dev/null"], "not a folder"),
    (
        "toy-data-out-under-file",
        lambda t: ["train", "toy-data", _file(t, "f") + "/x"],
        "cannot create",
    ),
    ("tiny-clip-out-is-file", lambda t: ["eval", "tiny-clip", _file(t, "f")], "not a folder"),
    (
        "tiny-pipeline-out-under-proc",
        lambda t: ["bank", "tiny-pipeline", "/proc/out"],
        "cannot create",
    ),
    (
        "tiny-image-encoder-out-is-file",
        lambda t: ["bank", "tiny-image-encoder", _file(t, "f")],
        "not a folder",
    ),
    (
        "bank-random-huge-seed",
        lambda t: [
            "bank",
            "random",
            "--out",
            str(t / "b.safetensors"),
            "--dim",
            "4",
            "--text-dim",
            "4",
            "--seed",
            "99999999999999999999",
        ],
        "seed",
    ),
    (
        "bank-random-huge-tokens",
        lambda t: [
            "bank",
            "random",
            "--out",
            str(t / "b.safetensors"),
            "--dim",
            "4",
            "--text-dim",
            "4",
            "--tokens",
            "99999999999999999999",
        ],
        "too large",
    ),
]


def _cli(tmp_path, *python_args: str) -> subprocess.CompletedProcess:
    """The CLI in a fresh process (``python *python_args``), on the test backend, in tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMOTION_DIRECTOR_")}
    env.update({**simulated_env(), "COLUMNS": "200"})
    return subprocess.run(
        [sys.executable, *python_args],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.slow
@pytest.mark.parametrize(("build", "word"), [pytest.param(b, w, id=i) for i, b, w in CASES])
def test_hostile_input_ends_in_one_actionable_line(tmp_path, build, word):
    proc = run_cli(*build(tmp_path), env=simulated_env(), cwd=tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, (proc.returncode, output[-3000:])
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    # `personas validate` reports each bad file as "invalid: FILE: cause" by design
    assert len(lines) == 1 and lines[0].startswith(("error:", "invalid:")), proc.stderr
    assert "unexpected" not in output and "Traceback" not in output, output
    assert word.lower() in lines[0].lower(), lines[0]


# (case id, module made unimportable, builder(tmp) -> argv, the extra the line must name)
MISSING = [
    ("scene-check-without-numpy", "numpy", lambda t: ["scene", "check", "a dog", "a cat"], "scene"),
    (
        "report-without-jinja2",
        "jinja2",
        lambda t: ["eval", "report", _run_folder(t, "a")],
        "eval",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("module", "build", "extra"), [pytest.param(m, b, e, id=i) for i, m, b, e in MISSING]
)
def test_a_missing_optional_package_names_the_extra_that_installs_it(
    tmp_path, module, build, extra
):
    argv = build(tmp_path)
    code = (
        "import runpy, sys; "
        f"sys.modules[{module!r}] = None; "  # as if the package were not installed
        f"sys.argv = ['emotion-director', *{argv!r}]; "
        "runpy.run_module('emotion_director.cli', run_name='__main__')"
    )
    proc = _cli(tmp_path, "-c", code)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, (proc.returncode, output[-3000:])
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert "unexpected" not in output and "Traceback" not in output, output
    assert module in lines[0] and f'pip install "emotion-director[{extra}]"' in lines[0], lines[0]


def test_a_missing_module_of_this_package_is_still_reported_as_a_bug():
    from emotion_director.cli.common import call

    def broken():
        import emotion_director.no_such_module  # noqa: F401

    def nameless():
        raise ModuleNotFoundError("install foo first")  # no name: nothing to name

    for fn in (broken, nameless):
        with pytest.raises(Exception) as caught:
            call(fn)
        assert getattr(caught.value, "exit_code", None) == 1  # one line, not a traceback


def test_a_missing_module_gets_the_fix_that_fits_how_it_went_missing(monkeypatch):
    import sys

    from emotion_director.cli.common import missing_package_message

    # a core requirement: reinstall
    monkeypatch.setitem(sys.modules, "pydantic_settings", None)
    assert "pip install --force-reinstall emotion-director" in missing_package_message(
        "pydantic_settings"
    )
    # a module an installed package lacks: upgrade that package, not an extra
    line = missing_package_message("typer.no_such_module")
    assert "the installed typer does not have" in line and "pip install --upgrade typer" in line
    # a package no extra names: its distribution, and the extras there are
    line = missing_package_message("no_such_package_anywhere")
    assert "pip install no_such_package_anywhere" in line and "extras:" in line


def test_a_dotenv_file_that_is_not_utf8_is_named_not_unexpected(tmp_path):
    # before: "unexpected UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff ... report it"
    (tmp_path / ".env").write_bytes(b"\xff\xfe garbage\nEMOTION_DIRECTOR_SEED=3\n")
    proc = run_cli("rewrite", "a dog", "-e", "awe", env=simulated_env(), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot read .env" in lines[0] and "not UTF-8" in lines[0], lines
    assert "unexpected" not in proc.stderr and "Traceback" not in proc.stderr
