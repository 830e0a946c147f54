"""The README's CPU commands for the image evals, run as written (only /tmp/ed is moved into
the test's own folder), in order, through the command line's own entry (``app``) in this
process: eight processes spent most of a minute importing torch and diffusers eight times.
``mc_agent`` rewrites with the shipped SmolLM2 model."""

import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("diffusers")
pytest.importorskip("sentence_transformers")

from emotion_director.cli import app  # noqa: E402

README = Path(__file__).resolve().parents[2] / "README.md"


def cpu_block() -> str:
    text = README.read_text(encoding="utf-8")
    after = text.split("On CPU, with tiny random checkpoints", 1)[1]
    return after.split("```bash\n", 1)[1].split("```", 1)[0]


def commands(block: str) -> list[str]:
    """The block's commands, continuation lines joined, comments and blank lines left out."""
    out, current = [], ""
    for line in block.splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        current += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            out.append(current.strip())
            current = ""
    return out


@pytest.mark.integration
@pytest.mark.slow
def test_readme_cpu_image_eval_commands_run_as_written(tmp_path):
    block = cpu_block()
    assert "emotion-director eval images /tmp/ed/run" in block
    assert "emotion-director bank tiny-pipeline /tmp/ed/tiny-sd" in block
    lines = commands(block.replace("/tmp/ed", str(tmp_path / "ed")))
    assert len(lines) == 8 and all(line.startswith("emotion-director ") for line in lines)
    runner = CliRunner()
    stderr = ""
    for line in lines:
        result = runner.invoke(app, shlex.split(line)[1:])
        assert result.exit_code == 0, (line, result.output[-3000:])
        stderr += result.stderr
    run = tmp_path / "ed" / "run"
    report = (run / "report.md").read_text()
    assert "## Images" in report and "| mc_agent |" in report.split("## Images")[1]
    assert len(list((run / "grids").glob("*.png"))) == 2
    assert "validation accuracy" in stderr
    assert "12 generated" in stderr  # 2 cases x 3 systems x 2 images
