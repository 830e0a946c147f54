"""`eval report` over a finished run computes nothing twice: the rewrites' vectors come from the
run (vectors.jsonl), an unchanged plot is kept, and the evals package imports no LLM stack."""

import json
import subprocess
import sys

import pytest

pytest.importorskip("sentence_transformers")

from emotion_director.evals import load_eval_dataset  # noqa: E402
from emotion_director.evals import report as report_module  # noqa: E402
from emotion_director.evals.metrics import VECTORS_FILE, TextMetrics  # noqa: E402
from emotion_director.evals.report import write_report  # noqa: E402
from emotion_director.evals.runner import read_results, run_eval  # noqa: E402
from emotion_director.testing import TestChatModel  # noqa: E402
from tests.evals.helpers import run_test_eval  # noqa: E402


@pytest.fixture(scope="module")
def run(tmp_path_factory):

    folder = tmp_path_factory.mktemp("run")
    cases = load_eval_dataset("builtin:neutral")[:16]
    return run_test_eval(["identity", "template"], cases, folder, TextMetrics())


def _diversity_table(folder):
    text = (folder / "report.md").read_text()
    return text.split("## Diversity", 1)[1].split("\n## ", 1)[0]


def test_the_run_keeps_one_vector_per_scored_rewrite(run):
    lines = (run / VECTORS_FILE).read_text().splitlines()
    rows = read_results(run)
    assert len(lines) == len(rows) == 32
    metrics = TextMetrics()
    assert metrics.load_vectors(run / VECTORS_FILE) == len({r["rewrite"] for r in rows})
    assert all(metrics.vector_of(r["rewrite"]) is not None for r in rows)


@pytest.mark.slow
def test_the_report_uses_the_kept_vectors_and_matches_encoding_afresh(run, tmp_path, monkeypatch):
    import shutil

    control = tmp_path / "control"
    shutil.copytree(run, control)
    (control / VECTORS_FILE).unlink()
    write_report(control)  # no vectors: MiniLM encodes the rewrites

    from emotion_director.scenefit.encoder import MiniLMEncoder

    def refuse(*args, **kwargs):
        raise AssertionError("MiniLM was loaded although every rewrite's vector was kept")

    monkeypatch.setattr(MiniLMEncoder, "load", refuse)
    write_report(run)
    assert _diversity_table(run) == _diversity_table(control)


def test_unreadable_vector_lines_are_skipped_and_encoded_again(tmp_path):
    path = tmp_path / VECTORS_FILE
    path.write_text(
        "not json\n"
        + json.dumps({"key": "k1", "vector": "!!!"})
        + "\n"
        + json.dumps({"key": "k2", "vector": "AAAA"})  # one float, not 384
        + "\n"
    )
    metrics = TextMetrics()
    assert metrics.load_vectors(path) == 0 and metrics.known == {}
    assert metrics.load_vectors(tmp_path / "missing.jsonl") == 0


def test_an_unchanged_plot_is_kept_and_a_changed_one_redrawn(run, monkeypatch):
    write_report(run)
    png = (run / "emotion_alignment.png").read_bytes()

    def refuse(*args, **kwargs):
        raise AssertionError("the plot was drawn again for the same data")

    with monkeypatch.context() as patch:
        patch.setattr(report_module, "_plot", refuse)
        write_report(run)
    assert (run / "emotion_alignment.png").read_bytes() == png
    # another picture at that path (an older plot, another run's): drawn again
    (run / "emotion_alignment.png").write_bytes(png.replace(b"Comment", b"Kommentx", 1))
    drawn = []
    real = report_module._plot
    monkeypatch.setattr(report_module, "_plot", lambda *a, **k: drawn.append(1) or real(*a, **k))
    write_report(run)
    assert drawn == [1] and (run / "emotion_alignment.png").read_bytes() == png


def test_the_report_modules_import_no_llm_stack():
    code = (
        "import sys, emotion_director.evals.report, emotion_director.evals.rating; "
        "print(sorted(m for m in sys.modules if m.startswith(('langchain_core.language_models', "
        "'langgraph', 'openai', 'llama_cpp', 'torch'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_eval_report_on_a_finished_run_imports_no_llm_stack(run):
    # the judge's section read its judgments through the module that runs a judge, which
    # imported the model stack (langchain-core, langsmith): ~0.7 s of each `eval report`
    stack = ("langchain_core.language_models", "langgraph", "openai", "llama_cpp", "torch")
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['emotion-director', 'eval', 'report', {str(run)!r}]\n"
        "try:\n"
        "    runpy.run_module('emotion_director.cli', run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"print(sorted(m for m in sys.modules if m.startswith({stack!r})), file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stderr.strip().splitlines()[-1] == "[]", out.stderr[-2000:]


def test_vectors_of_another_encoder_or_not_unit_length_are_not_used(tmp_path):
    import base64

    import numpy as np

    from emotion_director.evals.metrics import VECTOR_ENCODER

    def line(key, vector, encoder=VECTOR_ENCODER):
        raw = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
        return json.dumps({"key": key, "encoder": encoder, "vector": raw})

    unit = np.zeros(384)
    unit[0] = 1.0
    path = tmp_path / VECTORS_FILE
    path.write_text(
        "\n".join(
            [
                line("good", unit),
                line("tenfold", 10 * unit),
                line("zero", 0 * unit),
                line("other", unit, encoder="another-model"),
                line("old", unit, encoder=None),
            ]
        )
        + "\n"
    )
    metrics = TextMetrics()
    assert metrics.load_vectors(path) == 1 and set(metrics.known) == {"good"}


def test_a_vectors_file_that_cannot_be_read_is_no_vectors(tmp_path, caplog):
    import os

    fifo = tmp_path / VECTORS_FILE
    os.mkfifo(fifo)
    assert TextMetrics().load_vectors(fifo) == 0  # not a hang, not a crash
    assert "not using the kept vectors" in caplog.text


def test_eval_run_refuses_a_pipe_or_link_where_the_vectors_go(tmp_path):
    import asyncio
    import os

    from emotion_director.errors import RunFolderError

    for plant in (lambda p: os.mkfifo(p), lambda p: p.symlink_to(tmp_path / "elsewhere")):
        folder = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
        folder.mkdir()
        plant(folder / VECTORS_FILE)
        with pytest.raises(RunFolderError, match="vectors.jsonl: not a regular file"):
            asyncio.run(
                run_eval(
                    ["identity"],
                    load_eval_dataset("builtin:neutral")[:1],
                    folder,
                    chat_model=TestChatModel(),
                    metrics=TextMetrics(),
                )
            )


def test_a_report_without_matplotlib_says_which_extra_to_install(run, tmp_path, monkeypatch):
    import shutil

    from typer.testing import CliRunner

    from emotion_director.cli import app

    folder = tmp_path / "run"
    shutil.copytree(run, folder)
    (folder / "emotion_alignment.png").unlink(missing_ok=True)  # the plot must be drawn
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    result = CliRunner().invoke(app, ["eval", "report", str(folder)])
    assert result.exit_code == 2, result.output
    assert "matplotlib" in result.stderr and 'emotion-director[eval]"' in result.stderr
    assert "Traceback" not in result.output and "unexpected" not in result.stderr
